"""Network-wide protocol blocks (our ``protocol-blocks`` extension): one protocol, optionally
one ethertype and destination port range, barred from and to every port of a network, present
and future.

Only the network's owner (or an admin) manages them; a block belongs to the network's project
and goes with the network. A mixin of the network service.
"""
from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select

from naas_sdn.model import db, errors, protocols
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    next_counter,
    norm_tags,
    update_row,
    utcnow,
    write_tags,
)
from naas_sdn.model.snapshot import ProtocolBlockView

BLOCK_UPDATABLE = frozenset({"name", "description"})

if TYPE_CHECKING:
    from naas_sdn.model.service import Network


@dataclasses.dataclass(frozen=True)
class ProtocolBlock:
    id: str
    key: int
    network_id: str
    project_id: str
    name: str
    description: str
    protocol: str  # as shown: "udp" or "17"
    ethertype: str | None  # None: IPv4 and IPv6
    port_range_min: int | None
    port_range_max: int | None
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()

    def identity(self) -> tuple:
        return (self.network_id, self.ethertype, protocols.number(self.protocol, self.ethertype),
                self.port_range_min, self.port_range_max)


class ProtocolBlockMixin:
    _protocol_blocks: Mapping[str, ProtocolBlock]
    # NetworkService's, of which this mixin is a part
    _changing_network: Callable[..., Network]
    _write: Callable[..., Any]
    _enforce_quota: Callable[..., None]

    def list_protocol_blocks(self, ctx: Context) -> list[ProtocolBlock]:
        return [b for b in self._protocol_blocks.values() if _visible(ctx, b)]

    def get_protocol_block(self, ctx: Context, block_id: str) -> ProtocolBlock:
        block = self._protocol_blocks.get(block_id)
        if block is None or not _visible(ctx, block):
            raise errors.ProtocolBlockNotFound(id=block_id)
        return block

    def create_protocol_block(self, ctx: Context, attrs: Mapping) -> ProtocolBlock:
        return self.create_protocol_blocks(ctx, [attrs])[0]

    def create_protocol_blocks(self, ctx: Context, items: Iterable[Mapping]) -> list:
        """Create blocks, all or none.

        ``attrs`` keys: network_id, protocol (required; a name or number, not "any");
        ethertype ("IPv4", "IPv6" or None for both), port_range_min, port_range_max (tcp, udp,
        sctp, dccp, udplite), name, description, project_id (the network's), tags.
        """
        items = list(items)

        def work(conn, changes):
            created = []
            for attrs in items:
                net = self._changing_network(ctx, attrs["network_id"], None)
                if attrs.get("project_id") not in (None, net.project_id):
                    raise errors.BadRequestMessage(
                        msg="A protocol block belongs to its network's project")
                block = self._insert_block(conn, net, attrs)
                for other in {**self._protocol_blocks, **changes.protocol_blocks}.values():
                    if other is not None and other.identity() == block.identity():
                        raise errors.ProtocolBlockExists(block_id=other.id)
                changes.protocol_blocks[block.id] = block
                created.append(block)
            self._enforce_quota(conn, "protocol_block", (b.project_id for b in created))
            return created
        return self._write(work)

    def _insert_block(self, conn, net, attrs: Mapping) -> ProtocolBlock:
        ethertype = protocols.parse_ethertype(attrs.get("ethertype"), allow_none=True)
        protocol = protocols.parse_protocol(attrs.get("protocol"), allow_any=False)
        low = protocols.port_value(attrs.get("port_range_min"))
        high = protocols.port_value(attrs.get("port_range_max"))
        protocols.check_port_range(protocol, low, high)
        protocols.check_ethertype(protocol, ethertype)
        now = utcnow()
        block = ProtocolBlock(
            id=str(uuid.uuid4()), key=next_counter(conn, "protocol_block_key"),
            network_id=net.id, project_id=net.project_id, name=attrs.get("name", ""),
            description=attrs.get("description", ""), protocol=protocol, ethertype=ethertype,
            port_range_min=low, port_range_max=high, revision_number=1, created_at=now,
            updated_at=now, tags=norm_tags(attrs.get("tags", ())))
        conn.execute(insert(db.protocol_blocks).values(
            {c: getattr(block, c) for c in db.protocol_blocks.c.keys()}))
        write_tags(conn, "protocol_blocks", block.id, block.tags)
        return block

    def update_protocol_block(self, ctx: Context, block_id: str, attrs: Mapping,
                              if_revision: int | None = None) -> ProtocolBlock:
        """Only name and description change: a different block is a new block."""
        check_updatable(attrs, BLOCK_UPDATABLE)

        def work(conn, changes):
            block = self.get_protocol_block(ctx, block_id)
            check_revision(block.revision_number, if_revision)
            values = {k: v for k, v in attrs.items() if getattr(block, k) != v}
            if not values:
                return block
            new = bump(block, **values)
            update_row(conn, db.protocol_blocks, new, values)
            changes.protocol_blocks[new.id] = new
            return new
        return self._write(work)

    def delete_protocol_block(self, ctx: Context, block_id: str,
                              if_revision: int | None = None) -> None:
        def work(conn, changes):
            block = self.get_protocol_block(ctx, block_id)
            check_revision(block.revision_number, if_revision)
            _delete_blocks(conn, changes, [block_id])
        self._write(work)

    def _delete_network_blocks(self, conn, changes: Changes, network_id: str) -> None:
        _delete_blocks(conn, changes, [b.id for b in self._protocol_blocks.values()
                                       if b.network_id == network_id])


def _delete_blocks(conn, changes: Changes, block_ids: list[str]) -> None:
    if not block_ids:
        return
    conn.execute(delete(db.tags).where(db.tags.c.resource_type == "protocol_blocks",
                                       db.tags.c.resource_id.in_(block_ids)))
    conn.execute(delete(db.protocol_blocks).where(db.protocol_blocks.c.id.in_(block_ids)))
    for block_id in block_ids:
        changes.protocol_blocks[block_id] = None


def _visible(ctx: Context, block: ProtocolBlock) -> bool:
    return ctx.is_admin or block.project_id == ctx.project_id


def load_protocol_blocks(conn, tags: Mapping) -> dict[str, ProtocolBlock]:
    table = db.protocol_blocks
    return {row.id: ProtocolBlock(**{c: getattr(row, c) for c in table.c.keys()},
                                  tags=tags.get(("protocol_blocks", row.id), ()))
            for row in conn.execute(select(table).order_by(table.c.key))}


def protocol_block_view(block: ProtocolBlock) -> ProtocolBlockView:
    return ProtocolBlockView(id=block.id, key=block.key, network_id=block.network_id,
                             protocol=protocols.number(block.protocol, block.ethertype),
                             ethertype=block.ethertype, port_range_min=block.port_range_min,
                             port_range_max=block.port_range_max)
