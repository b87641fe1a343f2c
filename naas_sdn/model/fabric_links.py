"""The fabric links last discovered, and the neighbours learned on physical networks (the
MACs of the routers beyond router gateways), persisted so a restarted controller knows them
at once.

Reconciling a switch against a fabric with no links yet would tear down working inter-switch
forwarding, and against no neighbour every router's way out; with both read back, the first
pass after a restart changes nothing. They are physical facts, not tenants' objects: they live
beside the logical model, not in it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import BigInteger, Column, Engine, String, Table, delete, insert, select

from naas_sdn.model import db

FABRIC_LINKS = Table(
    "fabric_links",
    db.metadata,
    # Datapath ids are unsigned 64-bit: kept as 16 hex digits, which every SQL dialect stores
    # and orders safely (a signed BIGINT would overflow).
    Column("src_dpid", String(16), primary_key=True),
    Column("src_port", BigInteger, primary_key=True),
    Column("dst_dpid", String(16), primary_key=True),
    Column("dst_port", BigInteger, primary_key=True),
)

FABRIC_NEIGHBOURS = Table(
    "fabric_neighbours",
    db.metadata,
    Column("network_id", String(36), primary_key=True),
    Column("ip_address", String(64), primary_key=True),
    Column("mac_address", String(32), nullable=False),
)

LinkRow = tuple[int, int, int, int]  # (src_dpid, src_port, dst_dpid, dst_port)
_REPLACE_LOCK = 0x6E616166  # "naaf", any constant: the lock of the replacements below


class FabricLinkStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.Lock()  # one replacement at a time: no interleaved delete/insert

    def _exclusive(self, conn) -> None:
        """Several processes sharing a PostgreSQL database replace these rows too: one at a
        time (SQLite's write lock does it for a file)."""
        db.exclusive(conn, _REPLACE_LOCK)

    def load(self) -> list[LinkRow]:
        with self._engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(select(FABRIC_LINKS)).all()
        return sorted(
            (int(r.src_dpid, 16), int(r.src_port), int(r.dst_dpid, 16), int(r.dst_port))
            for r in rows
        )

    def save(self, links: Iterable[LinkRow]) -> None:
        """Replace the persisted fabric with ``links``.

        Raises:
            ValueError: a datapath id is not 64-bit unsigned or a port number not 32-bit.
        """
        links = sorted({(int(s), int(sp), int(d), int(dp)) for s, sp, d, dp in links})
        for s, sp, d, dp in links:
            if not (0 <= s < 2**64 and 0 <= d < 2**64 and 0 <= sp < 2**32 and 0 <= dp < 2**32):
                raise ValueError(f"invalid fabric link {(s, sp, d, dp)}")
        rows = [
            {"src_dpid": f"{s:016x}", "src_port": sp, "dst_dpid": f"{d:016x}", "dst_port": dp}
            for s, sp, d, dp in links
        ]
        with self._lock, self._engine.begin() as conn:
            self._exclusive(conn)
            conn.execute(delete(FABRIC_LINKS))
            if rows:
                conn.execute(insert(FABRIC_LINKS), rows)

    def load_neighbours(self) -> dict[tuple[str, str], str]:
        """(network id, address) -> MAC of every neighbour learned."""
        with self._engine.connect().execution_options(readonly=True) as conn:
            rows = conn.execute(select(FABRIC_NEIGHBOURS)).all()
        return {(r.network_id, r.ip_address): r.mac_address for r in rows}

    def save_neighbours(self, neighbours: dict[tuple[str, str], str]) -> None:
        """Replace the persisted neighbours with ``neighbours``."""
        rows = [
            {"network_id": network_id, "ip_address": ip, "mac_address": mac}
            for (network_id, ip), mac in sorted(neighbours.items())
        ]
        with self._lock, self._engine.begin() as conn:
            self._exclusive(conn)
            conn.execute(delete(FABRIC_NEIGHBOURS))
            if rows:
                conn.execute(insert(FABRIC_NEIGHBOURS), rows)
