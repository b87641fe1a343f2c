"""The policy layer in-process: Neutron's rules on targets, and what the API shows of a port's
protection equal to what the compiler receives."""

from __future__ import annotations

import pytest

from naas_sdn.northbound import policy
from naas_sdn.northbound.app import make_app
from tests.unit.model_support import ADMIN, ALICE, BOB
from tests.unit.model_support import api_call as call

ON_ALICES_SHARED = {
    "_resource": "port",
    "tenant_id": "bob",
    "project_id": "bob",
    "network:tenant_id": "alice",
    "network:shared": True,
}


@pytest.mark.parametrize(
    "rule, ctx, target, allowed",
    [
        ("create_port", BOB, ON_ALICES_SHARED, True),
        ("create_port:mac_address", BOB, ON_ALICES_SHARED, False),
        ("create_port:mac_address", ALICE, ON_ALICES_SHARED, True),
        ("create_port:mac_address", ADMIN, ON_ALICES_SHARED, True),
        ("create_port:fixed_ips", BOB, ON_ALICES_SHARED, True),
        ("create_port:fixed_ips:subnet_id", BOB, ON_ALICES_SHARED, True),
        (
            "create_port:fixed_ips:subnet_id",
            BOB,
            dict(ON_ALICES_SHARED, **{"network:shared": False}),
            False,
        ),
        ("create_port:fixed_ips:ip_address", BOB, ON_ALICES_SHARED, False),
        (
            "create_port:device_owner",
            BOB,
            dict(ON_ALICES_SHARED, device_owner="network:dhcp"),
            False,
        ),
        (
            "create_port:device_owner",
            BOB,
            dict(ON_ALICES_SHARED, device_owner="compute:nova"),
            True,
        ),
        (
            "create_port:device_owner",
            ALICE,
            dict(ON_ALICES_SHARED, device_owner="network:dhcp"),
            True,
        ),
        (
            "update_port:mac_address",
            BOB,
            dict(ON_ALICES_SHARED, **{"network:tenant_id": "bob"}),
            False,
        ),
        ("update_port", ALICE, ON_ALICES_SHARED, False),
        ("delete_port", ALICE, ON_ALICES_SHARED, True),
        ("get_network", BOB, {"_resource": "network", "tenant_id": "alice", "shared": True}, True),
        (
            "get_network",
            BOB,
            {"_resource": "network", "tenant_id": "alice", "shared": False},
            False,
        ),
        ("get_network:provider:segmentation_id", ALICE, {"tenant_id": "alice"}, False),
        ("no_such_rule_follows_default", BOB, {"tenant_id": "alice"}, False),
    ],
)
def test_neutron_default_rules(rule, ctx, target, allowed):
    authorizer = policy.Authorizer(policy.CORE_RULES)
    assert authorizer.allowed(ctx, rule, target) is allowed


def test_api_shows_the_protection_the_compiler_receives(service):
    """For every port, whoever asks: port_security_enabled, groups and pairs equal the
    snapshot's, trusted (``network:``) ports included."""
    app = make_app(service, ["qos"])
    alice, bob, admin = (
        service.tokens.create(p, admin=p == "ops") for p in ("alice", "bob", "ops")
    )
    net = call(app, "POST", "/v2.0/networks", alice, {"network": {"shared": True}}).json["network"]
    call(
        app,
        "POST",
        "/v2.0/subnets",
        alice,
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}},
    )
    bodies = [
        (alice, {}),
        (alice, {"port_security_enabled": False}),
        (alice, {"allowed_address_pairs": [{"ip_address": "10.0.0.0/28"}]}),
        (alice, {"device_owner": "network:dhcp"}),
        (bob, {}),
        (bob, {"device_owner": "network:dhcp"}),
        (bob, {"port_security_enabled": False}),
        (admin, {"device_owner": "network:router_gateway", "project_id": "bob"}),
        (
            admin,
            {
                "security_groups": [],
                "allowed_address_pairs": [
                    {"ip_address": "10.0.0.99", "mac_address": "fa:16:3e:00:00:01"}
                ],
            },
        ),
    ]
    statuses = [
        call(
            app, "POST", "/v2.0/ports", token, {"port": dict(network_id=net["id"], **body)}
        ).status_code
        for token, body in bodies
    ]
    assert statuses == [201, 201, 201, 201, 201, 403, 403, 201, 201]
    ports = call(app, "GET", "/v2.0/ports", admin).json["ports"]
    snapshot = service.snapshot().ports
    assert len(ports) == 7 == len(snapshot)
    for port in ports:
        view = snapshot[port["id"]]
        assert port["port_security_enabled"] == view.port_security_enabled, port
        assert tuple(sorted(port["security_groups"])) == tuple(sorted(view.security_group_ids))
        assert [(p["ip_address"], p["mac_address"]) for p in port["allowed_address_pairs"]] == list(
            view.allowed_address_pairs
        ), port
        if port["device_owner"].startswith("network:"):
            assert port["port_security_enabled"] is False and port["security_groups"] == []
