"""Who owns which address, and fresh MAC addresses: the allocation rules outside any resource.

Address ownership is read from the committed mirror (subnet id -> {ip: port id}) with what the
running transaction changed laid over it, so allocating never queries SQL; the mirror itself is
kept by :func:`owners_after`, from the ports a commit changed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
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


class Addresses:
    """Address ownership as committed (the mirror) plus what this transaction changed."""

    def __init__(self, committed: Mapping[str, Mapping[str, str]]):
        self._committed = committed  # subnet id -> {ip: port id}
        self._overlay: dict[str, dict[str, str | None]] = {}
        self._used: dict[str, set[int]] = {}

    def owner(self, subnet_id: str, ip: str) -> str | None:
        overlay = self._overlay.get(subnet_id, {})
        if ip in overlay:
            return overlay[ip]
        return self._committed.get(subnet_id, {}).get(ip)

    def take(self, subnet_id: str, ip: str, port_id: str, network_id: str) -> None:
        if self.owner(subnet_id, ip) is not None:
            raise errors.IpAddressInUse(net_id=network_id, ip_address=ip)
        self._overlay.setdefault(subnet_id, {})[ip] = port_id
        if subnet_id in self._used:
            self._used[subnet_id].add(int(netaddr.IPAddress(ip)))

    def release(self, subnet_id: str, ip: str) -> None:
        self._overlay.setdefault(subnet_id, {})[ip] = None
        if subnet_id in self._used:
            self._used[subnet_id].discard(int(netaddr.IPAddress(ip)))

    def allocate(self, subnet: PooledSubnet, port_id: str) -> str | None:
        """Take the lowest free address of the subnet's pools; None when they are exhausted."""
        used = self._used.get(subnet.id)
        if used is None:
            used = {int(netaddr.IPAddress(ip)) for ip in self._committed.get(subnet.id, {})}
            for ip, owner in self._overlay.get(subnet.id, {}).items():
                (used.add if owner else used.discard)(int(netaddr.IPAddress(ip)))
            self._used[subnet.id] = used
        free = ipam.first_free(subnet.allocation_pools, used)
        if free is not None:
            self.take(subnet.id, free, port_id, subnet.network_id)
        return free


def owners_after(
    owners: Mapping[str, Mapping[str, str]],
    ports: Mapping[str, AddressedPort],
    changed_ports: Mapping[str, AddressedPort | None],
    deleted_subnets=(),
) -> dict[str, Mapping[str, str]]:
    """The address owners once a commit has changed ``changed_ports`` (None: deleted) and
    deleted ``deleted_subnets``; ``ports`` are the ports as they were. Copy on write: only
    the subnets whose owners change are new dicts."""
    result = dict(owners)
    copied = set()

    def owned(subnet_id):
        if subnet_id not in copied:
            result[subnet_id] = dict(result.get(subnet_id, {}))
            copied.add(subnet_id)
        return result[subnet_id]

    for port_id, port in changed_ports.items():
        old = ports.get(port_id)
        old_ips = set(old.fixed_ips) if old is not None else set()
        new_ips = set(port.fixed_ips) if port is not None else set()
        for subnet_id, ip in old_ips - new_ips:
            owned(subnet_id).pop(ip, None)
        for subnet_id, ip in new_ips - old_ips:
            owned(subnet_id)[ip] = port_id
    for subnet_id in deleted_subnets:
        result.pop(subnet_id, None)
    return result


def allocate_mac(network_id: str, macs: set, rng: random.Random = _RANDOM) -> str:
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
