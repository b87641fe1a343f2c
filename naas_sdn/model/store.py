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

from sqlalchemy import delete, insert, select, update

from naas_sdn.model import db, errors, hooks
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    evolve,
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
    """What a resource's hooks get: the open connection, the pending changes, the service
    (to read the model as committed, or check another resource) and, on a delete, the caller."""

    conn: Any
    changes: Changes
    service: Any
    ctx: Context | None = None

    def current(self, collection: str) -> dict:
        """Every record of a declared collection as this transaction sees it."""
        merged = dict(self.service.records(collection))
        for key, record in self.changes.of(collection).items():
            if record is None:
                merged.pop(key, None)
            else:
                merged[key] = record
        return merged

    def get(self, collection: str, record_id: str):
        """One record as this transaction sees it (None: none, or deleted by it)."""
        pending = self.changes.declared.get(collection, {})
        if record_id in pending:
            return pending[record_id]
        return self.service.records(collection).get(record_id)

    def save(self, collection: str, record, values: Mapping):
        """Write changed ``values`` of a declared record, with its revision bumped (a
        :class:`~naas_sdn.model.schema.Bare` one has none)."""
        resource = DECLARED[collection]
        if resource.owned:
            new = bump(record, **values)
            update_row(self.conn, resource.table, new, resource.column_values(values))
        else:
            new = evolve(record, **values)
            self.conn.execute(
                update(resource.table)
                .where(resource.table.c.id == new.id)
                .values(resource.column_values(values))
            )
        self.changes.of(collection)[new.id] = new
        return new

    def create(self, collection: str, ctx: Context, attrs: Mapping):
        """Create a declared record inside another's hook (a group's own rules, a project's
        default group), as a create of it would; returns it as this transaction sees it."""
        return self.service.insert_record(self, ctx, DECLARED[collection], attrs)

    def delete(self, collection: str, records: list) -> None:
        """Delete declared records inside another's hook, as their deletes would: each parent
        they are listed in changes once."""
        resource = DECLARED[collection]
        self.service.delete_rows(self, resource, records)
        for child in {_parent_id(resource, r, listed=True): r for r in records}.values():
            self.service.parent_changed(self, resource, child)


class DeclaredStore:
    """CRUD of the declared resources, on the service's transactions and mirror."""

    _declared: Mapping[str, Mapping[str, Any]]  # collection -> {id: record}, committed
    # what the service that mixes this in provides
    _lock: Any
    _engine: Any
    _read: Callable[[], Any]
    _write: Callable[..., Any]
    enforce_quota: Callable[..., None]
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

    def list_records(self, ctx: Context, collection: str, parent: str | None = None) -> list:
        """The records the caller sees; a nested collection's below ``parent`` (which the
        caller must see: else the parent's 404), in their parent's order."""
        resource = DECLARED[collection]
        if resource.before_list is not None:
            resource.before_list(self, ctx)
        link = resource.nesting
        if link is not None:
            self._reach(ctx, resource, parent)
            records = self.records(collection).values()
            below = [r for r in records if getattr(r, link.field) == parent]
            return sorted(below, key=link.order) if link.order else below
        return [r for r in self.records(collection).values() if resource.is_visible(ctx, r, self)]

    def get_record(self, ctx: Context, collection: str, record_id: str, parent: str | None = None):
        resource = DECLARED[collection]
        self._reach(ctx, resource, parent)
        record = self.records(collection).get(record_id)
        if (
            record is None
            or not resource.is_visible(ctx, record, self)
            or (resource.nested and _parent_id(resource, record) != parent)
        ):
            raise _not_found(resource, record_id, parent)
        return record

    def _reach(self, ctx: Context, resource: Resource, parent_id: str | None) -> None:
        """A nested record is reached through its parent: the parent's 404 if the caller
        does not see it."""
        if resource.nesting is not None:
            self.get_record(ctx, resource.nesting.collection, parent_id or "")

    def create_records(
        self, ctx: Context, collection: str, items: Iterable[Mapping], parent: str | None = None
    ) -> list:
        """Create records, all or none; ``prepare`` checks each against the model and the
        records created before it in the same request. A nested record's attributes name
        its ``parent``."""
        resource = DECLARED[collection]
        items = list(items)
        if resource.check_request is not None:
            resource.check_request(items)
        if resource.nesting is not None:
            items = [{**attrs, resource.nesting.field: parent} for attrs in items]

        def work(conn, changes):
            txn = Transaction(conn, changes, self)
            self._reach(ctx, resource, parent)
            created = [self.insert_record(txn, ctx, resource, attrs) for attrs in items]
            if resource.quota is not None:
                projects = [r.project_id for r in created]
                for name in (resource.quota_resource, *resource.also_counts):
                    self.enforce_quota(conn, name, projects)
            return created

        return self._write(work)

    def insert_record(
        self, txn: Transaction, ctx: Context, resource: Resource, attrs: Mapping, rules=True
    ):
        """Create one record in a running transaction; ``rules`` False skips the other
        slices' rules on it (the slice that owns them is creating it: a router's port)."""
        if rules:
            hooks.run(resource.collection, "before_create", txn, ctx, attrs)
        values = dict(resource.prepare(txn, ctx, attrs)) if resource.prepare else {}
        if resource.owned and "project_id" not in values:  # prepare may name it ('': none)
            values["project_id"] = owner(ctx, attrs)
        for name, spec in resource.own_fields.items():
            if name in values or name == resource.counter_field:
                continue
            if name in attrs:
                values[name] = attrs[name]
            elif spec.default is not MISSING and spec.default is not COMPUTED:
                values[name] = spec.default
        if resource.counter is not None:
            values[resource.counter_field] = next_counter(txn.conn, resource.counter)
        if resource.owned:
            now = utcnow()
            values.update(
                description=attrs.get("description", ""),
                revision_number=1,
                created_at=now,
                updated_at=now,
            )
        if resource.standard:
            values.update(name=attrs.get("name", ""), tags=norm_tags(attrs.get("tags", ())))
        values.setdefault("id", str(uuid.uuid4()))
        record = resource.record(**values)
        txn.conn.execute(insert(resource.table).values(resource.row(record)))
        if resource.standard:
            write_tags(txn.conn, resource.api_collection, record.id, record.tags)
        created = txn.changes.of(resource.collection)
        created[record.id] = record
        if resource.after_create is not None:
            resource.after_create(txn, ctx, attrs, record)
        for extension in resource.extensions:
            created[record.id] = evolve(
                created[record.id], **extension.on_create(txn, ctx, attrs, created[record.id])
            )
        self.parent_changed(txn, resource, record)
        if rules:
            hooks.run(resource.collection, "after_create", txn, ctx, created[record.id])
        return created[record.id]

    def update_record(
        self,
        ctx: Context,
        collection: str,
        record_id: str,
        attrs: Mapping,
        if_revision: int | None = None,
        parent: str | None = None,
    ):
        """Change a record; ``before_update`` checks the changed values (and the resource's
        ``requests`` named, changed or not) and may normalize them in place. A record with no
        revision of its own (:class:`Bare`) ignores If-Match; a nested one's change raises
        its parent's revision."""
        resource = DECLARED[collection]
        check_updatable(attrs, resource.updatable)

        def work(conn, changes):
            record = self.get_record(ctx, collection, record_id, parent)
            if resource.owned:
                check_revision(record.revision_number, if_revision)
            values = {
                k: v
                for k, v in attrs.items()
                if k in resource.requests or (k in resource.specs and getattr(record, k) != v)
            }
            txn = Transaction(conn, changes, self)
            if values:
                hooks.run(collection, "before_update", txn, ctx, record, values)
            if values and resource.before_update is not None:
                resource.before_update(txn, ctx, record, values)
            values = {
                k: v
                for k, v in values.items()
                if not _request_only(resource, k) and getattr(record, k) != v
            }
            for extension in resource.extensions:
                values.update(extension.on_update(txn, ctx, record, attrs, dict(values)))
            if not values:
                return record
            new = txn.save(collection, record, values)
            self.parent_changed(txn, resource, new)
            return new

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
        self,
        ctx: Context,
        collection: str,
        record_id: str,
        if_revision: int | None = None,
        parent: str | None = None,
    ) -> None:
        resource = DECLARED[collection]

        def work(conn, changes):
            record = self.get_record(ctx, collection, record_id, parent)
            if resource.owned:
                check_revision(record.revision_number, if_revision)
            txn = Transaction(conn, changes, self, ctx)
            self.delete_rows(txn, resource, [record])
            self.parent_changed(txn, resource, record)

        self._write(work)

    def parent_changed(self, txn: Transaction, resource: Resource, child) -> None:
        """A nested or listed record changed: its parent's listing follows, and its revision
        rises when the child is part of it (``Parent.revises``), unless the parent is new in
        this transaction (a group created with its rules)."""
        link = resource.parent
        if link is None or not (link.nested or link.listed_in):
            return
        above = DECLARED[link.collection]
        parent_id = getattr(child, link.field)
        record = txn.get(above.collection, parent_id)
        if record is None:  # going too, in this transaction
            return
        values = {}
        if link.listed_in is not None:
            values[link.listed_in] = nested_listing(txn.current, above, link.listed_in, parent_id)
        if link.revises and parent_id in self.records(above.collection):
            txn.save(above.collection, record, values)
        else:
            txn.changes.of(above.collection)[parent_id] = evolve(record, **values)

    def delete_rows(self, txn: Transaction, resource: Resource, records: list, rules=True) -> None:
        """Delete records with their tags and, first, every declared record below them;
        ``rules`` False skips the other slices' rules (the one that owns them deletes)."""
        if not records:
            return
        for record in records:
            if rules:
                hooks.run(resource.collection, "before_delete", txn, record)
            if resource.before_delete is not None:
                resource.before_delete(txn, record)
        ids = [r.id for r in records]
        self.delete_children(txn.conn, txn.changes, resource.collection, ids)
        txn.conn.execute(
            delete(db.tags).where(
                db.tags.c.resource_type == resource.api_collection,
                db.tags.c.resource_id.in_(ids),
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
            self.delete_rows(txn, child, below)

    def _load_declared(
        self, conn, tags: Mapping, resources: Iterable[Resource]
    ) -> dict[str, dict[str, Any]]:
        """Declared collections from SQL, in creation order."""
        loaded = {}
        for resource in resources:
            collection = resource.collection
            resource.count_in_quotas()
            table = resource.table
            if resource.counter:
                order = [table.c[resource.counter_field]]
            elif resource.owned:
                order = [table.c.created_at, table.c.id]
            else:
                order = [table.c.id]
            loaded[collection] = {
                row.id: resource.from_row(row, tags.get((resource.api_collection, row.id), ()))
                for row in conn.execute(select(table).order_by(*order))
            }
            for extension in resource.extensions:
                stored = extension.load(conn)
                loaded[collection] = {
                    key: evolve(record, **{**extension.defaults, **stored.get(key, {})})
                    for key, record in loaded[collection].items()
                }
            if resource.complete is not None:
                loaded[collection] = resource.complete(conn, loaded[collection])

        def loaded_so_far(name: str) -> Mapping:
            return loaded.get(name, {})

        for resource in resources:  # parents list what is nested below them
            link = resource.parent
            if link is None or link.listed_in is None or link.collection not in loaded:
                continue
            above, listed_in = DECLARED[link.collection], link.listed_in
            loaded[above.collection] = {
                key: evolve(
                    record, **{listed_in: nested_listing(loaded_so_far, above, listed_in, key)}
                )
                for key, record in loaded[above.collection].items()
            }
        return loaded

    # ----------------------------------------------------------------------------------- tags
    def _tagged(self, resource_type: str) -> Resource:
        """The resource whose tags are of ``resource_type`` (its API collection)."""
        for collection, resource in DECLARED.items():
            if (
                resource.standard
                and resource.api_collection == resource_type
                and collection in self._declared
            ):
                return resource
        raise errors.ResourceNotFound()

    def get_tags(self, ctx: Context, resource_type: str, resource_id: str) -> list[str]:
        resource = self._tagged(resource_type)
        return list(self.get_record(ctx, resource.collection, resource_id).tags)

    def set_tags(
        self, ctx: Context, resource_type: str, resource_id: str, tags: Iterable[str]
    ) -> list[str]:
        """Replace every tag of a record (its revision rises if they differ)."""
        resource, wanted = self._tagged(resource_type), norm_tags(tags)

        def work(conn, changes):
            record = self.get_record(ctx, resource.collection, resource_id)
            if record.tags != wanted:
                conn.execute(
                    delete(db.tags).where(
                        db.tags.c.resource_type == resource_type,
                        db.tags.c.resource_id == resource_id,
                    )
                )
                write_tags(conn, resource_type, resource_id, wanted)
                Transaction(conn, changes, self).save(resource.collection, record, {"tags": wanted})
            return list(wanted)

        return self._write(work)

    def add_tag(self, ctx: Context, resource_type: str, resource_id: str, tag: str) -> None:
        self.add_tags(ctx, resource_type, resource_id, [tag])

    def add_tags(
        self, ctx: Context, resource_type: str, resource_id: str, tags: Iterable[str]
    ) -> None:
        """Add tags a record lacks (those it has stay; the per-record limit still holds)."""
        with self._lock:
            current = self.get_tags(ctx, resource_type, resource_id)
            if set(tags) - set(current):
                self.set_tags(ctx, resource_type, resource_id, (*current, *tags))

    def remove_tag(self, ctx: Context, resource_type: str, resource_id: str, tag: str) -> None:
        with self._lock:
            current = self.get_tags(ctx, resource_type, resource_id)
            if tag not in current:
                raise errors.TagNotFound(
                    tag=tag, resource=self._tagged(resource_type).member, resource_id=resource_id
                )
            self.set_tags(ctx, resource_type, resource_id, [t for t in current if t != tag])


def nested_listing(
    current: Callable[[str], Mapping], parent: Resource, listed_in: str, parent_id: str
) -> tuple:
    """What a parent lists in ``listed_in``: its nested records of every child collection
    listed there, collection by collection in declaration order, each in its ``order``."""
    listed: list = []
    for child in DECLARED.values():
        link = child.parent
        if link is None or link.collection != parent.collection or link.listed_in != listed_in:
            continue
        below = [
            r for r in current(child.collection).values() if getattr(r, link.field) == parent_id
        ]
        below = sorted(below, key=link.order) if link.order else below
        listed.extend(map(link.listed_as, below) if link.listed_as else below)
    return tuple(listed)


def _request_only(resource: Resource, name: str) -> bool:
    """A request the hooks saw, no field of the record (:attr:`Resource.requests`)."""
    return name in resource.requests and name not in resource.specs


def _parent_id(resource: Resource, record, listed: bool = False) -> str | None:
    """The record's parent in the URL (``listed``: also the parent it is only listed in)."""
    link = resource.parent if listed else resource.nesting
    return getattr(record, link.field) if link else None


def _not_found(resource: Resource, record_id: str, parent: str | None):
    if resource.nested:
        return resource.not_found(parent, record_id)
    return resource.not_found(record_id)
