"""The protocol block resource: its declaration and its one relational rule (a network never
has the same block twice; a block takes its network's project)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Integer, String

from naas_sdn.features.networking.networks import network_reference
from naas_sdn.model import errors, protocols, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import ProtocolBlockView
from naas_sdn.model.store import Transaction


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProtocolBlock(schema.Standard):
    key: int = field(BigInteger, unique=True, visible=False)  # a counter's: flow cookies
    network_id: str = network_reference(on_delete="CASCADE")
    protocol: str = field(String(40), post=True)  # as the API shows it: "udp" or "17"
    ethertype: str | None = field(String(8), nullable=True, post=True, default=None)  # None: both
    port_range_min: int | None = field(
        Integer, nullable=True, post=True, default=None, kind="integer"
    )
    port_range_max: int | None = field(
        Integer, nullable=True, post=True, default=None, kind="integer"
    )

    def identity(self) -> tuple:
        return _identity(
            self.network_id, self.ethertype, self.protocol, self.port_range_min, self.port_range_max
        )


def _identity(network_id, ethertype, protocol, low, high) -> tuple:
    return network_id, ethertype, protocols.number(protocol, ethertype), low, high


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """A block guards its network: it takes the network's project, and one network never has
    the same block twice."""
    net = txn.service.get_network(ctx, attrs["network_id"])
    if attrs.get("project_id") not in (None, net.project_id):
        raise errors.BadRequestMessage(msg="A protocol block belongs to its network's project")
    ethertype = protocols.parse_ethertype(attrs.get("ethertype"), allow_none=True)
    protocol = protocols.parse_protocol(attrs.get("protocol"), allow_any=False)
    low = protocols.port_value(attrs.get("port_range_min"))
    high = protocols.port_value(attrs.get("port_range_max"))
    protocols.check_port_range(protocol, low, high)
    protocols.check_ethertype(protocol, ethertype)
    wanted = _identity(net.id, ethertype, protocol, low, high)
    for other in txn.current("protocol_blocks").values():
        if other.identity() == wanted:
            raise errors.ProtocolBlockExists(block_id=other.id)
    return {
        "network_id": net.id,
        "project_id": net.project_id,
        "protocol": protocol,
        "ethertype": ethertype,
        "port_range_min": low,
        "port_range_max": high,
    }


def _view(block: ProtocolBlock) -> ProtocolBlockView:
    return ProtocolBlockView(
        id=block.id,
        key=block.key,
        network_id=block.network_id,
        protocol=protocols.number(block.protocol, block.ethertype),
        ethertype=block.ethertype,
        port_range_min=block.port_range_min,
        port_range_max=block.port_range_max,
    )


PROTOCOL_BLOCKS = schema.declare(
    schema.Resource(
        ProtocolBlock,
        "protocol_blocks",
        "protocol_block",
        path="protocol-blocks",
        not_found=lambda block_id: errors.ProtocolBlockNotFound(id=block_id),
        counter="protocol_block_key",
        view=_view,
        parent=schema.Parent("networks", "network_id"),
        prepare=_prepare,
        quota=50,
    )
)
