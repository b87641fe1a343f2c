"""What a plugin is: the API resources, extensions and policy rules it brings.

A leaf module, so that the plugin registry and the plugins themselves import it without
importing each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from naas_sdn.northbound.resources import ResourceDef


@dataclasses.dataclass(frozen=True)
class Extension:
    """An API extension as ``/v2.0/extensions`` lists it."""

    alias: str
    name: str
    description: str
    updated: str = "2025-01-01T00:00:00-00:00"

    def to_wire(self) -> dict:
        return {
            "alias": self.alias,
            "name": self.name,
            "description": self.description,
            "updated": self.updated,
            "links": [],
        }


@dataclasses.dataclass(frozen=True)
class Plugin:
    name: str
    resources: tuple[ResourceDef, ...] = ()
    extensions: tuple[Extension, ...] = ()
    # attributes the plugin adds to other plugins' resources: collection -> attributes
    attribute_extensions: Mapping[str, tuple] = dataclasses.field(default_factory=dict)
    # oslo.policy defaults (RuleDefault) for the plugin's resources, attributes and actions
    policy_rules: tuple = ()
    # the object types of its resources that projects may share (RBAC policies' object_type)
    shareable: tuple[str, ...] = ()
