"""A router's interfaces: Neutron's add_router_interface and remove_router_interface.

An interface is a port of the router (device_owner ``network:router_interface``, device_id the
router): one made on a subnet's gateway address, or one the caller had and the router takes.
Both actions run in the router's transaction (:meth:`DeclaredStore.change_record`) and write
ports through the network service, which owns them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import netaddr

from naas_sdn.features.networking import addresses, ports, rbac
from naas_sdn.features.networking.ports import PORTS, Port
from naas_sdn.features.networking.subnets import Subnet
from naas_sdn.model import errors, schema
from naas_sdn.model.common import Context
from naas_sdn.model.snapshot import ROUTER_INTERFACE
from naas_sdn.model.store import Transaction

from .common import check_dup_subnets, floatingips_via, gateway_port, interfaces_in, router_bad
from .resource import Router


def interface_info(info, removal: bool) -> tuple[bool, bool]:
    """Neutron's _validate_interface_info: (by port, by subnet)."""
    if not isinstance(info, Mapping):
        info = {}
    by_port, by_subnet = "port_id" in info, "subnet_id" in info
    if not (by_port or by_subnet):
        raise router_bad("Either subnet_id or port_id must be specified")
    for key in ("port_id", "subnet_id"):
        if key in info:
            value = info[key]
            try:
                valid = isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
            except ValueError:
                valid = False
            if not valid:
                raise router_bad(f"'{value}' is not a valid UUID")
    if not removal and by_port and by_subnet:
        raise router_bad("Cannot specify both subnet-id and port-id")
    return by_port, by_subnet


def add_router_interface(service, ctx: Context, router_id: str, info: Mapping) -> dict:
    interface_info(info, removal=False)
    return service.change_record(
        ctx, "routers", router_id, lambda txn, router: add_interface(txn, ctx, router, info)
    )


def remove_router_interface(service, ctx: Context, router_id: str, info: Mapping) -> dict:
    interface_info(info, removal=True)
    return service.change_record(
        ctx, "routers", router_id, lambda txn, router: remove_interface(txn, ctx, router, info)
    )


def add_interface(txn: Transaction, ctx: Context, router: Router, info: Mapping) -> dict:
    """Attach a subnet (``{"subnet_id"}``: a new port holding its gateway_ip) or a port
    (``{"port_id"}``: the router takes it). Returns Neutron's interface info:
    {id, tenant_id, project_id, port_id, network_id, subnet_id, subnet_ids}."""
    interfaces = interfaces_in(txn, router.id)
    if "port_id" in info:
        port, subnets = _attach_port(txn, ctx, router, interfaces, info["port_id"])
    else:
        port, subnets = _attach_subnet(txn, ctx, router, interfaces, info["subnet_id"])
    return _interface_body(router.id, port, subnets[-1].id, [s.id for s in subnets])


def _attach_subnet(txn: Transaction, ctx: Context, router: Router, interfaces, subnet_id):
    service = txn.service
    subnet = txn.get("subnets", subnet_id)  # made in this transaction, perhaps
    if subnet is None or not schema.DECLARED["subnets"].is_visible(ctx, subnet, service):
        raise errors.SubnetNotFound(subnet_id=subnet_id)
    if not subnet.gateway_ip:
        raise router_bad("Subnet for router interface must have a gateway IP")
    if (
        subnet.project_id != ctx.project_id
        and not ctx.is_admin
        # Neutron allows another project's subnet only through an RBAC access_as_shared
        # entry naming the caller (LP #1975603); a globally shared one is refused (#1757482)
        and ctx.project_id not in rbac.targets(service, "network", subnet.network_id)
    ):
        raise router_bad(
            f"Cannot add interface to router because subnet {subnet_id} is "
            f"not owned by project making the request"
        )
    _check_address_mode(subnet)
    check_dup_subnets(txn, _with_gateway(txn, router, interfaces), [subnet])
    pool = addresses.pool(txn)
    if subnet.ip_version == 6:  # a new IPv6 prefix joins the router's IPv6 port there
        port = next(
            (
                p
                for p in interfaces
                if p.network_id == subnet.network_id
                and any(netaddr.IPAddress(ip).version == 6 for _, ip in p.fixed_ips)
            ),
            None,
        )
        if port is not None:
            pool.take(subnet.id, subnet.gateway_ip, port.id, port.network_id)
            port = addresses.set_fixed_ips(
                txn, port, (*port.fixed_ips, (subnet.id, subnet.gateway_ip))
            )
            return port, [subnet]
    owner_ctx = Context(project_id=router.project_id, is_admin=True)
    port = service.insert_record(
        txn,
        owner_ctx,
        PORTS,
        {
            "network_id": subnet.network_id,
            "project_id": router.project_id,
            "name": "",
            "admin_state_up": True,
            "device_id": router.id,
            "device_owner": ROUTER_INTERFACE,
            "fixed_ips": [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
        },
        rules=False,
    )
    return port, [subnet]


def _attach_port(txn: Transaction, ctx: Context, router: Router, interfaces, port_id):
    service = txn.service
    port = service.get_port(ctx, port_id)  # PortNotFound when not visible
    if port.device_id:
        raise errors.PortInUse(net_id=port.network_id, port_id=port.id, device_id=port.device_id)
    if not port.fixed_ips:
        raise router_bad("Router port must have at least one fixed IP")
    subnets = [service.records("subnets")[sid] for sid, _ in port.fixed_ips]
    for subnet in subnets:
        _check_address_mode(subnet)
    if port.project_id != ctx.project_id and not ctx.is_admin:
        # a router takes its own project's ports (the network owner sees others' too)
        raise errors.PolicyNotAuthorized(action="add_router_interface")
    if any(netaddr.IPAddress(ip).version == 6 for _, ip in port.fixed_ips):
        for other in interfaces:
            if other.network_id == port.network_id and any(
                netaddr.IPAddress(ip).version == 6 for _, ip in other.fixed_ips
            ):
                raise router_bad(
                    f"Router already contains IPv6 port {other.id} belonging to network "
                    f"id {other.network_id}. Only one IPv6 port from the same network "
                    f"subnet can be connected to a router."
                )
    check_dup_subnets(txn, _with_gateway(txn, router, interfaces), subnets)
    if sum(1 for s in subnets if s.ip_version == 4) > 1:
        raise router_bad("Cannot have multiple IPv4 subnets on router port")
    if not ctx.is_admin:
        by_id = {s.id: s for s in subnets}
        for subnet_id, ip in port.fixed_ips:
            subnet = by_id[subnet_id]
            pools = netaddr.IPSet(netaddr.IPRange(a, b) for a, b in subnet.allocation_pools)
            if netaddr.IPAddress(ip) not in pools and subnet.project_id != ctx.project_id:
                raise router_bad(
                    f"Cannot add interface to router because specified port {port.id} has "
                    f"an IP address out of the allocation pool of subnet {subnet_id}, which "
                    f"is not owned by the project making the request"
                )
    new = txn.save("ports", port, {"device_id": router.id, "device_owner": ROUTER_INTERFACE})
    return new, subnets


def _with_gateway(txn: Transaction, router: Router, interfaces: list[Port]) -> list[Port]:
    """The router's ports: its interfaces and its gateway port, if it has one."""
    port = gateway_port(txn, router)
    return [*interfaces, port] if port is not None else list(interfaces)


def remove_interface(txn: Transaction, ctx: Context, router: Router, info: Mapping) -> dict:
    """Detach by ``port_id`` (optionally with the ``subnet_id`` it must have) or by
    ``subnet_id``; the interface port is deleted (an IPv6 port holding other prefixes only
    loses that subnet's address). Returns the same body as add_router_interface."""
    service = txn.service
    interfaces = interfaces_in(txn, router.id)
    subnet_id = info.get("subnet_id")
    if "port_id" in info:
        port = next((p for p in interfaces if p.id == info["port_id"]), None)
        if port is None:
            raise errors.RouterInterfaceNotFound(router_id=router.id, port_id=info["port_id"])
        subnet_ids = [sid for sid, _ in port.fixed_ips]
        if subnet_id and subnet_id not in subnet_ids:
            raise errors.SubnetMismatchForPort(port_id=port.id, subnet_id=subnet_id)
        for sid in subnet_ids:
            _check_not_in_use(txn, router, service.records("subnets")[sid])
        ports.remove(txn, port)
        return _interface_body(router.id, port, subnet_ids[0], subnet_ids)
    subnet = service.get_subnet(ctx, info["subnet_id"])  # by subnet: interface_info
    on_net = [p for p in interfaces if p.network_id == subnet.network_id]
    if on_net:
        _check_not_in_use(txn, router, subnet)
    for port in on_net:
        subnet_ids = [sid for sid, _ in port.fixed_ips]
        if subnet.id not in subnet_ids:
            continue
        if len(subnet_ids) > 1:  # a multi-prefix IPv6 port only loses this prefix
            addresses.set_fixed_ips(
                txn, port, tuple(f for f in port.fixed_ips if f[0] != subnet.id)
            )
        else:
            ports.remove(txn, port)
        return _interface_body(router.id, port, subnet.id, [subnet.id])
    raise errors.RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=subnet_id)


def _check_not_in_use(txn: Transaction, router: Router, subnet: Subnet) -> None:
    """Neutron's: no route's nexthop on the subnet, and no floating IP associated through
    the router with an address of it."""
    cidr = netaddr.IPNetwork(subnet.cidr)
    for _destination, nexthop in router.routes:
        if netaddr.IPAddress(nexthop) in cidr:
            raise errors.RouterInterfaceInUseByRoute(router_id=router.id, subnet_id=subnet.id)
    for fip in floatingips_via(txn, router.id):
        if fip.fixed_ip_address is None or netaddr.IPAddress(fip.fixed_ip_address) not in cidr:
            continue
        port = txn.get("ports", fip.port_id) if fip.port_id else None
        if port is not None and any(sid == subnet.id for sid, _ in port.fixed_ips):
            raise errors.RouterInterfaceInUseByFloatingIP(router_id=router.id, subnet_id=subnet.id)


def _interface_body(router_id: str, port: Port, subnet_id: str, subnet_ids) -> dict:
    return {
        "id": router_id,
        "tenant_id": port.project_id,
        "project_id": port.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_id,
        "subnet_ids": list(subnet_ids),
    }


def _check_address_mode(subnet: Subnet) -> None:
    if (
        subnet.ip_version == 6
        and subnet.ipv6_ra_mode is None
        and subnet.ipv6_address_mode is not None
    ):
        raise router_bad(
            f"IPv6 subnet {subnet.id} configured to receive RAs from an external "
            f"router cannot be added to Neutron Router."
        )
