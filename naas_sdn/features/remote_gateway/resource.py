"""Remote gateways and their connections: the declarations and their relational rules.

A gateway is a tenant's remote site as a tunnel endpoint (address, tunnel type, UDP port,
credentials). A connection extends one of the tenant's networks to it: it makes the network a
port (device owner ``network:l2_remote_gateway``, no addresses, no port security: frames of
many MACs come through it) for the bridge device, which the controller creates as a tunnel
interface on the terminating bridge (:mod:`naas_sdn.apps.ovsdb`) with the port's id as its
iface-id, so the pipeline carries it like any port. Deleting the connection deletes the port
and so the tunnel.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

import netaddr
from sqlalchemy import Integer, String

from naas_sdn.features.networking import ports
from naas_sdn.features.networking.networks import network_reference
from naas_sdn.features.networking.ports import PORTS
from naas_sdn.model import db, errors, hooks, schema, segments
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field, json_list
from naas_sdn.model.snapshot import L2_REMOTE_GATEWAY, RemoteTunnelView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

TUNNEL_TYPES = ("vxlan", "gre")
VXLAN_PORT = 4789
# What each tunnel adds around a frame (outer Ethernet, IP, UDP + VXLAN or GRE with a key),
# by the IP version of the remote end: the network's MTU leaves room for it.
OVERHEAD = {("vxlan", 4): 50, ("vxlan", 6): 70, ("gre", 4): 42, ("gre", 6): 62}


def tunnel_mtu(txn: Transaction, gateway) -> int:
    overhead = OVERHEAD[(gateway.tunnel_type, netaddr.IPAddress(gateway.remote_ip).version)]
    return txn.service.tenant_segments.physical_mtu - overhead


def _fit_mtu(txn: Transaction, network_id: str, leaving: str | None = None) -> None:
    """The network's MTU: its type's, lowered to what each of its remote sites' tunnels
    carries (``leaving``: a connection being deleted, no longer counted)."""
    network = txn.current("networks")[network_id]
    gateways = txn.service.records("l2_remote_gateways")
    mtu = txn.service.tenant_segments.mtu(network.network_type)
    for other in txn.current("l2_remote_gateway_connections").values():
        if other.network_id == network_id and other.id != leaving:
            mtu = min(mtu, tunnel_mtu(txn, gateways[other.l2_remote_gateway_id]))
    if mtu != network.mtu:
        _set_mtu(txn, network, mtu)


def _set_mtu(txn: Transaction, network, mtu: int) -> None:
    """The network's new MTU, and its subnets saved again: their views carry it to DHCP
    (option 26) and router advertisements."""
    txn.save("networks", network, {"mtu": mtu})
    subnets = txn.current("subnets")
    for subnet_id in network.subnets:
        txn.save("subnets", subnets[subnet_id], {})


def _remote_ip(attr, value):
    """An IPv4 or IPv6 unicast address, normalized."""
    a.ip_address(attr, value)
    ip = netaddr.IPAddress(value)
    if (
        ip.is_multicast()
        or ip.is_loopback()
        or int(ip) == 0
        or ip == netaddr.IPAddress("255.255.255.255")
    ):
        raise errors.InvalidAttribute(
            attr=attr, reason=f"'{value}' is not a unicast address a remote site can have"
        )
    return str(ip)


def _remote_macs(attr, value):
    if not isinstance(value, list):
        raise errors.InvalidAttribute(attr=attr, reason=f"'{value}' is not a list of MACs")
    found = [a.mac_address(attr, mac) for mac in value]
    if len(set(found)) != len(found):
        raise errors.InvalidAttribute(attr=attr, reason="duplicate MAC addresses")
    return tuple(found)


@dataclasses.dataclass(frozen=True, kw_only=True)
class L2RemoteGateway(schema.Standard):
    remote_ip: str = field(String(64), post=True, validate=_remote_ip)
    tunnel_type: str = field(
        String(8), post=True, default="vxlan", validate=a.one_of(*TUNNEL_TYPES)
    )
    udp_port: int | None = field(
        Integer,
        nullable=True,
        post=True,
        default=None,
        validate=a.integer_range(1, 65535),
        kind="integer",
    )
    # The credentials: kept, never shown to anyone (see docs/api.md for what they secure).
    psk: str | None = field(
        String(255),
        nullable=True,
        post=True,
        put=True,
        default=None,
        validate=a.string(255),
        readable=False,
        kind="other",
    )


def _prepare_gateway(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    tunnel_type = attrs.get("tunnel_type") or "vxlan"
    udp_port = attrs.get("udp_port")
    if tunnel_type == "gre" and udp_port is not None:
        raise errors.InvalidInput(error_message="udp_port applies to vxlan tunnels only")
    if tunnel_type == "vxlan" and udp_port is None:
        udp_port = VXLAN_PORT
    return {"tunnel_type": tunnel_type, "udp_port": udp_port}


def _gateway_deleted(txn: Transaction, gateway: L2RemoteGateway) -> None:
    if any(
        c.l2_remote_gateway_id == gateway.id
        for c in txn.current("l2_remote_gateway_connections").values()
    ):
        raise errors.L2RemoteGatewayInUse(id=gateway.id)


GATEWAYS = schema.declare(
    schema.Resource(
        L2RemoteGateway,
        "l2_remote_gateways",
        "l2_remote_gateway",
        path="l2-remote-gateways",
        not_found=lambda gateway_id: errors.L2RemoteGatewayNotFound(id=gateway_id),
        prepare=_prepare_gateway,
        before_delete=_gateway_deleted,
        quota=10,
    )
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class L2RemoteGatewayConnection(schema.Standard):
    l2_remote_gateway_id: str = field(
        String(db.UUID_LEN),
        foreign_key="l2_remote_gateways.id",
        index=True,
        post=True,
        validate=a.uuid_string,
    )
    network_id: str = network_reference(on_delete="CASCADE")
    segmentation_id: int = field(
        Integer,
        post=True,
        default=None,
        validate=a.integer_range(1, segments.VNI_MAX),
        kind="integer",
    )
    port_id: str = field(String(db.UUID_LEN))
    remote_macs: tuple[str, ...] = json_list(
        pairs=False,
        record_default=(),
        post=True,
        default=[],
        validate=_remote_macs,
        show=lambda c: list(c.remote_macs),
    )


def _prepare_connection(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """The caller's gateway and network (404 for what it cannot see), one connection per
    pair, one per tunnel (remote address and segmentation id), and the port of the bridge
    device, made in the same transaction."""
    service = txn.service
    gateway = service.get_record(ctx, "l2_remote_gateways", attrs["l2_remote_gateway_id"])
    network = service.get_network(ctx, attrs["network_id"])
    if not ctx.is_admin and network.project_id != ctx.project_id:
        raise errors.NetworkNotFound(net_id=network.id)  # a shared network is not extended
    project = attrs.get("project_id") or network.project_id
    if project != network.project_id or gateway.project_id != network.project_id:
        raise errors.BadRequestMessage(
            msg="A connection joins a gateway and a network of one project"
        )
    seg = attrs.get("segmentation_id")
    if seg is None:
        seg = network.segmentation_id
    for other in txn.current("l2_remote_gateway_connections").values():
        if other.l2_remote_gateway_id == gateway.id and other.network_id == network.id:
            raise errors.L2RemoteGatewayConnectionExists(
                network_id=network.id, gateway_id=gateway.id, connection_id=other.id
            )
        remote = service.records("l2_remote_gateways")[other.l2_remote_gateway_id]
        if remote.remote_ip == gateway.remote_ip and other.segmentation_id == seg:
            raise errors.L2RemoteGatewayTunnelInUse(
                remote_ip=gateway.remote_ip, segmentation_id=seg, connection_id=other.id
            )
    connection_id = str(uuid.uuid4())
    network = txn.current("networks")[network.id]
    if network.mtu > tunnel_mtu(txn, gateway):
        _set_mtu(txn, network, tunnel_mtu(txn, gateway))
    port = service.insert_record(
        txn,
        Context(project_id=network.project_id, is_admin=True),
        PORTS,
        {
            "network_id": network.id,
            "project_id": network.project_id,
            "name": f"l2-remote-gateway-{connection_id[:8]}",
            "admin_state_up": True,
            "device_id": connection_id,
            "device_owner": L2_REMOTE_GATEWAY,
            "fixed_ips": [],
            "port_security_enabled": False,
        },
        rules=False,
    )
    return {
        "id": connection_id,
        "project_id": network.project_id,
        "l2_remote_gateway_id": gateway.id,
        "network_id": network.id,
        "segmentation_id": seg,
        "port_id": port.id,
    }


def _connection_deleted(txn: Transaction, connection: L2RemoteGatewayConnection) -> None:
    port = txn.current("ports").get(connection.port_id)
    if port is not None:
        ports.remove(txn, port)
    if connection.network_id in txn.current("networks"):
        _fit_mtu(txn, connection.network_id, leaving=connection.id)


def _view(connection: L2RemoteGatewayConnection, records) -> RemoteTunnelView:
    gateway = records("l2_remote_gateways")[connection.l2_remote_gateway_id]
    return RemoteTunnelView(
        id=connection.id,
        port_id=connection.port_id,
        network_id=connection.network_id,
        remote_ip=gateway.remote_ip,
        tunnel_type=gateway.tunnel_type,
        udp_port=gateway.udp_port,
        segmentation_id=connection.segmentation_id,
        remote_macs=connection.remote_macs,
    )


CONNECTIONS = schema.declare(
    schema.Resource(
        L2RemoteGatewayConnection,
        "l2_remote_gateway_connections",
        "l2_remote_gateway_connection",
        path="l2-remote-gateway-connections",
        not_found=lambda connection_id: errors.L2RemoteGatewayConnectionNotFound(id=connection_id),
        prepare=_prepare_connection,
        before_delete=_connection_deleted,
        view_reads=_view,
        quota=10,
    )
)


def _is_bridge_port(txn: Transaction, port) -> bool:
    return port.device_owner == L2_REMOTE_GATEWAY and port.device_id in txn.current(
        "l2_remote_gateway_connections"
    )


def _port_deleted(txn: Transaction, port) -> None:
    """A connection's port goes with the connection, not through the port API."""
    if _is_bridge_port(txn, port):
        raise errors.ServicePortInUse(
            port_id=port.id, reason=f"has device owner {port.device_owner}"
        )


def _port_updated(txn: Transaction, ctx: Context, port, values: Mapping) -> None:
    """What makes it the bridge device's port stays as the connection made it."""
    fixed = ("device_owner", "device_id", "port_security_enabled", "fixed_ips", "mac_address")
    changing = sorted(k for k in fixed if k in values and values[k] != getattr(port, k, None))
    if changing and _is_bridge_port(txn, port):
        raise errors.BadRequestMessage(
            msg=f"Port {port.id} is the bridge device of L2 remote gateway connection "
            f"{port.device_id}: its {', '.join(changing)} do not change"
        )


hooks.attach("ports", "before_delete", _port_deleted)
hooks.attach("ports", "before_update", _port_updated)
