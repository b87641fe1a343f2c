"""A router's external gateway: Neutron's ``external_gateway_info`` with the ext-gw-mode
extension's ``enable_snat`` (neutron/db/l3_db.py ``_update_router_gw_info``,
l3_gwmode_db.py).

The gateway is a port of the router on an external network (device_owner
``network:router_gateway``, device_id the router, project_id '' as Neutron makes it: the
tenant does not list it, admins do), named by the router's ``gw_port_id``; its addresses are
the ``external_fixed_ips`` shown. Setting, replacing and removing it run in the router's own
transaction, and so do the rules here on what depends on it: a network with gateways stays
external, an access_as_external entry a router's gateway needs stays, and a new subnet of
an external network gives its gateways an address.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import netaddr

from naas_sdn.features.networking import addresses, ports, rbac
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.model import errors, hooks, ipam, schema
from naas_sdn.model.common import Context
from naas_sdn.model.snapshot import ROUTER_GATEWAY
from naas_sdn.model.store import Transaction

from .common import (
    check_dup_subnets,
    floatingips_via,
    gateway_ports_on,
    interfaces_in,
    router_bad,
    validate_routes,
)

ENABLE_SNAT_BY_DEFAULT = True  # Neutron's enable_snat_by_default


def gateway_info(service, router) -> dict | None:
    """The router's ``external_gateway_info`` as Neutron shows it (null without gateway)."""
    port = service.records("ports").get(router.gw_port_id) if router.gw_port_id else None
    if port is None:
        return None
    return {
        "network_id": port.network_id,
        "enable_snat": router.enable_snat,
        "external_fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in port.fixed_ips],
    }


def update_gateway(
    txn: Transaction, ctx: Context, router_id: str, gw_port_id: str | None, routes, info
) -> dict[str, Any]:
    """Set, change or remove (``info`` None or {}) the router's gateway; the router's new
    ``gw_port_id`` and ``enable_snat`` (back to the default when not given, as Neutron's)."""
    enable_snat = bool(info.get("enable_snat", ENABLE_SNAT_BY_DEFAULT)) if info else True
    ext_ips = list(info.get("external_fixed_ips") or ()) if info else []
    gw_port = txn.get("ports", gw_port_id) if gw_port_id else None
    network_id = _validate(txn, ctx, router_id, gw_port, routes, info, ext_ips)
    if gw_port is not None and gw_port.network_id == network_id:
        if _external_ips_change(gw_port, ext_ips):
            _readdress(txn, gw_port, ext_ips)
        return {"gw_port_id": gw_port.id, "enable_snat": enable_snat}
    if gw_port is not None:
        remove_gateway_port(txn, router_id, gw_port)
    new_id = None
    if network_id:
        check_dup_subnets(
            txn, interfaces_in(txn, router_id), addresses.network_subnets(txn, network_id)
        )
        new_id = _create_port(txn, router_id, network_id, ext_ips).id
    return {"gw_port_id": new_id, "enable_snat": enable_snat}


def remove_gateway_port(txn: Transaction, router_id: str, gw_port) -> None:
    """Delete the gateway port: refused (RouterExternalGatewayInUseByFloatingIp) while
    floating IPs are associated through the router."""
    if floatingips_via(txn, router_id):
        raise errors.RouterExternalGatewayInUseByFloatingIp(
            router_id=router_id, net_id=gw_port.network_id
        )
    ports.remove(txn, gw_port)


def _validate(txn: Transaction, ctx: Context, router_id, gw_port, routes, info, ext_ips):
    """Neutron's _validate_gw_info: an external network the caller sees, no fixed IP on a
    subnet's gateway address, and the routes still connected without the old gateway."""
    network_id = info["network_id"] if info else None
    gw_subnets = []
    if network_id:
        net = txn.get("networks", network_id)
        if net is None or not schema.DECLARED["networks"].is_visible(ctx, net, txn.service):
            raise errors.NetworkNotFound(net_id=network_id)
        if not net.external:
            raise router_bad(f"Network {network_id} is not an external network")
        gw_subnets = addresses.network_subnets(txn, network_id)
        for ext_ip in ext_ips:
            asked = ext_ip.get("ip_address")
            for subnet in gw_subnets:
                if asked and subnet.gateway_ip and ipam.normalize_ip(asked) == subnet.gateway_ip:
                    raise router_bad(f"External IP {asked} is the same as the gateway IP")
    if routes:
        cidrs, ips = [], []
        for port in interfaces_in(txn, router_id):
            for subnet_id, ip in port.fixed_ips:
                cidrs.append(txn.get("subnets", subnet_id).cidr)
                ips.append(ip)
        cidrs += [s.cidr for s in gw_subnets]
        validate_routes([{"destination": d, "nexthop": n} for d, n in routes], routes, cidrs, ips)
    return network_id


def _external_ips_change(gw_port, ext_ips) -> bool:
    """Neutron's _check_for_external_ip_change: other subnets or addresses than the port's."""
    if not ext_ips:
        return False
    subnets = {s for s, _ in gw_port.fixed_ips}
    if subnets != {e["subnet_id"] for e in ext_ips if e.get("subnet_id")}:
        return True
    ips = {ip for _, ip in gw_port.fixed_ips}
    return ips != {ipam.normalize_ip(e["ip_address"]) for e in ext_ips if e.get("ip_address")}


def _create_port(txn: Transaction, router_id: str, network_id: str, ext_ips):
    attrs: dict[str, Any] = {
        "project_id": "",  # Neutron's: the port is hidden from the tenant
        "network_id": network_id,
        "name": "",
        "admin_state_up": True,
        "device_id": router_id,
        "device_owner": ROUTER_GATEWAY,
    }
    if ext_ips:
        attrs["fixed_ips"] = ext_ips
    with already_allocated(txn):
        return txn.service.insert_record(txn, Context.admin(), PORTS, attrs, rules=False)


def _readdress(txn: Transaction, port, ext_ips) -> None:
    """New external_fixed_ips on the same network: the port's update (Neutron's
    _update_current_gw_port)."""
    with already_allocated(txn):
        fixed_ips = addresses.assign(
            txn,
            Context.admin(),
            port.network_id,
            port.id,
            port.mac_address,
            port.device_owner,
            ext_ips,
            port.fixed_ips,
        )
    if fixed_ips != port.fixed_ips:
        addresses.set_fixed_ips(txn, port, fixed_ips)


@contextlib.contextmanager
def already_allocated(txn: Transaction) -> Iterator[None]:
    """Neutron's IPAM answer for a requested address someone holds: IpAddressAlreadyAllocated
    (the port API here keeps its older IpAddressInUse)."""
    try:
        yield
    except errors.IpAddressInUse as exc:
        ip = netaddr.IPAddress(exc.kwargs["ip_address"])
        subnet = next(
            (
                s
                for s in addresses.network_subnets(txn, exc.kwargs["net_id"])
                if ip in netaddr.IPNetwork(s.cidr)
            ),
            None,
        )
        raise errors.IpAddressAlreadyAllocated(
            ip=str(ip), subnet_id=subnet.id if subnet else ""
        ) from exc


# --------------------------------------------------------------- rules on networks and entries
def _network_updated(txn: Transaction, ctx: Context, net, values: Mapping) -> None:
    """A network with routers' gateways stays external (Neutron's _process_l3_update)."""
    if values.get("external") is False and gateway_ports_on(txn, net.id):
        raise errors.ExternalNetworkInUse(net_id=net.id)


def _check_external_entry(txn: Transaction, entry, new_target: str | None = None) -> None:
    """Neutron's _validate_ext_not_in_use_by_project: an access_as_external entry is not
    deleted or retargeted while a router's gateway depends on it for access (another entry
    for the router's project, or for all, lets it keep the network)."""
    if entry.object_type != "network" or entry.action != rbac.ACCESS_AS_EXTERNAL:
        return
    if rbac.going(txn, "network", entry.object_id):
        return
    owners = [
        txn.get("routers", p.device_id).project_id for p in gateway_ports_on(txn, entry.object_id)
    ]
    others = {
        e.target_tenant
        for e in rbac.entries(txn, "network", entry.object_id, action=rbac.ACCESS_AS_EXTERNAL)
        if e.id != entry.id
    }
    if entry.target_tenant != rbac.WILDCARD:
        depends = rbac.WILDCARD not in others and entry.target_tenant in owners
    else:
        kept = (others - {rbac.WILDCARD}) | ({new_target} if new_target else set())
        depends = any(project not in kept for project in owners)
    if depends:
        raise errors.RbacPolicyInUse(
            object_id=entry.object_id,
            details="There are routers attached to this network that depend on this policy "
            "for access.",
        )


def _entry_updated(txn: Transaction, ctx: Context, entry, values: Mapping) -> None:
    if "target_tenant" in values and values["target_tenant"] != entry.target_tenant:
        _check_external_entry(txn, entry, values["target_tenant"])


def _entry_deleted(txn: Transaction, entry) -> None:
    _check_external_entry(txn, entry)


def _subnet_created(txn: Transaction, ctx: Context, subnet) -> None:
    """A new subnet of an external network gives each gateway on it an address, unless the
    gateway has a stateful one of that version already or two (Neutron's
    _update_router_gw_port; SLAAC addresses come with the subnet itself)."""
    net = txn.get("networks", subnet.network_id)
    if net is None or not net.external or subnet.auto_address:
        return
    pool = addresses.pool(txn)
    for port in gateway_ports_on(txn, net.id):
        stateful = [ip for sid, ip in port.fixed_ips if not txn.get("subnets", sid).auto_address]
        if len(stateful) > 1 or (
            stateful and netaddr.IPAddress(stateful[0]).version == subnet.ip_version
        ):
            continue
        ip = pool.allocate(subnet, port.id)
        if ip is not None:
            addresses.set_fixed_ips(txn, port, (*port.fixed_ips, (subnet.id, ip)))


hooks.attach("networks", "before_update", _network_updated)
hooks.attach(rbac.POLICIES, "before_update", _entry_updated)
hooks.attach(rbac.POLICIES, "before_delete", _entry_deleted)
hooks.attach("subnets", "after_create", _subnet_created)
