"""The ``protocol-block`` service plugin: /v2.0/protocol-blocks, our Neutron-style extension
(alias ``protocol-blocks``) barring one protocol from and to every port of a network.

Body keys ``protocol_block`` / ``protocol_blocks``; protocol, ethertype and port ranges follow
security group rules' syntax and errors (but a block names a protocol: never "any"). Only the
network's owner or an admin creates one; only name and description change afterwards.
"""
from __future__ import annotations

from naas_sdn.model import errors
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.plugins import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_NET_OWNER, crud
from naas_sdn.northbound.resources import ResourceDef, _standard

BLOCK_ATTRIBUTES = AttributeMap(_standard() + (
    Attr("network_id", lambda r: r.network_id, True, False, a.MISSING, a.uuid_string,
         "network_id"),
    Attr("protocol", lambda r: r.protocol, True, False, a.MISSING, None, "protocol"),
    Attr("ethertype", lambda r: r.ethertype, True, False, None, None, "ethertype"),
    Attr("port_range_min", lambda r: r.port_range_min, True, False, None, None,
         "port_range_min", kind="integer"),
    Attr("port_range_max", lambda r: r.port_range_max, True, False, None, None,
         "port_range_max", kind="integer"),
))

BLOCK_EXTENSIONS = (
    Extension("protocol-blocks", "Network protocol blocks",
              "Bars one IP protocol (optionally one ethertype and destination port range) from "
              "and to every port of a network, present and future.",
              updated="2025-06-01T00:00:00-00:00"),
)


def protocol_block_plugin(service: NetworkService) -> Plugin:
    blocks = ResourceDef(
        collection="protocol_blocks", member="protocol_block", path="protocol-blocks",
        attributes=BLOCK_ATTRIBUTES, list=service.list_protocol_blocks,
        get=service.get_protocol_block, create=service.create_protocol_blocks,
        update=service.update_protocol_block, delete=service.delete_protocol_block,
        not_found=lambda rid: errors.ProtocolBlockNotFound(id=rid))
    return Plugin("protocol-block", (blocks,), BLOCK_EXTENSIONS, policy_rules=BLOCK_RULES)


# A block guards a whole network: its owner (or an admin) sets one, never a project the
# network is shared with.
BLOCK_RULES = crud("protocol_block", create=ADMIN_OR_NET_OWNER)
