"""Address helpers shared by the compiler and the packet services (netaddr underneath)."""

from __future__ import annotations

import functools

import netaddr


@functools.lru_cache(maxsize=65536)
def link_local(mac: str) -> str:
    """The IPv6 link-local address a host derives from its MAC (EUI-64)."""
    return str(netaddr.EUI(mac).ipv6_link_local())


@functools.lru_cache(maxsize=65536)
def eui64(prefix: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in the /64 ``prefix``."""
    return str(netaddr.EUI(mac).ipv6(netaddr.IPNetwork(prefix).network))
