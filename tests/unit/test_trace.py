"""The packet trace over compiled pipelines: the verdict is the simulator's, each hop is named
(table, stage, band, action, owner) and a drop says who dropped and why."""

import pathlib
from types import MappingProxyType

import pytest

from naas_sdn.features.trace import switch
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import Priority, Table
from naas_sdn.flows.simulate import fabric_links
from naas_sdn.flows.trace import ModelIndex, priority_name, trace
from naas_sdn.model.snapshot import (
    ModelSnapshot,
    NetworkView,
    PortView,
    ProtocolBlockView,
    SecurityGroupView,
)
from tests.unit import test_routing as routing
from tests.unit.test_policy import ip, lab, open_group, rule, tcp, udp


def traced(model, fabric, source, destination, packet, **kw):
    states = compiler.compile_fabric(model, fabric)
    return trace(states, fabric, model, source, packet, destination, **kw)


def web_only():
    """Egress anything; ingress tcp/80 only."""
    return SecurityGroupView(
        "web",
        "t",
        (rule(1, "web", "egress"), rule(2, "web", "ingress", protocol=6, low=80, high=80)),
    )


def test_an_admitted_packet_is_reachable_and_every_hop_is_named():
    model, fabric = lab(groups=(web_only(),))
    result = traced(model, fabric, "p1", "p2", tcp(1, 2, 40000, 80))
    assert result.reachable and result.dropped_by is None
    tables = [s.table for s in result.steps]
    assert tables[0] == "CLASSIFY" and tables[-1] == "OUTPUT"
    assert {"PORT_SECURITY", "EGRESS_ACL", "L2_LOOKUP", "INGRESS_ACL"} <= set(tables)
    first = result.steps[0]
    assert (first.resource_type, first.resource_id) == ("port", "p1")
    assert first.priority == "CLASSIFY_VIF" and first.stage == "classification"
    assert result.steps[-1].resource_id == "p2" and "output 2" in result.steps[-1].action


def test_a_packet_no_rule_admits_names_the_groups_and_what_it_was():
    model, fabric = lab(groups=(web_only(),))
    result = traced(model, fabric, "p1", "p2", tcp(1, 2, 40000, 22))
    assert not result.reachable
    assert result.steps[-1].table == "INGRESS_ACL"
    assert result.dropped_by.resource_id == "p2"
    assert result.dropped_by.reason == (
        "no rule of security group(s) web of port p2 admits tcp/22 ingress"
    )


def test_a_reply_of_a_connection_the_destination_opened_is_established():
    model, fabric = lab(groups=(web_only(),))
    reply = tcp(2, 1, 22, 40000)  # p1 opened tcp/22 to p2 (egress: any); p2 answers
    assert not traced(model, fabric, "p2", "p1", reply).reachable
    assert traced(model, fabric, "p2", "p1", reply, established=True).reachable


def test_a_spoofed_source_is_dropped_by_port_security():
    model, fabric = lab(groups=(open_group(),))
    spoofed = dict(tcp(1, 2, 40000, 22), ipv4_src=ip(9))
    result = traced(model, fabric, "p1", "p2", spoofed)
    assert not result.reachable and result.steps[-1].table == "PORT_SECURITY"
    assert result.dropped_by.resource_id == "p1"
    assert result.dropped_by.reason.startswith("port security of port p1")


def test_a_protocol_block_names_the_block():
    blocks = (
        ProtocolBlockView("no-udp", 1, "A", 17),
        ProtocolBlockView("no-web", 2, "A", 6, None, 80, 80),
    )
    model, fabric = lab(groups=(open_group(),), blocks=blocks)
    result = traced(model, fabric, "p1", "p2", udp(1, 2))
    assert not result.reachable
    assert (result.dropped_by.resource_type, result.dropped_by.resource_id) == (
        "protocol_block",
        "no-udp",
    )
    assert result.dropped_by.reason == "a protocol block of network A: udp/5201 is barred on it"
    assert traced(model, fabric, "p1", "p2", tcp(1, 2, 40000, 22)).reachable


def test_priority_bands_are_named_per_table():
    assert priority_name(Table.CLASSIFY, Priority.CLASSIFY_VIF) == "CLASSIFY_VIF"
    assert priority_name(Table.INGRESS_ACL, Priority.ACL_DROP) == "ACL_DROP"
    assert priority_name(Table.ROUTING, Priority.ROUTE_LPM + 2 * 24) == "ROUTE_LPM /24"
    assert priority_name(Table.OUTPUT, 0) == "TABLE_MISS"


def test_a_pass_band_is_named_as_its_table_has_it_not_as_a_miss():
    assert priority_name(Table.SERVICES, Priority.SERVICE_PASS) == "SERVICE_PASS"
    assert priority_name(Table.CLASSIFY, 0) == "TABLE_MISS"


def test_a_routed_packet_across_switches_names_the_router_and_both_switches():
    model, fabric = routing.build()
    packet = routing.ip4(1, routing.RMAC_A, "10.0.1.10", "10.0.2.10", udp_src=1, udp_dst=53)
    result = traced(model, fabric, "a1", "b1", packet)
    assert result.reachable
    assert {s.switch for s in result.steps} == {1, 2}
    routed = [s for s in result.steps if s.table == "ROUTING"]
    assert routed and routed[0].priority == "ROUTE_LPM /32 (a port's own address)"
    assert any(s.resource_type == "router" and s.resource_id == "R" for s in result.steps)
    # the other tenant's network with the same prefix is not where it went
    assert not traced(model, fabric, "a1", "c1", packet).reachable


ROUTED = (pathlib.Path(__file__).parent / "fixtures" / "ofproto_trace_routed.txt").read_text()


def test_an_ofproto_trace_is_read_table_by_table_through_its_recirculation():
    """Open vSwitch 3.1's answer for a routed ping leaving bridge t1 by its cable (port 2)."""
    lookups, outputs, controller, final = switch.parse(ROUTED)
    assert [(table, priority) for table, priority, _c, _a in lookups] == [
        (0, 300), (10, 210), (20, 0), (22, 100),
        (24, 100), (26, 0), (30, 100), (35, 165), (40, 100), (50, 0), (90, 100),
    ]  # fmt: skip
    assert lookups[7][2] == 0xA503690000000003 and "dec_ttl" in lookups[7][3]
    assert outputs == [2] and not controller
    assert "dl_vlan=2" in final and "nw_ttl=63" in final
    arriving = switch._leaving(final, 7).split(",")
    assert arriving[0] == "in_port=7" and "dl_vlan=2" in arriving and "icmp" in arriving
    assert not [f for f in arriving if f.startswith(("reg", "metadata", "recirc", "eth,"))]
    assert "eth" not in arriving


def test_the_switch_trace_follows_the_cable_and_names_the_owners():
    """Two bridges, their answers given: the packet leaves t1 by port 2 into t2's port 7."""
    fabric = FabricSnapshot(
        frozenset({1, 2}),
        frozenset(fabric_links([((1, 2), (2, 7))])),
        MappingProxyType({"a": VifLocation("t1", 1, 1), "b": VifLocation("t2", 2, 3)}),
    )
    on_t2 = "Flow: x\n 0. in_port=7, priority 300, cookie 0xa503690000000002\n    output:3\n"
    asked = []

    def appctl(command, bridge, flow, *options):
        asked.append((bridge, flow.split(",")[0]))
        return ROUTED if bridge == "t1" else on_t2

    model = ModelSnapshot.build(
        [NetworkView("n", "t", 1, True)],
        [PortView("b", "n", "t", 2, "fa:16:3e:00:00:02", True, ())],
    )
    tracer = switch.SwitchTracer(appctl, {1: "t1", 2: "t2"}.get)
    packet = {"eth_src": "fa:16:3e:00:00:01", "eth_dst": "fa:16:3e:00:00:02", "eth_type": 0x800}
    read = tracer.read(fabric, "a", packet, False)
    found = tracer.explain(read, {}, fabric, model, ModelIndex(model), "a", packet, "b")
    assert asked == [("t1", "in_port=1"), ("t2", "in_port=7")]
    assert found.reachable and found.steps[-1].resource_id == "b"
    assert found.steps[-1].switch == 2 and found.steps[-1].table == "CLASSIFY"
    with pytest.raises(switch.SwitchTraceUnavailable):
        switch.SwitchTracer(appctl, {1: "t1"}.get).read(fabric, "a", packet, False)


def test_on_a_shared_network_the_hops_of_anothers_objects_show_no_id(service):
    """Bob traces from his port on alice's shared network to her VM's address: her port's
    group refuses him; the hops and the drop name her port by its kind alone, his own by its
    id; traced by alice, her port is named."""
    from naas_sdn.features.trace.api import Tracer
    from naas_sdn.features.trace.dataplane import DataplaneView
    from tests.unit.model_support import ALICE, BOB

    net = service.create_network(ALICE, {"name": "shared", "shared": True})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/24"})
    (hers,) = service.create_records(ALICE, "ports", [{"network_id": net.id}])
    (his,) = service.create_records(BOB, "ports", [{"network_id": net.id}])
    fabric = FabricSnapshot(
        frozenset({1}),
        frozenset(),
        MappingProxyType({hers.id: VifLocation("br", 1, 1), his.id: VifLocation("br", 1, 2)}),
    )
    model = service.snapshot()
    view = DataplaneView.of(service)
    view.publish(fabric)
    view.publish_compiled(model, fabric, compiler.compile_fabric(model, fabric))
    request = {"source_port_id": his.id, "destination_ip": hers.fixed_ips[0][1]}
    (answer,) = Tracer(service).create(BOB, [request])
    assert not answer.reachable
    assert answer.dropped_by["resource_type"] == "port"
    assert answer.dropped_by["resource_id"] is None
    assert hers.id not in answer.dropped_by["reason"]
    assert "(a port of another project)" in answer.dropped_by["reason"]
    shown = {(hop["resource_type"], hop["resource_id"]) for hop in answer.hops}
    assert ("port", his.id) in shown
    assert ("port", None) in shown and not [h for h in answer.hops if h["resource_id"] == hers.id]
    (same,) = Tracer(service).create(
        ALICE, [{**request, "source_port_id": hers.id, "destination_ip": his.fixed_ips[0][1]}]
    )
    assert ("port", hers.id) in {(h["resource_type"], h["resource_id"]) for h in same.hops}
