"""Per-project quotas (Neutron's ``quotas`` extension): how many of each kind of object one
project may hold, so that one tenant cannot use up what every tenant needs.

Limits live in SQL (a row per project and resource that differs from the default); usage is
counted in SQL too, inside the creating transaction after its inserts (an indexed count of the
project's rows, which sees the transaction's own), under the write lock: concurrent and bulk
creates cannot overshoot, and a refusal rolls all of the inserts back.

Only what a request asks for is checked (a POST of networks checks ``network``); objects the
service makes on its own — a project's default security group and its rules, a router
interface's port — are counted but never refused, as in Neutron.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Column, Integer, String, Table, delete, func, insert, select, update

from naas_sdn.model import db, errors

# ----------------------------------------------------------------------------------- quotas
QUOTAS = Table(
    "quotas",
    db.metadata,
    # A project's limit for one resource, only where it differs from the default (a missing
    # row means the default, so databases from before quotas need no data migration).
    Column("project_id", String(db.PROJECT_LEN), primary_key=True),
    Column("resource", String(64), primary_key=True),
    Column("hard_limit", Integer, nullable=False),  # -1: unlimited
)

UNLIMITED = -1
MAX_LIMIT = 2**31 - 1  # Neutron's DB_INTEGER_MAX_VALUE


@dataclasses.dataclass(frozen=True)
class QuotaResource:
    """One kind of object a quota bounds.

    ``name`` is the key in quota bodies (Neutron's singular resource name); ``table`` holds the
    objects, one row each, with an indexed ``project_id``; ``api_path`` is the collection whose
    loading offers the quota on the API (a plugin's resources only when it is loaded).
    """

    name: str
    default: int
    table: Table
    api_path: str


REGISTRY: dict[str, QuotaResource] = {}


def register(resource: QuotaResource) -> None:
    """Make a resource countable and limitable: one call per kind of object."""
    REGISTRY[resource.name] = resource


# Neutron's defaults (neutron/conf/quota.py) where Neutron has the resource.
# Declared resources (naas_sdn.model.schema) register theirs when declared.


def defaults() -> dict[str, int]:
    return {r.name: r.default for r in REGISTRY.values()}


class QuotaMixin:
    """Quota limits per project and their enforcement inside the service's transactions."""

    # NetworkService's, of which this mixin is a part
    _read: Callable[[], Any]
    _write: Callable[..., Any]

    # ---------------------------------------------------------------------------- limits
    def quota_limits(self, project_id: str) -> dict[str, int]:
        """The project's limits: its own where set, the defaults otherwise."""
        with self._read() as conn:
            return _limits(conn, project_id)

    def quota_usage(self, project_id: str) -> dict[str, int]:
        """How many objects of each resource the project holds now."""
        with self._read() as conn:
            return {name: _used(conn, resource, project_id) for name, resource in REGISTRY.items()}

    def projects_with_quotas(self) -> dict[str, dict[str, int]]:
        """Every project with a limit of its own → all its limits (Neutron's quota list)."""
        with self._read() as conn:
            rows = conn.execute(select(QUOTAS).order_by(QUOTAS.c.project_id)).all()
        projects: dict[str, dict[str, int]] = {}
        for row in rows:
            if row.resource in REGISTRY:
                projects.setdefault(row.project_id, defaults())[row.resource] = row.hard_limit
        return projects

    def set_quota_limits(
        self, project_id: str, limits: Mapping[str, int], force: bool = False
    ) -> dict[str, int]:
        """Set some of a project's limits; returns all of them.

        Unless ``force``, a limit below what the project already holds is refused (Neutron
        since 2025.1), so an operator cannot silently leave a project over quota.
        """
        unknown = set(limits) - REGISTRY.keys()
        if unknown:
            raise ValueError(f"unknown quota resources: {sorted(unknown)}")

        def work(conn, changes):
            for name, limit in limits.items():
                if force or limit == UNLIMITED:
                    continue
                used = _used(conn, REGISTRY[name], project_id)
                if used > limit:
                    raise errors.BadRequestMessage(
                        msg=f"Quota limit {limit} for {name} must be greater than or equal to "
                        f"already used {used}"
                    )
            stored = _stored_limits(conn, project_id)
            for name, limit in limits.items():
                if name in stored:
                    conn.execute(
                        update(QUOTAS)
                        .where(QUOTAS.c.project_id == project_id, QUOTAS.c.resource == name)
                        .values(hard_limit=limit)
                    )
                else:
                    conn.execute(
                        insert(QUOTAS).values(
                            project_id=project_id, resource=name, hard_limit=limit
                        )
                    )
            return _limits(conn, project_id)

        return self._write(work)

    def reset_quota_limits(self, project_id: str) -> None:
        """Back to the defaults; QuotaNotFound when the project had no limit of its own."""

        def work(conn, changes):
            removed = conn.execute(delete(QUOTAS).where(QUOTAS.c.project_id == project_id))
            if removed.rowcount == 0:
                raise errors.TenantQuotaNotFound(tenant_id=project_id)

        self._write(work)

    # ----------------------------------------------------------------------- enforcement
    def enforce_quota(self, conn, name: str, project_ids: Iterable[str]) -> None:
        """Refuse the transaction (OverQuota) if a project that asked for ``name`` objects in
        it now holds more than its limit; call after the transaction's inserts (a slice that
        creates records in a transaction of its own calls it too)."""
        resource = REGISTRY[name]
        for project_id in sorted(set(project_ids)):
            limit = _limits(conn, project_id, (name,))[name]
            if limit != UNLIMITED and _used(conn, resource, project_id) > limit:
                raise errors.OverQuota(overs=[name])


def _used(conn, resource: QuotaResource, project_id: str) -> int:
    """Objects the project holds as ``conn``'s transaction sees them (its own writes included)."""
    table = resource.table
    return conn.execute(
        select(func.count()).select_from(table).where(table.c.project_id == project_id)
    ).scalar_one()


def _stored_limits(conn, project_id: str, names: Iterable[str] | None = None) -> dict[str, int]:
    query = select(QUOTAS.c.resource, QUOTAS.c.hard_limit).where(QUOTAS.c.project_id == project_id)
    if names is not None:
        query = query.where(QUOTAS.c.resource.in_(list(names)))
    return {row.resource: row.hard_limit for row in conn.execute(query)}


def _limits(conn, project_id: str, names: Iterable[str] | None = None) -> dict[str, int]:
    wanted = list(names) if names is not None else list(REGISTRY)
    limits = {name: REGISTRY[name].default for name in wanted}
    limits.update(
        {k: v for k, v in _stored_limits(conn, project_id, wanted).items() if k in limits}
    )
    return limits
