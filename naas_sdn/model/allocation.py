"""Who owns which address, and fresh MAC addresses: the allocation rules outside any resource.

Address ownership is read from the committed mirror (subnet id -> {ip: port id}) with what the
running transaction changed laid over it, so allocating never queries SQL; the mirror itself is
kept by :func:`owners_after`, from the ports a commit changed.
"""

from __future__ import annotations

import random
from collections.abc import Container, Mapping
from typing import Protocol

import netaddr

from naas_sdn.model import errors, ipam

MAC_PREFIX = (0xFA, 0x16, 0x3E)  # Neutron's default base_mac
MAC_ATTEMPTS = 16
_RANDOM = random.SystemRandom()


class PooledSubnet(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def network_id(self) -> str: ...
    @property
    def allocation_pools(self) -> tuple[tuple[str, str], ...]: ...


class AddressedPort(Protocol):
    @property
    def fixed_ips(self) -> tuple[tuple[str, str], ...]: ...  # (subnet id, ip address)
    @property
    def network_id(self) -> str: ...
    @property
    def mac_address(self) -> str: ...


class Owners(dict):
    """One subnet's committed addresses, ip -> port id, with the same addresses as integers
    and a low-water mark beside them (no pool address below ``low`` is free), kept as commits
    change the owners: allocating the lowest free address costs the same however many the
    subnet holds. Read and changed only under the service's write lock."""

    def __init__(self, owners: Mapping[str, str] | None = None):
        super().__init__(owners or {})
        self.used = {int(netaddr.IPAddress(ip)) for ip in self}
        self.low = 0

    def assign(self, ip: str, port_id: str) -> None:
        self[ip] = port_id
        value = int(netaddr.IPAddress(ip))
        self.used.add(value)
        while self.low in self.used:  # the mark moves past what is taken in order
            self.low += 1

    def drop(self, ip: str) -> None:
        if self.pop(ip, None) is not None:
            value = int(netaddr.IPAddress(ip))
            self.used.discard(value)
            self.low = min(self.low, value)

    def settle(self, pools) -> None:
        """Move the mark to the lowest free pool address (a fact of the committed owners)."""
        free = ipam.lowest_free(pools, self.used.__contains__, self.low)
        if free is not None:
            self.low = free


class Addresses:
    """Address ownership as committed (the mirror) plus what this transaction changed."""

    def __init__(self, committed: Mapping[str, Mapping[str, str]]):
        self._committed = committed  # subnet id -> {ip: port id}
        self._overlay: dict[str, dict[str, str | None]] = {}
        self._taken: dict[str, dict[int, bool]] = {}  # subnet id -> {address: taken now}

    def owner(self, subnet_id: str, ip: str) -> str | None:
        overlay = self._overlay.get(subnet_id, {})
        if ip in overlay:
            return overlay[ip]
        return self._committed.get(subnet_id, {}).get(ip)

    def take(self, subnet_id: str, ip: str, port_id: str, network_id: str) -> None:
        if self.owner(subnet_id, ip) is not None:
            raise errors.IpAddressInUse(net_id=network_id, ip_address=ip)
        self._overlay.setdefault(subnet_id, {})[ip] = port_id
        self._taken.setdefault(subnet_id, {})[int(netaddr.IPAddress(ip))] = True

    def release(self, subnet_id: str, ip: str) -> None:
        self._overlay.setdefault(subnet_id, {})[ip] = None
        self._taken.setdefault(subnet_id, {})[int(netaddr.IPAddress(ip))] = False

    def allocate(self, subnet: PooledSubnet, port_id: str) -> str | None:
        """Take the lowest free address of the subnet's pools; None when they are exhausted."""
        committed = self._committed.get(subnet.id, {})
        if not isinstance(committed, Owners):
            committed = Owners(committed)
        committed.settle(subnet.allocation_pools)
        mine = self._taken.get(subnet.id, {})
        start = min([committed.low, *(v for v, taken in mine.items() if not taken)])

        def taken(value: int) -> bool:
            now = mine.get(value)
            return value in committed.used if now is None else now

        free = ipam.lowest_free(subnet.allocation_pools, taken, start)
        if free is None:
            return None
        version = netaddr.IPAddress(subnet.allocation_pools[0][0]).version
        ip = str(netaddr.IPAddress(free, version))
        self.take(subnet.id, ip, port_id, subnet.network_id)
        return ip


def owners_after(
    owners: Mapping[str, Mapping[str, str]],
    ports: Mapping[str, AddressedPort],
    changed_ports: Mapping[str, AddressedPort | None],
    deleted_subnets=(),
) -> dict[str, Mapping[str, str]]:
    """The address owners once a commit has changed ``changed_ports`` (None: deleted) and
    deleted ``deleted_subnets``; ``ports`` are the ports as they were. The subnets' owners
    change in place (only the service's write lock reads them), as :class:`Owners`."""
    result = dict(owners)

    def owned(subnet_id) -> Owners:
        subnet = result.get(subnet_id)
        if not isinstance(subnet, Owners):
            subnet = result[subnet_id] = Owners(subnet)
        return subnet

    for port_id, port in changed_ports.items():
        old = ports.get(port_id)
        old_ips = set(old.fixed_ips) if old is not None else set()
        new_ips = set(port.fixed_ips) if port is not None else set()
        for subnet_id, ip in old_ips - new_ips:
            owned(subnet_id).drop(ip)
        for subnet_id, ip in new_ips - old_ips:
            owned(subnet_id).assign(ip, port_id)
    for subnet_id in deleted_subnets:
        result.pop(subnet_id, None)
    return result


class MacIndex:
    """The (network id, MAC) pairs the committed ports hold, kept as commits change ports, so
    a create checks and draws MACs without reading every port. Read and changed only under the
    service's write lock (its transactions, its apply)."""

    def __init__(self, ports: Mapping[str, AddressedPort] | None = None):
        self._count: dict[tuple[str, str], int] = {}
        self.changed({}, ports or {})

    def __contains__(self, pair) -> bool:
        return pair in self._count

    def changed(self, ports: Mapping, changed_ports: Mapping) -> None:
        """Follow a commit: ``ports`` as they were, ``changed_ports`` (None: deleted)."""
        for port_id, port in changed_ports.items():
            old = ports.get(port_id)
            if old is not None:
                key = (old.network_id, old.mac_address)
                left = self._count.get(key, 0) - 1
                if left > 0:
                    self._count[key] = left
                else:
                    self._count.pop(key, None)
            if port is not None:
                key = (port.network_id, port.mac_address)
                self._count[key] = self._count.get(key, 0) + 1


class TakenMacs:
    """The MACs taken as one transaction sees them: the committed index and its own."""

    def __init__(self, committed: MacIndex):
        self._committed = committed
        self._taken: set[tuple[str, str]] = set()

    def __contains__(self, pair) -> bool:
        return pair in self._taken or pair in self._committed

    def add(self, pair: tuple[str, str]) -> None:
        self._taken.add(pair)


def allocate_mac(
    network_id: str, macs: Container[tuple[str, str]], rng: random.Random = _RANDOM
) -> str:
    """Neutron's scheme: the base prefix plus random bytes, unique within the network.

    Args:
        macs: the (network id, mac) pairs already taken.
    Raises:
        MacAddressGenerationFailure: MAC_ATTEMPTS draws were all taken.
    """
    for _ in range(MAC_ATTEMPTS):
        tail = [rng.randrange(256) for _ in range(3)]
        mac = ":".join(f"{b:02x}" for b in (*MAC_PREFIX, *tail))
        if (network_id, mac) not in macs:
            return mac
    raise errors.MacAddressGenerationFailure(net_id=network_id)
