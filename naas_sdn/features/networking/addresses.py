"""A port's fixed IPs: which addresses it gets from its network's subnets (Neutron's IPAM
rules), and the rows that hold them (``ip_allocations``, whose primary key makes an address
impossible to hand out twice, whichever process writes).

Ownership is read from the service's committed mirror with what the running transaction took
and released laid over it (:class:`naas_sdn.model.allocation.Addresses`), one per transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Column, Integer, String, Table, delete, insert

from naas_sdn.model import db, errors, ipam
from naas_sdn.model.allocation import Addresses
from naas_sdn.model.common import Context
from naas_sdn.model.store import Transaction

IP_ALLOCATIONS = Table(
    "ip_allocations",
    db.metadata,
    # The primary key is what makes an address impossible to hand out twice, whichever process
    # writes; ``position`` keeps the port's fixed_ips in the order the API showed them.
    db.reference("subnet_id", "subnets.id", "RESTRICT", primary_key=True),
    Column("ip_address", String(64), primary_key=True),
    db.reference("port_id", "ports.id", "CASCADE", index=True),
    Column("position", Integer, nullable=False),
)

FixedIps = tuple[tuple[str, str], ...]  # (subnet id, ip address), in the API's order


def pool(txn: Transaction) -> Addresses:
    """The transaction's view of who owns which address."""
    memo = txn.changes.memo
    if "addresses" not in memo:
        memo["addresses"] = Addresses(txn.service.allocations)
    return memo["addresses"]


def holders(txn: Transaction, subnet_id: str) -> set[str]:
    """The ports holding a committed address of the subnet."""
    return set(txn.service.allocations.get(subnet_id, {}).values())


def write_fixed_ips(txn: Transaction, port_id: str, fixed_ips: FixedIps, replace: bool) -> None:
    """A port's allocation rows (the caller has taken and released the addresses)."""
    if replace:
        txn.conn.execute(delete(IP_ALLOCATIONS).where(IP_ALLOCATIONS.c.port_id == port_id))
    if fixed_ips:
        txn.conn.execute(
            insert(IP_ALLOCATIONS),
            [
                {"subnet_id": sid, "ip_address": ip, "port_id": port_id, "position": i}
                for i, (sid, ip) in enumerate(fixed_ips)
            ],
        )


def set_fixed_ips(txn: Transaction, port, fixed_ips: FixedIps):
    """Give a port new fixed IPs, its revision raised: a subnet's create or delete, or a
    router's interface, changes them outside the port's own update."""
    write_fixed_ips(txn, port.id, fixed_ips, replace=True)
    return txn.save("ports", port, {"fixed_ips": tuple(fixed_ips)})


def assign(
    txn: Transaction,
    ctx: Context,
    network_id: str,
    port_id: str,
    mac: str,
    device_owner: str,
    requested,
    original: FixedIps = (),
) -> FixedIps:
    """The fixed IPs a port gets, taking new addresses and releasing dropped ones.

    ``requested`` None: Neutron's default (one IPv4 address from the first IPv4 subnet with
    a free one, likewise one from a stateful/static IPv6 subnet). Otherwise a list of
    {"subnet_id"?, "ip_address"?}; on update an address the port has is kept, and a
    subnet-only entry reuses the port's address on that subnet. In every case the port
    gets its EUI-64 address on each SLAAC / DHCPv6-stateless subnet (not router or localnet
    ports).
    """
    addresses = pool(txn)
    subnets = network_subnets(txn, network_id)
    automatic = device_owner not in ipam.NO_AUTO_ADDRESS_OWNERS

    def auto(subnet):
        return subnet.auto_address and automatic

    unclaimed = list(original)
    result: list[tuple[str, str]] = []

    def claim(subnet_id, ip) -> bool:
        if (subnet_id, ip) in unclaimed:
            unclaimed.remove((subnet_id, ip))
            result.append((subnet_id, ip))
            return True
        return False

    def add_eui64(subnet) -> None:
        ip = ipam.eui64_address(subnet.cidr, mac)
        if (subnet.id, ip) in result:
            return
        if not claim(subnet.id, ip):
            addresses.take(subnet.id, ip, port_id, network_id)
            result.append((subnet.id, ip))

    if requested is None:
        for group in (
            [s for s in subnets if s.ip_version == 4],
            [s for s in subnets if s.ip_version == 6 and not s.auto_address],
        ):
            if not group:
                continue
            for subnet in group:
                ip = addresses.allocate(subnet, port_id)
                if ip is not None:
                    result.append((subnet.id, ip))
                    break
            else:
                raise errors.IpAddressGenerationFailureAllSubnets()
    else:
        if requested and not subnets:
            raise ipam.invalid_input("IP allocation requires subnets for network")
        for entry in requested:
            subnet = _subnet_for_fixed_ip(txn, ctx, network_id, entry, device_owner, subnets)
            ip = ipam.normalize_ip(entry["ip_address"]) if "ip_address" in entry else None
            if auto(subnet):
                eui = ipam.eui64_address(subnet.cidr, mac)
                if ip is not None and ip != eui and (subnet.id, ip) not in original:
                    raise errors.AllocationOnAutoAddressSubnet(
                        ip=entry["ip_address"], subnet_id=subnet.id
                    )
                add_eui64(subnet)  # from the port's (possibly new) MAC, in request order
                continue
            if ip is not None:
                if not claim(subnet.id, ip):
                    addresses.take(subnet.id, ip, port_id, network_id)
                    result.append((subnet.id, ip))
                continue
            mine = next((f for f in unclaimed if f[0] == subnet.id), None)
            if mine is not None:
                claim(*mine)
                continue
            ip = addresses.allocate(subnet, port_id)
            if ip is None:
                raise errors.IpAddressGenerationFailure(subnet_id=subnet.id)
            result.append((subnet.id, ip))
    for subnet in subnets:
        if auto(subnet):
            add_eui64(subnet)
    for subnet_id, ip in unclaimed:
        addresses.release(subnet_id, ip)
    return tuple(result)


def network_subnets(txn: Transaction, network_id: str) -> list:
    """The network's subnets as this transaction sees them, oldest first."""
    net = txn.get("networks", network_id)
    return [txn.get("subnets", i) for i in net.subnets] if net is not None else []


def _subnet_for_fixed_ip(
    txn: Transaction, ctx: Context, network_id: str, entry: Mapping, device_owner: str, subnets
):
    """Neutron's _get_subnet_for_fixed_ip: which subnet of the network an entry names."""
    if "subnet_id" in entry:
        subnet = next((s for s in subnets if s.id == entry["subnet_id"]), None)
        if subnet is None:
            other = txn.service.get_record(ctx, "subnets", entry["subnet_id"])  # 404 if unseen
            raise ipam.invalid_input(
                f"Failed to create port on network {other.network_id}, because fixed_ips "
                f"included invalid subnet {other.id}"
            )
        if "ip_address" in entry and not ipam.check_subnet_ip(
            subnet.cidr, entry["ip_address"], device_owner
        ):
            raise errors.InvalidIpForSubnet(ip_address=entry["ip_address"])
        return subnet
    if "ip_address" not in entry:
        raise ipam.invalid_input("IP allocation requires subnet_id or ip_address")
    for subnet in subnets:
        if ipam.check_subnet_ip(subnet.cidr, entry["ip_address"], device_owner):
            return subnet
    raise errors.InvalidIpForNetwork(ip_address=entry["ip_address"])
