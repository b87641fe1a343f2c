"""A tenant out to the world: a router with its gateway on an external network, SNAT for
its VMs and a floating IP for one, and an "outside" host on the physical network holding the
external subnet's gateway address (it plays the upstream router).

Run as root against a running controller that monitors the machine's OVSDB (``make run``
does), with an admin token (it makes the external network) and a tenant token::

    ADMIN=$(naas-sdn token create --project ops --admin)
    TENANT=$(naas-sdn token create --project demo)
    sudo .venv/bin/python -m topologies.external --token "$ADMIN" --tenant-token "$TENANT"

It creates the external flat network ``public`` on ``physnet1`` (172.24.4.0/24, gateway
172.24.4.1), the tenant's network (10.0.0.0/24), router and VMs vm1 and vm2, a floating IP
for vm2 and a security group rule admitting ICMP; starts Mininet with physnet1 as a learning
switch cabled to the last fabric switch; prints whether each VM reaches the outside host
(through SNAT) and whether the outside host reaches vm2's floating IP; and removes what it
created. ``--topo`` picks the fabric; ``--cli`` opens Mininet's CLI (``out tcpdump -n -i
out-eth0`` shows the gateway's and the floating IP's addresses, never 10.0.0.x).
"""

from __future__ import annotations

import argparse
import os
import sys

from topologies.lab import FABRICS, Api, lab, plug

PHYSNET = "physnet1"
UPSTREAM = "172.24.4.1"


def _reaches(host, ip) -> bool:
    return any(" 1 received" in host.cmd(f"ping -n -c 1 -W 1 {ip}") for _ in range(20))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:9696", help="naas-sdn REST API URL")
    parser.add_argument("--controller", default="127.0.0.1:6653", help="OpenFlow HOST:PORT")
    parser.add_argument(
        "--token", default=os.environ.get("NAAS_TOKEN"), help="admin token (or NAAS_TOKEN)"
    )
    parser.add_argument("--tenant-token", required=True, help="the tenant's token")
    parser.add_argument("--topo", choices=sorted(FABRICS), default="linear")
    parser.add_argument("--cli", action="store_true", help="open the Mininet CLI before cleanup")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("an admin token is needed: --token or NAAS_TOKEN")
    if os.geteuid() != 0:
        parser.error("Mininet needs root")

    admin, tenant = Api(args.api, args.token), Api(args.api, args.tenant_token)
    created: list[tuple[Api, str, str]] = []
    detach: list[tuple[str, str]] = []  # (router id, subnet id) to remove at the end
    try:
        vms, fip = _build(admin, tenant, created, detach)
        _run(args, vms, fip)
    finally:
        for router_id, subnet_id in detach:
            try:
                tenant.call(
                    "PUT",
                    f"/v2.0/routers/{router_id}/remove_router_interface",
                    {"subnet_id": subnet_id},
                )
            except RuntimeError as error:
                print(f"cleanup: {error}", file=sys.stderr)
        for api, collection, object_id in reversed(created):
            try:
                api.delete(collection, object_id)
            except RuntimeError as error:
                print(f"cleanup: {error}", file=sys.stderr)
    return 0


def _build(admin: Api, tenant: Api, created: list, detach: list) -> tuple[dict, dict]:
    """The external network (admin), the tenant's network, router, VMs and floating IP."""
    public = admin.create(
        "networks",
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": PHYSNET,
        },
    )
    created.append((admin, "networks", public["id"]))
    external = admin.create(
        "subnets",
        {
            "network_id": public["id"],
            "ip_version": 4,
            "cidr": "172.24.4.0/24",
            "gateway_ip": UPSTREAM,
            "enable_dhcp": False,
        },
    )
    created.append((admin, "subnets", external["id"]))
    network = tenant.create("networks", {"name": "inside"})
    created.append((tenant, "networks", network["id"]))
    subnet = tenant.create(
        "subnets", {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}
    )
    router = tenant.create(
        "routers", {"name": "r1", "external_gateway_info": {"network_id": public["id"]}}
    )
    created.append((tenant, "routers", router["id"]))
    tenant.call(
        "PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    detach.append((router["id"], subnet["id"]))
    groups = tenant.call("GET", "/v2.0/security-groups")["security_groups"]
    group = next(g for g in groups if g["name"] == "default")
    tenant.create(
        "security-group-rules",
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "icmp"},
    )
    vms = {}
    for name in ("vm1", "vm2"):
        vms[name] = tenant.create("ports", {"network_id": network["id"], "name": name})
        created.append((tenant, "ports", vms[name]["id"]))
    fip = tenant.create(
        "floatingips", {"floating_network_id": public["id"], "port_id": vms["vm2"]["id"]}
    )
    created.append((tenant, "floatingips", fip["id"]))
    return vms, fip


def _run(args, vms: dict, fip: dict) -> None:
    switches, cables = FABRICS[args.topo]
    physical = {PHYSNET: (switches, {"out": None})}
    host, ofp_port = args.controller.rsplit(":", 1)
    with lab(
        int(ofp_port),
        switches=switches,
        cables=cables,
        hosts=dict.fromkeys(vms, 1),
        ofp_host=host,
        physical=physical,
    ) as net:
        out = net.get("out")
        out.setIP(UPSTREAM, prefixLen=24)
        for name, port in vms.items():
            plug(net.get(name), port, port["fixed_ips"][0]["ip_address"])
            net.get(name).cmd("ip route add default via 10.0.0.1")
        net.waitConnected(timeout=15)
        for name in vms:
            verdict = "ok" if _reaches(net.get(name), UPSTREAM) else "x"
            print(f"{name} -> outside {UPSTREAM} (SNAT): {verdict}")
        address = fip["floating_ip_address"]
        print(f"outside -> vm2 by {address}: {'ok' if _reaches(out, address) else 'x'}")
        if args.cli:
            from mininet.cli import CLI

            CLI(net)


if __name__ == "__main__":
    raise SystemExit(main())
