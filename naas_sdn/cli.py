"""The ``naas-sdn`` command: ``serve`` runs the controller, ``token`` manages API credentials,
``db`` migrates the database's schema, ``policy sample`` prints the authorization defaults an
operator's policy.yaml may override, ``trace`` asks a running controller why a packet does or
does not get through."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from naas_sdn import config


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="INI configuration file ([DEFAULT] section)"
    )
    parser.add_argument("--db-url", metavar="URL", help="SQLAlchemy database URL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="naas-sdn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the controller: REST API and OpenFlow")
    _common(serve)
    serve.add_argument(
        "--api-listen", metavar="HOST:PORT", help="REST API address (127.0.0.1:9696)"
    )
    serve.add_argument("--ofp-listen", metavar="HOST:PORT", help="OpenFlow address (0.0.0.0:6653)")
    serve.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="Prometheus endpoint for operators (127.0.0.1:9697; '' turns it off)",
    )
    serve.add_argument(
        "--api-connection-limit",
        metavar="N",
        type=int,
        help="client connections the REST API keeps open at once (4096)",
    )
    serve.add_argument(
        "--api-request-timeout",
        metavar="SECONDS",
        type=float,
        help="time a client may take to send one request's headers and body (30)",
    )
    serve.add_argument(
        "--api-idle-timeout",
        metavar="SECONDS",
        type=float,
        help="time a kept-alive connection may wait between requests (60)",
    )
    serve.add_argument(
        "--api-max-body-size",
        metavar="BYTES",
        type=int,
        help="largest request body accepted; larger is answered 413 (114688)",
    )
    serve.add_argument(
        "--ovsdb",
        metavar="REMOTE",
        action="append",
        help="OVSDB server to monitor for VIF binding (repeatable; "
        "default unix:/var/run/openvswitch/db.sock)",
    )
    serve.add_argument(
        "--stats-interval",
        metavar="SECONDS",
        type=float,
        help="seconds between two readings of the switches' traffic counters (10)",
    )
    serve.add_argument(
        "--service-plugins", metavar="LIST", help="comma-separated service plugins to load"
    )
    serve.add_argument(
        "--tenant-network-types",
        metavar="LIST",
        help="comma-separated types of tenant networks, in order (vlan,vxlan)",
    )
    serve.add_argument(
        "--remote-gateway-bridge",
        metavar="BRIDGE",
        help="bridge terminating the tunnels to tenants' remote sites",
    )
    serve.add_argument(
        "--mastership-lease",
        metavar="SECONDS",
        type=float,
        help="with several processes on one PostgreSQL database, seconds a dead master "
        "keeps its switches before another takes them (3)",
    )
    serve.add_argument(
        "--vni-ranges", metavar="LIST", help="comma-separated MIN:MAX VNI ranges (1:16777215)"
    )

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it")
    _common(create)
    create.add_argument(
        "--project",
        required=True,
        action="append",
        help="project (tenant) id the token acts for; repeated, one token per project, "
        "printed one per line in that order",
    )
    create.add_argument("--admin", action="store_true", help="the token has the admin role")
    create.add_argument("--description", default="", help="free text kept with the token")
    listing = token_sub.add_parser("list", help="list tokens (never their secret)")
    _common(listing)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    _common(revoke)
    revoke.add_argument("token_id")

    database = sub.add_parser("db", help="the database's schema (Alembic migrations)")
    database_sub = database.add_subparsers(dest="db_command", required=True)
    _common(
        database_sub.add_parser(
            "upgrade", help="migrate the database to the schema of this version (creates it if new)"
        )
    )
    _common(database_sub.add_parser("current", help="print the database's schema revision"))

    policy = sub.add_parser("policy", help="authorization rules (oslo.policy)")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    sample = policy_sub.add_parser("sample", help="print every default rule as a policy.yaml")
    sample.add_argument("--config", metavar="FILE", help="INI configuration file")
    sample.add_argument(
        "--service-plugins",
        metavar="LIST",
        help="comma-separated service plugins whose rules to include "
        "(default: the configured ones)",
    )
    _trace_parser(sub)
    return parser


def _trace_parser(sub) -> None:
    """``naas-sdn trace``'s arguments."""
    trace = sub.add_parser(
        "trace",
        help="trace a packet from a port's VM through a running controller's pipeline",
    )
    trace.add_argument("source_port_id")
    trace.add_argument("destination_port_id", nargs="?", help="the port the packet is sent to")
    trace.add_argument("--to-ip", metavar="ADDRESS", help="or the address it is sent to")
    trace.add_argument(
        "--from-ip",
        metavar="ADDRESS",
        help="the address it is sent from (default: the port's own; another tests port security)",
    )
    trace.add_argument(
        "--protocol", default="icmp", help="icmp, tcp, udp or a protocol number (icmp)"
    )
    trace.add_argument("--port", type=int, metavar="N", help="tcp or udp destination port")
    trace.add_argument("--ipv6", action="store_true", help="an IPv6 packet (else IPv4)")
    trace.add_argument(
        "--established",
        action="store_true",
        help="the reply of a connection the destination opened (else a new connection)",
    )
    trace.add_argument(
        "--on-switches",
        action="store_true",
        help="trace on the real bridges (ofproto/trace; admins) and show any drift",
    )
    trace.add_argument(
        "--url",
        default=os.environ.get("OS_ENDPOINT"),
        help="the controller's API (OS_ENDPOINT, else http://api_listen of --config)",
    )
    trace.add_argument(
        "--token", default=os.environ.get("OS_TOKEN"), help="an API token (OS_TOKEN)"
    )
    trace.add_argument("--config", metavar="FILE", help="INI configuration file")
    trace.add_argument("--json", action="store_true", help="print the API's answer as it is")


def _trace(args) -> int:
    """POST the trace to the controller's API (the trace reads that process's compiled
    switches) and print its hops and verdict."""
    if not args.token:
        print("naas-sdn: a token is needed: --token or OS_TOKEN", file=sys.stderr)
        return 2
    url = args.url or f"http://{config.load(args.config).api_listen}"
    body = {
        "source_port_id": args.source_port_id,
        "protocol": args.protocol,
        "ethertype": "IPv6" if args.ipv6 else "IPv4",
        "ct_state": "established" if args.established else "new",
        "mode": "switch" if args.on_switches else "compiled",
    }
    if args.destination_port_id:
        body["destination_port_id"] = args.destination_port_id
    if args.to_ip:
        body["destination_ip"] = args.to_ip
    if args.from_ip:
        body["source_ip"] = args.from_ip
    if args.port is not None:
        body["destination_port"] = args.port
    request = urllib.request.Request(
        url.rstrip("/") + "/v2.0/traces",
        data=json.dumps({"trace": body}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Auth-Token": args.token},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())["trace"]
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            message = json.loads(raw)["NeutronError"]["message"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode(errors="replace")
        print(f"naas-sdn: {error.code}: {message}", file=sys.stderr)
        return 2
    except urllib.error.URLError as error:
        print(f"naas-sdn: {url}: {error.reason}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(_described(answer))
    return 0 if answer["reachable"] else 1


def _described(answer: dict) -> str:
    """The hops as a table, then the verdict."""
    rows = [("SWITCH", "TABLE", "STAGE", "PRIORITY", "ACTION", "OWNER")]
    for hop in answer["hops"]:
        owner = " ".join(filter(None, (hop["resource_type"], hop["resource_id"])))
        rows.append(
            (hop["switch"], hop["table"], hop["stage"], hop["priority"], hop["action"], owner)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(row[i].ljust(width) for i, width in enumerate(widths)), row[-1]])
        for row in rows
    ]
    if answer["reachable"]:
        lines.append("reachable")
    else:
        drop = answer["dropped_by"] or {}
        who = " ".join(filter(None, (drop.get("resource_type"), drop.get("resource_id"))))
        lines.append(f"dropped by {who}: {drop.get('reason', '')}")
    for difference in answer.get("drift") or ():
        if "compiled_reachable" in difference:
            verdict = "reachable" if difference["compiled_reachable"] else "dropped"
            lines.append(f"drift: as compiled, the packet is {verdict}")
        else:
            lines.append(
                f"drift at switch {difference['switch']} table {difference['table']}: "
                f"compiled {difference['compiled']}, installed {difference['installed']}"
            )
    return "\n".join(lines)


def _policy_sample(args) -> str:
    """The rules of the core and the plugins, built over a throwaway in-memory model."""
    from naas_sdn.model import db
    from naas_sdn.model.service import NetworkService
    from naas_sdn.northbound import plugins, policy

    conf = config.load(args.config)
    names = (
        args.service_plugins.split(",")
        if args.service_plugins is not None
        else conf.service_plugins
    )
    service = NetworkService(db.connect("sqlite://"))
    try:
        loaded = plugins.load(service, names)
    finally:
        service.close()
    return policy.sample([rule for plugin in loaded for rule in plugin.policy_rules])


def _database(args, url: str) -> int:
    """``db upgrade`` and ``db current``: the only commands that open a database whatever its
    schema revision."""
    from naas_sdn.model import db, migrations

    engine = db.open_engine(url)
    try:
        if args.db_command == "current":
            state = migrations.current_state(engine)
            behind = (
                ""
                if state.revision == migrations.HEAD
                else (f" (this naas-sdn's is {migrations.HEAD})")
            )
            print(state.describe() + behind)
            return 0
        try:
            before, after = migrations.upgrade(engine)
        except migrations.SchemaMismatch as error:
            print(f"naas-sdn: {error}", file=sys.stderr)
            return 2
        if before == after:
            print(f"schema already at revision {after.revision}")
        else:
            print(f"schema upgraded from {before.describe()} to revision {after.revision}")
        return 0
    finally:
        engine.dispose()


def _listed(value: str | None) -> list[str] | None:
    return value.split(",") if value is not None else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "trace":
        return _trace(args)
    if args.command == "policy":
        print(_policy_sample(args))
        return 0
    overrides = {"db_url": args.db_url}
    if args.command == "serve":
        overrides.update(
            api_listen=args.api_listen,
            ofp_listen=args.ofp_listen,
            metrics_listen=args.metrics_listen,
            api_connection_limit=args.api_connection_limit,
            api_request_timeout=args.api_request_timeout,
            api_idle_timeout=args.api_idle_timeout,
            api_max_body_size=args.api_max_body_size,
            ovsdb_connections=args.ovsdb,
            stats_interval=args.stats_interval,
            mastership_lease=args.mastership_lease,
            service_plugins=_listed(args.service_plugins),
            tenant_network_types=_listed(args.tenant_network_types),
            vni_ranges=_listed(args.vni_ranges),
            remote_gateway_bridge=args.remote_gateway_bridge,
        )
        conf = config.load(args.config, **overrides)
        from naas_sdn import server

        return server.serve(conf)

    conf = config.load(args.config, **overrides)
    if args.command == "db":
        return _database(args, config.db_url(conf))
    from naas_sdn.model import db, migrations
    from naas_sdn.model.tokens import TokenStore

    try:
        engine = db.connect(config.db_url(conf))
    except migrations.SchemaMismatch as error:
        print(f"naas-sdn: {error}", file=sys.stderr)
        return 2
    tokens = TokenStore(engine)
    if args.token_command == "create":
        for project in args.project:
            print(tokens.create(project, admin=args.admin, description=args.description))
    elif args.token_command == "list":
        for row in tokens.entries():
            print(
                f"{row['id']}  project={row['project_id']}  admin={row['admin']}  "
                f"created={row['created_at']}  {row['description']}"
            )
    elif args.token_command == "revoke" and not tokens.revoke(args.token_id):
        print(f"naas-sdn: no token {args.token_id}", file=sys.stderr)
        return 1
    return 0
