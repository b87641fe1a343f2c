"""Immutable view of the logical model handed to the flow compiler.

The service publishes a new snapshot after every committed change; the compiler and the
programmer never touch SQL, so they read a consistent model without locks.
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class NetworkView:
    """What the dataplane needs of a network."""

    id: str
    project_id: str
    key: int  # segmentation id: VLAN on fabric links and the pipeline's network key (1..4094)
    admin_state_up: bool


@dataclasses.dataclass(frozen=True)
class PortView:
    """What the dataplane needs of a port."""

    id: str
    network_id: str
    project_id: str
    key: int  # unique, stable integer naming the port in registers and cookies
    mac_address: str  # lower case, colon separated
    admin_state_up: bool


@dataclasses.dataclass(frozen=True)
class ModelSnapshot:
    """A consistent copy of every network and port, as of one committed revision."""

    networks: Mapping[str, NetworkView]
    ports: Mapping[str, PortView]
    revision: int = 0

    @classmethod
    def build(cls, networks, ports, revision=0):
        return cls(
            networks=MappingProxyType({n.id: n for n in networks}),
            ports=MappingProxyType({p.id: p for p in ports}),
            revision=revision,
        )

    def ports_of(self, network_id: str):
        return [p for p in self.ports.values() if p.network_id == network_id]


EMPTY = ModelSnapshot.build([], [])
