"""Configuration: one oslo.config namespace, read from an INI file and overridden by flags.

The file uses the same option names as the flags (``db_url``, ``api_listen``...) in its
``[DEFAULT]`` section, as os-ken and the OpenStack services do.
"""

from __future__ import annotations

import os

from oslo_config import cfg

OPTS = [
    cfg.StrOpt(
        "db_url",
        default=None,
        help="SQLAlchemy URL of the model database (default: an SQLite file in the "
        "state directory; postgresql+psycopg://... for production).",
    ),
    cfg.StrOpt(
        "state_dir",
        default="/var/lib/naas-sdn",
        help="Directory holding the default SQLite database.",
    ),
    cfg.StrOpt(
        "api_listen", default="127.0.0.1:9696", help="HOST:PORT of the northbound REST API."
    ),
    cfg.StrOpt(
        "ofp_listen", default="0.0.0.0:6653", help="HOST:PORT the OpenFlow controller listens on."
    ),
    cfg.IntOpt("api_threads", default=16, help="Worker threads of the REST server."),
    cfg.IntOpt(
        "api_connection_limit",
        default=4096,
        min=1,
        help="Client connections the REST server keeps open at once (slow ones "
        "included); the open-files limit is raised to fit, up to its hard limit.",
    ),
    cfg.FloatOpt(
        "api_request_timeout",
        default=30.0,
        min=0.1,
        help="Seconds a client may take to send one request, headers and body, "
        "from its first byte; a slower request's connection is closed.",
    ),
    cfg.FloatOpt(
        "api_idle_timeout",
        default=60.0,
        min=0.1,
        help="Seconds a kept-alive connection may wait between two requests.",
    ),
    cfg.IntOpt(
        "api_max_header_size",
        default=65536,
        min=1024,
        help="Bytes of request line and headers accepted; more is answered 431.",
    ),
    cfg.IntOpt(
        "api_max_body_size",
        default=114688,
        min=0,
        help="Bytes of request body accepted; more is answered 413 (Neutron's "
        "oslo.middleware default, 112 KiB).",
    ),
    cfg.StrOpt(
        "metrics_listen",
        default="127.0.0.1:9697",
        help="HOST:PORT of the Prometheus endpoint (/metrics) for operators, apart from "
        "the API; empty: not served.",
    ),
    cfg.ListOpt(
        "ovsdb_connections",
        default=["unix:/var/run/openvswitch/db.sock"],
        help="OVSDB servers to monitor for VIF binding (iface-id on Interface rows).",
    ),
    cfg.ListOpt(
        "tenant_network_types",
        default=["vlan", "vxlan"],
        help="Network types of tenant networks, in order: a new network takes the first "
        "with a free segmentation id. vlan: ids 1..4094, carried on cables as 802.1Q tags "
        "(and in tunnels); vxlan: VNIs from vni_ranges (above 4094: in tunnels only).",
    ),
    cfg.ListOpt(
        "vni_ranges",
        default=["1:16777215"],
        help="MIN:MAX ranges of VXLAN VNIs for tenant networks.",
    ),
    cfg.IntOpt(
        "global_physnet_mtu",
        default=1500,
        min=1280,
        help="MTU of the fabric and the underlay: a vlan network gets it, a vxlan network "
        "50 bytes less (its encapsulation).",
    ),
    cfg.StrOpt(
        "remote_gateway_bridge",
        default="",
        help="The bridge (name) that terminates the tunnels to tenants' remote sites "
        "(l2-remote-gateway connections); it needs external_ids:naas-encap-ip, the local "
        "end of those tunnels. Empty: no remote site is reached.",
    ),
    cfg.ListOpt(
        "service_plugins",
        default=[
            "router",
            "qos",
            "protocol-block",
            "statistics",
            "l2-remote-gateway",
            "network-ip-availability",
            "trace",
        ],
        help="Service plugins to load in addition to the core (networks, subnets, "
        "ports); an API whose plugin is not loaded answers 501.",
    ),
    cfg.FloatOpt(
        "discovery_interval",
        default=1.0,
        help="Seconds between link discovery probes on each switch port.",
    ),
    cfg.FloatOpt(
        "link_timeout",
        default=3.5,
        help="Seconds without a probe after which a fabric link is considered gone.",
    ),
    cfg.FloatOpt(
        "mastership_lease",
        default=3.0,
        min=1.0,
        help="Seconds a process stays master of a switch without renewing its lease, on a "
        "database shared by several processes (PostgreSQL): a master that died or lost the "
        "database is replaced about this long after.",
    ),
    cfg.IntOpt(
        "echo_interval",
        default=2,
        help="Seconds between OpenFlow echo requests (detects dead switches).",
    ),
    cfg.IntOpt(
        "echo_max_unreplied",
        default=3,
        help="Unanswered echo requests after which a switch is declared gone.",
    ),
    cfg.IntOpt(
        "packet_in_rate",
        default=500,
        help="Discovery probes per second a switch may send to the controller (meter).",
    ),
    cfg.IntOpt(
        "port_packet_in_rate",
        default=20,
        help="DHCP/RS/NS packets per second one VM may send to the controller (meter).",
    ),
    cfg.FloatOpt(
        "ra_interval",
        default=30.0,
        help="Seconds between unsolicited router advertisements to each VM.",
    ),
    cfg.FloatOpt(
        "stats_interval",
        default=10.0,
        min=0.0,
        help="Seconds between two readings of the switches' traffic counters (port, "
        "flow and meter statistics); 0 stops reading them.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="naas",
        choices=[
            ("naas", "tokens made by `naas-sdn token create`, stored hashed in the database"),
            (
                "keystone",
                (
                    "Keystone's tokens, validated by keystonemiddleware's auth_token with "
                    "the [keystone_authtoken] options, as Neutron does"
                ),
            ),
        ],
        help="Who vouches for the API's X-Auth-Token.",
    ),
    cfg.StrOpt("log_level", default="INFO", help="Logging level."),
]


def new_conf() -> cfg.ConfigOpts:
    from naas_sdn import nova

    conf = cfg.ConfigOpts()
    conf.register_opts(OPTS)
    nova.register_opts(conf)  # [DEFAULT]'s notify_nova_* and keystoneauth's [nova] section
    return conf


def load(config_file: str | None = None, **overrides) -> cfg.ConfigOpts:
    """Read the INI file (if any), then apply the command-line overrides that are not None."""
    conf = new_conf()
    files = [config_file] if config_file else []
    if config_file and not os.path.exists(config_file):
        raise SystemExit(f"naas-sdn: configuration file {config_file} does not exist")
    conf(args=[], project="naas-sdn", default_config_files=files)
    for name, value in overrides.items():
        if value is not None:
            conf.set_override(name, value)
    return conf


def db_url(conf) -> str:
    if conf.db_url:
        return conf.db_url
    os.makedirs(conf.state_dir, exist_ok=True)
    return "sqlite:///" + os.path.join(conf.state_dir, "naas-sdn.sqlite")


def split_host_port(value: str, option: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"naas-sdn: {option} must be HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)
