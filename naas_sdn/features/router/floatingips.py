"""Floating IPs: Neutron's ``/v2.0/floatingips`` (the ``router`` plugin), neutron/db/l3_db.py.

A floating IP is an address of an external network held by a port of its own
(device_owner ``network:floatingip``, device_id the floating IP, project_id '' as Neutron
makes it), associated with one fixed IPv4 address of a port (``port_id``,
``fixed_ip_address``) through the router whose gateway is on that network and which has an
interface on the fixed address's subnet (``router_id``). The compiler reads them as
:class:`~naas_sdn.model.snapshot.FloatingIpView`.

Its rules on the core's ports: its own port goes only with it, a port's fixed address that a
floating IP translates to stays while it does, and a port's delete disassociates its
floating IPs. A network's delete takes its floating IPs that are associated with nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

import netaddr
from sqlalchemy import String

from naas_sdn.features.networking import addresses, ports
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.model import db, errors, hooks, ipam, schema
from naas_sdn.model.common import Context, owner
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import FLOATINGIP, FloatingIpView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from .common import (
    FLOATINGIPS,
    fixed_ips_change,
    floatingips_of,
    floatingips_with,
    interfaces_on,
)
from .gateway import already_allocated

STATUS_ACTIVE, STATUS_DOWN = "ACTIVE", "DOWN"
# Ports no floating IP translates to: Neutron refuses DHCP ports; naas-sdn every service
# port (routers', floating IPs', localnet, remote gateways'), which no VM stands behind.
SERVICE_OWNER_PREFIX = "network:"
ASSOCIATION = ("port_id", "fixed_ip_address")


def fip_bad(msg: str) -> errors.PluginBadRequest:
    return errors.PluginBadRequest(resource="floatingip", msg=msg)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FloatingIp(schema.Standard):
    floating_network_id: str = field(
        String(db.UUID_LEN),
        foreign_key="networks.id",
        on_delete="RESTRICT",
        index=True,
        post=True,
        validate=a.uuid_string,
    )
    floating_ip_address: str = field(String(64), post=True, default=None, validate=a.ip_or_none)
    # its own port, holding the address: deleted with it (and, in SQL, it with the port)
    floating_port_id: str = field(
        String(db.UUID_LEN), foreign_key="ports.id", on_delete="CASCADE", visible=False
    )
    port_id: str | None = field(
        String(db.UUID_LEN),
        nullable=True,
        foreign_key="ports.id",
        index=True,
        post=True,
        put=True,
        default=None,
        validate=a.uuid_or_none,
    )
    fixed_ip_address: str | None = field(
        String(64), nullable=True, post=True, put=True, default=None, validate=a.ip_or_none
    )
    router_id: str | None = field(
        String(db.UUID_LEN), nullable=True, foreign_key="routers.id", index=True
    )
    # ACTIVE while associated (through a router's gateway), DOWN otherwise
    status: str = field(String(16))


# --------------------------------------------------------------------------- create, update
def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """Neutron's _create_floatingip: an external network the caller sees with an IPv4
    subnet; the address from the port made for it (the requested subnet or address, else
    the first free one); then the association, if asked."""
    net_id = attrs["floating_network_id"]
    net = txn.get("networks", net_id)
    if net is None or not schema.DECLARED["networks"].is_visible(ctx, net, txn.service):
        raise errors.NetworkNotFound(net_id=net_id)
    if not net.external:
        raise fip_bad(f"Network {net_id} is not a valid external network")
    if not any(s.ip_version == 4 for s in addresses.network_subnets(txn, net_id)):
        raise fip_bad(f"Network {net_id} does not contain any IPv4 subnet")
    fip_id = str(uuid.uuid4())
    project_id = owner(ctx, attrs)
    port_attrs: dict[str, Any] = {
        "project_id": "",  # Neutron's: never exposed to the project
        "network_id": net_id,
        "name": "",
        "admin_state_up": True,
        "device_id": fip_id,
        "device_owner": FLOATINGIP,
    }
    fixed_ip = {}
    if attrs.get("subnet_id"):
        fixed_ip["subnet_id"] = attrs["subnet_id"]
    if attrs.get("floating_ip_address"):
        fixed_ip["ip_address"] = attrs["floating_ip_address"]
    if fixed_ip:
        port_attrs["fixed_ips"] = [fixed_ip]
    with already_allocated(txn):
        port = txn.service.insert_record(txn, Context.admin(), PORTS, port_attrs, rules=False)
    ipv4 = [ip for _, ip in port.fixed_ips if netaddr.IPAddress(ip).version == 4]
    if not ipv4:
        raise errors.ExternalIpAddressExhausted(net_id=net_id)
    fip = {
        "id": fip_id,
        "project_id": project_id,
        "floating_network_id": net_id,
        "floating_ip_address": ipv4[0],
        "floating_port_id": port.id,
    }
    request = {k: attrs[k] for k in ASSOCIATION if k in attrs}
    return fip | association(txn, ctx, _Pending(**fip), request)


@dataclasses.dataclass(frozen=True)
class _Pending:
    """What association needs of a floating IP being created."""

    id: str
    project_id: str
    floating_network_id: str
    floating_ip_address: str
    floating_port_id: str
    port_id: str | None = None


def _before_update(txn: Transaction, ctx: Context, fip: FloatingIp, values: dict) -> None:
    """Neutron's _check_and_get_fip_assoc: ``port_id`` (null: disassociate) with an optional
    ``fixed_ip_address``; the address alone re-associates the same port, and needs it."""
    values.pop("subnet_id", None)
    request = {k: values.pop(k) for k in ASSOCIATION if k in values}
    if not request:
        return
    if "port_id" not in request:
        if request.get("fixed_ip_address"):
            raise fip_bad("fixed_ip_address cannot be specified without a port_id")
        request["port_id"] = fip.port_id
    values.update(association(txn, ctx, fip, request))


def association(txn: Transaction, ctx: Context, fip, request: Mapping) -> dict[str, Any]:
    """The floating IP's port_id, fixed_ip_address, router_id and status for ``request``."""
    port_id, fixed = request.get("port_id"), request.get("fixed_ip_address")
    if fixed and not port_id:
        raise fip_bad("fixed_ip_address cannot be specified without a port_id")
    if not port_id:
        return {"port_id": None, "fixed_ip_address": None, "router_id": None, "status": STATUS_DOWN}
    port, subnet_id, ip = _internal_address(txn, ctx, fip.project_id, port_id, fixed)
    router_id = router_for(txn, port, txn.get("subnets", subnet_id), fip.floating_network_id)
    for other in floatingips_with(txn, port.id):
        if (
            other.id != fip.id
            and other.fixed_ip_address == ip
            and other.floating_network_id == fip.floating_network_id
        ):
            raise errors.FloatingIPPortAlreadyAssociated(
                port_id=port.id,
                fip_id=fip.id,
                floating_ip_address=fip.floating_ip_address,
                fixed_ip=ip,
                net_id=fip.floating_network_id,
            )
    return {
        "port_id": port.id,
        "fixed_ip_address": ip,
        "router_id": router_id,
        "status": STATUS_ACTIVE,
    }


def _internal_address(txn: Transaction, ctx: Context, project_id: str, port_id: str, fixed):
    """Neutron's _internal_fip_assoc_data: a port the caller sees, of the floating IP's
    project (unless an admin asks), and its one IPv4 address or the one named."""
    port = txn.get("ports", port_id)
    if port is None or not PORTS.is_visible(ctx, port, txn.service):
        raise errors.PortNotFound(port_id=port_id)
    if port.project_id != project_id and not ctx.is_admin:
        raise fip_bad(
            f"Cannot process floating IP association with Port {port_id}, since that port is "
            f"owned by a different project"
        )
    if port.device_owner.startswith(SERVICE_OWNER_PREFIX):
        raise fip_bad(f"Port {port_id} is unable to be assigned a floating IP")
    if fixed:
        if netaddr.IPAddress(fixed).version != 4:
            raise fip_bad(
                f"Cannot process floating IP association with {fixed}, since that is not an "
                f"IPv4 address"
            )
        ip = ipam.normalize_ip(fixed)
        subnet_id = next((sid for sid, have in port.fixed_ips if have == ip), None)
        if subnet_id is None:
            raise fip_bad(f"Port {port_id} does not have fixed ip {fixed}")
        return port, subnet_id, ip
    ipv4 = [(sid, ip) for sid, ip in port.fixed_ips if netaddr.IPAddress(ip).version == 4]
    if not ipv4:
        raise fip_bad(f"Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses")
    if len(ipv4) > 1:
        raise fip_bad(
            f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 "
            f"address when assigning a floating IP"
        )
    subnet_id, ip = ipv4[0]
    return port, subnet_id, ip


def router_for(txn: Transaction, port, subnet, external_network_id: str) -> str:
    """Neutron's get_router_for_floatingip: a router with its gateway on the external
    network and an interface on the fixed address's subnet; the one whose interface holds
    the subnet's gateway address first."""
    found = None
    for candidate in interfaces_on(txn, port.network_id):
        router = txn.get("routers", candidate.device_id)
        if router is None or router.gw_port_id is None:
            continue
        gateway = txn.get("ports", router.gw_port_id)
        if gateway is None or gateway.network_id != external_network_id:
            continue
        for subnet_id, ip in candidate.fixed_ips:
            if subnet_id != subnet.id:
                continue
            if ip == subnet.gateway_ip:
                return router.id
            found = found or router.id
    if found is None:
        raise errors.ExternalGatewayForFloatingIPNotFound(
            subnet_id=subnet.id, external_network_id=external_network_id, port_id=port.id
        )
    return found


def _before_delete(txn: Transaction, fip: FloatingIp) -> None:
    """Its port goes with it."""
    port = txn.get("ports", fip.floating_port_id)
    if port is not None:
        ports.remove(txn, port)


FLOATING_IPS = schema.declare(
    schema.Resource(
        FloatingIp,
        FLOATINGIPS,
        "floatingip",
        not_found=lambda fip_id: errors.FloatingIPNotFound(floatingip_id=fip_id),
        view=schema.view_of(FloatingIpView),
        prepare=_prepare,
        before_update=_before_update,
        before_delete=_before_delete,
        quota=50,  # Neutron's default
        requests=frozenset({*ASSOCIATION, "subnet_id"}),
    )
)


# ---------------------------------------------------------------- rules on ports and networks
def _held_by(txn: Transaction, port) -> FloatingIp | None:
    """The floating IP whose address the port holds (None: the port holds none)."""
    if port.device_owner != FLOATINGIP:
        return None
    fip = txn.get(FLOATINGIPS, port.device_id)
    return fip if fip is not None and fip.floating_port_id == port.id else None


def _port_created(txn: Transaction, ctx: Context, attrs: Mapping) -> None:
    if attrs.get("device_owner") == FLOATINGIP and txn.get(FLOATINGIPS, attrs.get("device_id", "")):
        raise errors.InvalidInput(
            error_message=f"device_owner {FLOATINGIP} with device_id {attrs['device_id']} is "
            f"the floating IP's own port"
        )


def _port_updated(txn: Transaction, ctx: Context, port, values: Mapping) -> None:
    """A floating IP's port stays as it was made; a port keeps the fixed address a floating
    IP translates to (Neutron's prevent_internal_ip_change_for_fip)."""
    fip = _held_by(txn, port)
    if fip is not None:
        changing = sorted(k for k in ("device_owner", "device_id") if k in values)
        if fixed_ips_change(port, values):
            changing.append("fixed_ips")
        if changing:
            raise errors.InvalidInput(
                error_message=f"Port {port.id} holds floating IP {fip.id}: its "
                f"{', '.join(changing)} do not change"
            )
    elif "device_owner" in values or "device_id" in values:
        _port_created(
            txn,
            ctx,
            {
                "device_owner": values.get("device_owner", port.device_owner),
                "device_id": values.get("device_id", port.device_id),
            },
        )
    requested = values.get("fixed_ips")
    if requested is None:
        return
    kept = {ipam.normalize_ip(e["ip_address"]) for e in requested if "ip_address" in e}
    for fip in floatingips_with(txn, port.id):
        if fip.fixed_ip_address and fip.fixed_ip_address not in kept:
            raise errors.PluginBadRequest(
                resource="port",
                msg=f"Cannot update the fixed_ips of the port {port.id}, because its original "
                f"fixed_ip has been associated to a floating ip",
            )


def _port_deleted(txn: Transaction, port) -> None:
    """A floating IP's port goes only with it (ServicePortInUse); a port's floating IPs are
    disassociated (Neutron's disassociate_floatingips: a project may not so drop another's,
    FipAssociated)."""
    if _held_by(txn, port) is not None:
        raise errors.ServicePortInUse(port_id=port.id, reason=f"has device owner {FLOATINGIP}")
    fips = floatingips_with(txn, port.id)
    ctx = txn.ctx
    if ctx is not None and not ctx.is_admin and any(f.project_id != ctx.project_id for f in fips):
        raise errors.FipAssociated(port_id=port.id)
    for fip in fips:
        txn.save(
            FLOATINGIPS,
            fip,
            {"port_id": None, "fixed_ip_address": None, "router_id": None, "status": STATUS_DOWN},
        )


def _network_deleted(txn: Transaction, net) -> None:
    """Neutron's _process_l3_delete: the network's floating IPs associated with nothing go
    with it (associated ones keep it in use: their ports are on it)."""
    idle = [f for f in floatingips_of(txn, net.id) if f.port_id is None]
    if idle:
        txn.delete(FLOATINGIPS, idle)


hooks.attach("ports", "before_create", _port_created)
hooks.attach("ports", "before_update", _port_updated)
hooks.attach("ports", "before_delete", _port_deleted)
hooks.attach("networks", "before_delete", _network_deleted)
