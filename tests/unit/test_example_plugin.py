"""A third-party slice (tests/plugins/example, installed into the test venv) adds a resource
with CRUD, tags, revisions, filters, quota and cascade, without a line of the core naming it."""

from __future__ import annotations

import pytest

from naas_sdn.model import errors
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound.app import make_app
from naas_sdn.northbound.plugins import available
from tests.unit.model_support import ALICE, BOB
from tests.unit.model_support import api_call as call

pytest.importorskip(
    "naas_example_plugin",
    reason="run scripts/setup.sh: it installs tests/plugins/example into the venv",
)


def test_found_through_its_entry_point():
    assert "ethertype-block" in available()


def test_offered_only_when_loaded(service: NetworkService):
    token = service.tokens.create("p")
    bare = make_app(service, [])
    assert call(bare, "GET", "/v2.0/ethertype-blocks", token).status_code == 501
    app = make_app(service, ["ethertype-block"])
    aliases = {e["alias"] for e in call(app, "GET", "/v2.0/extensions", token).json["extensions"]}
    assert "ethertype-blocks" in aliases
    assert call(app, "GET", "/v2.0/ethertype-blocks", token).json == {"ethertype_blocks": []}


def test_crud_tags_revisions_filters_and_cascade(service: NetworkService):
    app = make_app(service, ["ethertype-block"])
    alice, bob = service.tokens.create(ALICE.project_id), service.tokens.create(BOB.project_id)
    net = call(app, "POST", "/v2.0/networks", alice, {"network": {"name": "lab"}}).json["network"]
    made = call(
        app,
        "POST",
        "/v2.0/ethertype-blocks",
        alice,
        {
            "ethertype_block": {
                "network_id": net["id"],
                "ethertype": "0x88cc",
                "name": "no-lldp",
                "tags": ["lab"],
            }
        },
    )
    assert made.status_code == 201, made.json
    block = made.json["ethertype_block"]
    assert (block["ethertype"], block["project_id"], block["tags"], block["revision_number"]) == (
        0x88CC,
        ALICE.project_id,
        ["lab"],
        1,
    )
    assert "key" not in block
    bad = call(
        app,
        "POST",
        "/v2.0/ethertype-blocks",
        alice,
        {"ethertype_block": {"network_id": net["id"], "ethertype": 42}},
    )
    assert (
        bad.status_code == 400 and "'42' is not an ethertype" in bad.json["NeutronError"]["message"]
    )
    # another project neither sees it nor can add one to a network it does not own
    assert call(app, "GET", f"/v2.0/ethertype-blocks/{block['id']}", bob).status_code == 404
    assert (
        call(
            app,
            "POST",
            "/v2.0/ethertype-blocks",
            bob,
            {"ethertype_block": {"network_id": net["id"], "ethertype": 0x88F7}},
        ).status_code
        == 404
    )
    listed = call(app, "GET", "/v2.0/ethertype-blocks?ethertype=35020&tags=lab", alice)
    assert [b["id"] for b in listed.json["ethertype_blocks"]] == [block["id"]]
    renamed = call(
        app,
        "PUT",
        f"/v2.0/ethertype-blocks/{block['id']}",
        alice,
        {"ethertype_block": {"name": "quiet"}},
        headers={"If-Match": "revision_number=1"},
    )
    assert renamed.json["ethertype_block"]["revision_number"] == 2
    stale = call(
        app,
        "PUT",
        f"/v2.0/ethertype-blocks/{block['id']}",
        alice,
        {"ethertype_block": {"name": "again"}},
        headers={"If-Match": "revision_number=1"},
    )
    assert stale.status_code == 412
    frozen = call(
        app,
        "PUT",
        f"/v2.0/ethertype-blocks/{block['id']}",
        alice,
        {"ethertype_block": {"ethertype": 0x0800}},
    )
    assert frozen.status_code == 400
    tagged = call(app, "PUT", f"/v2.0/ethertype-blocks/{block['id']}/tags/quiet", alice)
    assert tagged.status_code == 201
    shown = call(app, "GET", f"/v2.0/ethertype-blocks/{block['id']}", alice).json
    assert (shown["ethertype_block"]["tags"], shown["ethertype_block"]["revision_number"]) == (
        ["lab", "quiet"],
        3,
    )
    (view,) = service.snapshot().views("ethertype_blocks").values()
    assert (view.network_id, view.ethertype) == (net["id"], 0x88CC)
    # the block goes with its network, in SQL and in what the compiler sees
    assert call(app, "DELETE", f"/v2.0/networks/{net['id']}", alice).status_code == 204
    assert service.snapshot().views("ethertype_blocks") == {}
    with pytest.raises(errors.NotFound):
        service.get_record(ALICE, "ethertype_blocks", block["id"])


def test_quota(service: NetworkService):
    app = make_app(service, ["ethertype-block"])
    admin = service.tokens.create("admin", admin=True)
    alice = service.tokens.create(ALICE.project_id)
    net = call(app, "POST", "/v2.0/networks", alice, {"network": {}}).json["network"]
    assert (
        call(
            app, "PUT", f"/v2.0/quotas/{ALICE.project_id}", admin, {"quota": {"ethertype_block": 1}}
        ).status_code
        == 200
    )
    first = call(
        app,
        "POST",
        "/v2.0/ethertype-blocks",
        alice,
        {"ethertype_block": {"network_id": net["id"], "ethertype": 0x88CC}},
    )
    assert first.status_code == 201
    second = call(
        app,
        "POST",
        "/v2.0/ethertype-blocks",
        alice,
        {"ethertype_block": {"network_id": net["id"], "ethertype": 0x88F7}},
    )
    assert second.status_code == 409 and second.json["NeutronError"]["type"] == "OverQuota"


def test_its_flow_reaches_only_switches_where_the_network_is(service: NetworkService):
    from types import MappingProxyType

    from naas_sdn.flows import compiler
    from naas_sdn.flows.fabric import FabricSnapshot, VifLocation

    app = make_app(service, ["ethertype-block"])
    alice = service.tokens.create(ALICE.project_id)
    net = call(app, "POST", "/v2.0/networks", alice, {"network": {}}).json["network"]
    port = call(app, "POST", "/v2.0/ports", alice, {"port": {"network_id": net["id"]}}).json["port"]
    call(
        app,
        "POST",
        "/v2.0/ethertype-blocks",
        alice,
        {"ethertype_block": {"network_id": net["id"], "ethertype": 0x88B5}},
    )
    model = service.snapshot()
    fabric = FabricSnapshot(
        frozenset({1, 2}), frozenset(), MappingProxyType({port["id"]: VifLocation("br1", 1, 5)})
    )
    bound, routers, rules = compiler.compile_inputs(model, fabric)
    drops = {
        dpid: [
            f
            for flows in compiler.compile_switch(
                dpid, bound, fabric, compiler.DEFAULT_OPTIONS, routers, rules, extra=model.extra
            ).parts.values()
            for f in flows
            if dict(f.match).get("eth_type") == 0x88B5
        ]
        for dpid in (1, 2)
    }
    assert len(drops[1]) == 1 and drops[1][0].instructions == () and drops[2] == []
