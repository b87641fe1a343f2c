"""The packet trace over compiled pipelines: the verdict is the simulator's, each hop is named
(table, stage, band, action, owner) and a drop says who dropped and why."""

from naas_sdn.flows import compiler
from naas_sdn.flows.layout import Priority, Table
from naas_sdn.flows.trace import priority_name, trace
from naas_sdn.model.snapshot import ProtocolBlockView, SecurityGroupView
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
