"""Neutron's address rules for subnets and ports: pure functions over netaddr, no SQL, no state.

The service calls these inside its write transaction; they raise the Neutron exception the API
reports, with Neutron's wording (neutron/db/ipam_backend_mixin.py, neutron/ipam/utils.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import netaddr

from naas_sdn.model import errors
from naas_sdn.model.snapshot import LOCALNET

SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS = "slaac", "dhcpv6-stateful", "dhcpv6-stateless"
IPV6_MODES = (SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS)
AUTO_ADDRESS_MODES = (SLAAC, DHCPV6_STATELESS)
MAX_DNS_NAMESERVERS = 5  # Neutron's max_dns_nameservers default
MAX_HOST_ROUTES = 20  # Neutron's max_subnet_host_routes default

DEVICE_OWNER_DHCP = "network:dhcp"
# Router ports take no automatic (EUI-64) address and may use a subnet's network address.
ROUTER_INTERFACE_OWNERS_SNAT = frozenset(
    {
        "network:router_interface",
        "network:ha_router_replicated_interface",
        "network:router_interface_distributed",
        "network:router_centralized_snat",
    }
)
ROUTER_PORT_OWNERS = ROUTER_INTERFACE_OWNERS_SNAT | {"network:router_gateway"}
# Ports with no automatic (EUI-64) address: routers', and a provider network's localnet port
# (the physical network's hosts are not ours to address).
NO_AUTO_ADDRESS_OWNERS = ROUTER_INTERFACE_OWNERS_SNAT | {LOCALNET}
# Ports Neutron deletes by itself: their addresses never keep a subnet in use.
AUTO_DELETE_PORT_OWNERS = frozenset(
    {
        DEVICE_OWNER_DHCP,
        "network:distributed",
        "network:floatingip_agent_gateway",
        "network:router_ha_interface",
    }
)


def invalid_input(message: str) -> errors.InvalidInput:
    return errors.InvalidInput(error_message=message)


def is_auto_address(ip_version: int, ra_mode: str | None, address_mode: str | None) -> bool:
    """SLAAC or DHCPv6-stateless: every port gets its EUI-64 address, none is chosen."""
    if ip_version != 6:
        return False
    if address_mode is not None:
        return address_mode in AUTO_ADDRESS_MODES
    return ra_mode in AUTO_ADDRESS_MODES


def eui64_address(cidr: str, mac: str) -> str:
    """The modified EUI-64 address of ``mac`` in the /64 ``cidr`` (RFC 4291, appendix A)."""
    return str(netaddr.EUI(mac).ipv6(netaddr.IPNetwork(cidr).first))


def normalize_ip(text: str) -> str:
    return str(netaddr.IPAddress(text, flags=netaddr.INET_PTON if "." in text else 0))


def check_subnet_ip(cidr: str, ip: str, device_owner: str = "") -> bool:
    """True if ``ip`` may be a port's address on ``cidr``: inside it, not the network address
    (except for router and DHCP ports on IPv6), and not the IPv4 broadcast."""
    address, net = netaddr.IPAddress(ip), netaddr.IPNetwork(cidr)
    if address.version != net.version or address not in net:
        return False
    if net.version == 6:
        return (
            address != net.network
            or device_owner in ROUTER_PORT_OWNERS
            or device_owner == DEVICE_OWNER_DHCP
        )
    return address not in (net.network, net.broadcast)


def default_gateway(cidr: str) -> str | None:
    net = netaddr.IPNetwork(cidr)
    if net.size < 2:
        return None
    return str(netaddr.IPAddress(net.first + 1, net.version))


def generate_pools(cidr: str, gateway_ip: str | None) -> list[tuple[str, str]]:
    """The whole cidr minus the network address, the IPv4 broadcast and the gateway."""
    net = netaddr.IPNetwork(cidr)
    first, last = net.first, net.last
    if first == last:
        return [(str(net.network), str(net.network))]
    first_ip, last_ip = first + 1, last - (net.version == 4)
    if first_ip >= last_ip:
        return []  # /31 (and /127): no usable range
    ipset = netaddr.IPSet(
        netaddr.IPRange(
            netaddr.IPAddress(first_ip, net.version), netaddr.IPAddress(last_ip, net.version)
        )
    )
    if gateway_ip:
        ipset.remove(netaddr.IPAddress(gateway_ip))
    return [
        (str(netaddr.IPAddress(r.first, net.version)), str(netaddr.IPAddress(r.last, net.version)))
        for r in ipset.iter_ipranges()
    ]


def _pool_text(start: str, end: str) -> str:
    return f"{start}-{end}"


def validate_pools(
    pools: Iterable[tuple[str, str]], cidr: str, gateway_ip: str | None
) -> list[tuple[str, str]]:
    """Check given pools as Neutron does; returns them normalized, sorted by start address."""
    net = netaddr.IPNetwork(cidr)
    first_ip, last_ip = net.first + 1, net.last - (net.version == 4)
    ranges = []
    for start, end in pools:
        try:
            rng = netaddr.IPRange(start, end)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise errors.InvalidAllocationPool(pool={"start": start, "end": end}) from None
        if (
            netaddr.IPAddress(start).version != net.version
            or netaddr.IPAddress(end).version != net.version
        ):
            raise errors.InvalidAllocationPool(pool=rng)
        if rng.first < first_ip or rng.last > last_ip:
            raise errors.OutOfBoundsAllocationPool(pool=rng, subnet_cidr=cidr)
        ranges.append(rng)
    for i, left in enumerate(ranges):
        for right in ranges[i + 1 :]:
            if left.first <= right.last and right.first <= left.last:
                raise errors.OverlappingAllocationPools(pool_1=left, pool_2=right, subnet_cidr=cidr)
    if gateway_ip:
        check_gateway_out_of_pools(gateway_ip, ranges)
    ranges.sort(key=lambda r: r.first)
    return [
        (str(netaddr.IPAddress(r.first, net.version)), str(netaddr.IPAddress(r.last, net.version)))
        for r in ranges
    ]


def check_gateway_out_of_pools(gateway_ip: str, pools) -> None:
    gateway = netaddr.IPAddress(gateway_ip)
    for pool in pools:
        rng = pool if isinstance(pool, netaddr.IPRange) else netaddr.IPRange(*pool)
        if gateway in rng:
            raise errors.GatewayConflictWithAllocationPools(pool=rng, ip_address=gateway_ip)


def check_ip_version(ip_version: int, addr: str, name: str) -> None:
    if netaddr.IPNetwork(addr).version != ip_version:
        raise invalid_input(f"{name} '{addr}' does not match the ip_version '{ip_version}'")


def check_gateway(cidr: str, gateway_ip: str, ip_version: int) -> None:
    """A gateway outside the cidr is allowed (an on-link router elsewhere), as in Neutron; inside
    it may be neither the IPv4 network nor the broadcast address."""
    check_ip_version(ip_version, gateway_ip, "gateway_ip")
    gateway, net = netaddr.IPAddress(gateway_ip), netaddr.IPNetwork(cidr)
    if gateway in net and net.version == 4 and gateway in (net.network, net.broadcast):
        raise invalid_input("Gateway is not valid on subnet")


def check_dhcp_prefix(cidr: str) -> None:
    """Neutron's limits on subnets served by DHCP."""
    net = netaddr.IPNetwork(cidr)
    if (net.version == 4 and net.prefixlen > 30) or (net.version == 6 and net.prefixlen > 126):
        raise invalid_input(
            "Subnet has a prefix length that is incompatible with DHCP service enabled"
        )
    if net.is_multicast():
        raise invalid_input("Multicast IP subnet is not supported if enable_dhcp is True")
    if net.is_loopback():
        raise invalid_input("Loopback IP subnet is not supported if enable_dhcp is True")
    if net.is_link_local():
        raise invalid_input("Link-local IP subnet is not supported if enable_dhcp is True")


def check_ipv6_modes(
    cidr: str, ra_mode: str | None, address_mode: str | None, enable_dhcp: bool
) -> None:
    if (ra_mode or address_mode) and not enable_dhcp:
        raise invalid_input(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
        )
    if ra_mode and address_mode and ra_mode != address_mode:
        raise invalid_input(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' is "
            f"not valid. If both attributes are set, they must be the same value"
        )
    if is_auto_address(6, ra_mode, address_mode) and netaddr.IPNetwork(cidr).prefixlen != 64:
        raise invalid_input(
            f"Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the "
            f"EUI-64 address format, which requires the prefix to be /64"
        )


def check_dns(subnet_id: str, ip_version: int, nameservers: Sequence[str]) -> None:
    if len(nameservers) > MAX_DNS_NAMESERVERS:
        raise errors.DNSNameServersExhausted(subnet_id=subnet_id, quota=MAX_DNS_NAMESERVERS)
    for dns in nameservers:
        check_ip_version(ip_version, dns, "dns_nameserver")


def normalize_routes(routes) -> tuple[tuple[str, str], ...]:
    """Routes ({"destination", "nexthop"} or pairs) as canonical (cidr, ip) pairs."""
    result = []
    for route in routes:
        destination, nexthop = (
            (route["destination"], route["nexthop"]) if isinstance(route, Mapping) else route
        )
        try:
            result.append((str(netaddr.IPNetwork(destination).cidr), normalize_ip(nexthop)))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise invalid_input(
                f"Invalid route: {{'destination': '{destination}', 'nexthop': '{nexthop}'}}"
            ) from None
    return tuple(result)


def check_host_routes(subnet_id: str, ip_version: int, routes) -> None:
    if len(routes) > MAX_HOST_ROUTES:
        raise errors.HostRoutesExhausted(subnet_id=subnet_id, quota=MAX_HOST_ROUTES)
    for destination, nexthop in routes:
        check_ip_version(ip_version, nexthop, "nexthop")
        check_ip_version(ip_version, destination, "destination")


def cidrs_overlap(a: str, b: str) -> bool:
    left, right = netaddr.IPNetwork(a), netaddr.IPNetwork(b)
    return left.version == right.version and left.first <= right.last and right.first <= left.last


def lowest_free(
    pools: Iterable[tuple[str, str]], taken: Callable[[int], bool], start: int = 0
) -> int | None:
    """The lowest address of the pools (in order), at or above ``start``, that is not
    ``taken``; None when every one is."""
    for first, last in pools:
        value, high = max(int(netaddr.IPAddress(first)), start), int(netaddr.IPAddress(last))
        while value <= high:
            if not taken(value):
                return value
            value += 1
    return None
