"""The router resource: its declaration, its static routes (Neutron's extraroute) and the rules
it attaches to ports (its interfaces are ports only its own actions may make or unmake).

A router's interfaces are not stored with it: they are the ports whose device_owner is
``network:router_interface`` and whose device_id is the router (see :mod:`.interfaces`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import netaddr
from sqlalchemy import BigInteger, Boolean, String

from naas_sdn.model import errors, hooks, ipam, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import ROUTER_INTERFACE, RouterView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

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


def router_bad(msg: str) -> errors.PluginBadRequest:
    return errors.PluginBadRequest(resource="router", msg=msg)


def interfaces_of(service, router_id: str) -> list:
    """The router's interface ports, oldest first (no visibility check: internal use)."""
    return [
        p
        for p in service.records("ports").values()
        if p.device_id == router_id and p.device_owner == ROUTER_INTERFACE
    ]


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """A new router has no interface and no route."""
    if attrs.get("routes"):
        raise errors.BadRequestMessage(msg="Attribute 'routes' not allowed in POST")
    return {
        "admin_state_up": bool(attrs.get("admin_state_up", True)),
        "status": STATUS_ACTIVE,
        "routes": (),
    }


def _before_update(txn: Transaction, ctx: Context, router: Router, values: dict) -> None:
    if "routes" in values:
        values["routes"] = check_routes(txn.service, router, values["routes"] or ())


def _before_delete(txn: Transaction, router: Router) -> None:
    """Refused (RouterInUse) while the router has interfaces; its routes go with it."""
    if interfaces_of(txn.service, router.id):
        raise errors.RouterInUse(router_id=router.id)


def check_routes(service, router: Router, routes) -> Routes:
    """Neutron's extraroute checks: at most MAX_ROUTES; every nexthop connected to the
    router (inside a subnet of its interfaces) and not one of the router's addresses."""
    shown = [
        dict(r) if isinstance(r, Mapping) else {"destination": r[0], "nexthop": r[1]}
        for r in routes
    ]
    normalized = ipam.normalize_routes(routes)
    if len(normalized) > MAX_ROUTES:
        raise errors.RoutesExhausted(router_id=router.id, quota=MAX_ROUTES)
    cidrs, ips = [], set()
    for port in interfaces_of(service, router.id):
        for subnet_id, ip in port.fixed_ips:
            cidrs.append(service.records("subnets")[subnet_id].cidr)
            ips.add(ip)
    for _destination, nexthop in normalized:
        if not netaddr.all_matching_cidrs(netaddr.IPAddress(nexthop), cidrs):
            raise errors.InvalidRoutes(
                routes=shown, reason="the nexthop is not connected with router"
            )
        if nexthop in ips:
            raise errors.InvalidRoutes(routes=shown, reason="the nexthop is used by router")
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
    merged = check_routes(
        txn.service, router, [{"destination": d, "nexthop": n} for d, n in merged]
    )
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
    )
)


# ------------------------------------------------------------------ rules on the core's ports
def _is_interface(service, port) -> bool:
    return port.device_owner == ROUTER_INTERFACE and port.device_id in service.records("routers")


def _check_not_router_interface(service, ctx: Context, device_owner: str, device_id: str) -> None:
    """Only add_router_interface makes a port a router's interface (it checks overlaps and
    ownership); the port API may not name an existing router as a router port's device."""
    if device_owner not in ipam.ROUTER_INTERFACE_OWNERS_SNAT or not device_id:
        return
    router = service.records("routers").get(device_id)
    if router is None:
        return
    if not ctx.is_admin and router.project_id != ctx.project_id:
        raise errors.DeviceIDNotOwnedByTenant(device_id=device_id)
    raise router_bad(
        f"Ports become interfaces of router {device_id} only through add_router_interface"
    )


def _port_created(txn: Transaction, ctx: Context, attrs: Mapping) -> None:
    _check_not_router_interface(
        txn.service, ctx, attrs.get("device_owner", ""), attrs.get("device_id", "")
    )


def _port_updated(txn: Transaction, ctx: Context, port, values: Mapping) -> None:
    """An interface keeps its device and addresses until remove_router_interface."""
    fixed_ips = values.get("fixed_ips")
    if _is_interface(txn.service, port):
        changing = sorted(k for k in ("device_owner", "device_id") if k in values)
        if fixed_ips is not None and [
            (
                e.get("subnet_id"),
                ipam.normalize_ip(e["ip_address"]) if "ip_address" in e else None,
            )
            for e in fixed_ips
        ] != list(port.fixed_ips):
            changing.append("fixed_ips")
        if changing:
            raise router_bad(
                f"Port {port.id} is an interface of router {port.device_id}: its "
                f"{', '.join(changing)} change only through add_router_interface and "
                f"remove_router_interface"
            )
    elif "device_owner" in values or "device_id" in values:
        _check_not_router_interface(
            txn.service,
            ctx,
            values.get("device_owner", port.device_owner),
            values.get("device_id", port.device_id),
        )


def _port_deleted(txn: Transaction, port) -> None:
    """Refused (ServicePortInUse) for a router's port: remove_router_interface deletes it."""
    if (
        port.device_owner in ipam.ROUTER_PORT_OWNERS
        and port.fixed_ips
        and port.device_id in txn.service.records("routers")
    ):
        raise errors.ServicePortInUse(
            port_id=port.id, reason=f"has device owner {port.device_owner}"
        )


hooks.attach("ports", "before_create", _port_created)
hooks.attach("ports", "before_update", _port_updated)
hooks.attach("ports", "before_delete", _port_deleted)
