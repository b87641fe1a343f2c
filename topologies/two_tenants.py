"""Two tenants on one emulated fabric, built through the naas-sdn API; who can ping whom?

Run as root against a running controller (``make run``), with an admin token::

    TOKEN=$(naas-sdn token create --project ops --admin)
    sudo .venv/bin/python -m topologies.two_tenants --token "$TOKEN"

It creates a network per tenant and a port per VM through the REST API, starts Mininet with
each VM's switch interface carrying ``external_ids:iface-id=<port id>``, prints the ping
matrix (same tenant: reachable, other tenant: not), and removes what it created.
``--topo`` picks the fabric (single, linear, tree, ring); ``--cli`` opens Mininet's CLI.
"""

from __future__ import annotations

import argparse
import os
import sys

from topologies.lab import FABRICS, Api, lab, plug

TENANTS = ("tenant-a", "tenant-b")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:9696", help="naas-sdn REST API URL")
    parser.add_argument("--controller", default="127.0.0.1:6653", help="OpenFlow HOST:PORT")
    parser.add_argument(
        "--token", default=os.environ.get("NAAS_TOKEN"), help="admin token (or NAAS_TOKEN)"
    )
    parser.add_argument("--topo", choices=sorted(FABRICS), default="linear")
    parser.add_argument("--vms", type=int, default=2, help="VMs per tenant")
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI before cleanup")
    parser.add_argument("--keep", action="store_true", help="keep the API objects afterwards")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("an admin token is needed: --token or NAAS_TOKEN")
    if os.geteuid() != 0:
        parser.error("Mininet needs root")

    api = Api(args.api, args.token)
    switches, cables = FABRICS[args.topo]
    created = []
    try:
        vms = {}
        for t, project in enumerate(TENANTS):
            network = api.create("networks", {"name": f"{project}-net", "project_id": project})
            created.append(("networks", network["id"]))
            # Both tenants use 10.0.0.0/24: isolation, not addressing, keeps them apart.
            subnet = api.create(
                "subnets",
                {
                    "network_id": network["id"],
                    "ip_version": 4,
                    "cidr": "10.0.0.0/24",
                    "project_id": project,
                },
            )
            created.append(("subnets", subnet["id"]))
            for i in range(args.vms):
                name = f"{'ab'[t]}{i + 1}"
                port = api.create(
                    "ports",
                    {
                        "network_id": network["id"],
                        "name": name,
                        "project_id": project,
                        "fixed_ips": [
                            {"subnet_id": subnet["id"], "ip_address": f"10.0.0.{10 * t + i + 11}"}
                        ],
                    },
                )
                created.append(("ports", port["id"]))
                vms[name] = (project, port, f"10.0.0.{10 * t + i + 11}", 1 + (i + t) % switches)
        host_switch = {name: vm[3] for name, vm in vms.items()}
        host, port = args.controller.rsplit(":", 1)
        with lab(
            int(port), switches=switches, cables=cables, hosts=host_switch, ofp_host=host
        ) as net:
            for name, (_, api_port, ip, _) in vms.items():
                plug(net.get(name), api_port, ip)
            print(
                f"{args.topo} fabric, {switches} switch(es); tenants: "
                + ", ".join(
                    f"{p}: {sorted(n for n, v in vms.items() if v[0] == p)}" for p in TENANTS
                )
            )
            net.waitConnected(timeout=15)
            _wait_for_tenant_paths(net, vms)
            print(_ping_matrix(net, vms))
            if args.cli:
                from mininet.cli import CLI

                CLI(net)
    finally:
        if not args.keep:
            for collection, object_id in reversed(created):
                try:
                    api.delete(collection, object_id)
                except RuntimeError as error:
                    print(f"cleanup: {error}", file=sys.stderr)
    return 0


def _reaches(src, dst_ip) -> bool:
    return " 1 received" in src.cmd(f"ping -n -c 1 -W 1 {dst_ip}")


def _wait_for_tenant_paths(net, vms, attempts=20):
    first = {}
    for name, vm in vms.items():
        first.setdefault(vm[0], []).append(name)
    for names in first.values():
        for _ in range(attempts):
            if len(names) < 2 or _reaches(net.get(names[0]), vms[names[1]][2]):
                break


def _ping_matrix(net, vms) -> str:
    names = sorted(vms)
    lines = ["from\\to " + " ".join(f"{n:>4}" for n in names)]
    for src in names:
        row = [
            "   -" if src == dst else ("  ok" if _reaches(net.get(src), vms[dst][2]) else "   x")
            for dst in names
        ]
        lines.append(f"{src:>7} " + " ".join(row))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
