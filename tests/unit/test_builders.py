"""The builder interface: the compiler asks every loaded feature, checks each answer against
the feature's slice of the layout, and keeps unchanged owners the same objects."""

import dataclasses
import subprocess
import sys

from naas_sdn.apps.services import RouterIndex
from naas_sdn.flows import compiler, ofp
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.layout import (
    NEXT_TABLES,
    SLICES,
    TABLE_DEFAULTS,
    Owner,
    Priority,
    Table,
    cookie,
    owner_of,
    port_meter,
)
from tests.unit.test_golden_flows import policies, routing


def compile_with(model, fabric, options, features=tuple(compiler.FEATURES)):
    bound, routers, rules = compiler.compile_inputs(model, fabric)
    return {
        dpid: compiler.compile_switch(dpid, bound, fabric, options, routers, rules, features)
        for dpid in fabric.switches
    }


def test_every_feature_has_a_slice_and_every_table_a_writer():
    assert set(compiler.FEATURES) == set(SLICES)
    assert set().union(*(s.tables for s in SLICES.values())) == set(Table)
    assert all(then in NEXT_TABLES[table] for table, (_, then) in TABLE_DEFAULTS.items())


def test_a_feature_not_loaded_leaves_its_tables_to_their_defaults():
    model, fabric, options = routing()
    without = tuple(n for n in compiler.FEATURES if n not in ("router", "statistics"))
    state = compile_with(model, fabric, options, without)[1]
    full = compile_with(model, fabric, options)[1]
    routed = {f for f in full.flows if f.table in (Table.L3_GATEWAY, Table.ROUTING)}
    assert len(routed) > 2 and cookie(Owner.ROUTER, 7) not in state.parts
    assert {f for f in state.flows if f.table in (Table.L3_GATEWAY, Table.ROUTING)} == {
        ofp.flow(
            Table.L3_GATEWAY,
            Priority.GATEWAY_PASS,
            ofp.match(),
            (ofp.goto(Table.L2_LOOKUP),),
            cookie(Owner.SWITCH, 0),
        ),
        ofp.flow(Table.ROUTING, Priority.TABLE_MISS, ofp.match(), (), cookie(Owner.SWITCH, 0)),
    }
    # Its meters go with it: they come from the builder that uses them, not from a scan.
    assert {m.meter_id for m in full.meters} - {m.meter_id for m in state.meters} == {0x10000007}
    assert not any(
        (f.table, f.priority) == (Table.OUTPUT, Priority.OUTPUT_ADDRESS) for f in state.flows
    )
    assert port_meter(1) in {m.meter_id for m in state.meters}


class Stray(Builder):
    """A builder writing a table outside its slice, or a meter it did not declare."""

    name = "statistics"

    def add_port(self, dpid, bound, topology):
        if bound.port.key == 1:
            return Built(
                frozenset(
                    {ofp.flow(Table.CLASSIFY, 1, ofp.match(reg6=1), (), cookie(Owner.PORT, 1))}
                )
            )
        if bound.port.key == 2:
            return Built(meters=frozenset({ofp.Meter(port_meter(2), 1, 1)}))
        return Built()


def test_an_answer_outside_the_slice_fails_that_owner_alone(monkeypatch):
    model, fabric, options = policies()
    monkeypatch.setitem(compiler.FEATURES, "statistics", Stray)
    compiler._builders.cache_clear()
    try:
        state = compile_with(model, fabric, options)[1]
    finally:
        compiler._builders.cache_clear()
    assert state.failed == {
        cookie(Owner.PORT, 1): "ValueError: slice statistics does not write table CLASSIFY",
        cookie(Owner.PORT, 2): "ValueError: slice statistics declares no meter 0x102",
    }
    assert cookie(Owner.PORT, 3) in state.parts


def test_unchanged_owners_of_every_scope_stay_the_same_objects():
    model, fabric, options = policies()
    first = compile_with(model, fabric, options)
    ports = dict(model.ports)
    ports["p7"] = dataclasses.replace(ports["p6"], id="p7", key=7, mac_address="fa:16:3e:00:00:07")
    grown = dataclasses.replace(model, ports=ports)
    again = compile_with(
        grown,
        dataclasses.replace(
            fabric, vifs={**fabric.vifs, "p7": dataclasses.replace(fabric.vifs["p6"], ofport=7)}
        ),
        options,
    )
    kinds = set()
    for dpid, state in first.items():
        for owner, flows in state.parts.items():
            kind, key = owner_of(owner)
            if kind == Owner.NETWORK and key == 10:
                continue  # p7 joins network 10's flood group
            assert again[dpid].parts[owner] is flows, owner_of(owner)
            kinds.add(kind)
    assert kinds == {
        Owner.SWITCH,
        Owner.PORT,
        Owner.COUNTER,
        Owner.ACL,
        Owner.REMOTE,
        Owner.NETWORK,
    }


def test_routed_owners_stay_the_same_objects():
    model, fabric, options = routing()
    first, again = compile_with(model, fabric, options), compile_with(model, fabric, options)
    router = cookie(Owner.ROUTER, 7)
    assert again[1].parts[router] is first[1].parts[router]


def test_packet_services_answer_for_the_router_interfaces_the_compiler_routes():
    model, fabric, _ = routing()
    _, routers, _ = compiler.compile_inputs(model, fabric)
    routed = {(i.router_id, i.ip, i.mac, i.cidr) for r in routers for i in r.interfaces}
    index = RouterIndex(model)
    indexed = {
        (r, ip, mac, cidr) for entries in index.by_network.values() for r, ip, mac, cidr in entries
    }
    assert indexed == routed
    assert index.ips == {"R": {"10.0.1.1", "2001:db8:1::1", "10.0.2.1", "2001:db8:2::1"}}


def test_in_tree_slices_builders_load_with_the_compiler_alone():
    """Importing the compiler registers every in-tree slice's builder from its package, in
    the layout's order of slices, and loads neither the API, the store nor SQL (of the
    model's modules, the snapshot's views and the pure FrozenMap alone)."""
    code = (
        "import sys\n"
        "from naas_sdn.flows import compiler, layout\n"
        "print(list(compiler.FEATURES) == list(layout.SLICES))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('naas_sdn.northbound', "
        "'naas_sdn.model.', 'sqlalchemy', 'webob')) "
        "and m not in ('naas_sdn.model.snapshot', 'naas_sdn.model.frozenmap')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[:2] == ["True", "[]"]
