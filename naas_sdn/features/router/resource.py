"""The router resource: its declaration, its static routes (Neutron's extraroute), its
external gateway (:mod:`.gateway`) and the rules it attaches to ports (its interfaces and
its gateway are ports only its own actions may make or unmake).

A router's interfaces are not stored with it: they are the ports whose device_owner is
``network:router_interface`` and whose device_id is the router (see :mod:`.interfaces`). Its
gateway is the port its ``gw_port_id`` names (``network:router_gateway``), shown with
``enable_snat`` in ``external_gateway_info``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Boolean, String

from naas_sdn.model import db, errors, hooks, ipam, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import ROUTER_GATEWAY, ROUTER_INTERFACE, RouterView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import gateway
from .common import (
    fixed_ips_change,
    gateway_port,
    interfaces_in,
    interfaces_of,
    router_bad,
    validate_routes,
)

__all__ = ["ROUTERS", "Router", "interfaces_of", "router_bad"]

GATEWAY_INFO = "external_gateway_info"  # a request to make, change or delete the gateway
MAX_ROUTES = 30  # Neutron's max_routes default
STATUS_ACTIVE = "ACTIVE"

Routes = tuple[tuple[str, str], ...]  # (destination cidr, nexthop ip), API order


@dataclasses.dataclass(frozen=True, kw_only=True)
class Router(schema.Standard):
    # Like port keys: from a counter, never reused, because flow cookies name routers by it.
    key: int = field(BigInteger, unique=True, visible=False)
    admin_state_up: bool = field(
        Boolean, post=True, put=True, default=True, validate=a.boolean, kind="boolean"
    )
    status: str = field(String(16))
    # extraroute: not allowed on POST, as in neutron-lib; kept as [[destination, nexthop], ...]
    routes: Routes = schema.json_list(
        pairs=True,
        put=True,
        default=None,
        validate=a.host_routes,
        show=lambda r: [{"destination": d, "nexthop": n} for d, n in r.routes],
    )
    # its gateway port (None: no gateway) and whether what leaves by it takes the gateway's
    # address: shown in external_gateway_info, set through it (ext-gw-mode)
    gw_port_id: str | None = field(
        String(db.UUID_LEN),
        nullable=True,
        foreign_key="ports.id",
        on_delete="SET NULL",
        visible=False,
        default=None,
    )
    enable_snat: bool = field(Boolean, column_default=True, visible=False, default=True)


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """A new router has no interface and no route; its gateway, if asked, is made with it
    (its port names the router: the id is drawn here)."""
    if attrs.get("routes"):
        raise errors.BadRequestMessage(msg="Attribute 'routes' not allowed in POST")
    router_id = str(uuid.uuid4())
    return {
        "id": router_id,
        "admin_state_up": bool(attrs.get("admin_state_up", True)),
        "status": STATUS_ACTIVE,
        "routes": (),
        **gateway.update_gateway(txn, ctx, router_id, None, (), attrs.get(GATEWAY_INFO)),
    }


def _before_update(txn: Transaction, ctx: Context, router: Router, values: dict) -> None:
    """The gateway first (the routes are checked against the router's new ports), as
    Neutron's update_router does."""
    if GATEWAY_INFO in values:
        info = values.pop(GATEWAY_INFO)
        routes = values["routes"] if values.get("routes") is not None else router.routes
        values.update(
            gateway.update_gateway(
                txn, ctx, router.id, router.gw_port_id, ipam.normalize_routes(routes), info
            )
        )
    if "routes" in values:
        changed = dataclasses.replace(
            router, gw_port_id=values.get("gw_port_id", router.gw_port_id)
        )
        values["routes"] = check_routes(txn, changed, values["routes"] or ())


def _before_delete(txn: Transaction, router: Router) -> None:
    """Refused (RouterInUse) while the router has interfaces, then while floating IPs use
    its gateway; its gateway port and its routes go with it."""
    if interfaces_in(txn, router.id):
        raise errors.RouterInUse(router_id=router.id)
    port = gateway_port(txn, router)
    if port is not None:
        gateway.remove_gateway_port(txn, router.id, port)


def check_routes(txn: Transaction, router: Router, routes) -> Routes:
    """Neutron's extraroute checks: at most MAX_ROUTES; every nexthop connected to the
    router (inside a subnet of its ports, its gateway's included) and not one of the
    router's addresses."""
    normalized = ipam.normalize_routes(routes)
    if len(normalized) > MAX_ROUTES:
        raise errors.RoutesExhausted(router_id=router.id, quota=MAX_ROUTES)
    ports = interfaces_in(txn, router.id)
    port = gateway_port(txn, router)
    if port is not None:
        ports.append(port)
    cidrs, ips = [], []
    for port in ports:
        for subnet_id, ip in port.fixed_ips:
            cidrs.append(txn.get("subnets", subnet_id).cidr)
            ips.append(ip)
    validate_routes(routes, normalized, cidrs, ips)
    return tuple(dict.fromkeys(normalized))


def add_extraroutes(service, ctx: Context, router_id: str, routes) -> Router:
    return service.change_record(
        ctx, "routers", router_id, lambda txn, router: add_routes(txn, router, routes)
    )


def remove_extraroutes(service, ctx: Context, router_id: str, routes) -> Router:
    return service.change_record(
        ctx, "routers", router_id, lambda txn, router: remove_routes(txn, router, routes)
    )


def add_routes(txn: Transaction, router: Router, routes) -> Router:
    """extraroute-atomic: add routes not already present (duplicates are ignored)."""
    merged = tuple(dict.fromkeys(router.routes + ipam.normalize_routes(routes)))
    if merged == router.routes:
        return router
    merged = check_routes(txn, router, [{"destination": d, "nexthop": n} for d, n in merged])
    return txn.save("routers", router, {"routes": merged})


def remove_routes(txn: Transaction, router: Router, routes) -> Router:
    """extraroute-atomic: remove the given routes (absent ones are ignored)."""
    gone = set(ipam.normalize_routes(routes))
    kept = tuple(r for r in router.routes if r not in gone)
    if kept == router.routes:
        return router
    return txn.save("routers", router, {"routes": kept})


ROUTERS = schema.declare(
    schema.Resource(
        Router,
        "routers",
        "router",
        not_found=lambda router_id: errors.RouterNotFound(router_id=router_id),
        counter="router_key",
        view=schema.view_of(RouterView),
        prepare=_prepare,
        before_update=_before_update,
        before_delete=_before_delete,
        quota=10,  # Neutron's default
        requests=frozenset({GATEWAY_INFO}),
    )
)


# ------------------------------------------------------------------ rules on the core's ports
def _router_port_kind(service, port) -> str | None:
    """ "interface" or "gateway" for a port the router slice owns, else None."""
    router = service.records("routers").get(port.device_id)
    if router is None:
        return None
    if port.device_owner == ROUTER_INTERFACE:
        return "interface"
    if port.device_owner == ROUTER_GATEWAY and router.gw_port_id == port.id:
        return "gateway"
    return None


def _check_not_router_port(service, ctx: Context, device_owner: str, device_id: str) -> None:
    """Only add_router_interface makes a port a router's interface (it checks overlaps and
    ownership), only external_gateway_info its gateway: the port API may not name an
    existing router as a router port's device."""
    if device_owner not in ipam.ROUTER_PORT_OWNERS or not device_id:
        return
    router = service.records("routers").get(device_id)
    if router is None:
        return
    if not ctx.is_admin and router.project_id != ctx.project_id:
        raise errors.DeviceIDNotOwnedByTenant(device_id=device_id)
    if device_owner == ROUTER_GATEWAY:
        raise router_bad(
            f"Ports become the gateway of router {device_id} only through its external_gateway_info"
        )
    raise router_bad(
        f"Ports become interfaces of router {device_id} only through add_router_interface"
    )


def _port_created(txn: Transaction, ctx: Context, attrs: Mapping) -> None:
    _check_not_router_port(
        txn.service, ctx, attrs.get("device_owner", ""), attrs.get("device_id", "")
    )


def _port_updated(txn: Transaction, ctx: Context, port, values: Mapping) -> None:
    """An interface keeps its device and addresses until remove_router_interface, a
    gateway until its router's external_gateway_info changes."""
    kind = _router_port_kind(txn.service, port)
    if kind is not None:
        changing = sorted(k for k in ("device_owner", "device_id") if k in values)
        if fixed_ips_change(port, values):
            changing.append("fixed_ips")
        if not changing:
            return
        if kind == "gateway":
            raise router_bad(
                f"Port {port.id} is the gateway of router {port.device_id}: its "
                f"{', '.join(changing)} change only through the router's external_gateway_info"
            )
        raise router_bad(
            f"Port {port.id} is an interface of router {port.device_id}: its "
            f"{', '.join(changing)} change only through add_router_interface and "
            f"remove_router_interface"
        )
    if "device_owner" in values or "device_id" in values:
        _check_not_router_port(
            txn.service,
            ctx,
            values.get("device_owner", port.device_owner),
            values.get("device_id", port.device_id),
        )


def _port_deleted(txn: Transaction, port) -> None:
    """Refused (ServicePortInUse) for a router's port: remove_router_interface deletes an
    interface, the router's external_gateway_info or its delete its gateway."""
    kind = _router_port_kind(txn.service, port)
    if kind == "gateway" or (kind == "interface" and port.fixed_ips):
        raise errors.ServicePortInUse(
            port_id=port.id, reason=f"has device owner {port.device_owner}"
        )


hooks.attach("ports", "before_create", _port_created)
hooks.attach("ports", "before_update", _port_updated)
hooks.attach("ports", "before_delete", _port_deleted)
