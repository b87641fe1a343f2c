"""The ``protocol-block`` service plugin: /v2.0/protocol-blocks (our Neutron-style extension
``protocol-blocks``), its policy rules and extension."""

from __future__ import annotations

from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_NET_OWNER, crud
from naas_sdn.northbound.resources import declared_resource

from .resource import PROTOCOL_BLOCKS

BLOCK_EXTENSIONS = (
    Extension(
        "protocol-blocks",
        "Network protocol blocks",
        "Bars one IP protocol (optionally one ethertype and destination port range) from "
        "and to every port of a network, present and future.",
        updated="2025-06-01T00:00:00-00:00",
    ),
)

# A block guards a whole network: its owner (or an admin) sets one, never a project the
# network is shared with.
BLOCK_RULES = crud("protocol_block", create=ADMIN_OR_NET_OWNER)


def protocol_block_plugin(service) -> Plugin:
    return Plugin(
        "protocol-block",
        (declared_resource(service, PROTOCOL_BLOCKS),),
        BLOCK_EXTENSIONS,
        policy_rules=BLOCK_RULES,
    )
