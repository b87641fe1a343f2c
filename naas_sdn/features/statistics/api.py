"""The ``statistics`` service plugin: read-only traffic counters, extension ``statistics``.

Four collections, each filterable, sortable and pageable like any other:
``/v2.0/network-statistics`` (a network's ports together), ``/v2.0/port-statistics``,
``/v2.0/vif-statistics`` (the interface bound to a port) and ``/v2.0/ip-statistics`` (one
fixed IP of a port). Body keys are ``network_statistics`` etc., for a member as for the list
("statistics" has no singular).

The poller fills the statistics store (:mod:`.store`) once per round; this
module only reads it and the model's in-memory mirror: no SQL, however many ports are listed.
Traffic is its owner's business alone: a network's counters are visible to the network's
project and admins, never to the other projects a shared network serves; a port's (and its
VIF's and addresses') to the port's project and admins, not to the network's owner. An
object one may not see this way is not found, exactly like one that does not exist.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Mapping

import netaddr

from naas_sdn.features.statistics.store import TRAFFIC, VIF_ERRORS, StatisticsStore, ip_object
from naas_sdn.model import errors
from naas_sdn.model.common import format_time
from naas_sdn.model.service import Context, NetworkService
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_OWNER, rule
from naas_sdn.northbound.resources import ResourceDef, read_only

# ip-statistics ids: uuid5(IP_NAMESPACE, "<port id>/<address>"), stable across restarts
IP_NAMESPACE = uuid.UUID("1687a31a-4d36-49eb-b635-89eb6b8ea04d")

STATISTICS_EXTENSIONS = (
    Extension(
        "statistics",
        "Traffic statistics",
        "Read-only packet and byte counters, received and sent, of networks, ports, "
        "VIFs and fixed IP addresses, with packets dropped by policy; visible to the "
        "owning project and admins.",
        updated="2025-07-01T00:00:00-00:00",
    ),
)


@dataclasses.dataclass(frozen=True)
class Counted:
    """One counted object: ``subject`` is the Network or Port, ``traffic`` what the store
    says of it; ``address``: (subnet id, ip) for an ip-statistics entry."""

    id: str
    subject: object
    traffic: Mapping
    address: tuple[str, str] | None = None


def ip_statistics_id(port_id: str, ip: str) -> str:
    return str(uuid.uuid5(IP_NAMESPACE, ip_object(port_id, ip)))


def _owns(ctx: Context, subject) -> bool:
    return ctx.is_admin or subject.project_id == ctx.project_id


def _time(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # a VIF's attached_at is kept as an ISO string
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_time(value)


# ------------------------------------------------------------------------ attribute maps
def _counters(names) -> tuple[Attr, ...]:
    return tuple(Attr(name, _counter(name), kind="integer") for name in names)


def _counter(name: str) -> Callable[[Counted], int]:
    return lambda counted: counted.traffic[name]


def _owner_attrs(network_id=lambda r: r.subject.network_id) -> tuple[Attr, ...]:
    return (
        Attr("network_id", network_id),
        Attr("project_id", lambda r: r.subject.project_id),
        Attr("tenant_id", lambda r: r.subject.project_id),
    )


_UPDATED = Attr("updated_at", lambda r: _time(r.traffic["updated_at"]))
_DROPPED = Attr("dropped", lambda r: r.traffic["dropped"], kind="other")

NETWORK_STATISTICS = AttributeMap(
    (Attr("id", lambda r: r.id),)
    + _owner_attrs(lambda r: r.id)
    + _counters(TRAFFIC)
    + (_DROPPED, _UPDATED)
)


def _port_entry(own: tuple[Attr, ...], counters: tuple[str, ...], tail) -> AttributeMap:
    """A port's (or its VIF's) entry: its id, as the port's too, its owners, what is its own,
    its counters."""
    return AttributeMap(
        (Attr("id", lambda r: r.id), Attr("port_id", lambda r: r.id))
        + _owner_attrs()
        + own
        + _counters(counters)
        + tail
    )


PORT_STATISTICS = _port_entry(
    (
        Attr("device_id", lambda r: r.subject.device_id),
        Attr("device_owner", lambda r: r.subject.device_owner),
    ),
    TRAFFIC,
    (_DROPPED, _UPDATED),
)

VIF_STATISTICS = _port_entry(
    (
        Attr("name", lambda r: r.traffic["name"]),
        Attr("switch_id", lambda r: r.traffic["switch_id"]),
        Attr("ofport", lambda r: r.traffic["ofport"], kind="integer"),
        Attr("attached_at", lambda r: _time(r.traffic["attached_at"])),
    ),
    TRAFFIC + VIF_ERRORS,
    (_UPDATED,),
)

IP_STATISTICS = AttributeMap(
    (
        Attr("id", lambda r: r.id),
        Attr("ip_address", lambda r: r.address[1]),
        Attr("subnet_id", lambda r: r.address[0]),
        Attr("port_id", lambda r: r.subject.id),
    )
    + _owner_attrs()
    + (Attr("ip_version", lambda r: netaddr.IPAddress(r.address[1]).version, kind="integer"),)
    + _counters(TRAFFIC)
    + (_UPDATED,)
)


# --------------------------------------------------------------------------- the readers
class StatisticsReader:
    """What each collection lists and shows, with the visibility rules above."""

    def __init__(self, service: NetworkService):
        self.service = service
        self.store = StatisticsStore.of(service)

    def _networks(self, ctx: Context):
        return [n for n in self.service.list_networks(ctx) if _owns(ctx, n)]

    def _ports(self, ctx: Context):
        return [p for p in self.service.list_ports(ctx) if _owns(ctx, p)]

    def _port(self, ctx: Context, port_id: str):
        port = self.service.get_port(ctx, port_id)  # PortNotFound when invisible
        if not _owns(ctx, port):  # the network's owner sees the port, not its traffic
            raise errors.PortNotFound(port_id=port_id)
        return port

    # networks
    def list_networks(self, ctx: Context) -> list[Counted]:
        return [Counted(n.id, n, self.store.traffic("network", n.id)) for n in self._networks(ctx)]

    def get_network(self, ctx: Context, network_id: str) -> Counted:
        net = self.service.get_network(ctx, network_id)
        if not _owns(ctx, net):  # shared with this project: its traffic is not
            raise errors.NetworkNotFound(net_id=network_id)
        return Counted(net.id, net, self.store.traffic("network", net.id))

    # ports
    def list_ports(self, ctx: Context) -> list[Counted]:
        return [Counted(p.id, p, self.store.traffic("port", p.id)) for p in self._ports(ctx)]

    def get_port(self, ctx: Context, port_id: str) -> Counted:
        port = self._port(ctx, port_id)
        return Counted(port.id, port, self.store.traffic("port", port.id))

    # VIFs: only ports whose interface has been seen and counted
    def list_vifs(self, ctx: Context) -> list[Counted]:
        counted = ((p, self.store.traffic("vif", p.id)) for p in self._ports(ctx))
        return [Counted(p.id, p, vif) for p, vif in counted if vif is not None]

    def get_vif(self, ctx: Context, port_id: str) -> Counted:
        port = self._port(ctx, port_id)
        vif = self.store.traffic("vif", port.id)
        if vif is None:
            raise errors.VifStatisticsNotFound(port_id=port_id)
        return Counted(port.id, port, vif)

    # fixed IPs: one entry per (port, address), following the port's fixed_ips
    def list_ips(self, ctx: Context) -> list[Counted]:
        return [
            self._ip(port, subnet_id, ip)
            for port in self._ports(ctx)
            for subnet_id, ip in port.fixed_ips
        ]

    def get_ip(self, ctx: Context, entry_id: str) -> Counted:
        for port in self._ports(ctx):
            for subnet_id, ip in port.fixed_ips:
                if ip_statistics_id(port.id, ip) == entry_id:
                    return self._ip(port, subnet_id, ip)
        raise errors.IpStatisticsNotFound(id=entry_id)

    def _ip(self, port, subnet_id: str, ip: str) -> Counted:
        return Counted(
            ip_statistics_id(port.id, ip),
            port,
            self.store.traffic("ip", ip_object(port.id, ip)),
            (subnet_id, ip),
        )


def _collection(name: str, attributes: AttributeMap, list_, get, not_found) -> ResourceDef:
    return read_only(name, name, attributes, list_, get, not_found)


def statistics_plugin(service: NetworkService) -> Plugin:
    reader = StatisticsReader(service)
    return Plugin(
        "statistics",
        (
            _collection(
                "network_statistics",
                NETWORK_STATISTICS,
                reader.list_networks,
                reader.get_network,
                lambda rid: errors.NetworkNotFound(net_id=rid),
            ),
            _collection(
                "port_statistics",
                PORT_STATISTICS,
                reader.list_ports,
                reader.get_port,
                lambda rid: errors.PortNotFound(port_id=rid),
            ),
            _collection(
                "vif_statistics",
                VIF_STATISTICS,
                reader.list_vifs,
                reader.get_vif,
                lambda rid: errors.PortNotFound(port_id=rid),
            ),
            _collection(
                "ip_statistics",
                IP_STATISTICS,
                reader.list_ips,
                reader.get_ip,
                lambda rid: errors.IpStatisticsNotFound(id=rid),
            ),
        ),
        STATISTICS_EXTENSIONS,
        policy_rules=STATISTICS_RULES,
    )


# Traffic is its owner's alone: never the projects a shared network serves.
STATISTICS_RULES = tuple(
    rule(f"get_{name}", ADMIN_OR_OWNER, f"Show the {name.replace('_', ' ')} of an object")
    for name in ("network_statistics", "port_statistics", "vif_statistics", "ip_statistics")
)
