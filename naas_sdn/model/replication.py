"""Several naas-sdn processes on one PostgreSQL database: every process's mirror follows every
commit, whoever made it.

Each process keeps the whole model in memory (:mod:`naas_sdn.model.service`) and checks every
invariant against it, so two processes must never decide on different models. On PostgreSQL
a write therefore takes one transaction-scoped advisory lock: writes are serialized across
processes as the service's lock serializes them within one (SQLite's single writer did the
same for one file). Holding it, the writer first applies what others committed since its last
look, then runs the request, then appends the records it changed to ``model_changes`` and
NOTIFYs the new sequence number, delivered to every listening process at commit.

Because writers are serialized, sequence numbers are in commit order, and every number below
a committed one is committed or was rolled back: a follower reads ``seq > last seen``, in
order, and misses nothing. NOTIFY is not replayed to a process that was not listening, so a
follower also looks on a timer, after reconnecting, and before each API request (a client that
wrote through one process then reads through another sees its write). The log keeps the
newest entries only; a follower behind its start reloads the model from the tables.

Entries are the committed records themselves, pickled: the database is trusted (it holds the
whole model), and a follower's mirror is then the writer's, record for record.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, LargeBinary, Table, text

from naas_sdn.model import db

LOG = logging.getLogger(__name__)

MODEL_CHANGES = Table(
    "model_changes",
    db.metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),  # BIGSERIAL
    # pickled ((collection, pickled {id: record or None}), ...): a collection this process
    # does not know (a plugin it has not loaded) is skipped alone
    Column("changes", LargeBinary, nullable=False),
)

CHANNEL = "naas_model_changes"
# Any constant will do: the advisory lock every model write holds (another than migrations').
WRITE_LOCK_KEY = 0x6E616177  # "naaw"
KEEP = 20_000  # log entries kept; a follower further behind reloads the tables
PRUNE_EVERY = 512  # commits between two prunings by a writer
POLL_INTERVAL = 2.0  # seconds between looks at the log without a notification


class ChangeLog:
    """The log of one database's commits, as one process follows it."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.seen = 0  # the newest entry applied to this process's mirror
        self._commits = 0

    def newest(self, conn) -> int:
        return conn.execute(text("SELECT coalesce(max(seq), 0) FROM model_changes")).scalar_one()

    def lock(self, conn) -> None:
        """Serialize this transaction with every other process's writes, until it ends."""
        db.exclusive(conn, WRITE_LOCK_KEY)

    def since(self, conn) -> tuple[list[tuple[int, list]], bool]:
        """The entries after :attr:`seen`, oldest first, each ``(seq, [(collection,
        records)])``; and False if the log no longer reaches back there (reload)."""
        rows = conn.execute(
            text("SELECT seq, changes FROM model_changes WHERE seq > :seen ORDER BY seq"),
            {"seen": self.seen},
        ).all()
        if rows and rows[0].seq != self.seen + 1:  # a gap: rolled back, or pruned
            oldest = conn.execute(text("SELECT min(seq) FROM model_changes")).scalar_one()
            if oldest is not None and oldest > self.seen + 1:
                return [], False
        return [(row.seq, _decode(row.changes)) for row in rows], True

    def append(self, conn, declared: dict[str, dict]) -> int:
        """Log a transaction's changed records (under :meth:`lock`), NOTIFY at commit;
        returns the entry's number, :attr:`seen` once committed."""
        entry = pickle.dumps(
            tuple((collection, _pickled(records)) for collection, records in declared.items()),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        seq = conn.execute(
            MODEL_CHANGES.insert().values(changes=entry).returning(MODEL_CHANGES.c.seq)
        ).scalar_one()
        conn.execute(
            text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(seq)}
        )
        self._commits += 1
        if self._commits % PRUNE_EVERY == 0:
            conn.execute(MODEL_CHANGES.delete().where(MODEL_CHANGES.c.seq <= seq - KEEP))
        return seq

    def follow(self, wake: Callable[[], None], stop: threading.Event) -> threading.Thread:
        """Call ``wake()`` on every NOTIFY of another commit, every :data:`POLL_INTERVAL`
        without one, and after (re)connecting; until ``stop``."""
        thread = threading.Thread(
            target=self._listen, args=(wake, stop), name="model-changes", daemon=True
        )
        thread.start()
        return thread

    def _listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        import psycopg

        while not stop.is_set():
            try:
                with psycopg.connect(_conninfo(self._engine), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    wake()  # what was committed while not listening
                    while not stop.is_set():
                        for _ in _notifications(conn, POLL_INTERVAL):
                            pass
                        wake()
            except Exception as error:  # the database away: retry, the API reports it too
                LOG.warning("not following the model's changes (%s); retrying", error)
                stop.wait(1.0)


def _notifications(conn, timeout: float) -> Iterator[Any]:
    """The notifications that arrive within ``timeout``, stopping after the first burst."""
    yield from conn.notifies(timeout=timeout, stop_after=1)


def _conninfo(engine: Engine) -> str:
    """libpq's URI for the engine's database (psycopg's own, without SQLAlchemy's driver)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pickled(records: dict) -> bytes:
    return pickle.dumps(dict(records), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(entry: bytes) -> list[tuple[str, dict]]:
    """An entry's collections and records (written by naas-sdn into its own database)."""
    decoded = []
    for collection, records in pickle.loads(entry):
        try:
            decoded.append((collection, pickle.loads(records)))
        except (AttributeError, ImportError) as error:
            LOG.warning("%s changed in another process, unknown here: %s", collection, error)
    return decoded
