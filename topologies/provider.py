"""A provider network and the world outside it: VMs on a flat and a vlan provider network,
and an "outside" host on the physical network that plays the provider's upstream router.

Run as root against a running controller that monitors the machine's OVSDB (``make run``
does), with an admin token::

    TOKEN=$(naas-sdn token create --project ops --admin)
    sudo .venv/bin/python -m topologies.provider --token "$TOKEN"

It creates a flat network (203.0.113.0/24) and a vlan network (VLAN 100, 198.51.100.0/24)
on ``physnet1`` through the API, shared with all, and a VM port on each; starts Mininet with
physnet1 as a learning switch cabled to the last fabric switch (whose interface it marks as
leading there: ``external_ids:naas-physnet``) and the upstream router's two legs on it, .1 of
the flat subnet untagged and .1 of the vlan one on an access port of VLAN 100; prints whether
each VM reaches its gateway; and removes what it created. ``--topo`` picks the fabric;
``--cli`` opens Mininet's CLI (tcpdump -e on the trunk shows the tags).
"""

from __future__ import annotations

import argparse
import os
import sys

from topologies.lab import FABRICS, Api, lab, plug

PHYSNET = "physnet1"
NETWORKS = (
    # name, type, VLAN, cidr
    ("flat", "flat", None, "203.0.113"),
    ("vlan100", "vlan", 100, "198.51.100"),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:9696", help="naas-sdn REST API URL")
    parser.add_argument("--controller", default="127.0.0.1:6653", help="OpenFlow HOST:PORT")
    parser.add_argument(
        "--token", default=os.environ.get("NAAS_TOKEN"), help="admin token (or NAAS_TOKEN)"
    )
    parser.add_argument("--topo", choices=sorted(FABRICS), default="linear")
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI before cleanup")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("an admin token is needed: --token or NAAS_TOKEN")
    if os.geteuid() != 0:
        parser.error("Mininet needs root")

    api = Api(args.api, args.token)
    switches, cables = FABRICS[args.topo]
    created: list[tuple[str, str]] = []
    try:
        vms = {}
        for name, network_type, vlan, prefix in NETWORKS:
            body = {
                "name": name,
                "shared": True,
                "provider:network_type": network_type,
                "provider:physical_network": PHYSNET,
            }
            if vlan is not None:
                body["provider:segmentation_id"] = vlan
            network = api.create("networks", body)
            created.append(("networks", network["id"]))
            subnet = api.create(
                "subnets",
                {
                    "network_id": network["id"],
                    "ip_version": 4,
                    "cidr": f"{prefix}.0/24",
                    "gateway_ip": f"{prefix}.1",
                    "enable_dhcp": False,
                },
            )
            created.append(("subnets", subnet["id"]))
            port = api.create(
                "ports",
                {
                    "network_id": network["id"],
                    "name": f"vm-{name}",
                    "port_security_enabled": False,
                    "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": f"{prefix}.10"}],
                },
            )
            created.append(("ports", port["id"]))
            vms[f"vm-{name}"[:10]] = (port, f"{prefix}.10", f"{prefix}.1")
        # physnet1 is a learning switch cabled to the last fabric switch, with the upstream
        # router's two legs: one untagged (the flat network's), one on VLAN 100
        physical = {PHYSNET: (switches, {"out": None, "out100": 100})}
        host, ofp_port = args.controller.rsplit(":", 1)
        with lab(
            int(ofp_port),
            switches=switches,
            cables=cables,
            hosts=dict.fromkeys(vms, 1),
            ofp_host=host,
            physical=physical,
        ) as net:
            net.get("out").setIP("203.0.113.1", prefixLen=24)
            net.get("out100").setIP("198.51.100.1", prefixLen=24)
            for name, (port, ip, _) in vms.items():
                plug(net.get(name), port, ip)
            net.waitConnected(timeout=15)
            for name, (_, ip, gateway) in vms.items():
                reached = any(
                    " 1 received" in net.get(name).cmd(f"ping -n -c 1 -W 1 {gateway}")
                    for _ in range(20)
                )
                print(f"{name} ({ip}) -> outside {gateway}: {'ok' if reached else 'x'}")
            if args.cli:
                from mininet.cli import CLI

                CLI(net)
    finally:
        for collection, object_id in reversed(created):
            try:
                api.delete(collection, object_id)
            except RuntimeError as error:
                print(f"cleanup: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
