"""The ``network-ip-availability`` service plugin: Neutron's extension of that name
(neutron/db/network_ip_availability_db.py, neutron/services/network_ip_availability/plugin.py).

For each network, its subnets with ``total_ips``, the size of their allocation pools (a
subnet with no pool counts its whole CIDR, network and broadcast addresses included, as
Neutron does), and ``used_ips``, the addresses allocated to ports: every port's, routers'
interfaces and gateways, DHCP ports and floating IPs included. The network's numbers are its
subnets' sums. They are exact integers however large: the default pool of an IPv6 /64 holds
2**64 - 2 addresses, and Neutron reports that number, not a cap.

Counting costs the subnets, not the ports: the service keeps each subnet's allocated
addresses (:class:`naas_sdn.model.allocation.Owners`), and only their number is read.

As in Neutron, every network is computed and the policy decides what a caller sees
(``get_network_ip_availability``: admins and the service role): anyone else lists nothing and
is answered 404 on show. ``ip_version`` is a filter only, never shown: it keeps the subnets
of that version, and the networks that have one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import netaddr

from naas_sdn.model import errors
from naas_sdn.model.service import Context, NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_SERVICE, rule
from naas_sdn.northbound.resources import ResourceDef, refuse_change

PLUGIN = "network-ip-availability"

IP_AVAILABILITY_EXTENSIONS = (
    Extension(
        PLUGIN,
        "Network IP Availability",
        "Provides IP availability data for each network and subnet.",
        updated="2015-09-24T00:00:00-00:00",
    ),
)

IP_AVAILABILITY_RULES = (
    rule("get_network_ip_availability", ADMIN_OR_SERVICE, "Get network IP availability"),
)


def admin_or_service(ctx: Context, _record) -> bool:
    """The default rule's decision (ADMIN_OR_SERVICE), the same for every network: a list
    checks it once per network without evaluating the policy."""
    return bool({"admin", "service"} & set(ctx.roles))


@dataclasses.dataclass(frozen=True)
class SubnetUsage:
    """One subnet's addresses: how many its pools hold, how many ports have."""

    subnet: Any
    total_ips: int
    used_ips: int

    def to_wire(self) -> dict:
        return {
            "subnet_id": self.subnet.id,
            "subnet_name": self.subnet.name,
            "cidr": self.subnet.cidr,
            "ip_version": self.subnet.ip_version,
            "total_ips": self.total_ips,
            "used_ips": self.used_ips,
        }


@dataclasses.dataclass(frozen=True)
class NetworkUsage:
    """A network and the usage of the subnets counted for it."""

    network: Any
    subnets: tuple[SubnetUsage, ...]

    @property
    def total_ips(self) -> int:
        return sum(s.total_ips for s in self.subnets)

    @property
    def used_ips(self) -> int:
        return sum(s.used_ips for s in self.subnets)


def pool_size(subnet) -> int:
    """Neutron's total: the addresses of the subnet's allocation pools; with none, its CIDR."""
    if not subnet.allocation_pools:
        return netaddr.IPNetwork(subnet.cidr).size
    return sum(
        int(netaddr.IPAddress(last)) - int(netaddr.IPAddress(first)) + 1
        for first, last in subnet.allocation_pools
    )


class AvailabilityReader:
    """Every network's usage, from the committed model, whoever asks (the policy filters)."""

    def __init__(self, service: NetworkService):
        self.service = service

    def list(self, ctx: Context, ip_version: Collection[int] = ()) -> list[NetworkUsage]:
        """All networks; with ``ip_version``, only those subnets and the networks with one."""
        with self.service.lock:  # where the allocated addresses are kept, consistent
            networks = self.service.records("networks").values()
            usages = [self._usage(network, ip_version) for network in networks]
        return [u for u in usages if u.subnets or not ip_version]

    def get(self, ctx: Context, network_id: str) -> NetworkUsage:
        with self.service.lock:
            network = self.service.records("networks").get(network_id)
            if network is None:
                raise errors.NetworkNotFound(net_id=network_id)
            return self._usage(network)

    def _usage(self, network, versions: Collection[int] = ()) -> NetworkUsage:
        subnets = self.service.records("subnets")
        allocated = self.service.allocations
        counted = (subnets[i] for i in network.subnets)
        return NetworkUsage(
            network,
            tuple(
                SubnetUsage(s, pool_size(s), len(allocated.get(s.id, ())))
                for s in counted
                if not versions or s.ip_version in versions
            ),
        )


NETWORK_IP_AVAILABILITY = AttributeMap(
    (
        Attr("network_id", lambda r: r.network.id),  # the primary key, the one sort key
        Attr("network_name", lambda r: r.network.name, sort_key=False),
        Attr("project_id", lambda r: r.network.project_id, sort_key=False),
        Attr("tenant_id", lambda r: r.network.project_id, sort_key=False),
        Attr("total_ips", lambda r: r.total_ips, kind="other"),
        Attr("used_ips", lambda r: r.used_ips, kind="other"),
        Attr("subnet_ip_availability", lambda r: [s.to_wire() for s in r.subnets], kind="other"),
    )
)


def ip_availability_plugin(service: NetworkService) -> Plugin:
    reader = AvailabilityReader(service)
    resource = ResourceDef(
        collection="network_ip_availabilities",
        member="network_ip_availability",
        path="network-ip-availabilities",
        attributes=NETWORK_IP_AVAILABILITY,
        list=reader.list,
        get=reader.get,
        create=refuse_change,
        update=refuse_change,
        delete=refuse_change,
        not_found=lambda rid: errors.NetworkNotFound(net_id=rid),
        taggable=False,
        read_only=True,
        list_filters={"ip_version": a.query_integer},
        primary_key="network_id",
        default_visible=admin_or_service,
    )
    return Plugin(
        PLUGIN, (resource,), IP_AVAILABILITY_EXTENSIONS, policy_rules=IP_AVAILABILITY_RULES
    )
