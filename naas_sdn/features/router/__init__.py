"""Routers: the ``router`` service plugin, /v2.0/routers and /v2.0/floatingips with Neutron's
L3, ext-gw-mode and extraroute dialect, as one slice — the router's declaration and its route
rules (:mod:`.resource`), its external gateway (:mod:`.gateway`), the interface actions
(:mod:`.interfaces`), floating IPs (:mod:`.floatingips`) and the API below. Its flows are the
compiler's (:mod:`naas_sdn.flows.routing`), which reads the routers' and floating IPs' views
from the snapshot.

Routers connect the subnets of their interface ports (added and removed with the
``add_router_interface`` / ``remove_router_interface`` member actions), carry static routes,
and reach an external network through a gateway port (``external_gateway_info``), where
floating IPs translate to their ports' fixed addresses.
"""

from __future__ import annotations

import dataclasses

from naas_sdn.model import errors
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN, ADMIN_OR_OWNER, ANY, as_member, crud, rule
from naas_sdn.northbound.resources import ResourceDef, declared_resource

from .auto_allocate import delete_topology, get_topology, peek_topology
from .floatingips import FLOATING_IPS, FloatingIp
from .gateway import gateway_info
from .interfaces import add_router_interface, remove_router_interface
from .resource import (
    GATEWAY_INFO,
    ROUTERS,
    Router,
    add_extraroutes,
    interfaces_of,
    remove_extraroutes,
)

__all__ = [
    "FLOATING_IPS",
    "ROUTERS",
    "FloatingIp",
    "Router",
    "add_extraroutes",
    "add_router_interface",
    "interfaces_of",
    "remove_extraroutes",
    "remove_router_interface",
    "router_plugin",
]

_NO_AZ = "availability zones are not supported"
_NO_FLAVOR = "router flavors are not supported: the flavors service plugin is not loaded"
_GATEWAY_KEYS = ("network_id", "enable_snat", "external_fixed_ips")


def gateway_request(attr, value):
    """neutron-lib's ``type:dict_or_nodata`` of external_gateway_info (with ext-gw-mode's
    ``enable_snat``): no data (null, {}) asks for no gateway; else ``network_id`` is
    required, and no other key than the three is taken."""
    if not value:
        return None
    if not isinstance(value, dict):
        raise a.invalid(attr, f"'{value}' is not a dictionary")
    if "network_id" not in value:
        raise a.invalid(
            attr,
            f"Validation of dictionary's keys failed. Expected keys: {{'network_id'}} "
            f"Provided keys: {set(value)}",
        )
    unexpected = [k for k in value if k not in _GATEWAY_KEYS]
    if unexpected:
        raise a.invalid(attr, f"Unexpected keys supplied: {', '.join(unexpected)}")
    info = {"network_id": a.uuid_string(attr, value["network_id"])}
    if "enable_snat" in value:
        info["enable_snat"] = a.boolean(attr, value["enable_snat"])
    if "external_fixed_ips" in value:
        info["external_fixed_ips"] = a.fixed_ips(attr, value["external_fixed_ips"])
    return info


# What the API shows and accepts beyond the declared fields: what routers here never have.
_NEVER_SET = (
    Attr("flavor_id", lambda r: None, True, False, None, a.only_none(_NO_FLAVOR), None),
    Attr(
        "availability_zone_hints",
        lambda r: [],
        True,
        False,
        [],
        a.only_empty_list(_NO_AZ),
        None,
        kind="other",
    ),
    Attr("availability_zones", lambda r: [], kind="other"),
)


def _attributes(service, declared: AttributeMap) -> AttributeMap:
    """The declared attributes, the gateway and the unsupported ones, in the order of
    Neutron's body."""
    gateway = Attr(
        GATEWAY_INFO,
        lambda r: gateway_info(service, r),
        True,
        True,
        None,
        gateway_request,
        GATEWAY_INFO,
        kind="other",
    )
    attrs = declared.attrs
    at = [attr.name for attr in attrs].index("routes")
    return AttributeMap((*attrs[:at], gateway, attrs[at], *_NEVER_SET, *attrs[at + 1 :]))


def floatingips_resource(service) -> ResourceDef:
    """/v2.0/floatingips: the declared attributes but ``name`` (Neutron's floating IPs have
    none), and ``subnet_id``, where the address comes from (given on POST, never shown)."""
    res = declared_resource(service, FLOATING_IPS)
    subnet = Attr(
        "subnet_id", lambda r: None, True, False, None, a.uuid_or_none, "subnet_id", readable=False
    )
    details = Attr("port_details", lambda r: _port_details(service, r), kind="other")
    attrs = tuple(attr for attr in res.attributes.attrs if attr.name != "name")
    return dataclasses.replace(res, attributes=AttributeMap((*attrs, subnet, details)))


def _port_details(service, fip) -> dict | None:
    """fip-port-details: the associated port as Neutron sums it up (null without one)."""
    port = service.records("ports").get(fip.port_id) if fip.port_id else None
    if port is None:
        return None
    return {
        "name": port.name,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
    }


ROUTER_EXTENSIONS = (
    Extension(
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and "
        "access to external networks via a NAT gateway.",
    ),
    Extension(
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should occur on the "
        "external gateway",
    ),
    Extension(
        "fip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    Extension("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    Extension(
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
    Extension(
        "auto-allocated-topology",
        "Auto Allocated Topology Services",
        "Auto Allocated Topology Services.",
    ),
)

# auto-allocated-topology's attribute of networks: the default external network
IS_DEFAULT = Attr(
    "is_default",
    lambda net: net.is_default and net.external,
    True,
    True,
    False,
    a.boolean,
    "is_default",
    kind="boolean",
)

ACTIONS = (
    "add_router_interface",
    "remove_router_interface",
    "add_extraroutes",
    "remove_extraroutes",
)
# Neutron's: any project makes and changes its router's gateway on an external network it
# sees; only admins choose whether it translates (enable_snat) and its addresses.
_GATEWAY_RULES = {
    f"{verb}:{GATEWAY_INFO}{key}": check
    for verb in ("create", "update")
    for key, check in (
        ("", ADMIN_OR_OWNER),
        (":network_id", ADMIN_OR_OWNER),
        (":enable_snat", ADMIN),
        (":external_fixed_ips", ADMIN),
    )
}
ROUTER_RULES = (
    crud("router", attributes=_GATEWAY_RULES)
    + tuple(
        rule(
            action,
            as_member(ADMIN_OR_OWNER),
            f"{action.replace('_', ' ').capitalize()} of a router",
        )
        for action in ACTIONS
    )
    # Neutron's: a project's own floating IPs; only admins choose the address
    + crud("floatingip", create=ANY, attributes={"create:floating_ip_address": ADMIN})
    + (
        rule("create_network:is_default", ADMIN, "Make a network the default external one"),
        rule("update_network:is_default", ADMIN, "Make a network the default external one"),
        rule(
            "get_auto_allocated_topology", as_member(ADMIN_OR_OWNER), "Get a project's own network"
        ),
        rule("delete_auto_allocated_topology", as_member(ADMIN_OR_OWNER), "Delete it"),
    )
)


def topology_resource(service) -> ResourceDef:
    """/v2.0/auto-allocated-topology/{project_id}: GET (``fields=dry-run`` only checks) and
    DELETE; there is no list and no POST or PUT."""

    def refuse(*args, **kwargs):
        raise errors.ResourceNotFound()

    return ResourceDef(
        collection="auto_allocated_topologies",
        member="auto_allocated_topology",
        path="auto-allocated-topology",
        attributes=AttributeMap(
            (
                Attr("id", lambda answer: answer.id),
                Attr("project_id", lambda answer: answer.project_id),
                Attr("tenant_id", lambda answer: answer.project_id),
            )
        ),
        list=refuse,
        get=lambda ctx, project_id: peek_topology(service, ctx, project_id),
        show=lambda ctx, project_id, fields: get_topology(service, ctx, project_id, fields),
        create=refuse,
        update=refuse,
        delete=lambda ctx, project_id, rev=None: delete_topology(service, ctx, project_id),
        not_found=lambda project_id: errors.ResourceNotFound(),
        taggable=False,
        valid_id=lambda project_id: True,
    )


def _routes_body(body) -> list:
    """extraroute-atomic bodies: ``{"router": {"routes": [...]}}``."""
    router = body.get("router")
    if set(body) != {"router"} or not isinstance(router, dict) or set(router) != {"routes"}:
        raise errors.BadRequestMessage(
            msg="Unable to find 'router' in request body, with 'routes' as its only attribute"
        )
    return a.host_routes("routes", router["routes"])


def router_plugin(service) -> Plugin:
    def render(router: Router) -> dict:
        return {"router": routers.attributes.render(router)}

    def add_routes(ctx, router_id, body):
        routes = _routes_body(body)
        return render(add_extraroutes(service, ctx, router_id, routes))

    def remove_routes(ctx, router_id, body):
        service.get_record(ctx, "routers", router_id)  # 404 before a bad body, as Neutron
        routes = _routes_body(body)
        return render(remove_extraroutes(service, ctx, router_id, routes))

    routers = declared_resource(
        service,
        ROUTERS,
        actions={
            "add_router_interface": lambda ctx, rid, info: add_router_interface(
                service, ctx, rid, info
            ),
            "remove_router_interface": lambda ctx, rid, info: remove_router_interface(
                service, ctx, rid, info
            ),
            "add_extraroutes": add_routes,
            "remove_extraroutes": remove_routes,
        },
    )
    routers = dataclasses.replace(routers, attributes=_attributes(service, routers.attributes))
    return Plugin(
        "router",
        (routers, floatingips_resource(service), topology_resource(service)),
        ROUTER_EXTENSIONS,
        policy_rules=ROUTER_RULES,
        attribute_extensions={"networks": (IS_DEFAULT,)},
    )
