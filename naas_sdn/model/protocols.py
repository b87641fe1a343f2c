"""IP protocol, ethertype and port-range rules shared by security group rules and protocol blocks.

Neutron's conventions: a protocol is given by name (case-insensitive) or by number 0-255 and shown
as given (lower-case name, or the number as a string); the dataplane gets IANA numbers.
"""

from __future__ import annotations

from typing import Literal, overload

import netaddr

from naas_sdn.model import errors
from naas_sdn.model.common import parse_int

# neutron-lib's IP_PROTOCOL_MAP: every name the API accepts
PROTOCOLS = {
    "ah": 51,
    "dccp": 33,
    "egp": 8,
    "esp": 50,
    "gre": 47,
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "ipv6-encap": 41,
    "ipv6-frag": 44,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ipv6-route": 43,
    "ospf": 89,
    "pgm": 113,
    "rsvp": 46,
    "sctp": 132,
    "tcp": 6,
    "udp": 17,
    "udplite": 136,
    "vrrp": 112,
}
ANY = "any"
ICMP, IPV6_ICMP = 1, 58
PORT_PROTOCOLS = frozenset({6, 17, 132, 33, 136})  # tcp, udp, sctp, dccp, udplite
ETHERTYPES = ("IPv4", "IPv6")
PORT_MAX = 65535


@overload
def parse_protocol(value, allow_any: Literal[False]) -> str: ...
@overload
def parse_protocol(value, allow_any: bool = True) -> str | None: ...


def parse_protocol(value, allow_any: bool = True) -> str | None:
    """The protocol as the API shows it: a lower-case name, a number as a string, or None
    (any). Raises SecurityGroupRuleInvalidProtocol."""
    if allow_any and (value is None or (isinstance(value, str) and value.lower() == ANY)):
        return None
    number = parse_int(value)
    if number is not None:
        if 0 <= number <= 255:
            return str(number)
    elif isinstance(value, str) and value.lower() in PROTOCOLS:
        return value.lower()
    raise errors.SecurityGroupRuleInvalidProtocol(
        protocol=value, values=sorted(PROTOCOLS) + ([ANY] if allow_any else [])
    )


@overload
def number(protocol: str, ethertype: str | None = None) -> int: ...
@overload
def number(protocol: str | None, ethertype: str | None = None) -> int | None: ...


def number(protocol: str | None, ethertype: str | None = None) -> int | None:
    """The IANA number of a shown protocol; ICMP on IPv6 is ICMPv6 (58)."""
    if protocol is None:
        return None
    value = PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)
    if value == ICMP and ethertype == "IPv6":
        return IPV6_ICMP
    return value


@overload
def parse_ethertype(value, allow_none: Literal[False] = False) -> str: ...
@overload
def parse_ethertype(value, allow_none: bool) -> str | None: ...


def parse_ethertype(value, allow_none: bool = False) -> str | None:
    """ "IPv4" or "IPv6", matched case-insensitively (None only when allowed: both)."""
    if value is None and allow_none:
        return None
    for ethertype in ETHERTYPES:
        if isinstance(value, str) and value.lower() == ethertype.lower():
            return ethertype
    raise errors.SecurityGroupRuleInvalidEtherType(
        ethertype=value, values=list(ETHERTYPES) + ([None] if allow_none else [])
    )


def check_ethertype(protocol: str | None, ethertype: str | None) -> None:
    """ICMPv6 makes no sense over IPv4."""
    if ethertype == "IPv4" and protocol is not None and number(protocol) == IPV6_ICMP:
        raise errors.SecurityGroupEthertypeConflictWithProtocol(
            ethertype=ethertype, protocol=protocol
        )


def port_value(value) -> int | None:
    """None or an integer 0-65535 (strings of digits accepted, as Neutron converts them)."""
    if value is None:
        return None
    number = parse_int(value)
    if number is None or not 0 <= number <= PORT_MAX:
        raise errors.SecurityGroupInvalidPortValue(port=value)
    return number


def check_port_range(protocol: str | None, low: int | None, high: int | None) -> None:
    """Neutron's _validate_port_range: ports for tcp/udp/sctp/dccp/udplite (1-65535, both
    given, low <= high); ICMP type (min) and code (max) 0-255, a code needs a type; nothing
    for other protocols."""
    if low is None and high is None:
        return
    if protocol is None:
        raise errors.SecurityGroupProtocolRequiredWithPorts()
    value = number(protocol)
    if value in PORT_PROTOCOLS:
        if low == 0 or high == 0:
            raise errors.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise errors.SecurityGroupInvalidPortRange()
        return
    if value in (ICMP, IPV6_ICMP):
        for attr, field, given in (
            ("port_range_min", "type", low),
            ("port_range_max", "code", high),
        ):
            if given is not None and not 0 <= given <= 255:
                raise errors.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=given)
        if low is None:
            raise errors.SecurityGroupMissingIcmpType(value=high)
        return
    raise errors.SecurityGroupInvalidProtocolForPortRange(protocol=value)


def parse_prefix(value, ethertype: str) -> str | None:
    """A remote IP prefix as a normalized cidr ("10.0.0.5" -> "10.0.0.5/32", host bits
    cleared), of the rule's ethertype."""
    if value is None or value == "":
        return None
    address, _, length = value.partition("/") if isinstance(value, str) else ("", "", "")
    valid = netaddr.valid_ipv4(address, netaddr.INET_PTON) or netaddr.valid_ipv6(address)
    if not valid or (length and not length.isdigit()):
        raise errors.InvalidCIDR(input=value)
    try:
        cidr = netaddr.IPNetwork(value).cidr
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise errors.InvalidCIDR(input=value) from None
    if f"IPv{cidr.version}" != ethertype:
        raise errors.SecurityGroupRuleParameterConflict(ethertype=ethertype, cidr=value)
    return str(cidr)
