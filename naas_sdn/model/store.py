"""The generic store of declared resources (:mod:`naas_sdn.model.schema`): list, get, create,
update and delete for any of them, with revisions, If-Match, tags, quotas and parents.

A mixin of the network service, which owns the transaction, its retry and the mirror; what a
resource adds of its own comes through the hooks of its declaration, so nothing here names a
resource.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from naas_sdn.model import db
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    next_counter,
    norm_tags,
    owner,
    read_tags,
    update_row,
    utcnow,
    write_tags,
)
from naas_sdn.model.schema import COMPUTED, DECLARED, MISSING, Resource


@dataclasses.dataclass(frozen=True)
class Transaction:
    """What a resource's hooks get: the open connection, the pending changes and the service
    (to read the model as committed, or check another resource)."""

    conn: Any
    changes: Changes
    service: Any

    def current(self, collection: str) -> dict:
        """Every record of a declared collection as this transaction sees it."""
        merged = dict(self.service.records(collection))
        for key, record in self.changes.of(collection).items():
            if record is None:
                merged.pop(key, None)
            else:
                merged[key] = record
        return merged

    def save(self, collection: str, record, values: Mapping):
        """Write changed ``values`` of a declared record, with its revision bumped."""
        new = bump(record, **values)
        update_row(
            self.conn, DECLARED[collection].table, new, DECLARED[collection].column_values(values)
        )
        self.changes.of(collection)[new.id] = new
        return new


class DeclaredStore:
    """CRUD of the declared resources, on the service's transactions and mirror."""

    _declared: Mapping[str, Mapping[str, Any]]  # collection -> {id: record}, committed
    # what the service that mixes this in provides
    _lock: Any
    _engine: Any
    _read: Callable[[], Any]
    _write: Callable[..., Any]
    _enforce_quota: Callable[..., None]
    _declared_adopted: Callable[[Resource], None]

    def records(self, collection: str) -> Mapping[str, Any]:
        """A declared collection's committed records (no visibility check: internal use)."""
        return self._declared.get(collection, {})

    def adopt(self, resource: Resource) -> None:
        """Keep a resource declared after this service started (a third-party plugin's, loaded
        with the API): create its table if it is new, load its records and their views."""
        with self._lock:
            if resource.collection in self._declared:
                return
            if not resource.in_tree:
                resource.metadata.create_all(self._engine, tables=[resource.table])
            with self._read() as conn:
                tags = read_tags(conn)
                self._declared = {**self._declared, **self._load_declared(conn, tags, [resource])}
            self._declared_adopted(resource)

    def list_records(self, ctx: Context, collection: str) -> list:
        resource = DECLARED[collection]
        return [r for r in self.records(collection).values() if resource.is_visible(ctx, r, self)]

    def get_record(self, ctx: Context, collection: str, record_id: str):
        resource = DECLARED[collection]
        record = self.records(collection).get(record_id)
        if record is None or not resource.is_visible(ctx, record, self):
            raise resource.not_found(record_id)
        return record

    def create_records(self, ctx: Context, collection: str, items: Iterable[Mapping]) -> list:
        """Create records, all or none; ``prepare`` checks each against the model and the
        records created before it in the same request."""
        resource = DECLARED[collection]
        items = list(items)

        def work(conn, changes):
            txn = Transaction(conn, changes, self)
            created = [self._insert_record(txn, ctx, resource, attrs) for attrs in items]
            if resource.quota is not None:
                self._enforce_quota(conn, resource.member, (r.project_id for r in created))
            return created

        return self._write(work)

    def _insert_record(self, txn: Transaction, ctx: Context, resource: Resource, attrs: Mapping):
        values = dict(resource.prepare(txn, ctx, attrs)) if resource.prepare else {}
        values.setdefault("project_id", owner(ctx, attrs))
        for name, spec in resource.own_fields.items():
            if name in values or name == "key":
                continue
            if name in attrs:
                values[name] = attrs[name]
            elif spec.default is not MISSING and spec.default is not COMPUTED:
                values[name] = spec.default
        if resource.counter is not None:
            values["key"] = next_counter(txn.conn, resource.counter)
        now = utcnow()
        record = resource.record(
            id=str(uuid.uuid4()),
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            revision_number=1,
            created_at=now,
            updated_at=now,
            tags=norm_tags(attrs.get("tags", ())),
            **values,
        )
        txn.conn.execute(insert(resource.table).values(resource.row(record)))
        write_tags(txn.conn, resource.collection, record.id, record.tags)
        txn.changes.of(resource.collection)[record.id] = record
        return record

    def update_record(
        self,
        ctx: Context,
        collection: str,
        record_id: str,
        attrs: Mapping,
        if_revision: int | None = None,
    ):
        resource = DECLARED[collection]
        check_updatable(attrs, resource.updatable)

        def work(conn, changes):
            record = self.get_record(ctx, collection, record_id)
            check_revision(record.revision_number, if_revision)
            values = {k: v for k, v in attrs.items() if getattr(record, k) != v}
            if not values:
                return record
            txn = Transaction(conn, changes, self)
            if resource.before_update is not None:
                resource.before_update(txn, record, values)
                # the hook may normalize a value: one equal to the record's is no change
                values = {k: v for k, v in values.items() if getattr(record, k) != v}
                if not values:
                    return record
            return txn.save(collection, record, values)

        return self._write(work)

    def change_record(
        self,
        ctx: Context,
        collection: str,
        record_id: str,
        change: Callable[[Transaction, Any], Any],
        if_revision: int | None = None,
    ):
        """Run ``change(txn, record)`` in one transaction on a record the caller sees: a
        resource's member actions (a router's add_router_interface). Returns what it returns."""

        def work(conn, changes):
            record = self.get_record(ctx, collection, record_id)
            check_revision(record.revision_number, if_revision)
            return change(Transaction(conn, changes, self), record)

        return self._write(work)

    def delete_record(
        self, ctx: Context, collection: str, record_id: str, if_revision: int | None = None
    ) -> None:
        def work(conn, changes):
            record = self.get_record(ctx, collection, record_id)
            check_revision(record.revision_number, if_revision)
            self._delete_records(Transaction(conn, changes, self), DECLARED[collection], [record])

        self._write(work)

    def _delete_records(self, txn: Transaction, resource: Resource, records: list) -> None:
        """Delete records with their tags and, first, every declared record below them."""
        if not records:
            return
        for record in records:
            if resource.before_delete is not None:
                resource.before_delete(txn, record)
        ids = [r.id for r in records]
        self.delete_children(txn.conn, txn.changes, resource.collection, ids)
        txn.conn.execute(
            delete(db.tags).where(
                db.tags.c.resource_type == resource.collection, db.tags.c.resource_id.in_(ids)
            )
        )
        txn.conn.execute(delete(resource.table).where(resource.table.c.id.in_(ids)))
        for record_id in ids:
            txn.changes.of(resource.collection)[record_id] = None

    def delete_children(
        self, conn, changes: Changes, collection: str, parent_ids: list[str]
    ) -> None:
        """Delete the declared records whose parent is one of ``parent_ids``: what a parent's
        delete calls, whatever the parent, so it never names what hangs below it."""
        txn = Transaction(conn, changes, self)
        parents = set(parent_ids)
        for child in DECLARED.values():
            if child.parent is None or child.parent.collection != collection:
                continue
            below = [
                r
                for r in txn.current(child.collection).values()
                if getattr(r, child.parent.field) in parents
            ]
            self._delete_records(txn, child, below)

    def _load_declared(
        self, conn, tags: Mapping, resources: Iterable[Resource]
    ) -> dict[str, dict[str, Any]]:
        """Declared collections from SQL, in creation order."""
        loaded = {}
        for resource in resources:
            collection = resource.collection
            resource.count_in_quotas()
            table = resource.table
            order = [table.c.key] if resource.counter else [table.c.created_at, table.c.id]
            loaded[collection] = {
                row.id: resource.from_row(row, tags.get((collection, row.id), ()))
                for row in conn.execute(select(table).order_by(*order))
            }
        return loaded
