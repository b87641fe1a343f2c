"""QoS policies and protocol blocks at the service level: views, validation, ownership,
in-use conflicts and cleanup."""

from __future__ import annotations

import pytest

from naas_sdn.features.networking.ports import PORTS
from naas_sdn.features.protocol_block.resource import PROTOCOL_BLOCKS
from naas_sdn.features.qos.policies import BANDWIDTH_LIMIT, RULES
from naas_sdn.model import db, errors
from naas_sdn.model.service import NetworkService
from naas_sdn.model.snapshot import ProtocolBlockView, QosPolicyView
from tests.unit.model_support import ADMIN, ALICE, BOB, count


def create_block(service, ctx, attrs):
    return service.create_records(ctx, "protocol_blocks", [attrs])[0]


BW, DSCP = "qos_bandwidth_limit_rules", "qos_dscp_marking_rules"
POLICIES = "qos_policies"


def create_rules(service, ctx, policy_id, collection, items):
    return service.create_records(ctx, collection, items, parent=policy_id)


@pytest.fixture
def net(service):
    return service.create_network(ALICE, {"name": "n"})


@pytest.fixture
def policy(service):
    return service.create_records(ALICE, POLICIES, [{"name": "gold"}])[0]


# ---------------------------------------------------------------------------------------- QoS
def test_policy_view_follows_rules(service, policy):
    assert service.snapshot().qos_policies[policy.id] == QosPolicyView(
        id=policy.id, project_id="alice"
    )
    ingress = create_rules(
        service,
        ALICE,
        policy.id,
        BW,
        [{"max_kbps": 2000, "max_burst_kbps": 200, "direction": "ingress"}],
    )[0]
    create_rules(service, ALICE, policy.id, BW, [{"max_kbps": "10000"}])
    mark = create_rules(service, ALICE, policy.id, DSCP, [{"dscp_mark": 26}])[0]
    view = service.snapshot().qos_policies[policy.id]
    assert view.bandwidth_limits == (("egress", 10000, 0), ("ingress", 2000, 200))
    assert view.dscp_mark == 26
    assert service.get_record(ALICE, POLICIES, policy.id).revision_number == 4
    service.update_record(ALICE, BW, ingress.id, {"max_kbps": 3000}, parent=policy.id)
    service.update_record(ALICE, DSCP, mark.id, {"dscp_mark": 46}, parent=policy.id)
    view = service.snapshot().qos_policies[policy.id]
    assert view.bandwidth_limits == (("egress", 10000, 0), ("ingress", 3000, 200))
    assert view.dscp_mark == 46
    service.delete_record(ALICE, DSCP, mark.id, parent=policy.id)
    assert service.snapshot().qos_policies[policy.id].dscp_mark is None
    with pytest.raises(errors.QosRuleNotFound):
        service.get_record(ALICE, DSCP, mark.id, parent=policy.id)


def test_rule_conflicts_and_validation(service, policy):
    egress = create_rules(service, ALICE, policy.id, BW, [{"max_kbps": 1000}])[0]
    with pytest.raises(errors.QoSRulesConflict) as exc:
        create_rules(service, ALICE, policy.id, BW, [{"max_kbps": 5, "direction": "egress"}])
    assert exc.value.status == 409 and egress.id in exc.value.msg
    ingress = create_rules(
        service, ALICE, policy.id, BW, [{"max_kbps": 5, "direction": "ingress"}]
    )[0]
    with pytest.raises(errors.QoSRulesConflict):
        service.update_record(ALICE, BW, ingress.id, {"direction": "egress"}, parent=policy.id)
    create_rules(service, ALICE, policy.id, DSCP, [{"dscp_mark": 0}])
    with pytest.raises(errors.QoSRulesConflict):
        create_rules(service, ALICE, policy.id, DSCP, [{"dscp_mark": 8}])
    before = service.snapshot()
    for rule_type, attrs in (
        (BW, {}),
        (BW, {"max_kbps": -1}),
        (BW, {"max_kbps": 2**31}),
        (BW, {"max_kbps": 1, "max_burst_kbps": "x"}),
        (BW, {"max_kbps": 1, "direction": "up"}),
        (BW, {"max_kbps": True}),
        (DSCP, {"dscp_mark": 1}),
        (DSCP, {"dscp_mark": None}),
    ):
        with pytest.raises(errors.BadRequest):
            create_rules(service, ALICE, policy.id, rule_type, [attrs])
    with pytest.raises(errors.BadRequest):
        service.update_record(ALICE, BW, egress.id, {"id": "x"}, parent=policy.id)
    assert service.snapshot() is before


def test_policy_bindings_and_in_use(service, net, policy):
    net = service.update_network(ALICE, net.id, {"qos_policy_id": policy.id})
    assert service.snapshot().networks[net.id].qos_policy_id == policy.id
    port = service.create_port(ALICE, {"network_id": net.id, "qos_policy_id": policy.id})
    assert service.snapshot().ports[port.id].qos_policy_id == policy.id
    with pytest.raises(errors.QosPolicyInUse) as exc:
        service.delete_record(ALICE, POLICIES, policy.id)
    assert exc.value.status == 409
    service.update_port(ALICE, port.id, {"qos_policy_id": None})
    assert service.snapshot().ports[port.id].qos_policy_id is None
    with pytest.raises(errors.QosPolicyInUse):
        service.delete_record(ALICE, POLICIES, policy.id)
    service.update_network(ALICE, net.id, {"qos_policy_id": None})
    create_rules(service, ALICE, policy.id, BW, [{"max_kbps": 1}])
    service.delete_record(ALICE, POLICIES, policy.id)
    assert policy.id not in service.snapshot().qos_policies
    assert count(service, RULES[BANDWIDTH_LIMIT].table) == 0
    with pytest.raises(errors.QosPolicyNotFound):
        service.create_port(ALICE, {"network_id": net.id, "qos_policy_id": policy.id})
    assert count(service, PORTS.table) == 1


def test_policy_scoping_and_sharing(service, net, policy):
    with pytest.raises(errors.QosPolicyNotFound):
        service.get_record(BOB, POLICIES, policy.id)
    shared_net = service.create_network(ALICE, {"shared": True})
    with pytest.raises(errors.QosPolicyNotFound):
        service.create_port(BOB, {"network_id": shared_net.id, "qos_policy_id": policy.id})
    service.update_record(ALICE, POLICIES, policy.id, {"shared": True})
    port = service.create_port(BOB, {"network_id": shared_net.id, "qos_policy_id": policy.id})
    with pytest.raises(errors.RbacPolicyInUse):  # bob's port would lose sight of it
        service.update_record(ALICE, POLICIES, policy.id, {"shared": False})
    entry = {"object_type": "qos_policy", "object_id": policy.id, "action": "access_as_shared"}
    to_bob = service.create_records(ALICE, "rbac_policies", [{**entry, "target_tenant": "bob"}])
    service.update_record(ALICE, POLICIES, policy.id, {"shared": False})  # bob's own entry
    assert service.get_record(BOB, POLICIES, policy.id).shared is False  # no "*" entry left
    with pytest.raises(errors.RbacPolicyInUse):
        service.delete_record(ALICE, "rbac_policies", to_bob[0].id)
    service.delete_port(BOB, port.id)
    service.delete_record(ALICE, "rbac_policies", to_bob[0].id)
    with pytest.raises(errors.QosPolicyNotFound):
        service.get_record(BOB, POLICIES, policy.id)
    service.update_record(ALICE, POLICIES, policy.id, {"shared": True})
    assert service.update_record(ALICE, POLICIES, policy.id, {"shared": False}).shared is False
    assert [p.id for p in service.list_records(ADMIN, POLICIES)] == [policy.id]


def test_qos_survives_a_restart(service, net, policy, db_url):
    create_rules(service, ALICE, policy.id, BW, [{"max_kbps": 1000, "direction": "ingress"}])
    create_rules(service, ALICE, policy.id, DSCP, [{"dscp_mark": 10}])
    service.update_network(ALICE, net.id, {"qos_policy_id": policy.id})
    port = service.create_port(ALICE, {"network_id": net.id, "qos_policy_id": policy.id})
    again = NetworkService(db.connect(db_url))
    try:
        for kind in ("networks", "ports", "qos_policies"):
            assert dict(getattr(again.snapshot(), kind)) == dict(getattr(service.snapshot(), kind))
        assert again.get_record(ALICE, POLICIES, policy.id) == service.get_record(
            ALICE, POLICIES, policy.id
        )
        assert again.get_port(ALICE, port.id).qos_policy_id == policy.id
    finally:
        again.close()


# ---------------------------------------------------------------------------- protocol blocks
def test_block_views(service, net):
    udp = create_block(service, ALICE, {"network_id": net.id, "protocol": "UDP"})
    ping6 = create_block(
        service, ALICE, {"network_id": net.id, "protocol": "icmp", "ethertype": "ipv6"}
    )
    web = create_block(
        service,
        ALICE,
        {
            "network_id": net.id,
            "protocol": "6",
            "ethertype": "IPv4",
            "port_range_min": 80,
            "port_range_max": 443,
            "name": "web",
        },
    )
    assert (udp.protocol, udp.ethertype, udp.project_id) == ("udp", None, "alice")
    views = service.snapshot().protocol_blocks
    assert views[udp.id] == ProtocolBlockView(
        id=udp.id, key=udp.key, network_id=net.id, protocol=17
    )
    assert (views[ping6.id].protocol, views[ping6.id].ethertype) == (58, "IPv6")
    assert (views[web.id].protocol, views[web.id].port_range_min, views[web.id].port_range_max) == (
        6,
        80,
        443,
    )
    assert len({udp.key, ping6.key, web.key}) == 3
    renamed = service.update_record(ALICE, "protocol_blocks", web.id, {"name": "https"})
    assert renamed.name == "https" and renamed.revision_number == 2
    with pytest.raises(errors.BadRequest):
        service.update_record(ALICE, "protocol_blocks", web.id, {"protocol": "udp"})


@pytest.mark.parametrize(
    "attrs,error",
    [
        ({"protocol": "any"}, errors.SecurityGroupRuleInvalidProtocol),
        ({"protocol": None}, errors.SecurityGroupRuleInvalidProtocol),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 1},
            errors.SecurityGroupInvalidProtocolForPortRange,
        ),
        (
            {"protocol": "tcp", "port_range_min": 9, "port_range_max": 8},
            errors.SecurityGroupInvalidPortRange,
        ),
        ({"protocol": "udp", "ethertype": "IPX"}, errors.SecurityGroupRuleInvalidEtherType),
        (
            {"protocol": "ipv6-icmp", "ethertype": "IPv4"},
            errors.SecurityGroupEthertypeConflictWithProtocol,
        ),
    ],
)
def test_bad_blocks(service, net, attrs, error):
    with pytest.raises(error) as exc:
        create_block(service, ALICE, {"network_id": net.id, **attrs})
    assert exc.value.status == 400
    assert count(service, PROTOCOL_BLOCKS.table) == 0 and count(service, db.counters) == 0


def test_block_ownership_duplicates_and_network_deletion(service, net):
    shared = service.create_network(ALICE, {"shared": True})
    with pytest.raises(errors.NetworkNotFound):
        create_block(service, BOB, {"network_id": net.id, "protocol": "udp"})
    block = create_block(
        service, ADMIN, {"network_id": shared.id, "protocol": "udp", "tags": ["t"]}
    )
    assert block.project_id == "alice"  # the network's, even when an admin made it
    assert service.list_records(BOB, "protocol_blocks") == []
    with pytest.raises(errors.ProtocolBlockNotFound):
        service.delete_record(BOB, "protocol_blocks", block.id)
    with pytest.raises(errors.ProtocolBlockExists) as exc:
        create_block(service, ALICE, {"network_id": shared.id, "protocol": "17"})
    assert exc.value.status == 409 and block.id in exc.value.msg
    with pytest.raises(errors.ProtocolBlockExists):
        service.create_records(
            ALICE,
            "protocol_blocks",
            [{"network_id": net.id, "protocol": "tcp"}, {"network_id": net.id, "protocol": "TCP"}],
        )
    assert [b.id for b in service.list_records(ALICE, "protocol_blocks")] == [block.id]
    create_block(
        service, ALICE, {"network_id": shared.id, "protocol": "udp", "ethertype": "IPv4"}
    )  # narrower: a different block
    service.delete_network(ALICE, shared.id)
    assert service.snapshot().protocol_blocks == {}
    assert count(service, PROTOCOL_BLOCKS.table) == 0 and count(service, db.tags) == 0
