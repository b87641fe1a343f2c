"""Subnets: the IPv4 and IPv6 prefixes of a network, with their pools, gateway, DNS, host
routes and (IPv6) address modes.

The API validated the syntax; the rules here are Neutron's relational ones: no overlap on one
network, a gateway inside the prefix and outside the pools, IPv6 modes that agree, and no
delete while a port holds an address (but automatic SLAAC and DHCP ports' ones). A SLAAC or
DHCPv6-stateless subnet gives every port already on the network its EUI-64 address.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import netaddr
from sqlalchemy import BigInteger, Boolean, Integer, String

from naas_sdn.model import db, errors, ipam, schema
from naas_sdn.model.common import Context, owner
from naas_sdn.model.schema import COMPUTED, field
from naas_sdn.model.snapshot import SubnetView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import addresses, subnetpools
from .networks import NETWORKS, network_reference
from .subnetpools import SUBNETPOOLS, SUBNETS_OF_POOL

DEFAULT_GATEWAY = object()  # create without "gateway_ip": the first host address


@dataclasses.dataclass(frozen=True, kw_only=True)
class Subnet(schema.Standard):
    # creation order (timestamps have one-second resolution): a network lists its subnets,
    # and tries them for default addresses, in this order
    seq: int = field(BigInteger, unique=True, visible=False)
    network_id: str = network_reference(on_delete="RESTRICT")
    ip_version: int = field(Integer, post=True, validate=a.ip_version, kind="integer")
    cidr: str = field(String(64), post=True, default=COMPUTED, validate=a.subnet_cidr)
    gateway_ip: str | None = field(
        String(64), nullable=True, post=True, put=True, default=COMPUTED, validate=a.ip_or_none
    )
    allocation_pools: tuple[tuple[str, str], ...] = schema.json_list(
        pairs=True,
        post=True,
        put=True,
        default=COMPUTED,
        validate=a.ip_pools,
        show=lambda s: [{"start": start, "end": end} for start, end in s.allocation_pools],
    )
    dns_nameservers: tuple[str, ...] = schema.json_list(
        pairs=False,
        post=True,
        put=True,
        default=[],
        validate=a.nameservers,
        show=lambda s: list(s.dns_nameservers),
    )
    host_routes: tuple[tuple[str, str], ...] = schema.json_list(
        pairs=True,
        post=True,
        put=True,
        default=[],
        validate=a.host_routes,
        show=lambda s: [{"destination": d, "nexthop": n} for d, n in s.host_routes],
    )
    enable_dhcp: bool = field(
        Boolean, post=True, put=True, default=True, validate=a.boolean, kind="boolean"
    )
    ipv6_ra_mode: str | None = field(
        String(16),
        nullable=True,
        post=True,
        default=None,
        validate=a.one_of_or_none(*ipam.IPV6_MODES),
    )
    ipv6_address_mode: str | None = field(
        String(16),
        nullable=True,
        post=True,
        default=None,
        validate=a.one_of_or_none(*ipam.IPV6_MODES),
    )

    # the pool its prefix was taken from (:mod:`.subnetpools`)
    subnetpool_id: str | None = field(
        String(db.UUID_LEN),
        nullable=True,
        foreign_key="subnetpools.id",
        on_delete="RESTRICT",
        index=True,
        post=True,
        default=None,
        validate=a.uuid_or_none,
    )

    @property
    def auto_address(self) -> bool:
        """SLAAC or DHCPv6-stateless: ports get their EUI-64 address, never a chosen one."""
        return ipam.is_auto_address(self.ip_version, self.ipv6_ra_mode, self.ipv6_address_mode)


def _pools(pools) -> list[tuple[str, str]]:
    return [(p["start"], p["end"]) if isinstance(p, Mapping) else tuple(p) for p in pools]


def _pool(txn: Transaction, ctx: Context, attrs: Mapping) -> subnetpools.SubnetPool | None:
    """The pool a new subnet's prefix comes from: the one it names, its IP version's default
    one (``use_default_subnetpool``), or none."""
    pool_id = attrs.get("subnetpool_id")
    use_default = attrs.get("use_default_subnetpool", False)
    if attrs.get("cidr") and attrs.get("prefixlen") is not None:
        raise errors.BadRequest(
            resource="subnets", msg="cidr and prefixlen must not be supplied together"
        )
    if pool_id and use_default:
        raise errors.BadRequest(
            resource="subnets",
            msg="subnetpool_id and use_default_subnetpool cannot both be specified",
        )
    if pool_id:
        pool = txn.service.get_record(ctx, SUBNETPOOLS.collection, pool_id)
        return txn.get(SUBNETPOOLS.collection, pool.id)
    if not use_default:
        return None
    cidr = attrs.get("cidr")
    ip_version = netaddr.IPNetwork(cidr).version if cidr else attrs["ip_version"]
    pool = subnetpools.default_pool(txn, ctx, ip_version)
    if pool is None:
        raise errors.BadRequest(
            resource="subnets", msg=f"No default subnetpool found for IPv{ip_version}"
        )
    return pool


def _from_pool(txn: Transaction, ctx: Context, attrs: Mapping, pool: subnetpools.SubnetPool) -> str:
    """The prefix the subnet takes from ``pool``: the ``cidr`` it asks for (or the one of
    ``prefixlen`` around its ``gateway_ip``), else any free one of ``prefixlen``."""
    cidr = attrs.get("cidr") or None
    if cidr is None and attrs.get("allocation_pools") not in (None, COMPUTED):
        raise errors.BadRequest(
            resource="subnets", msg="allocation_pools allowed only for specific subnet requests."
        )
    if attrs["ip_version"] != pool.ip_version:
        raise errors.BadRequest(
            resource="subnets",
            msg=f"Cannot allocate IPv{attrs['ip_version']} subnet from IPv{pool.ip_version} "
            f"subnet pool",
        )
    prefixlen = attrs.get("prefixlen")
    prefixlen = pool.default_prefixlen if prefixlen is None else prefixlen
    gateway = attrs.get("gateway_ip")
    if cidr is None and isinstance(gateway, str):
        cidr = f"{gateway}/{prefixlen}"
    if cidr is not None:
        cidr = str(netaddr.IPNetwork(cidr).cidr)
        prefixlen = netaddr.IPNetwork(cidr).prefixlen
    subnetpools.check_prefixlen(pool, prefixlen)
    held = SUBNETS_OF_POOL.in_transaction(txn, pool.id).values()
    if pool.default_quota:  # Neutron's: 0 sets no limit
        project_id = owner(ctx, attrs)
        used = sum(
            subnetpools.quota_units(pool.ip_version, netaddr.IPNetwork(s.cidr).prefixlen)
            for s in held
            if s.project_id == project_id
        )
        if used + subnetpools.quota_units(pool.ip_version, prefixlen) > pool.default_quota:
            raise errors.SubnetPoolQuotaExceeded()
    return subnetpools.allocate(pool, [s.cidr for s in held], cidr, prefixlen)


def _check_pool_affinity(
    txn: Transaction, net, ip_version: int, pool: subnetpools.SubnetPool | None
) -> None:
    """Neutron's: a network's subnets of one IP version come from one pool, or from pools
    of one address scope."""
    scope = subnetpools.network_address_scope(txn.get, net, ip_version)
    if scope is not None and (pool is None or pool.address_scope_id != scope):
        raise errors.NetworkAddressScopeAffinityError()
    for subnet in addresses.network_subnets(txn, net.id):
        if subnet.ip_version != ip_version:
            continue
        if pool is None and subnet.subnetpool_id is not None:
            raise errors.NetworkSubnetPoolAffinityError()
        if pool is not None and subnet.subnetpool_id != pool.id and scope is None:
            raise errors.NetworkSubnetPoolAffinityError()


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    # as this transaction sees it: with the subnets created before it in this request, or
    # itself made by it (an auto-allocated topology)
    net = txn.get("networks", attrs["network_id"])
    if net is None or not NETWORKS.is_visible(ctx, net, txn.service):
        raise errors.NetworkNotFound(net_id=attrs["network_id"])
    ip_version = attrs["ip_version"]
    pool = _pool(txn, ctx, attrs)
    if pool is None:
        if not attrs.get("cidr"):
            raise errors.BadRequest(
                resource="subnets", msg="a subnetpool must be specified in the absence of a cidr"
            )
        cidr = str(netaddr.IPNetwork(attrs["cidr"]).cidr)
    else:
        cidr = _from_pool(txn, ctx, attrs, pool)
    if netaddr.IPNetwork(cidr).prefixlen == 0:
        raise ipam.invalid_input("0 is not allowed as CIDR prefix length")
    ipam.check_ip_version(ip_version, cidr, "cidr")
    enable_dhcp = bool(attrs.get("enable_dhcp", True))
    if enable_dhcp:
        ipam.check_dhcp_prefix(cidr)
    _check_pool_affinity(txn, net, ip_version, pool)
    gateway = attrs.get("gateway_ip", DEFAULT_GATEWAY)
    if gateway is DEFAULT_GATEWAY or gateway is COMPUTED:
        gateway = ipam.default_gateway(cidr)
    elif gateway is not None:
        ipam.check_gateway(cidr, gateway, ip_version)
        gateway = ipam.normalize_ip(gateway)
    dns = tuple(ipam.normalize_ip(d) for d in attrs.get("dns_nameservers") or ())
    ipam.check_dns("new subnet", ip_version, dns)
    routes = ipam.normalize_routes(attrs.get("host_routes") or ())
    ipam.check_host_routes("new subnet", ip_version, routes)
    ra_mode, address_mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if ip_version == 4:
        for name, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
            if value is not None:
                raise ipam.invalid_input(f"{name} is not valid when ip_version is 4")
    else:
        ipam.check_ipv6_modes(cidr, ra_mode, address_mode, enable_dhcp)
    pools_given = attrs.get("allocation_pools")
    if pools_given is not None and pools_given is not COMPUTED:
        pools = ipam.validate_pools(_pools(pools_given), cidr, gateway)
    else:
        pools = ipam.generate_pools(cidr, gateway)
    siblings = addresses.network_subnets(txn, net.id)
    if any(ipam.cidrs_overlap(cidr, s.cidr) for s in siblings):
        # Neutron gives no detail of the other subnet, which may belong to someone else
        raise ipam.invalid_input(
            f"Requested subnet with cidr: {cidr} for network: {net.id} overlaps with another subnet"
        )
    return {
        "network_id": net.id,
        "ip_version": ip_version,
        "subnetpool_id": pool.id if pool is not None else None,
        "cidr": cidr,
        "gateway_ip": gateway,
        "enable_dhcp": enable_dhcp,
        "ipv6_ra_mode": ra_mode,
        "ipv6_address_mode": address_mode,
        "allocation_pools": tuple(pools),
        "dns_nameservers": dns,
        "host_routes": routes,
    }


def _after_create(txn: Transaction, ctx: Context, attrs: Mapping, subnet: Subnet) -> None:
    """Neutron adds a new SLAAC prefix to every port already on the network."""
    if subnet.auto_address:
        pool = addresses.pool(txn)
        for port in list(txn.current("ports").values()):
            if (
                port.network_id != subnet.network_id
                or port.device_owner in ipam.NO_AUTO_ADDRESS_OWNERS
            ):
                continue
            ip = ipam.eui64_address(subnet.cidr, port.mac_address)
            pool.take(subnet.id, ip, port.id, subnet.network_id)
            addresses.set_fixed_ips(txn, port, (*port.fixed_ips, (subnet.id, ip)))


def _before_update(txn: Transaction, ctx: Context, subnet: Subnet, values: dict) -> None:
    """Neutron's update rules; addresses already allocated stay, even outside new pools."""
    gateway = subnet.gateway_ip
    if "gateway_ip" in values:
        gateway = values["gateway_ip"]
        if gateway is not None:
            ipam.check_gateway(subnet.cidr, gateway, subnet.ip_version)
            gateway = ipam.normalize_ip(gateway)
        values["gateway_ip"] = gateway
    if values.get("allocation_pools") is not None:
        values["allocation_pools"] = tuple(
            ipam.validate_pools(_pools(values["allocation_pools"]), subnet.cidr, gateway)
        )
    else:
        values.pop("allocation_pools", None)
        if gateway is not None and gateway != subnet.gateway_ip:
            ipam.check_gateway_out_of_pools(gateway, subnet.allocation_pools)
    if "dns_nameservers" in values:
        dns = tuple(ipam.normalize_ip(d) for d in values["dns_nameservers"] or ())
        ipam.check_dns(subnet.id, subnet.ip_version, dns)
        values["dns_nameservers"] = dns
    if "host_routes" in values:
        routes = ipam.normalize_routes(values["host_routes"] or ())
        ipam.check_host_routes(subnet.id, subnet.ip_version, routes)
        values["host_routes"] = routes
    if "enable_dhcp" in values:
        enable = bool(values["enable_dhcp"])
        if enable and not subnet.enable_dhcp:
            ipam.check_dhcp_prefix(subnet.cidr)
        if not enable and (subnet.ipv6_ra_mode or subnet.ipv6_address_mode):
            raise ipam.invalid_input("Cannot disable enable_dhcp with ipv6 attributes set")
        values["enable_dhcp"] = enable


def _before_delete(txn: Transaction, subnet: Subnet) -> None:
    """Refused (SubnetInUse) while a port holds an address from it, except the automatic
    SLAAC addresses and DHCP ports' ones, which go with the subnet."""
    holders = {txn.get("ports", p) for p in addresses.holders(txn, subnet.id)} - {None}
    for port in holders:
        if subnet.auto_address:
            busy = port.device_owner in ipam.ROUTER_INTERFACE_OWNERS_SNAT
        else:
            busy = port.device_owner not in ipam.AUTO_DELETE_PORT_OWNERS
        if busy:
            raise errors.SubnetInUse(subnet_id=subnet.id)
    for port in sorted(holders, key=lambda p: p.id):
        addresses.set_fixed_ips(txn, port, tuple(f for f in port.fixed_ips if f[0] != subnet.id))


def _visible(ctx: Context, subnet: Subnet, model) -> bool:
    if ctx.is_admin or subnet.project_id == ctx.project_id:
        return True
    net = model.records("networks").get(subnet.network_id)
    return net is not None and NETWORKS.is_visible(ctx, net, model)


def _view(subnet: Subnet, records: Callable[[str], Mapping]) -> SubnetView:
    return SubnetView(
        id=subnet.id,
        network_id=subnet.network_id,
        project_id=subnet.project_id,
        ip_version=subnet.ip_version,
        cidr=subnet.cidr,
        gateway_ip=subnet.gateway_ip,
        enable_dhcp=subnet.enable_dhcp,
        dns_nameservers=subnet.dns_nameservers,
        host_routes=subnet.host_routes,
        ipv6_ra_mode=subnet.ipv6_ra_mode,
        ipv6_address_mode=subnet.ipv6_address_mode,
        mtu=records("networks")[subnet.network_id].mtu,
    )


SUBNETS = schema.declare(
    schema.Resource(
        Subnet,
        "subnets",
        "subnet",
        not_found=lambda subnet_id: errors.SubnetNotFound(subnet_id=subnet_id),
        counter="subnet_seq",
        counter_field="seq",
        view_reads=_view,
        parent=schema.Parent(
            "networks",
            "network_id",
            listed_in="subnets",
            order=lambda s: s.seq,
            listed_as=lambda s: s.id,
        ),
        prepare=_prepare,
        after_create=_after_create,
        before_update=_before_update,
        before_delete=_before_delete,
        visible=_visible,
        quota=100,
        # what a create asks of a subnet pool (default-subnetpools, subnet_allocation)
        requests=frozenset({"use_default_subnetpool", "prefixlen"}),
        virtual=(
            (
                "use_default_subnetpool",
                schema.Spec(
                    post=True, default=False, validate=a.boolean, kind="boolean", readable=False
                ),
            ),
            (
                "prefixlen",
                schema.Spec(
                    post=True, default=None, validate=a.non_negative, kind="integer", readable=False
                ),
            ),
            (
                "service_types",
                schema.Spec(
                    show=lambda s: [],
                    post=True,
                    put=True,
                    default=[],
                    validate=a.only_empty_list("subnet service types are not supported"),
                    kind="other",
                ),
            ),
            (
                "segment_id",
                schema.Spec(
                    show=lambda s: None,
                    post=True,
                    default=None,
                    validate=a.only_none(
                        "routed networks need the segments service plugin, which is not loaded"
                    ),
                ),
            ),
        ),
    )
)
