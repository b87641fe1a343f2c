"""Which segmentation ids tenant networks get: Neutron's ``tenant_network_types`` and
``vni_ranges``, in one key space (a network's key is unique, whatever its type).

- ``vlan``: 1..4094, the ids a cable can carry as an 802.1Q tag;
- ``vxlan``: a 24-bit VNI from the operator's ranges; a network whose VNI is above 4094
  travels between switches in tunnels only.

A new network takes the first type in the list with a free id, the lowest free one.
"""

from __future__ import annotations

import dataclasses

VLAN, VXLAN = "vlan", "vxlan"
TYPES = (VLAN, VXLAN)
VLAN_RANGE = (1, 4094)
VNI_MAX = 0xFFFFFF
VALID = {VLAN: VLAN_RANGE, VXLAN: (1, VNI_MAX)}  # what an admin may name, whatever the ranges
ENCAPSULATION_OVERHEAD = {VLAN: 0, VXLAN: 50}  # outer Ethernet, IPv4, UDP and VXLAN headers


@dataclasses.dataclass(frozen=True)
class TenantSegments:
    types: tuple[str, ...] = (VLAN, VXLAN)
    vni_ranges: tuple[tuple[int, int], ...] = ((1, VNI_MAX),)
    physical_mtu: int = 1500

    def ranges(self, network_type: str) -> tuple[tuple[int, int], ...]:
        return (VLAN_RANGE,) if network_type == VLAN else self.vni_ranges

    def mtu(self, network_type: str) -> int:
        return self.physical_mtu - ENCAPSULATION_OVERHEAD[network_type]

    @classmethod
    def from_config(cls, types, vni_ranges, physical_mtu: int = 1500) -> TenantSegments:
        """From the options' strings; ValueError says what is wrong."""
        unknown = [t for t in types if t not in TYPES]
        if unknown or not types:
            raise ValueError(f"tenant_network_types: {unknown or 'none'}: choose from {TYPES}")
        parsed = []
        for text in vni_ranges:
            low, sep, high = text.partition(":")
            try:
                bounds = (int(low), int(high) if sep else int(low))
            except ValueError:
                raise ValueError(f"vni_ranges: '{text}' is not MIN:MAX") from None
            if not 1 <= bounds[0] <= bounds[1] <= VNI_MAX:
                raise ValueError(f"vni_ranges: '{text}' is not within 1:{VNI_MAX}")
            parsed.append(bounds)
        if VXLAN in types and not parsed:
            raise ValueError("vni_ranges: vxlan tenant networks need a range")
        return cls(tuple(types), tuple(parsed), physical_mtu)
