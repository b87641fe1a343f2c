"""Ports: where VM interfaces and appliances plug into a network, with their MAC, fixed IPs
and VIF binding.

The declaration gives the table, the API and the view; the rules here are Neutron's: a MAC is
unique on its network (a random one on Neutron's base prefix unless given) and fixed while the
port is bound, addresses come from :mod:`.addresses`, and a port's status follows its binding
and admin state. Other slices' rules on ports (a router's interfaces) come through
:mod:`naas_sdn.model.hooks`, their attributes (port security, QoS) through extensions.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import BigInteger, Boolean, String, Text, UniqueConstraint, delete, select

from naas_sdn.model import db, errors, schema
from naas_sdn.model.allocation import TakenMacs, allocate_mac
from naas_sdn.model.common import Context, evolve, update_row, utcnow
from naas_sdn.model.schema import COMPUTED, field
from naas_sdn.model.snapshot import FLOATINGIP, ROUTER_GATEWAY, PortView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import addresses
from .addresses import IP_ALLOCATIONS
from .networks import network_reference

VIF_TYPE_UNBOUND, VIF_TYPE_OVS = "unbound", "ovs"
VIF_TYPE_BINDING_FAILED = "binding_failed"  # Neutron's, for a host no bridge serves
# Neutron's ports of no project: a router's gateway and a floating IP's address, which the
# service makes (as an admin, project_id ''): tenants do not list them, admins do
NO_PROJECT_OWNERS = frozenset({ROUTER_GATEWAY, FLOATINGIP})
VNIC_NORMAL = "normal"
STATUS_ACTIVE, STATUS_DOWN = "ACTIVE", "DOWN"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Port(schema.Extensible):
    key: int = field(BigInteger, unique=True, visible=False)  # a counter's: flow cookies
    network_id: str = network_reference(on_delete="RESTRICT")
    admin_state_up: bool = field(
        Boolean, post=True, put=True, default=True, validate=a.boolean, kind="boolean"
    )
    mac_address: str = field(String(17), post=True, put=True, default=None, validate=a.mac_address)
    # kept in ip_allocations
    fixed_ips: tuple[tuple[str, str], ...] = field(
        record_default=(),
        post=True,
        put=True,
        default=COMPUTED,
        validate=a.fixed_ips,
        show=lambda p: [{"subnet_id": sid, "ip_address": ip} for sid, ip in p.fixed_ips],
        kind="fixed_ips",
    )
    device_id: str = field(
        String(db.NAME_LEN), column_default="", post=True, put=True, default="", validate=a.string()
    )
    device_owner: str = field(
        String(db.NAME_LEN), column_default="", post=True, put=True, default="", validate=a.string()
    )
    status: str = field(String(16))
    # the compute host Nova (or an admin) binds the port to; shown, when none was asked,
    # as the host where its VIF is plugged
    binding_host_id: str = field(
        String(db.NAME_LEN),
        column_default="",
        wire="binding:host_id",
        post=True,
        put=True,
        default="",
        validate=a.string(),
        show=lambda p: p.binding_host_id or p.vif_host,
    )
    # the host whose bridge its VIF is plugged into (OVSDB's iface-id), "" while unplugged
    vif_host: str = field(String(db.NAME_LEN), column_default="", visible=False)
    binding_vif_type: str = field(String(64), wire="binding:vif_type")
    # JSON text with sorted keys, as binding_profile: what os-vif needs to plug the VM
    binding_vif_details: str = field(
        Text,
        column_default="{}",
        wire="binding:vif_details",
        show=lambda p: json.loads(p.binding_vif_details),
        kind="other",
    )
    binding_vnic_type: str = field(
        String(64),
        wire="binding:vnic_type",
        post=True,
        put=True,
        default=VNIC_NORMAL,
        validate=a.one_of(VNIC_NORMAL),
    )
    # JSON text with sorted keys (records stay hashable); a dictionary on the API
    binding_profile: str = field(
        Text,
        column_default="{}",
        wire="binding:profile",
        post=True,
        put=True,
        default={},
        validate=a.dictionary,
        show=lambda p: json.loads(p.binding_profile),
        kind="other",
    )


def _profile(value) -> str:
    return json.dumps(value or {}, sort_keys=True)


def _status(vif_host: str, admin_state_up: bool) -> str:
    """ACTIVE while its VIF is plugged somewhere and the port is administratively up."""
    return STATUS_ACTIVE if vif_host and admin_state_up else STATUS_DOWN


def _binding(host: str, vif_host: str, hosts: Mapping[str, Mapping[str, str]]) -> dict:
    """``binding:vif_type`` and ``binding:vif_details`` as Neutron's OVS driver answers them,
    so that Nova's os-vif plugs the VM into the bridge serving its host with
    ``external_ids:iface-id``: bound to the host asked (Nova's ``binding:host_id``), else to
    where the VIF is plugged; ``binding_failed`` for a host no bridge serves."""
    where = host or vif_host
    if not where:
        return {"binding_vif_type": VIF_TYPE_UNBOUND, "binding_vif_details": "{}"}
    bridge = hosts.get(where)
    if bridge is None and host:
        return {"binding_vif_type": VIF_TYPE_BINDING_FAILED, "binding_vif_details": "{}"}
    details: dict[str, Any] = {
        "bound_drivers": {"0": "naas-sdn"},
        "connectivity": "l2",
        "ovs_hybrid_plug": False,  # the switches filter (security groups): no Linux bridge
        "port_filter": True,
    }
    if bridge is not None:
        details |= {"bridge_name": bridge["bridge_name"], "datapath_type": bridge["datapath_type"]}
    return {
        "binding_vif_type": VIF_TYPE_OVS,
        "binding_vif_details": json.dumps(details, sort_keys=True),
    }


def _macs(txn: Transaction) -> TakenMacs:
    """The (network, MAC) pairs taken, committed and by this transaction's creates."""
    memo = txn.changes.memo
    if "macs" not in memo:
        memo["macs"] = TakenMacs(txn.service.macs)
    return memo["macs"]


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    net = txn.get("networks", attrs["network_id"])  # made in this transaction, perhaps
    if net is None or not schema.DECLARED["networks"].is_visible(ctx, net, txn.service):
        raise errors.NetworkNotFound(net_id=attrs["network_id"])
    macs = _macs(txn)
    mac = attrs.get("mac_address")
    if mac is not None:
        if (net.id, mac) in macs:
            raise errors.MacAddressInUse(net_id=net.id, mac=mac)
    else:
        mac = allocate_mac(net.id, macs)
    macs.add((net.id, mac))
    port_id = attrs.get("id") or str(uuid.uuid4())  # an id given only by the service itself
    device_owner = attrs.get("device_owner", "")
    fixed_ips = addresses.assign(
        txn, ctx, net.id, port_id, mac, device_owner, _requested(attrs.get("fixed_ips"))
    )
    values: dict[str, Any] = {}
    if ctx.is_admin and attrs.get("project_id") == "" and device_owner in NO_PROJECT_OWNERS:
        values["project_id"] = ""
    return values | {
        "id": port_id,
        "network_id": net.id,
        "mac_address": mac,
        "fixed_ips": fixed_ips,
        "admin_state_up": bool(attrs.get("admin_state_up", True)),
        "status": STATUS_DOWN,
        "binding_host_id": attrs.get("binding_host_id") or "",
        "vif_host": "",
        **_binding(attrs.get("binding_host_id") or "", "", txn.service.hosts),
        "binding_profile": _profile(attrs.get("binding_profile")),
    }


def _requested(fixed_ips):
    return None if fixed_ips is COMPUTED else fixed_ips


def _after_create(txn: Transaction, ctx: Context, attrs: Mapping, port: Port) -> None:
    addresses.write_fixed_ips(txn, port.id, port.fixed_ips, replace=False)


def _before_update(txn: Transaction, ctx: Context, port: Port, values: dict) -> None:
    """A MAC changes only while unbound and stays unique; addresses follow a new MAC or
    owner (EUI-64 ones are derived from the MAC); the status follows admin_state_up."""
    requested = values.pop("fixed_ips", None)
    if "binding_profile" in values:
        values["binding_profile"] = _profile(values["binding_profile"])
    if "binding_host_id" in values:  # Nova binds the port to a host, or unbinds it
        values.update(_binding(values["binding_host_id"], port.vif_host, txn.service.hosts))
    if "mac_address" in values:
        if port.binding_vif_type not in (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED):
            raise errors.PortBound(
                port_id=port.id,
                vif_type=port.binding_vif_type,
                old_mac=port.mac_address,
                new_mac=values["mac_address"],
            )
        if (port.network_id, values["mac_address"]) in _macs(txn):
            raise errors.MacAddressInUse(net_id=port.network_id, mac=values["mac_address"])
    if "admin_state_up" in values:
        values["status"] = _status(port.vif_host, values["admin_state_up"])
    if requested is None and "mac_address" not in values and "device_owner" not in values:
        return
    if requested is None:  # keep the chosen addresses, recompute the EUI-64 ones
        subnets = txn.service.records("subnets")
        requested = [
            {"subnet_id": sid, "ip_address": ip}
            for sid, ip in port.fixed_ips
            if not subnets[sid].auto_address
        ]
    fixed_ips = addresses.assign(
        txn,
        ctx,
        port.network_id,
        port.id,
        values.get("mac_address", port.mac_address),
        values.get("device_owner", port.device_owner),
        requested,
        port.fixed_ips,
    )
    if fixed_ips != port.fixed_ips:  # released and allocated in this one transaction
        addresses.write_fixed_ips(txn, port.id, fixed_ips, replace=True)
        values["fixed_ips"] = fixed_ips


def remove(txn: Transaction, port: Port) -> None:
    """Delete a port the slice that owns it removes (a router's interface)."""
    txn.service.delete_rows(txn, PORTS, [port], rules=False)


def _with_fixed_ips(conn, ports: dict) -> dict:
    """Ports as loaded, with their addresses (ip_allocations, in the API's order)."""
    table = IP_ALLOCATIONS
    fixed: dict[str, list] = {}
    for row in conn.execute(select(table).order_by(table.c.port_id, table.c.position)):
        fixed.setdefault(row.port_id, []).append((row.subnet_id, row.ip_address))
    return {k: evolve(p, fixed_ips=tuple(fixed.get(k, ()))) for k, p in ports.items()}


def _before_delete(txn: Transaction, port: Port) -> None:
    txn.conn.execute(delete(IP_ALLOCATIONS).where(IP_ALLOCATIONS.c.port_id == port.id))


def _visible(ctx: Context, port: Port, model) -> bool:
    if ctx.sees_all or port.project_id == ctx.project_id:
        return True
    net = model.records("networks").get(port.network_id)
    return net is not None and net.project_id == ctx.project_id  # the network owner sees ports


def _view(port: Port) -> PortView:
    return PortView(
        id=port.id,
        network_id=port.network_id,
        project_id=port.project_id,
        key=port.key,
        mac_address=port.mac_address,
        admin_state_up=port.admin_state_up,
        fixed_ips=port.fixed_ips,
        device_owner=port.device_owner,
        device_id=port.device_id,
        **PORTS.extension_view(port),
    )


def update_bindings(
    service, bindings: Mapping[str, str], only: Iterable[str] | None = None
) -> None:
    """Reconcile port binding with the plugged VIFs: ``bindings`` maps port id → the host
    whose bridge its VIF is plugged into.

    Ports listed are plugged there (ACTIVE, or DOWN when administratively down), the others
    DOWN; a port no one bound to a host is bound where its VIF is, and unbound without one.
    ``only`` names the ports whose VIF came, went or moved: the others are not looked at
    (None: every port, as after a restart), so a plug costs the same however many ports
    there are. Only ports whose values change are written, compared
    with the mirror under the write lock, so a concurrent admin_state_up change is never
    undone. The binding app (apps/binding.py) calls it; no view changes, so no subscriber
    wakes.
    """

    def wanted() -> dict[str, dict[str, Any]]:
        records = service.records("ports")
        if only is None:
            looked_at = list(records.values())
        else:
            looked_at = [records[i] for i in only if i in records]
        changed: dict[str, dict[str, Any]] = {}
        hosts = service.hosts
        for port in looked_at:
            vif_host = bindings.get(port.id) or ""
            values = {
                "vif_host": vif_host,
                "status": _status(vif_host, port.admin_state_up),
                **_binding(port.binding_host_id, vif_host, hosts),
            }
            diff = {k: v for k, v in values.items() if getattr(port, k) != v}
            if diff:
                changed[port.id] = diff
        return changed

    with service.lock:
        if not wanted():
            return

        def work(conn, changes):
            # again in the transaction: another process sharing the database may have
            # written the same statuses (it sees the same VIFs), which are then written once
            now = utcnow()
            for port_id, values in wanted().items():
                port = service.records("ports")[port_id]
                new = evolve(
                    port, **values, updated_at=now, revision_number=port.revision_number + 1
                )
                update_row(conn, PORTS.table, new, values)
                changes.of("ports")[port_id] = new

        service.write(work)


PORTS = schema.declare(
    schema.Resource(
        Port,
        "ports",
        "port",
        not_found=lambda port_id: errors.PortNotFound(port_id=port_id),
        counter="port_key",
        view=_view,
        prepare=_prepare,
        after_create=_after_create,
        complete=_with_fixed_ips,
        before_update=_before_update,
        before_delete=_before_delete,
        visible=_visible,
        quota=500,
        constraints=(UniqueConstraint("network_id", "mac_address", name="uniq_ports_network_mac"),),
    )
)
