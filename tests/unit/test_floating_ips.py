"""Router gateways and floating IPs in the NetworkService: what the compiler receives
(RouterView's gateway, FloatingIpView), what a restart reads back, and rollback."""

from __future__ import annotations

import pytest

from naas_sdn.features.networking.addresses import IP_ALLOCATIONS
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.features.router import FLOATING_IPS, ROUTERS, add_router_interface
from naas_sdn.model import db, errors
from naas_sdn.model.service import NetworkService
from naas_sdn.model.snapshot import FLOATINGIP, ROUTER_GATEWAY, FloatingIpView
from tests.unit.model_support import ADMIN, ALICE, count

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"


def _topology(service):
    """An admin's external flat network with 172.24.4.0/24; alice's network 10.0.0.0/24
    behind her router (gateway on the external network) and a VM port on it."""
    public = service.create_network(
        ADMIN,
        {"external": True, "network_type": "flat", "physical_network": "ext", "name": "public"},
    )
    service.create_subnet(
        ADMIN, {"network_id": public.id, "ip_version": 4, "cidr": "172.24.4.0/24"}
    )
    net = service.create_network(ALICE, {"name": "inside"})
    sub = service.create_subnet(
        ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/24"}
    )
    (router,) = service.create_records(
        ALICE, "routers", [{"name": "r", "external_gateway_info": {"network_id": public.id}}]
    )
    add_router_interface(service, ALICE, router.id, {"subnet_id": sub.id})
    vm = service.create_port(ALICE, {"network_id": net.id})
    return public, router, vm


def test_the_compiler_sees_gateways_and_floating_ips(service, db_url):
    public, router, vm = _topology(service)
    gw = service.records("ports")[router.gw_port_id]
    assert (gw.device_owner, gw.device_id, gw.project_id, gw.network_id) == (
        ROUTER_GATEWAY,
        router.id,
        "",
        public.id,
    )
    view = service.snapshot().routers[router.id]
    assert (view.gw_port_id, view.enable_snat) == (gw.id, True)
    (fip,) = service.create_records(
        ALICE, "floatingips", [{"floating_network_id": public.id, "port_id": vm.id}]
    )
    assert service.snapshot().views("floatingips")[fip.id] == FloatingIpView(
        id=fip.id,
        project_id="alice",
        floating_network_id=public.id,
        floating_ip_address="172.24.4.3",
        port_id=vm.id,
        fixed_ip_address=vm.fixed_ips[0][1],
        router_id=router.id,
    )
    held = service.records("ports")[fip.floating_port_id]
    assert (held.device_owner, held.device_id, held.project_id) == (FLOATINGIP, fip.id, "")
    router = service.update_record(
        ADMIN,
        "routers",
        router.id,
        {"external_gateway_info": {"network_id": public.id, "enable_snat": False}},
    )
    assert service.snapshot().routers[router.id].enable_snat is False
    # What a restart reads back.
    again = NetworkService(db.connect(db_url))
    try:
        assert again.snapshot().routers[router.id] == service.snapshot().routers[router.id]
        assert again.snapshot().views("floatingips") == service.snapshot().views("floatingips")
    finally:
        again.close()


def test_failed_requests_leave_nothing(service):
    public, _router, vm = _topology(service)
    tables = (PORTS.table, IP_ALLOCATIONS, ROUTERS.table, FLOATING_IPS.table)
    before = [count(service, t) for t in tables]
    snapshot = service.snapshot()
    fip = {"floating_network_id": public.id, "port_id": vm.id}
    with pytest.raises(errors.PortNotFound):  # after its own port and address were taken
        service.create_records(ALICE, "floatingips", [{**fip, "port_id": UNKNOWN}])
    with pytest.raises(errors.FloatingIPPortAlreadyAssociated):  # the second of a bulk
        service.create_records(ALICE, "floatingips", [fip, fip])
    with pytest.raises(errors.NetworkNotFound):  # the second router, after the first's gateway
        service.create_records(
            ALICE,
            "routers",
            [
                {"external_gateway_info": {"network_id": public.id}},
                {"external_gateway_info": {"network_id": UNKNOWN}},
            ],
        )
    assert [count(service, t) for t in tables] == before
    assert service.snapshot() == snapshot
