"""Provider networks: an admin's network on a physical network the operator cabled to the
fabric (Neutron's ``flat`` and ``vlan`` provider networks, ``provider:physical_network``).

The operator marks the switch interfaces that lead to a physical network with
``external_ids:naas-physnet=<name>`` (Neutron's ``bridge_mappings``, OVN's localnet ports).
A provider network has one port of its own, its *localnet* port (``network:localnet``), made
and deleted with it: the compiler binds it to the first such interface (the lowest switch,
then ofport) and treats it as a trusted port of the network there, untagged for a flat
network, tagged with the network's VLAN for a vlan one. Its frames travel in the fabric by
the network's own key, drawn like any tenant network's: the physical VLAN is spoken on the
physical network only, so it may equal a tenant network's key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from naas_sdn.model import derived, errors, hooks, schema, segments
from naas_sdn.model.common import Context
from naas_sdn.model.snapshot import LOCALNET, localnet_port_id
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

FLAT = "flat"
PHYSNET_LEN = 64  # neutron-lib's physical_network column
_PHYSNET = re.compile(r"^[A-Za-z0-9_.:-]+$")  # what an external_ids value and a flow note hold
# the provider networks on each physical network
_ON_PHYSNET = derived.Grouped(
    "networks", keys=lambda n: (n.physical_network,) if n.physical_network else ()
)


def physical_network_name(attr, value):
    if value is None:
        return None
    value = a.string(PHYSNET_LEN)(attr, value)
    if not _PHYSNET.match(value):
        raise a.invalid(attr, f"'{value}' is not a valid physical network name")
    return value


def physical_attributes(txn: Transaction, network_type, physical_network, segment) -> dict:
    """The physical side of a new network, checked as Neutron's type drivers check it: {}
    for a tenant network; else its type, physical network and VLAN there (unique on that
    physical network)."""
    if physical_network is None:
        if network_type == FLAT:
            raise errors.InvalidInput(
                error_message="physical_network required for flat provider network"
            )
        return {}
    if network_type is None:
        raise errors.InvalidInput(error_message="network_type required")
    if network_type not in (FLAT, segments.VLAN):
        raise errors.InvalidInput(
            error_message=f"provider:physical_network specified for {network_type.upper()} network"
        )
    if network_type == FLAT:
        if segment is not None:
            raise errors.InvalidInput(
                error_message="segmentation_id specified for flat provider network"
            )
    elif segment is None:
        raise errors.InvalidInput(
            error_message="segmentation_id required for VLAN provider network (no range of "
            "VLANs is allocated on physical networks)"
        )
    elif not segments.VLAN_RANGE[0] <= segment <= segments.VLAN_RANGE[1]:
        raise errors.InvalidInput(error_message="segmentation_id out of range (1 through 4094)")
    for other in _ON_PHYSNET.in_transaction(txn, physical_network).values():
        if network_type == FLAT and other.network_type == FLAT:
            raise errors.FlatNetworkInUse(physical_network=physical_network)
        if network_type != FLAT and other.physical_segment == segment:
            raise errors.VlanIdInUse(vlan_id=segment, physical_network=physical_network)
    return {
        "network_type": network_type,
        "physical_network": physical_network,
        "physical_segment": segment,
    }


def add_localnet_port(txn: Transaction, net) -> Any:
    """The provider network's localnet port, in the network's project: trusted (no port
    security, no groups, no address of its own)."""
    attrs: Mapping[str, Any] = {
        "id": localnet_port_id(net.id),
        "project_id": net.project_id,
        "network_id": net.id,
        "name": "localnet",
        "device_owner": LOCALNET,
        "device_id": net.id,
        "fixed_ips": [],
        # named: the network's own default is not set yet while it is being made
        "port_security_enabled": False,
    }
    return txn.create("ports", Context.admin(), attrs)


def _port_created(txn: Transaction, ctx: Context, attrs: Mapping) -> None:
    """Only a provider network has a localnet port, the one made with it."""
    if attrs.get("device_owner") == LOCALNET and attrs.get("id") != localnet_port_id(
        attrs.get("network_id", "")
    ):
        raise errors.InvalidInput(
            error_message=f"device_owner {LOCALNET} is a provider network's own port"
        )


def _port_updated(txn: Transaction, ctx: Context, port, values: Mapping) -> None:
    """What makes it the localnet port stays as its network made it."""
    fixed = ("device_owner", "device_id", "fixed_ips", "mac_address", "port_security_enabled")
    changing = sorted(k for k in fixed if k in values and values[k] != getattr(port, k, None))
    if port.device_owner == LOCALNET and changing:
        raise errors.BadRequestMessage(
            msg=f"Port {port.id} is the localnet port of provider network {port.network_id}: "
            f"its {', '.join(changing)} do not change"
        )
    if values.get("device_owner") == LOCALNET and port.device_owner != LOCALNET:
        raise errors.InvalidInput(
            error_message=f"device_owner {LOCALNET} is a provider network's own port"
        )


def _port_deleted(txn: Transaction, port) -> None:
    """The localnet port goes with its network, not through the port API."""
    if port.device_owner == LOCALNET:
        raise errors.ServicePortInUse(port_id=port.id, reason=f"has device owner {LOCALNET}")


def remove_localnet_port(txn: Transaction, port) -> None:
    """The network's delete takes its localnet port (the port's own rules would refuse)."""
    txn.service.delete_rows(txn, schema.DECLARED["ports"], [port], rules=False)


hooks.attach("ports", "before_create", _port_created)
hooks.attach("ports", "before_update", _port_updated)
hooks.attach("ports", "before_delete", _port_deleted)
