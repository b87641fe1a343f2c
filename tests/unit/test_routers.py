"""Routers in the NetworkService: interfaces, routes, Neutron's rules, rollback, snapshots."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from naas_sdn.features.networking.addresses import IP_ALLOCATIONS
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.features.router import (
    ROUTERS,
    add_extraroutes,
    add_router_interface,
    interfaces_of,
    remove_extraroutes,
    remove_router_interface,
)
from naas_sdn.model import db, errors
from naas_sdn.model.service import NetworkService
from naas_sdn.model.snapshot import ROUTER_INTERFACE
from tests.unit.model_support import ADMIN, ALICE, BOB

ROUTE = {"destination": "10.9.0.0/24", "nexthop": "10.0.0.9"}


def net_subnet(service, cidr="10.0.0.0/24", ctx=ALICE, net=None, **attrs):
    net = net or service.create_network(ctx, {"name": "n"})
    version = 6 if ":" in cidr else 4
    return net, service.create_subnet(
        ctx, {"network_id": net.id, "ip_version": version, "cidr": cidr, **attrs}
    )


def counts(service) -> tuple:
    with service._engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (PORTS.table, IP_ALLOCATIONS, ROUTERS.table, db.tags)
        )


def test_router_create_update_delete_and_snapshot(service):
    seen = []
    service.subscribe(seen.append)
    r = service.create_records(ALICE, "routers", [{"name": "r1", "tags": ["b", "a"]}])[0]
    assert (r.name, r.status, r.admin_state_up, r.routes, r.tags) == (
        "r1",
        "ACTIVE",
        True,
        (),
        ("a", "b"),
    )
    view = service.snapshot().routers[r.id]
    assert (view.project_id, view.key, view.admin_state_up, view.routes) == (
        "alice",
        r.key,
        True,
        (),
    )
    assert len(seen) == 1
    r2 = service.update_record(ALICE, "routers", r.id, {"admin_state_up": False, "name": "x"})
    assert r2.revision_number == 2 and service.snapshot().routers[r.id].admin_state_up is False
    assert len(seen) == 2
    service.update_record(ALICE, "routers", r.id, {"name": "y"})  # no view change: no notification
    assert len(seen) == 2
    with pytest.raises(errors.RouterNotFound):
        service.get_record(BOB, "routers", r.id)
    with pytest.raises(errors.RouterNotFound):
        service.update_record(BOB, "routers", r.id, {"name": "stolen"})
    assert (
        service.list_records(BOB, "routers") == []
        and len(service.list_records(ADMIN, "routers")) == 1
    )
    service.delete_record(ALICE, "routers", r.id)
    assert r.id not in service.snapshot().routers and len(seen) == 3


def test_router_keys_are_unique_and_never_reused(service, db_url):
    a = service.create_records(ALICE, "routers", [{}])[0]
    b = service.create_records(ALICE, "routers", [{}])[0]
    service.delete_record(ALICE, "routers", b.id)
    c = service.create_records(ALICE, "routers", [{}])[0]
    assert len({a.key, b.key, c.key}) == 3 and c.key > b.key
    service.close()
    again = NetworkService(db.connect(db_url))
    assert again.snapshot().routers[c.id].key == c.key
    assert again.get_record(ALICE, "routers", a.id) == a
    assert again.create_records(ALICE, "routers", [{}])[0].key > c.key
    again.close()


def test_add_interface_by_subnet(service):
    net, sub = net_subnet(service)
    r = service.create_records(ALICE, "routers", [{}])[0]
    info = add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    port = service.get_port(ALICE, info["port_id"])
    assert info == {
        "id": r.id,
        "tenant_id": "alice",
        "project_id": "alice",
        "port_id": port.id,
        "network_id": net.id,
        "subnet_id": sub.id,
        "subnet_ids": [sub.id],
    }
    assert port.fixed_ips == ((sub.id, "10.0.0.1"),)
    assert (port.device_owner, port.device_id, port.name) == (ROUTER_INTERFACE, r.id, "")
    view = service.snapshot().ports[port.id]
    assert (view.device_owner, view.device_id) == (ROUTER_INTERFACE, r.id)
    assert interfaces_of(service, r.id) == [port]


def test_add_interface_errors_leave_nothing(service):
    _net, sub = net_subnet(service)
    _, nogw = net_subnet(service, "10.1.0.0/24", gateway_ip=None)
    _, overlap = net_subnet(service, "10.0.0.0/16")
    r = service.create_records(ALICE, "routers", [{}])[0]
    add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    before, rev = counts(service), service.snapshot().revision
    cases = [
        ({}, errors.PluginBadRequest, "Either subnet_id or port_id must be specified"),
        ({"subnet_id": "nope"}, errors.PluginBadRequest, "'nope' is not a valid UUID"),
        (
            {"subnet_id": sub.id, "port_id": sub.id},
            errors.PluginBadRequest,
            "Cannot specify both subnet-id and port-id",
        ),
        (
            {"subnet_id": nogw.id},
            errors.PluginBadRequest,
            "Subnet for router interface must have a gateway IP",
        ),
        (
            {"subnet_id": sub.id},
            errors.PluginBadRequest,
            f"Router already has a port on subnet {sub.id}",
        ),
        (
            {"subnet_id": overlap.id},
            errors.PluginBadRequest,
            (
                f"Cidr 10.0.0.0/16 of subnet {overlap.id} overlaps with cidr 10.0.0.0/24 of subnet "
                f"{sub.id}"
            ),
        ),
        ({"subnet_id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}, errors.SubnetNotFound, None),
    ]
    for info, exc, message in cases:
        with pytest.raises(exc) as caught:
            add_router_interface(service, ALICE, r.id, info)
        if message:
            assert caught.value.msg == f"Bad router request: {message}."
            assert caught.value.type == "BadRequest" and caught.value.status == 400
    with pytest.raises(errors.RouterNotFound):
        add_router_interface(service, BOB, r.id, {"subnet_id": sub.id})
    assert counts(service) == before and service.snapshot().revision == rev


def test_gateway_taken_is_409_and_rolls_back(service):
    net, sub = net_subnet(
        service,
        allocation_pools=[{"start": "10.0.0.1", "end": "10.0.0.9"}],
        gateway_ip="10.0.0.254",
    )
    squatter = service.create_port(
        ALICE, {"network_id": net.id, "fixed_ips": [{"ip_address": "10.0.0.254"}]}
    )
    r = service.create_records(ALICE, "routers", [{}])[0]
    before = counts(service)
    with pytest.raises(errors.IpAddressInUse):
        add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    assert counts(service) == before and interfaces_of(service, r.id) == []
    service.delete_port(ALICE, squatter.id)
    add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})


def test_other_tenants_subnet_and_shared_network(service):
    _, bobs = net_subnet(service, ctx=BOB)
    shared_net = service.create_network(BOB, {"shared": True})
    _, shared = net_subnet(service, "10.5.0.0/24", ctx=BOB, net=shared_net)
    r = service.create_records(ALICE, "routers", [{}])[0]
    with pytest.raises(errors.SubnetNotFound):
        add_router_interface(service, ALICE, r.id, {"subnet_id": bobs.id})
    # Neutron refuses a globally shared network's subnet owned by another project
    with pytest.raises(errors.PluginBadRequest, match="not owned by project making the request"):
        add_router_interface(service, ALICE, r.id, {"subnet_id": shared.id})
    # an admin may, and the port belongs to the router's project
    info = add_router_interface(service, ADMIN, r.id, {"subnet_id": shared.id})
    assert info["tenant_id"] == "alice"
    # the network owner sees the port but cannot delete it, nor the network or the subnet
    with pytest.raises(errors.ServicePortInUse):
        service.delete_port(BOB, info["port_id"])
    with pytest.raises(errors.NetworkInUse):
        service.delete_network(BOB, shared_net.id)
    with pytest.raises(errors.SubnetInUse):
        service.delete_subnet(BOB, shared.id)
    with pytest.raises(errors.InvalidSharedSetting):
        service.update_network(BOB, shared_net.id, {"shared": False})


def test_add_interface_by_port(service):
    net, sub = net_subnet(service)
    _, other = net_subnet(service, "10.1.0.0/24")
    r = service.create_records(ALICE, "routers", [{}])[0]
    p = service.create_port(
        ALICE, {"network_id": net.id, "name": "mine", "fixed_ips": [{"ip_address": "10.0.0.7"}]}
    )
    info = add_router_interface(service, ALICE, r.id, {"port_id": p.id})
    assert (info["port_id"], info["subnet_ids"]) == (p.id, [sub.id])
    taken = service.get_port(ALICE, p.id)
    assert (taken.device_id, taken.device_owner, taken.revision_number) == (
        r.id,
        ROUTER_INTERFACE,
        2,
    )
    vm = service.create_port(ALICE, {"network_id": net.id, "device_id": "vm-1"})
    with pytest.raises(errors.PortInUse):
        add_router_interface(service, ALICE, r.id, {"port_id": vm.id})
    bare = service.create_port(ALICE, {"network_id": net.id, "fixed_ips": []})
    with pytest.raises(errors.PluginBadRequest, match="at least one fixed IP"):
        add_router_interface(service, ALICE, r.id, {"port_id": bare.id})
    same = service.create_port(ALICE, {"network_id": net.id})
    with pytest.raises(errors.PluginBadRequest, match="already has a port on subnet"):
        add_router_interface(service, ALICE, r.id, {"port_id": same.id})
    bobs_net, _ = net_subnet(service, "10.7.0.0/24", ctx=BOB)
    bobs = service.create_port(BOB, {"network_id": bobs_net.id})
    with pytest.raises(errors.PortNotFound):
        add_router_interface(service, ALICE, r.id, {"port_id": bobs.id})
    assert service.get_port(ALICE, same.id).device_id == ""
    assert [q.id for q in interfaces_of(service, r.id)] == [p.id]
    assert other.id not in {sid for q in interfaces_of(service, r.id) for sid, _ in q.fixed_ips}


def test_port_api_cannot_make_or_unmake_interfaces(service):
    net, sub = net_subnet(service)
    r = service.create_records(ALICE, "routers", [{}])[0]
    bobs_router = service.create_records(BOB, "routers", [{}])[0]
    info = add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    with pytest.raises(errors.PluginBadRequest, match="only through add_router_interface"):
        service.create_port(
            ALICE, {"network_id": net.id, "device_owner": ROUTER_INTERFACE, "device_id": r.id}
        )
    with pytest.raises(errors.DeviceIDNotOwnedByTenant):
        service.create_port(
            ALICE,
            {"network_id": net.id, "device_owner": ROUTER_INTERFACE, "device_id": bobs_router.id},
        )
    plain = service.create_port(ALICE, {"network_id": net.id})
    with pytest.raises(errors.PluginBadRequest):
        service.update_port(ALICE, plain.id, {"device_owner": ROUTER_INTERFACE, "device_id": r.id})
    for attrs in (
        {"device_id": ""},
        {"device_owner": "compute:nova"},
        {"fixed_ips": [{"subnet_id": sub.id, "ip_address": "10.0.0.5"}]},
    ):
        with pytest.raises(errors.PluginBadRequest, match="remove_router_interface"):
            service.update_port(ALICE, info["port_id"], attrs)
    # harmless changes are allowed, the same fixed IPs too
    service.update_port(
        ALICE,
        info["port_id"],
        {"name": "gw", "fixed_ips": [{"subnet_id": sub.id, "ip_address": "10.0.0.1"}]},
    )
    with pytest.raises(errors.ServicePortInUse) as caught:
        service.delete_port(ALICE, info["port_id"])
    assert caught.value.msg == (
        f"Port {info['port_id']} cannot be deleted directly via the "
        f"port API: has device owner network:router_interface."
    )
    # a router_interface port naming no router is an ordinary port
    loose = service.create_port(ALICE, {"network_id": net.id, "device_owner": ROUTER_INTERFACE})
    service.delete_port(ALICE, loose.id)


def test_remove_interface(service):
    _net, sub = net_subnet(service)
    _, sub2 = net_subnet(service, "10.1.0.0/24")
    r = service.create_records(ALICE, "routers", [{}])[0]
    a = add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    b = add_router_interface(service, ALICE, r.id, {"subnet_id": sub2.id})
    with pytest.raises(errors.RouterInUse) as caught:
        service.delete_record(ALICE, "routers", r.id)
    assert caught.value.msg == f"Router {r.id} still has ports"
    with pytest.raises(errors.SubnetMismatchForPort):
        remove_router_interface(
            service, ALICE, r.id, {"port_id": a["port_id"], "subnet_id": sub2.id}
        )
    with pytest.raises(errors.RouterInterfaceNotFound):
        remove_router_interface(service, ALICE, r.id, {"port_id": sub.id})
    assert (
        remove_router_interface(
            service, ALICE, r.id, {"port_id": a["port_id"], "subnet_id": sub.id}
        )
        == a
    )
    with pytest.raises(errors.RouterInterfaceNotFoundForSubnet):
        remove_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    assert remove_router_interface(service, ALICE, r.id, {"subnet_id": sub2.id}) == b
    assert interfaces_of(service, r.id) == [] and counts(service)[:2] == (0, 0)
    service.delete_subnet(ALICE, sub.id)  # no longer in use
    service.delete_record(ALICE, "routers", r.id)


def test_routes(service):
    _net, sub = net_subnet(service)
    _, sub2 = net_subnet(service, "10.1.0.0/24")
    r = service.create_records(ALICE, "routers", [{}])[0]
    with pytest.raises(errors.InvalidRoutes, match="not connected with router"):
        service.update_record(ALICE, "routers", r.id, {"routes": [ROUTE]})
    add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    add_router_interface(service, ALICE, r.id, {"subnet_id": sub2.id})
    with pytest.raises(errors.InvalidRoutes, match="the nexthop is used by router"):
        service.update_record(
            ALICE,
            "routers",
            r.id,
            {"routes": [{"destination": "10.9.0.0/24", "nexthop": "10.0.0.1"}]},
        )
    too_many = [{"destination": f"10.{i}.0.0/24", "nexthop": "10.0.0.9"} for i in range(31)]
    with pytest.raises(errors.RoutesExhausted):
        service.update_record(ALICE, "routers", r.id, {"routes": too_many})
    assert service.get_record(ALICE, "routers", r.id).revision_number == 1
    seen = []
    service.subscribe(seen.append)
    r = service.update_record(ALICE, "routers", r.id, {"routes": [ROUTE]})
    assert r.routes == (("10.9.0.0/24", "10.0.0.9"),) and len(seen) == 1
    assert service.snapshot().routers[r.id].routes == r.routes
    with pytest.raises(errors.RouterInterfaceInUseByRoute):
        remove_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    remove_router_interface(service, ALICE, r.id, {"subnet_id": sub2.id})  # not needed
    r = add_extraroutes(
        service, ALICE, r.id, [{"destination": "10.8.0.0/24", "nexthop": "10.0.0.8"}, ROUTE]
    )
    assert r.routes == (("10.9.0.0/24", "10.0.0.9"), ("10.8.0.0/24", "10.0.0.8"))
    r = remove_extraroutes(service, ALICE, r.id, [ROUTE])
    assert r.routes == (("10.8.0.0/24", "10.0.0.8"),)
    r = service.update_record(ALICE, "routers", r.id, {"routes": []})
    remove_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})


def test_ipv6_prefixes_share_one_port(service):
    net, six = net_subnet(service, "2001:db8::/64")
    _, six2 = net_subnet(service, "2001:db9::/64", net=net)
    r = service.create_records(ALICE, "routers", [{}])[0]
    a = add_router_interface(service, ALICE, r.id, {"subnet_id": six.id})
    b = add_router_interface(service, ALICE, r.id, {"subnet_id": six2.id})
    assert a["port_id"] == b["port_id"] and b["subnet_ids"] == [six2.id]
    port = service.get_port(ALICE, a["port_id"])
    assert port.fixed_ips == ((six.id, "2001:db8::1"), (six2.id, "2001:db9::1"))
    remove_router_interface(service, ALICE, r.id, {"subnet_id": six.id})
    assert service.get_port(ALICE, a["port_id"]).fixed_ips == ((six2.id, "2001:db9::1"),)
    _, ext = net_subnet(service, "2001:dba::/64", ipv6_address_mode="slaac")
    with pytest.raises(errors.PluginBadRequest, match="receive RAs from an external router"):
        add_router_interface(service, ALICE, r.id, {"subnet_id": ext.id})


def test_router_tags(service):
    r = service.create_records(ALICE, "routers", [{}])[0]
    service.add_tag(ALICE, "routers", r.id, "red")
    assert service.get_tags(ALICE, "routers", r.id) == ["red"]
    with pytest.raises(errors.RouterNotFound):
        service.get_tags(BOB, "routers", r.id)
    service.delete_record(ALICE, "routers", r.id)
    assert counts(service)[3] == 0


def test_packet_services_index_routers_again_only_when_an_interface_can_change(service):
    """A packet after a port create reuses the router index; after an interface came, one
    that has it (at 10,000 ports an index is every port read)."""
    from naas_sdn.apps.fabric_state import FabricState
    from naas_sdn.apps.services import PacketServices
    from naas_sdn.flows.fabric import VifLocation

    net, sub = net_subnet(service)
    vm = service.create_port(ALICE, {"network_id": net.id})
    fabric = FabricState(link_timeout=10.0, on_change=lambda: None)
    fabric.set_vifs({vm.id: VifLocation("br-a", 1, 1)})
    services = PacketServices(service, fabric, send=lambda *_: None)
    assert services.locate(1, 1).interfaces == []
    first = services._routers
    service.create_port(ALICE, {"network_id": net.id})
    service.update_port(ALICE, vm.id, {"admin_state_up": False})
    assert not services.locate(1, 1).port.admin_state_up and services._routers is first
    r = service.create_records(ALICE, "routers", [{}])[0]
    info = add_router_interface(service, ALICE, r.id, {"subnet_id": sub.id})
    interfaces = services.locate(1, 1).interfaces
    assert [(router, ip) for router, ip, _mac, _cidr in interfaces] == [(r.id, sub.gateway_ip)]
    remove_router_interface(service, ALICE, r.id, {"port_id": info["port_id"]})
    assert services.locate(1, 1).interfaces == []
