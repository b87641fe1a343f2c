"""The processes sharing one PostgreSQL database, and which of them is master of each switch.

Each process (a *member*) beats every tick, naming the switches it is connected to. A switch
has one lease: its holder, an epoch that only grows (the OpenFlow role's ``generation_id``) and
an expiry, all decided by the database's clock, so the members' clocks need not agree. A lease
is taken only once expired, renewed by its holder alone, and handed over by its holder; a
frozen holder finds it gone, and the switch refuses the stale epoch it would still claim.

Physical facts only: nothing here is a tenant's object (the model's own processes' agreement
is :mod:`naas_sdn.model.replication`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    LargeBinary,
    String,
    Table,
    Text,
    select,
    text,
)

from naas_sdn.model import db

MEMBERS = Table(
    "controller_members",
    db.metadata,
    Column("name", String(64), primary_key=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("datapaths", Text, nullable=False),  # the connected switches' ids, in hex, spaced
)

LEASES = Table(
    "datapath_leases",
    db.metadata,
    Column("dpid", String(16), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

SECRETS = Table(
    "cluster_secrets",
    db.metadata,
    Column("name", String(32), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

SIGHTINGS = Table(
    "fabric_sightings",
    db.metadata,
    Column("src_dpid", String(16), primary_key=True),
    Column("src_port", BigInteger, primary_key=True),
    Column("dst_dpid", String(16), primary_key=True),
    Column("dst_port", BigInteger, primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)


@dataclasses.dataclass(frozen=True)
class Lease:
    holder: str
    epoch: int
    remaining: float  # seconds until it expires, by the database's clock (<= 0: expired)


@dataclasses.dataclass(frozen=True)
class View:
    """What one tick reads: the live members and the switches each is connected to, and
    every switch's lease."""

    members: dict[str, frozenset[int]]
    leases: dict[int, Lease]


def _hex(dpid: int) -> str:
    return f"{dpid:016x}"


class ClusterStore:
    """The members' and leases' SQL, as one member runs it (PostgreSQL only)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.member = ""
        self.lease_seconds = 3.0

    def join(self, member: str, lease_seconds: float) -> None:
        """Name this process (unique per start: a restarted one is a new member) and the
        time its leases last unrenewed."""
        self.member, self.lease_seconds = member, lease_seconds

    def beat(self, datapaths: Iterable[int]) -> View:
        """Say this member is alive and connected to ``datapaths``; read everyone's state."""
        names = " ".join(sorted(_hex(d) for d in datapaths))
        with self._engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO controller_members (name, heartbeat_at, datapaths) "
                    "VALUES (:me, clock_timestamp(), :dps) ON CONFLICT (name) DO UPDATE "
                    "SET heartbeat_at = excluded.heartbeat_at, datapaths = excluded.datapaths"
                ),
                {"me": self.member, "dps": names},
            )
            members = {
                row.name: frozenset(int(d, 16) for d in row.datapaths.split())
                for row in conn.execute(
                    text(
                        "SELECT name, datapaths FROM controller_members WHERE heartbeat_at > "
                        "clock_timestamp() - make_interval(secs => :ttl)"
                    ),
                    {"ttl": self.lease_seconds},
                )
            }
            leases = {
                int(row.dpid, 16): Lease(row.holder, row.epoch, row.remaining)
                for row in conn.execute(
                    text(
                        "SELECT dpid, holder, epoch, "
                        "extract(epoch FROM expires_at - clock_timestamp())::float AS remaining "
                        "FROM datapath_leases"
                    )
                )
            }
        return View(members, leases)

    def acquire(self, dpid: int) -> int | None:
        """Take a switch's lease if it is free or expired: its new epoch, or None."""
        with self._engine.begin() as conn:
            return conn.execute(
                text(
                    "INSERT INTO datapath_leases AS l (dpid, holder, epoch, expires_at) "
                    "VALUES (:dpid, :me, 1, clock_timestamp() + make_interval(secs => :ttl)) "
                    "ON CONFLICT (dpid) DO UPDATE SET holder = :me, epoch = l.epoch + 1, "
                    "expires_at = excluded.expires_at WHERE l.expires_at < clock_timestamp() "
                    "RETURNING epoch"
                ),
                {"dpid": _hex(dpid), "me": self.member, "ttl": self.lease_seconds},
            ).scalar_one_or_none()

    def renew(self, dpid: int, epoch: int) -> bool:
        """Extend a lease this member holds at ``epoch`` and that has not expired."""
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    text(
                        "UPDATE datapath_leases SET expires_at = clock_timestamp() + "
                        "make_interval(secs => :ttl) WHERE dpid = :dpid AND holder = :me "
                        "AND epoch = :epoch AND expires_at > clock_timestamp()"
                    ),
                    {"dpid": _hex(dpid), "me": self.member, "epoch": epoch,
                     "ttl": self.lease_seconds},
                ).rowcount
            )  # fmt: skip

    def hand_over(self, dpid: int, epoch: int, to: str) -> int | None:
        """Give a lease this member holds to another member, at the next epoch (returned)."""
        with self._engine.begin() as conn:
            return conn.execute(
                text(
                    "UPDATE datapath_leases SET holder = :to, epoch = epoch + 1, expires_at = "
                    "clock_timestamp() + make_interval(secs => :ttl) WHERE dpid = :dpid "
                    "AND holder = :me AND epoch = :epoch RETURNING epoch"
                ),
                {"dpid": _hex(dpid), "me": self.member, "epoch": epoch, "to": to,
                 "ttl": self.lease_seconds},
            ).scalar_one_or_none()  # fmt: skip

    def leave(self) -> None:
        """A clean stop: this member's leases expire now, its heartbeat goes."""
        with self._engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE datapath_leases SET expires_at = clock_timestamp() WHERE holder = :me"
                ),
                {"me": self.member},
            )
            conn.execute(
                text("DELETE FROM controller_members WHERE name = :me"), {"me": self.member}
            )

    def secret(self, name: str) -> bytes:
        """A secret every member shares (the first to ask makes it): what signs discovery
        probes, which one process sends and another reads."""
        with self._engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO cluster_secrets (name, value) VALUES (:name, :value) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": name, "value": os.urandom(32)},
            )
            return conn.execute(select(SECRETS.c.value).where(SECRETS.c.name == name)).scalar_one()

    def sight(self, links: Iterable[tuple[int, int, int, int]]) -> None:
        """Record fabric links this member has just seen a probe cross."""
        rows = [{"src": _hex(a), "sp": b, "dst": _hex(c), "dp": d} for a, b, c, d in links]
        if not rows:
            return
        with self._engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO fabric_sightings (src_dpid, src_port, dst_dpid, dst_port, "
                    "seen_at) VALUES (:src, :sp, :dst, :dp, clock_timestamp()) "
                    "ON CONFLICT (src_dpid, src_port, dst_dpid, dst_port) "
                    "DO UPDATE SET seen_at = excluded.seen_at"
                ),
                rows,
            )

    def sightings(self, within: float) -> list[tuple[int, int, int, int]]:
        """The fabric links any member has seen in the last ``within`` seconds."""
        with self._engine.connect() as conn:
            return [
                (int(r.src_dpid, 16), r.src_port, int(r.dst_dpid, 16), r.dst_port)
                for r in conn.execute(
                    text(
                        "SELECT src_dpid, src_port, dst_dpid, dst_port FROM fabric_sightings "
                        "WHERE seen_at > clock_timestamp() - make_interval(secs => :within)"
                    ),
                    {"within": within},
                )
            ]
