"""Port security, allowed address pairs and security groups at the service level: the views the
compiler gets, Neutron's validation, the default group, in-use conflicts and all-or-nothing."""

from __future__ import annotations

import pytest

from naas_sdn.features.networking.ports import PORTS
from naas_sdn.features.router import add_router_interface
from naas_sdn.features.security.groups import SECURITY_GROUP_RULES, SECURITY_GROUPS
from naas_sdn.features.security.ports import ALLOWED_ADDRESS_PAIRS
from naas_sdn.model import db, errors
from naas_sdn.model.service import NetworkService
from naas_sdn.model.snapshot import SecurityGroupRuleView
from tests.unit.model_support import ADMIN, ALICE, BOB, count


@pytest.fixture
def net(service):
    network = service.create_network(ALICE, {"name": "n"})
    service.create_subnet(ALICE, {"network_id": network.id, "ip_version": 4, "cidr": "10.0.0.0/24"})
    return network


def default_group(service, ctx=ALICE):
    return next(g for g in service.list_records(ctx, "security_groups") if g.name == "default")


def rule(service, group, **attrs):
    return service.create_records(
        ALICE,
        "security_group_rules",
        [{"security_group_id": group.id, "direction": "ingress", **attrs}],
    )[0]


def test_port_gets_default_group_with_neutrons_four_rules(service, net):
    seen = []
    service.subscribe(seen.append)
    port = service.create_port(ALICE, {"network_id": net.id})
    group = default_group(service)
    assert port.port_security_enabled is True and port.security_groups == (group.id,)
    view = service.snapshot().security_groups[group.id]
    assert view.project_id == "alice"
    assert [(r.direction, r.ethertype, r.protocol, r.remote_group_id) for r in view.rules] == [
        ("egress", "IPv4", None, None),
        ("egress", "IPv6", None, None),
        ("ingress", "IPv4", None, group.id),
        ("ingress", "IPv6", None, group.id),
    ]
    assert [r.key for r in view.rules] == sorted(r.key for r in view.rules)
    port_view = service.snapshot().ports[port.id]
    assert port_view.port_security_enabled and port_view.security_group_ids == (group.id,)
    assert seen and seen[-1] is service.snapshot()
    # a second port reuses the group; listing does not create another
    service.create_port(ALICE, {"network_id": net.id})
    service.list_records(ALICE, "security_groups")
    assert count(service, SECURITY_GROUPS.table) == 1


def test_listing_creates_the_default_group_once_per_project(service):
    assert [g.name for g in service.list_records(ALICE, "security_groups")] == ["default"]
    assert [g.name for g in service.list_records(ALICE, "security_groups")] == ["default"]
    assert [g.name for g in service.list_records(BOB, "security_groups")] == ["default"]
    assert {g.project_id for g in service.list_records(ADMIN, "security_groups")} == {
        "alice",
        "bob",
        "admin",
    }
    assert count(service, SECURITY_GROUPS.table) == 3


def test_rule_views_use_iana_numbers(service):
    group = service.create_records(ALICE, "security_groups", [{"name": "web"}])[0]
    assert [(r.direction, r.ethertype) for r in group.rules] == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    ssh = rule(
        service,
        group,
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.1.2.3/16",
    )
    ping6 = rule(
        service, group, protocol="icmp", ethertype="ipv6", port_range_min=128, port_range_max=0
    )
    gre = rule(service, group, protocol="47", remote_ip_prefix="0.0.0.0/0")
    anything = rule(
        service, group, protocol="any", ethertype="IPv6", remote_ip_prefix="2001:db8::1"
    )
    assert (ssh.protocol, ssh.remote_ip_prefix) == ("tcp", "10.1.0.0/16")
    assert (ping6.protocol, ping6.ethertype) == ("icmp", "IPv6")
    views = {r.id: r for r in service.snapshot().security_groups[group.id].rules}
    assert views[ssh.id] == SecurityGroupRuleView(
        id=ssh.id,
        key=ssh.key,
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol=6,
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.1.0.0/16",
    )
    assert (
        views[ping6.id].protocol,
        views[ping6.id].port_range_min,
        views[ping6.id].port_range_max,
    ) == (58, 128, 0)
    assert (views[gre.id].protocol, views[gre.id].remote_ip_prefix) == (47, None)
    assert (views[anything.id].protocol, views[anything.id].remote_ip_prefix) == (
        None,
        "2001:db8::1/128",
    )
    assert service.get_record(ALICE, "security_groups", group.id).revision_number == 5


@pytest.mark.parametrize(
    "attrs,error",
    [
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 22},
            errors.SecurityGroupInvalidPortRange,
        ),
        ({"protocol": "tcp", "port_range_min": 22}, errors.SecurityGroupInvalidPortRange),
        (
            {"protocol": "udp", "port_range_min": 0, "port_range_max": 5},
            errors.SecurityGroupInvalidPortValue,
        ),
        (
            {"protocol": "tcp", "port_range_min": 1, "port_range_max": 65536},
            errors.SecurityGroupInvalidPortValue,
        ),
        (
            {"port_range_min": 22, "port_range_max": 22},
            errors.SecurityGroupProtocolRequiredWithPorts,
        ),
        (
            {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
            errors.SecurityGroupInvalidProtocolForPortRange,
        ),
        ({"protocol": "icmp", "port_range_min": 256}, errors.SecurityGroupInvalidIcmpValue),
        ({"protocol": "icmp", "port_range_max": 0}, errors.SecurityGroupMissingIcmpType),
        ({"protocol": "bogus"}, errors.SecurityGroupRuleInvalidProtocol),
        ({"protocol": "256"}, errors.SecurityGroupRuleInvalidProtocol),
        ({"protocol": True}, errors.SecurityGroupRuleInvalidProtocol),
        ({"ethertype": "IPv5"}, errors.SecurityGroupRuleInvalidEtherType),
        (
            {"protocol": "ipv6-icmp", "ethertype": "IPv4"},
            errors.SecurityGroupEthertypeConflictWithProtocol,
        ),
        ({"remote_ip_prefix": "2001:db8::/64"}, errors.SecurityGroupRuleParameterConflict),
        ({"remote_ip_prefix": "10.0.0.300/24"}, errors.InvalidCIDR),
        (
            {"remote_ip_prefix": "10.0.0.0/24", "remote_group_id": "GROUP"},
            errors.SecurityGroupRemoteGroupAndRemoteIpPrefix,
        ),
        ({"remote_group_id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}, errors.SecurityGroupNotFound),
        ({"direction": "sideways"}, errors.InvalidAttribute),
    ],
)
def test_bad_rules_change_nothing(service, attrs, error):
    group = service.create_records(ALICE, "security_groups", [{"name": "g"}])[0]
    attrs = {k: (group.id if v == "GROUP" else v) for k, v in attrs.items()}
    before = service.snapshot()
    with pytest.raises(error) as exc:
        rule(service, group, **attrs)
    assert exc.value.status in (400, 404)
    assert service.snapshot() is before
    assert count(service, SECURITY_GROUP_RULES.table) == 6  # default: 4, g: its 2 egress rules


def test_duplicate_rules(service):
    group = service.create_records(ALICE, "security_groups", [{"name": "g"}])[0]
    first = rule(service, group, protocol="tcp", port_range_min=80, port_range_max=80)
    for same in (
        {"protocol": "6", "port_range_min": "80", "port_range_max": 80},
        {
            "protocol": "TCP",
            "port_range_min": 80,
            "port_range_max": 80,
            "remote_ip_prefix": "0.0.0.0/0",
        },
    ):
        with pytest.raises(errors.SecurityGroupRuleExists) as exc:
            rule(service, group, **same)
        assert first.id in exc.value.msg and exc.value.status == 409
    with pytest.raises(errors.SecurityGroupRuleExists):
        service.create_records(
            ALICE,
            "security_group_rules",
            [{"security_group_id": group.id, "direction": "egress", "ethertype": "IPv4"}],
        )
    bulk = [{"security_group_id": group.id, "direction": "ingress", "protocol": "udp"}] * 2
    with pytest.raises(errors.DuplicateSecurityGroupRuleInPost):
        service.create_records(ALICE, "security_group_rules", bulk)
    other = service.create_records(ALICE, "security_groups", [{"name": "h"}])[0]
    with pytest.raises(errors.SecurityGroupNotSingleGroupRules):
        service.create_records(
            ALICE,
            "security_group_rules",
            [
                {"security_group_id": group.id, "direction": "ingress", "protocol": "udp"},
                {"security_group_id": other.id, "direction": "ingress", "protocol": "udp"},
            ],
        )
    assert len(service.get_record(ALICE, "security_groups", group.id).rules) == 3


def test_default_group_protected(service):
    group = default_group(service)
    with pytest.raises(errors.SecurityGroupCannotRemoveDefault):
        service.delete_record(ALICE, "security_groups", group.id)
    with pytest.raises(errors.SecurityGroupCannotUpdateDefault):
        service.update_record(ALICE, "security_groups", group.id, {"name": "mine"})
    assert (
        service.update_record(ALICE, "security_groups", group.id, {"description": "d"}).description
        == "d"
    )
    with pytest.raises(errors.SecurityGroupDefaultAlreadyExists):
        service.create_records(ALICE, "security_groups", [{"name": "Default"}])
    other = service.create_records(ALICE, "security_groups", [{"name": "other"}])[0]
    with pytest.raises(errors.SecurityGroupDefaultAlreadyExists):
        service.update_record(ALICE, "security_groups", other.id, {"name": "default"})
    service.delete_record(ADMIN, "security_groups", group.id)  # an admin may (Neutron)
    assert default_group(service).id != group.id  # and the next use recreates it


def test_groups_in_use_and_remote_group_rules(service, net):
    web = service.create_records(ALICE, "security_groups", [{"name": "web"}])[0]
    db_group = service.create_records(ALICE, "security_groups", [{"name": "db"}])[0]
    from_web = rule(
        service,
        db_group,
        protocol="tcp",
        port_range_min=5432,
        port_range_max=5432,
        remote_group_id=web.id,
    )
    port = service.create_port(ALICE, {"network_id": net.id, "security_groups": [web.id]})
    with pytest.raises(errors.SecurityGroupInUse):
        service.delete_record(ALICE, "security_groups", web.id)
    port = service.update_port(ALICE, port.id, {"security_groups": []})
    assert port.security_groups == () and service.snapshot().ports[port.id].security_group_ids == ()
    revision = service.get_record(ALICE, "security_groups", db_group.id).revision_number
    service.delete_record(ALICE, "security_groups", web.id)
    after = service.get_record(ALICE, "security_groups", db_group.id)
    assert from_web.id not in {r.id for r in after.rules}
    assert after.revision_number == revision + 1
    assert from_web.id not in {r.id for r in service.snapshot().security_groups[db_group.id].rules}
    with pytest.raises(errors.SecurityGroupRuleNotFound):
        service.get_record(ALICE, "security_group_rules", from_web.id)


def test_stateless_groups_follow_neutrons_rules(service, net):
    """A stateless group gets the same two egress rules; a port holds stateless or stateful
    groups, never both (409 SecurityGroupConflict); statefulness changes only while no port,
    of any project, uses the group (409 SecurityGroupInUse); a refusal writes nothing."""
    stateless = service.create_records(
        ALICE, "security_groups", [{"name": "sl", "stateful": False}]
    )[0]
    stateful = service.create_records(ALICE, "security_groups", [{"name": "sf"}])[0]
    assert (stateless.stateful, stateful.stateful) == (False, True)
    view = service.snapshot().security_groups[stateless.id]
    assert view.stateful is False
    assert [(r.direction, r.ethertype, r.remote_group_id) for r in view.rules] == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
    ]
    ports_before = count(service, PORTS.table)
    with pytest.raises(errors.SecurityGroupConflict) as exc:
        service.create_port(
            ALICE, {"network_id": net.id, "security_groups": [stateless.id, stateful.id]}
        )
    assert exc.value.status == 409
    assert exc.value.msg == (
        "Error Cannot apply both stateful and stateless security groups on the same port at "
        "the same time while attempting the operation."
    )
    assert count(service, PORTS.table) == ports_before
    port = service.create_port(ALICE, {"network_id": net.id, "security_groups": [stateless.id]})
    with pytest.raises(errors.SecurityGroupConflict):
        service.update_port(ALICE, port.id, {"security_groups": [stateless.id, stateful.id]})
    assert service.get_port(ALICE, port.id).security_groups == (stateless.id,)
    with pytest.raises(errors.SecurityGroupInUse) as exc:
        service.update_record(ALICE, "security_groups", stateless.id, {"stateful": True})
    assert exc.value.status == 409 and stateless.id in exc.value.msg
    assert service.get_record(ALICE, "security_groups", stateless.id).stateful is False
    # The same value again is no change: allowed while in use.
    service.update_record(ALICE, "security_groups", stateless.id, {"stateful": False})
    service.update_port(ALICE, port.id, {"security_groups": []})
    # In use by another project's port (an admin may bind any group): refused just the same.
    bobs = service.create_network(BOB, {"name": "b"})
    service.create_port(
        ADMIN,
        {"network_id": bobs.id, "project_id": "bob", "security_groups": [stateless.id]},
    )
    with pytest.raises(errors.SecurityGroupInUse):
        service.update_record(ALICE, "security_groups", stateless.id, {"stateful": True})
    flipped = service.update_record(ALICE, "security_groups", stateful.id, {"stateful": False})
    assert flipped.stateful is False and flipped.revision_number == stateful.revision_number + 1
    assert service.snapshot().security_groups[stateful.id].stateful is False
    mixed_no_more = service.update_port(
        ALICE, port.id, {"security_groups": [stateless.id, stateful.id]}
    )
    assert mixed_no_more.security_groups == tuple(sorted((stateless.id, stateful.id)))


def test_port_groups_sorted_visible_and_updatable(service, net):
    groups = [
        service.create_records(ALICE, "security_groups", [{"name": f"g{i}"}])[0] for i in range(3)
    ]
    ids = [g.id for g in groups]
    port = service.create_port(ALICE, {"network_id": net.id, "security_groups": ids[::-1]})
    assert port.security_groups == tuple(sorted(ids))
    assert service.snapshot().ports[port.id].security_group_ids == tuple(sorted(ids))
    bobs = service.create_records(BOB, "security_groups", [{"name": "bob's"}])[0]
    with pytest.raises(errors.SecurityGroupNotFound):
        service.update_port(ALICE, port.id, {"security_groups": [ids[0], bobs.id]})
    assert service.get_port(ALICE, port.id).security_groups == tuple(sorted(ids))
    assert service.update_port(ALICE, port.id, {"security_groups": [ids[1]]}).security_groups == (
        ids[1],
    )
    # an admin may bind any project's group
    assert service.update_port(ADMIN, port.id, {"security_groups": [bobs.id]}).security_groups == (
        bobs.id,
    )


def test_port_security_rules(service, net):
    port = service.create_port(ALICE, {"network_id": net.id})
    with pytest.raises(errors.PortSecurityPortHasSecurityGroup) as exc:
        service.update_port(ALICE, port.id, {"port_security_enabled": False})
    assert exc.value.status == 409
    off = service.update_port(
        ALICE, port.id, {"port_security_enabled": False, "security_groups": []}
    )
    assert (off.port_security_enabled, off.security_groups) == (False, ())
    view = service.snapshot().ports[port.id]
    assert view.port_security_enabled is False and view.security_group_ids == ()
    group = default_group(service)
    with pytest.raises(errors.PortSecurityAndIPRequiredForSecurityGroups) as exc:
        service.update_port(ALICE, port.id, {"security_groups": [group.id]})
    assert exc.value.status == 400
    with pytest.raises(errors.AddressPairAndPortSecurityRequired):
        service.update_port(ALICE, port.id, {"allowed_address_pairs": [{"ip_address": "10.9.9.9"}]})
    on = service.update_port(ALICE, port.id, {"port_security_enabled": True})
    assert on.security_groups == ()  # enabling again adds no group: deny all until some is set
    paired = service.update_port(
        ALICE, port.id, {"allowed_address_pairs": [{"ip_address": "10.9.9.9"}]}
    )
    with pytest.raises(errors.AddressPairAndPortSecurityRequired) as exc:
        service.update_port(ALICE, port.id, {"port_security_enabled": False})
    assert exc.value.status == 409
    assert service.get_port(ALICE, port.id) == paired
    with pytest.raises(errors.PortSecurityAndIPRequiredForSecurityGroups):
        service.create_port(
            ALICE,
            {"network_id": net.id, "port_security_enabled": False, "security_groups": [group.id]},
        )
    with pytest.raises(errors.AddressPairAndPortSecurityRequired):
        service.create_port(
            ALICE,
            {
                "network_id": net.id,
                "port_security_enabled": False,
                "allowed_address_pairs": [{"ip_address": "10.0.0.9"}],
            },
        )


def test_network_port_security_is_the_default_for_new_ports(service, net):
    off = service.update_network(ALICE, net.id, {"port_security_enabled": False})
    assert off.port_security_enabled is False and off.revision_number == 2
    port = service.create_port(ALICE, {"network_id": net.id})
    assert (port.port_security_enabled, port.security_groups) == (False, ())
    on = service.create_port(ALICE, {"network_id": net.id, "port_security_enabled": True})
    assert on.security_groups == (default_group(service).id,)


def test_address_pairs(service, net):
    port = service.create_port(
        ALICE,
        {
            "network_id": net.id,
            "allowed_address_pairs": [
                {"ip_address": "10.0.0.200"},
                {"ip_address": "192.168.0.0/16", "mac_address": "02:AA:BB:CC:DD:EE"},
            ],
        },
    )
    assert port.allowed_address_pairs == (
        ("10.0.0.200", None),
        ("192.168.0.0/16", "02:aa:bb:cc:dd:ee"),
    )
    assert service.snapshot().ports[port.id].allowed_address_pairs == (
        ("10.0.0.200", port.mac_address),
        ("192.168.0.0/16", "02:aa:bb:cc:dd:ee"),
    )
    moved = service.update_port(ALICE, port.id, {"mac_address": "02:00:00:00:00:01"})
    assert service.snapshot().ports[moved.id].allowed_address_pairs[0] == (
        "10.0.0.200",
        "02:00:00:00:00:01",
    )  # the default mac is the port's, whatever it is


@pytest.mark.parametrize(
    "pairs,error",
    [
        ([{"ip_address": f"10.0.1.{i}"} for i in range(11)], errors.AllowedAddressPairExhausted),
        (
            [{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}],
            errors.DuplicateAddressPairInRequest,
        ),
        (
            [{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5", "mac_address": "MAC"}],
            errors.DuplicateAddressPairInRequest,
        ),
        ([{"mac_address": "02:00:00:00:00:09"}], errors.AllowedAddressPairsMissingIP),
        ([{"ip_address": "10.0.0.5/24"}], errors.BadRequestMessage),
        ([{"ip_address": "nope"}], errors.BadRequestMessage),
        ([{"ip_address": "10.0.0.5", "mac_address": "nope"}], errors.BadRequestMessage),
        ([{"ip_address": "10.0.0.5", "extra": 1}], errors.BadRequestMessage),
        ({"ip_address": "10.0.0.5"}, errors.BadRequestMessage),
        (["10.0.0.5"], errors.InvalidAttribute),
    ],
)
def test_bad_address_pairs(service, net, pairs, error):
    mac = "02:00:00:00:00:07"
    if isinstance(pairs, list):
        pairs = [
            {k: (mac if v == "MAC" else v) for k, v in p.items()} if isinstance(p, dict) else p
            for p in pairs
        ]
    with pytest.raises(error) as exc:
        service.create_port(
            ALICE, {"network_id": net.id, "mac_address": mac, "allowed_address_pairs": pairs}
        )
    assert exc.value.status == 400
    assert count(service, PORTS.table) == 0 and count(service, ALLOWED_ADDRESS_PAIRS) == 0


def test_router_interfaces_get_no_groups(service, net):
    router = service.create_records(ALICE, "routers", [{"name": "r"}])[0]
    subnet = service.network_subnets(net.id)[0]
    info = add_router_interface(service, ALICE, router.id, {"subnet_id": subnet.id})
    port = service.get_port(ALICE, info["port_id"])
    assert port.security_groups == ()
    view = service.snapshot().ports[port.id]
    assert view.port_security_enabled is False and view.security_group_ids == ()
    assert count(service, SECURITY_GROUPS.table) == 0  # no default group was needed


def test_bulk_ports_all_or_nothing_with_default_group(service, net):
    with pytest.raises(errors.SecurityGroupNotFound):
        service.create_ports(
            ALICE,
            [
                {"network_id": net.id},
                {"network_id": net.id, "security_groups": ["3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"]},
            ],
        )
    assert count(service, PORTS.table) == 0 and count(service, SECURITY_GROUPS.table) == 0
    assert service.snapshot().security_groups == {}
    ports = service.create_ports(ALICE, [{"network_id": net.id}, {"network_id": net.id}])
    assert ports[0].security_groups == ports[1].security_groups
    assert count(service, SECURITY_GROUPS.table) == 1


def test_failed_group_write_leaves_no_trace(service, monkeypatch):
    service.list_records(ALICE, "security_groups")
    before = service.snapshot()

    def boom(*_args, **_kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("naas_sdn.model.store.write_tags", boom)
    with pytest.raises(RuntimeError):
        service.create_records(ALICE, "security_groups", [{"name": "x", "tags": ["t"]}])
    assert service.snapshot() is before
    assert (
        count(service, SECURITY_GROUPS.table) == 1
        and count(service, SECURITY_GROUP_RULES.table) == 4
    )


def test_everything_survives_a_restart(service, net, db_url):
    group = service.create_records(ALICE, "security_groups", [{"name": "web", "tags": ["t"]}])[0]
    rule(service, group, protocol="udp", port_range_min=53, port_range_max=53)
    port = service.create_port(
        ALICE,
        {
            "network_id": net.id,
            "security_groups": [group.id],
            "allowed_address_pairs": [{"ip_address": "10.0.0.0/28"}],
        },
    )
    service.create_port(ALICE, {"network_id": net.id, "port_security_enabled": False})
    service.update_network(ALICE, net.id, {"port_security_enabled": False})
    again = NetworkService(db.connect(db_url))
    try:
        for kind in ("networks", "ports", "security_groups"):
            assert dict(getattr(again.snapshot(), kind)) == dict(getattr(service.snapshot(), kind))
        assert again.get_port(ALICE, port.id) == service.get_port(ALICE, port.id)
        assert again.get_record(ALICE, "security_groups", group.id) == service.get_record(
            ALICE, "security_groups", group.id
        )
        assert again.get_network(ALICE, net.id).port_security_enabled is False
        # rule keys come from a counter that survives too
        new = again.create_records(
            ALICE,
            "security_group_rules",
            [{"security_group_id": group.id, "direction": "egress", "protocol": "tcp"}],
        )[0]
        assert new.key > max(r.key for r in service.list_records(ADMIN, "security_group_rules"))
    finally:
        again.close()
