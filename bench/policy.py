"""Security group cost, measured side by side in one run.

1. Throughput: TCP iperf3 between two VMs whose ports have a stateful security group (the
   default group: conntrack on both sides) ÷ between two VMs without (port security off),
   on the same two userspace switches, alternating, three rounds; ratio of medians
   (goal >= 0.8). Root and Open vSwitch needed.
2. Flows: what one group of R ingress rules on P ports compiles to on a switch holding all
   P ports, for a grid of R and P, with the growth per added rule and per added port
   (constant when the count grows with rules + ports, not rules x ports).
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
from types import MappingProxyType

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.traffic import iperf, post  # noqa: E402
from naas_sdn.flows import compiler  # noqa: E402
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation  # noqa: E402
from naas_sdn.flows.layout import Table  # noqa: E402
from naas_sdn.model.snapshot import (  # noqa: E402
    ModelSnapshot,
    NetworkView,
    PortView,
    SecurityGroupRuleView,
    SecurityGroupView,
    SubnetView,
)
from tests.helpers import ApiClient, start_server  # noqa: E402
from topologies.lab import lab, plug  # noqa: E402

ACL_TABLES = {Table.EGRESS_POLICY, Table.EGRESS_ACL, Table.INGRESS_POLICY, Table.INGRESS_ACL}


def throughput() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
        try:
            api = ApiClient(server.url, server.token("bench"))
            network = post(api, "networks", {})
            post(
                api,
                "subnets",
                {
                    "network_id": network["id"],
                    "ip_version": 4,
                    "cidr": "10.1.0.0/24",
                    "enable_dhcp": False,
                },
            )
            open_port = {"port_security_enabled": False}
            ports = {
                "g1": post(api, "ports", {"network_id": network["id"]}),
                "g2": post(api, "ports", {"network_id": network["id"]}),
                "o1": post(api, "ports", dict({"network_id": network["id"]}, **open_port)),
                "o2": post(api, "ports", dict({"network_id": network["id"]}, **open_port)),
            }
            with lab(
                server.ofp_port,
                switches=2,
                cables=[(1, 2)],
                hosts={"g1": 1, "o1": 1, "g2": 2, "o2": 2},
            ) as net:
                ips = {}
                for host, port in ports.items():
                    ips[host] = port["fixed_ips"][0]["ip_address"]
                    plug(net.get(host), port, ips[host])
                for client, target in (("g1", "g2"), ("o1", "o2")):
                    net.get(target).cmd("iperf3 -s -D")
                    for _ in range(40):
                        if " 1 received" in net.get(client).cmd(f"ping -c1 -W1 {ips[target]}"):
                            break
                grouped, open_ = [], []
                for _ in range(3):
                    grouped.append(iperf(net.get("g1"), ips["g2"]))
                    open_.append(iperf(net.get("o1"), ips["o2"]))
                for host in ("g2", "o2"):
                    net.get(host).cmd("pkill -f 'iperf3 -s'")
        finally:
            server.stop()
    return {
        "stateful_sg_mbps": [round(x, 1) for x in grouped],
        "no_sg_mbps": [round(x, 1) for x in open_],
        "stateful_over_no_sg": round(statistics.median(grouped) / statistics.median(open_), 3),
    }


def flows_for(rules: int, ports: int) -> tuple[int, int]:
    """(policy flows, all flows) on the one switch holding ``ports`` ports of one group with
    ``rules`` rules (distinct TCP ports, from anywhere; plus Neutron's egress rule)."""
    rule_views = tuple(
        SecurityGroupRuleView(f"r{k}", k, "g", "ingress", "IPv4", 6, 1000 + k, 1000 + k)
        for k in range(1, rules)
    )
    rule_views += (SecurityGroupRuleView(f"r{rules}", rules, "g", "egress", "IPv4"),)
    group = SecurityGroupView("g", "t", rule_views)
    views = [
        PortView(
            f"p{k}",
            "n",
            "t",
            k,
            f"fa:16:3e:{k >> 16:02x}:{(k >> 8) & 255:02x}:{k & 255:02x}",
            True,
            (("s", f"10.{k >> 16}.{(k >> 8) & 255}.{k & 255}"),),
            security_group_ids=("g",),
        )
        for k in range(1, ports + 1)
    ]
    model = ModelSnapshot.build(
        [NetworkView("n", "t", 10, True)],
        views,
        subnets=[SubnetView("s", "n", "t", 4, "10.0.0.0/8", None, False)],
        security_groups=[group],
    )
    fabric = FabricSnapshot(
        frozenset({1}),
        frozenset(),
        MappingProxyType({f"p{k}": VifLocation("br", 1, k) for k in range(1, ports + 1)}),
    )
    flows = compiler.compile_fabric(model, fabric)[1].flows
    return sum(f.table in ACL_TABLES for f in flows), len(flows)


def flow_growth() -> dict:
    grid = {}
    for rules in (10, 50, 100, 200):
        for ports in (10, 50, 100, 200):
            grid[f"{rules}x{ports}"] = flows_for(rules, ports)[0]
    per_rule = (grid["200x100"] - grid["100x100"]) / 100
    per_port = (grid["100x200"] - grid["100x100"]) / 100
    return {
        "policy_flows_100_rules_100_ports": grid["100x100"],
        "all_flows_100_rules_100_ports": flows_for(100, 100)[1],
        "policy_flows_by_rules_x_ports": grid,
        "flows_per_added_rule": per_rule,
        "flows_per_added_port": per_port,
        "per_rule_at_10_vs_200_ports": [
            (grid["200x10"] - grid["100x10"]) / 100,
            (grid["200x200"] - grid["100x200"]) / 100,
        ],
    }


def main() -> int:
    report = flow_growth()
    report.update(throughput())
    report_file.write("policy", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
