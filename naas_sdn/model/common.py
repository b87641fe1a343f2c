"""What every part of the model service shares: the caller's context, the transaction's change
set, timestamps, revision checks, tags and counters.

Kept apart from ``service.py`` so the feature modules (security groups, QoS, protocol blocks)
write through the same helpers without importing the service itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select, update

from naas_sdn.model import db, errors
from naas_sdn.model.frozenmap import FrozenMap


@dataclasses.dataclass(frozen=True)
class Context:
    """Who is asking: the project a request acts for, whether it has the admin role, and the
    roles its token carries (a Keystone token's; None: a naas-sdn token's, see :attr:`roles`)."""

    project_id: str
    is_admin: bool = False
    granted: tuple[str, ...] | None = None

    @classmethod
    def of_roles(cls, project_id: str, roles) -> Context:
        """A Keystone token's context: admin as Neutron's ``context_is_admin`` (role admin)."""
        roles = tuple(roles)
        return cls(project_id=project_id, is_admin="admin" in roles, granted=roles)

    @property
    def roles(self) -> tuple[str, ...]:
        """The Keystone roles the token stands for: what policy rules check. A naas-sdn
        token stands for Keystone's member (and reader), an admin one for admin too."""
        if self.granted is not None:
            return self.granted
        return ("admin", "member", "reader") if self.is_admin else ("member", "reader")

    @property
    def reads(self) -> bool:
        """Whether the token has a role Neutron's default rules let read (admin, reader)."""
        return self.is_admin or "reader" in self.roles

    @property
    def sees_all(self) -> bool:
        """Whether every project's objects are in view before policy decides (admins, and
        the service and advsvc roles Nova and appliances act with, as Neutron's queries)."""
        return self.is_admin or bool({"service", "advsvc"} & set(self.roles))

    @classmethod
    def admin(cls) -> Context:
        return cls(project_id="", is_admin=True)


class Changes:
    """What one transaction did, applied to the mirror only once it has committed.

    Each attribute maps an object id to its new record, or None when it was deleted.
    """

    def __init__(self):
        self.declared: dict[str, dict] = {}  # collection -> changes, for declared resources
        # what a transaction's steps share: the addresses and MACs taken so far in a bulk create
        self.memo: dict[str, Any] = {}

    def of(self, collection: str) -> dict:
        """The changes of one declared collection (naas_sdn.model.schema)."""
        return self.declared.setdefault(collection, {})


def merge(
    records: Mapping, views: Mapping, updates: Mapping, make_view: Callable
) -> tuple[FrozenMap, FrozenMap, set]:
    """Apply ``updates`` (id -> record or None) to a mirror and its views, as new maps that
    share what did not change (:class:`FrozenMap`: a commit costs what it changed).

    Returns the new records, the new views and the ids whose view changed (a reader that
    keeps what it derived from the views recomputes those alone).
    """
    view_updates: dict = {}
    changed = set()
    for key, record in updates.items():
        if record is None:
            if key in views:
                view_updates[key] = None
                changed.add(key)
        else:
            view, before = make_view(record), views.get(key)
            if before != view:  # an equal view keeps its identity: compilation skips it
                view_updates[key] = view
                changed.add(key)
    records = FrozenMap.of(records).updated(updates)
    return records, FrozenMap.of(views).updated(view_updates), changed


def current(mirror: Mapping, updates: Mapping, key: str):
    """An object as this transaction sees it: its pending change, else the committed one."""
    if key in updates:
        return updates[key]
    return mirror.get(key)


def utcnow() -> datetime.datetime:
    """Second resolution, naive UTC: what Neutron's timestamps show."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)


def format_time(value: datetime.datetime) -> str:
    """Neutron's timestamp format: ``2026-11-21T06:06:00Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def owner(ctx: Context, attrs: Mapping) -> str:
    """The project a new object belongs to: the caller's, or another one it names (the API
    lets only admins do so)."""
    project_id = attrs.get("project_id") or ctx.project_id
    if not project_id:
        raise errors.BadRequestMessage(
            msg="Running without keystone AuthN requires that tenant_id is specified"
        )
    return project_id


def check_revision(current_revision: int, expected: int | None) -> None:
    if expected is not None and expected != current_revision:
        raise errors.RevisionNumberConstraintFailed(expected=expected, current=current_revision)


def check_updatable(attrs: Mapping, allowed: Iterable[str]) -> None:
    unknown = set(attrs) - set(allowed)
    if unknown:
        raise errors.BadRequestMessage(
            msg=f"Cannot update read-only attribute {sorted(unknown)[0]}"
        )


MAX_TAGS = 50  # per object, as Neutron's tag extension specifies
# What int() would take that is sane to take: ASCII digits only (int() also reads "٣", and
# refuses "²" that str.isdigit() accepts), few enough for any column (int() of more than 4,300
# digits raises).
_INTEGER_TEXT = re.compile(r"[ \t]*[+-]?[0-9]{1,20}[ \t]*")


def parse_int(value) -> int | None:
    """An int from a JSON integer or a string of ASCII digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return None


def norm_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The tag set of one object, sorted; more than MAX_TAGS is refused."""
    unique = tuple(sorted(set(tags)))
    if len(unique) > MAX_TAGS:
        raise errors.InvalidInput(
            error_message=f"Number of tags exceeds the limit of {MAX_TAGS} per resource"
        )
    return unique


def write_tags(conn, resource: str, resource_id: str, tags: Iterable[str]) -> None:
    rows = [{"resource_type": resource, "resource_id": resource_id, "tag": t} for t in tags]
    if rows:
        conn.execute(insert(db.tags), rows)


def read_tags(conn) -> dict[tuple[str, str], tuple[str, ...]]:
    """Every tag, as (resource type, resource id) -> sorted tags."""
    tags: dict[tuple[str, str], list[str]] = {}
    for row in conn.execute(select(db.tags).order_by(db.tags.c.tag)):
        tags.setdefault((row.resource_type, row.resource_id), []).append(row.tag)
    return {key: tuple(value) for key, value in tags.items()}


def update_row(conn, table, obj, values: Mapping) -> None:
    """Write ``values`` plus the standard attributes; the row must exist (we hold the lock)."""
    columns = dict(values)
    columns.update(revision_number=obj.revision_number, updated_at=obj.updated_at)
    result = conn.execute(update(table).where(table.c.id == obj.id).values(**columns))
    if result.rowcount != 1:
        raise RuntimeError(f"{table.name} row {obj.id} vanished under the write lock")


def evolve(record, **values):
    """``record`` with ``values``: its own fields replaced, and the attributes other slices add
    to it (see :class:`naas_sdn.model.schema.Extensible`) merged into its ``extensions``."""
    own = {f.name for f in dataclasses.fields(record)}
    added = {k: v for k, v in values.items() if k not in own}
    if added:
        values = {k: v for k, v in values.items() if k in own}
        values["extensions"] = tuple(sorted({**dict(record.extensions), **added}.items()))
    return dataclasses.replace(record, **values)


def bump(record, **values):
    """``record`` with ``values``, its revision number raised and updated_at now."""
    return evolve(record, **values, revision_number=record.revision_number + 1, updated_at=utcnow())


def next_counter(conn, name: str) -> int:
    """The next value of a monotonic allocator that never hands out a value twice."""
    row = conn.execute(select(db.counters.c.next_value).where(db.counters.c.name == name)).first()
    if row is None:
        conn.execute(insert(db.counters).values(name=name, next_value=2))
        return 1
    conn.execute(
        update(db.counters).where(db.counters.c.name == name).values(next_value=row.next_value + 1)
    )
    return row.next_value
