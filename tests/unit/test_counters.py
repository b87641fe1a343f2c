"""What the statistics poller reads: the counted flows (Owner.COUNTER) the compiler emits,
and what each of them counts."""

import dataclasses

from os_ken.ofproto import ofproto_v1_3 as ofproto
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import codec
from naas_sdn.apps.programmer import plan
from naas_sdn.flows import compiler
from naas_sdn.flows.layout import (
    ADDRESS_COUNTERS,
    POLICY_DROPS,
    Owner,
    Priority,
    Table,
    cookie,
    counted_as,
    owner_of,
)
from naas_sdn.model.snapshot import ProtocolBlockView
from tests.unit.test_policy import ip, lab, mac, open_group, sim_of, tcp


def _counted(state, key):
    return state.parts.get(cookie(Owner.COUNTER, key), frozenset())


def test_every_counted_flow_says_what_it_counts_and_drops_are_all_counted():
    block = ProtocolBlockView("b", 1, "A", 17, None, None, None)
    model, fabric = lab(groups=(open_group(),), blocks=(block,))
    state = compiler.compile_fabric(model, fabric)[1]
    for key in (1, 2, 3):
        counted = _counted(state, key)
        assert counted and all(owner_of(f.cookie) == (Owner.COUNTER, key) for f in counted)
        what = {counted_as(f.table, f.priority, f.match) for f in counted}
        assert None not in what
        assert {
            ("tx", ip(key)),
            ("rx", ip(key)),
            ("dropped_port_security", None),
            ("dropped_security_group", None),
            ("dropped_protocol_block", None),
        } == what
    # No flow that drops on purpose is left outside a counter owner.
    for owner, flows in state.parts.items():
        for f in flows:
            if (f.table, f.priority) in POLICY_DROPS:
                assert owner_of(owner)[0] == Owner.COUNTER, f


def test_each_address_is_counted_once_each_way_with_or_without_port_security():
    for security in (True, False):
        model, fabric = lab(
            groups=(open_group(),) if security else (),
            p1={"port_security_enabled": security},
            p2={"port_security_enabled": security},
        )
        sim = sim_of(model, fabric)
        assert [d.port for d in sim.inject(1, 1, **tcp(1, 2, 40000, 80))] == [2]
        counted = [
            line
            for line in sim.trace
            if f"cookie={cookie(Owner.COUNTER, 1)}" in line
            or f"cookie={cookie(Owner.COUNTER, 2)}" in line
        ]
        assert len(counted) == 2, sim.trace
        assert f"priority={Priority.PORTSEC_ADDRESS}" in counted[0]
        assert f"priority={Priority.OUTPUT_ADDRESS}" in counted[1]


def test_an_address_pair_covering_a_fixed_address_leaves_it_counted_per_address():
    model, fabric = lab(p1={"allowed_address_pairs": (("10.0.0.0/24", mac(1)),)})
    state = compiler.compile_fabric(model, fabric)[1]
    sent = [
        f
        for f in _counted(state, 1)
        if (f.table, f.priority) in ADDRESS_COUNTERS and f.table == Table.PORT_SECURITY
    ]
    assert [counted_as(f.table, f.priority, f.match) for f in sent] == [("tx", ip(1))]
    # The pair still lets the rest of the prefix through, below the address flow.
    pair = [
        f
        for f in state.parts[cookie(Owner.PORT, 1)]
        if f.table == Table.PORT_SECURITY and ("ipv4_src", ("10.0.0.0", "255.255.255.0")) in f.match
    ]
    assert pair and all(f.priority < Priority.PORTSEC_ADDRESS for f in pair)


def test_counted_flows_are_their_own_part_and_cost_nothing_when_unchanged():
    model, fabric = lab()
    first = compiler.compile_fabric(model, fabric)[1]
    again = compiler.compile_fabric(model, fabric)[1]
    for key in (1, 2, 3):
        assert _counted(first, key) is _counted(again, key)
        port = first.parts[cookie(Owner.PORT, key)]
        assert not any(owner_of(f.cookie)[0] == Owner.COUNTER for f in port)
    assert not plan(again, first)
    # Read back from a switch, the same flows group into the same parts: nothing to send.
    from naas_sdn.flows.ofp import SwitchState

    assert not plan(first, SwitchState.from_flows(first.flows, first.groups, first.meters))


def test_only_counted_flows_ask_the_switch_for_their_last_counters():
    model, fabric = lab()
    state = compiler.compile_fabric(model, fabric)[1]
    datapath = dataclasses.make_dataclass("Datapath", ["ofproto", "ofproto_parser"])(
        ofproto, parser
    )
    flags = {
        owner_of(f.cookie)[0]: codec.flow_add(datapath, f, f.cookie).flags for f in state.flows
    }
    assert flags[Owner.COUNTER] == ofproto.OFPFF_SEND_FLOW_REM
    assert flags[Owner.PORT] == flags[Owner.SWITCH] == 0


def test_a_port_moving_address_moves_its_counted_flows():
    model, fabric = lab()
    before = compiler.compile_fabric(model, fabric)[1]
    port = dataclasses.replace(model.ports["p1"], fixed_ips=(("A4", "10.0.0.77"),))
    moved, _ = lab()
    moved = dataclasses.replace(moved, ports=dict(moved.ports, p1=port))
    after = compiler.compile_fabric(moved, fabric)[1]
    todo = plan(after, before)
    assert {
        counted_as(f.table, f.priority, f.match)
        for f in todo.flow_deletes
        if owner_of(f.cookie)[0] == Owner.COUNTER
    } == {("tx", ip(1)), ("rx", ip(1))}
    assert {
        counted_as(f.table, f.priority, f.match)
        for f in todo.flow_adds
        if owner_of(f.cookie)[0] == Owner.COUNTER
    } == {("tx", "10.0.0.77"), ("rx", "10.0.0.77")}
