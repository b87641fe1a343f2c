"""One declaration per resource: a frozen dataclass whose fields say what they are in SQL and on
the API, in the spirit of neutron-lib's attribute maps with the table beside them.

The SQL table, the row mapping, the updatable set, tag support, the snapshot view and the API
attribute map all follow from the declaration (:class:`Resource`); the generic store
(:mod:`naas_sdn.model.store`) gives it transactions, revisions, If-Match, tags and events. What
is left to a resource's own code is its relational rules, attached as hooks.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, MetaData, String, Table, Text
from sqlalchemy.types import TypeEngine

from naas_sdn.model import db, errors, quotas

SPEC = "naas_sdn"  # the dataclass field metadata key holding a field's Spec
MISSING = object()  # no API default: the attribute is required on POST
COMPUTED = object()  # optional on POST, and null is a value: the resource's hook computes it


@dataclasses.dataclass(frozen=True)
class Spec:
    """What one field of a resource is in its table and on the API.

    ``column`` None: the field is no column of the resource's own table (the tags, a list kept
    in a table of its own). ``validate`` takes (API name, wire value) and returns the value to
    store or raises InvalidAttribute: it is the one place the field's syntax is checked.
    """

    column: TypeEngine | type | None = None
    nullable: bool = False
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    foreign_key: str | None = None  # "networks.id"
    on_delete: str | None = None  # the foreign key's ON DELETE
    wire: str | None = None  # the API name, when not the field's
    visible: bool = True  # shown on the API (a flow key is not)
    readable: bool = True  # False: written through the API, never shown (a secret)
    post: bool = False  # allow_post
    put: bool = False  # allow_put
    default: Any = MISSING  # the API's default on POST (MISSING: required)
    validate: Callable[[str, Any], Any] | None = None
    show: Callable[[Any], Any] | None = None  # record -> wire value (None: the field's value)
    # (caller's context, record, model) -> the wire value as that caller sees it (a network's
    # shared: true for the projects it is shared with)
    show_to: Callable[[Any, Any, Any], Any] | None = None
    kind: str = "string"  # how the API filters and sorts it: string, boolean, integer, other
    column_default: Any = None  # the column's Python-side default
    # record value <-> column value, when they differ (a tuple of pairs kept as JSON text)
    to_column: Callable[[Any], Any] | None = None
    from_column: Callable[[Any], Any] | None = None


def field(
    column: TypeEngine | type | None = None,
    *,
    record_default: Any = dataclasses.MISSING,
    **spec: Any,
) -> Any:
    """A declared field: ``column`` and the keywords of :class:`Spec`; ``record_default`` is the
    dataclass default (records are built whole by the store, so only list-like fields need
    one)."""
    return dataclasses.field(default=record_default, metadata={SPEC: Spec(column=column, **spec)})


def json_list(*, pairs: bool, **spec: Any) -> Any:
    """A small ordered list read and written whole with its record, kept as JSON text in every
    dialect: of values, or of ``pairs`` (tuples in the record, lists in the JSON)."""
    if pairs:
        spec.update(
            to_column=lambda value: json.dumps([list(pair) for pair in value]),
            from_column=lambda text: tuple(tuple(pair) for pair in json.loads(text)),
        )
    else:
        spec.update(
            to_column=lambda value: json.dumps(list(value)),
            from_column=lambda text: tuple(json.loads(text)),
        )
    return field(Text, column_default="[]", kind="other", **spec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Standard:
    """Neutron's standard attributes: every resource declared here has them (the API shows
    them through :func:`naas_sdn.northbound.resources.standard_attributes`)."""

    id: str = field(String(db.UUID_LEN), primary_key=True)
    project_id: str = field(String(db.PROJECT_LEN), index=True)
    name: str = field(String(db.NAME_LEN), column_default="")
    description: str = field(String(db.NAME_LEN), column_default="")
    revision_number: int = field(BigInteger)
    created_at: datetime.datetime = field(DateTime)
    updated_at: datetime.datetime = field(DateTime)
    tags: tuple[str, ...] = field(record_default=())


STANDARD_FIELDS = frozenset(f.name for f in dataclasses.fields(Standard))
STANDARD_UPDATABLE = frozenset({"name", "description"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Owned:
    """Neutron's standard attributes but the name and the tags: a project's record with a
    description, a revision and timestamps (a security group rule). The API shows them through
    :func:`naas_sdn.northbound.resources._owned_and_stamped`."""

    id: str = field(String(db.UUID_LEN), primary_key=True)
    project_id: str = field(String(db.PROJECT_LEN), index=True)
    description: str = field(String(db.NAME_LEN), column_default="")
    revision_number: int = field(BigInteger)
    created_at: datetime.datetime = field(DateTime)
    updated_at: datetime.datetime = field(DateTime)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Bare:
    """Only an id: a record with none of the standard attributes (no project, name, revision,
    timestamps or tags), such as a QoS rule, which is seen and changed through its parent."""

    id: str = field(String(db.UUID_LEN), primary_key=True)


@dataclasses.dataclass(frozen=True)
class Parent:
    """The resource a record belongs to: it goes when its parent goes (ON DELETE CASCADE in SQL,
    the same in the mirror), and callers see it only if they see the parent.

    ``nested``: the record is served below its parent (/qos/policies/<id>/bandwidth_limit_rules),
    found only through it, and a change of it is a change of the parent, whose revision rises
    (as Neutron's QoS policy's does when a rule changes). ``listed_in``: the parent's field
    holding its nested records (of every child collection listed there, in declaration order,
    each sorted by ``order``, or ``listed_as`` of each), kept by the store. ``revises``: the
    record is part of its parent, whose revision rises when it changes (nested ones always;
    a security group's rules too, not a network's subnets), unless the parent is created in
    the same transaction.
    """

    collection: str  # "networks"
    field: str  # the record's field naming the parent: "network_id"
    nested: bool = False
    listed_in: str | None = None
    order: Callable[[Any], Any] | None = None  # a nested record's sort key among its siblings
    listed_as: Callable[[Any], Any] | None = None  # what the listing holds of each (None: it)
    revises: bool = False

    def __post_init__(self):
        if self.nested:
            object.__setattr__(self, "revises", True)


@dataclasses.dataclass(frozen=True)
class Resource:
    """A resource's declaration: its record class and what the store needs to keep it.

    Hooks (all optional) hold the resource's relational rules, never syntax:
    ``prepare(txn, ctx, attrs) -> values`` checks a create and returns the fields the store
    does not fill itself (everything but the standard attributes and ``key``);
    ``before_update(txn, ctx, record, values)`` checks an update's changed values;
    ``before_delete(txn, record)`` refuses a delete (in use) or removes what depends on it.
    ``after_create(txn, ctx, attrs, record)`` writes what a new record brings with it once its
    row exists (a port's addresses; a group's rules, through ``txn.create``).
    ``visible(ctx, record, model)`` says who sees a record (default: its project and admins).
    ``view_reads(record, records) -> view``, instead of ``view``, for a view that also reads
    other collections of the committed model (``records(collection)``: a subnet's network).
    ``check_request(items)`` refuses a bulk create as a whole, before anything is written;
    ``before_list(service, ctx)`` makes what a listing must show on first use;
    ``complete(conn, records)`` returns the loaded records with the fields kept in tables of
    their own.
    Other slices' rules on a resource come through :mod:`naas_sdn.model.hooks`, and their
    attributes of it through :class:`Extension`.
    """

    record: type
    collection: str  # the table, the mirror, tags' resource type and the snapshot field
    member: str  # singular API name: "protocol_block"
    not_found: Callable[..., errors.NeutronException]  # (id) -> the API's 404; nested: (parent, id)
    counter: str | None = None  # the monotonic counter giving the ``counter_field``
    counter_field: str = "key"
    view: Callable[[Any], Any] | None = None  # record -> what the compiler sees
    parent: Parent | None = None
    prepare: Callable[..., Mapping[str, Any]] | None = None
    before_update: Callable[..., None] | None = None
    before_delete: Callable[..., None] | None = None
    view_reads: Callable[[Any, Callable[[str], Mapping]], Any] | None = None
    visible: Callable[..., bool] | None = None
    check_request: Callable[[list], None] | None = None
    after_create: Callable[..., None] | None = None
    before_list: Callable[..., None] | None = None
    complete: Callable[[Any, dict], dict] | None = None
    quota: int | None = None  # default limit per project (None: no quota)
    also_counts: tuple[str, ...] = ()  # other quotas a create fills (a new group's own rules)
    path: str = ""  # API path under /v2.0/, when not the collection
    plural: str = ""  # the API's collection (body key, tags' resource type), when not collection
    quota_name: str = ""  # the quota's resource name, when not the member
    constraints: tuple = ()  # table constraints beyond the fields' own (a UniqueConstraint)
    # API attributes that are no field: (wire name, Spec with ``show``), checked and dropped
    # (Neutron's attributes of features naas-sdn answers with their one value)
    virtual: tuple[tuple[str, Spec], ...] = ()
    # Attributes the hooks must see whenever a request names them: ``prepare`` finds them in
    # its attrs, ``before_update`` in its values even when equal to the record's (a floating
    # IP's port_id, sent again with another fixed_ip_address). Those that are no field of the
    # record are requests, never stored: a router's external_gateway_info (its gateway port
    # is made or deleted), a floating IP's subnet_id. Their API attributes come with the
    # plugin, which passes them on under these names.
    requests: frozenset[str] = frozenset()

    def __post_init__(self):
        fields = {
            f.name: f.metadata[SPEC] for f in dataclasses.fields(self.record) if SPEC in f.metadata
        }
        object.__setattr__(self, "specs", fields)
        object.__setattr__(
            self, "table", _table(self.collection, fields, self.metadata, self.constraints)
        )

    specs: Mapping[str, Spec] = dataclasses.field(init=False, repr=False, compare=False)
    table: Table = dataclasses.field(init=False, repr=False, compare=False)

    @property
    def has_view(self) -> bool:
        return self.view is not None or self.view_reads is not None

    def make_view(self, records: Callable[[str], Mapping]) -> Callable[[Any], Any]:
        """record -> its view, reading ``records`` (collection -> committed records)."""
        if self.view_reads is not None:
            view_reads = self.view_reads
            return lambda record: view_reads(record, records)
        return self.view or (lambda record: None)

    @property
    def extensions(self) -> tuple[Extension, ...]:
        return tuple(EXTENSIONS.get(self.collection, ()))

    @property
    def in_tree(self) -> bool:
        """Shipped with naas-sdn: its table is part of the migrated schema."""
        return self.record.__module__.startswith("naas_sdn.")

    @property
    def metadata(self) -> MetaData:
        """The core schema's for in-tree resources; a plugin's tables are kept apart, so the
        migrated schema stays the same whatever plugins are installed."""
        return db.metadata if self.in_tree else PLUGIN_METADATA

    @property
    def standard(self) -> bool:
        """Has Neutron's standard attributes (else it is :class:`Bare`)."""
        return issubclass(self.record, Standard)

    @property
    def owned(self) -> bool:
        """Has a project, a revision and timestamps (:class:`Standard` or :class:`Owned`)."""
        return issubclass(self.record, (Standard, Owned))

    @property
    def nested(self) -> bool:
        return self.nesting is not None

    @property
    def nesting(self) -> Parent | None:
        """The parent of a nested resource (None: not nested)."""
        return self.parent if self.parent is not None and self.parent.nested else None

    @property
    def api_collection(self) -> str:
        return self.plural or self.collection

    @property
    def columns(self) -> tuple[str, ...]:
        """The fields kept in the resource's own table, in declaration order."""
        return tuple(name for name, spec in self.specs.items() if spec.column is not None)

    @property
    def updatable(self) -> frozenset[str]:
        """What a PUT may change: the standard name and description, and fields with put."""
        standard = STANDARD_UPDATABLE if self.standard else frozenset()
        extended = {name for extension in self.extensions for name in extension.updatable}
        return (
            standard
            | extended
            | {name for name in self.requests if name not in self.specs}
            | {
                name
                for name, spec in self.specs.items()
                if spec.put and name not in STANDARD_FIELDS
            }
        )

    @property
    def own_fields(self) -> dict[str, Spec]:
        """The fields beyond the standard attributes, in declaration order."""
        return {
            name: spec
            for name, spec in self.specs.items()
            if name not in STANDARD_FIELDS and name != EXTENDED
        }

    def row(self, record) -> dict[str, Any]:
        return self.column_values({name: getattr(record, name) for name in self.columns})

    def column_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Record values as their columns keep them (only the fields that are columns)."""
        columns = {}
        for name, value in values.items():
            spec = self.specs.get(name)
            if spec is None or spec.column is None:
                continue
            columns[name] = spec.to_column(value) if spec.to_column else value
        return columns

    def from_row(self, row, tags: tuple[str, ...]):
        values = {}
        for name in self.columns:
            convert = self.specs[name].from_column
            values[name] = convert(getattr(row, name)) if convert else getattr(row, name)
        return self.record(**values, tags=tags) if self.standard else self.record(**values)

    def extension_view(self, record) -> dict[str, Any]:
        """What the slices that extend this resource give its view (PortView's
        qos_policy_id...)."""
        fields: dict[str, Any] = {}
        for extension in self.extensions:
            if extension.view is not None:
                fields.update(extension.view(record))
        return fields

    def count_in_quotas(self) -> None:
        """Make the resource's quota known (once its table exists: usage is counted in it)."""
        if self.quota is not None and self.quota_resource not in quotas.REGISTRY:
            quotas.register(
                quotas.QuotaResource(
                    self.quota_resource, self.quota, self.table, self.path or self.collection
                )
            )

    @property
    def quota_resource(self) -> str:
        return self.quota_name or self.member

    def is_visible(self, ctx, record, model) -> bool:
        if self.nesting is not None:
            parent = DECLARED[self.nesting.collection]
            above = model.records(parent.collection).get(getattr(record, self.nesting.field))
            return above is not None and parent.is_visible(ctx, above, model)
        if self.visible is not None:
            return self.visible(ctx, record, model)
        return ctx.is_admin or record.project_id == ctx.project_id


EXTENDED = "extensions"  # the field of an Extensible record holding its extensions' values


@dataclasses.dataclass(frozen=True, kw_only=True)
class Extensible(Standard):
    """A resource other slices add attributes to (:class:`Extension`): their values ride in
    ``extensions`` and read as attributes (``port.qos_policy_id``; :func:`common.evolve`
    changes them), so the resource's own declaration never names the slices that extend it."""

    # (name, value) pairs, sorted: records stay hashable
    extensions: tuple[tuple[str, Any], ...] = field(record_default=(), visible=False)

    def __getattr__(self, name: str) -> Any:
        if name != EXTENDED:
            for key, value in object.__getattribute__(self, EXTENDED):
                if key == name:
                    return value
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")


@dataclasses.dataclass(frozen=True)
class Extension:
    """Attributes one slice adds to another's resource (the security slice's
    port_security_enabled on ports, QoS's qos_policy_id), kept in tables of the slice's own,
    as Neutron's extensions keep theirs: a record without a row there has the ``defaults``.
    The record holds them in ``extensions`` (:class:`Extensible`).

    ``load(conn) -> {record id: {name: value}}``: what the tables hold, read on start;
    ``on_create(txn, ctx, attrs, record) -> {name: value}``: a new record's values, checked
    and written; ``on_update(txn, ctx, record, attrs, values) -> {name: value}``: the values
    an update changes, checked and written (``values``: the record's own changed fields, such
    as a port's new MAC); ``view(record) -> {view field: value}``: what the compiler's view
    of the record gets of them. The API attributes come with the slice's plugin.
    """

    collection: str
    defaults: Mapping[str, Any]
    load: Callable[[Any], Mapping[str, Mapping[str, Any]]]
    on_create: Callable[..., Mapping[str, Any]]
    on_update: Callable[..., Mapping[str, Any]]
    view: Callable[[Any], Mapping[str, Any]] | None = None
    updatable: frozenset[str] = frozenset()  # what a PUT may name (default: every attribute)

    def __post_init__(self):
        if not self.updatable:
            object.__setattr__(self, "updatable", frozenset(self.defaults))


EXTENSIONS: dict[str, list[Extension]] = {}


def extend(extension: Extension) -> Extension:
    """Add a slice's attributes to a resource (once, however often the slice is imported)."""
    known = EXTENSIONS.setdefault(extension.collection, [])
    if extension not in known:
        known.append(extension)
    return extension


PLUGIN_METADATA = MetaData()  # tables of third-party slices: created when their plugin loads


def _table(name: str, specs: Mapping[str, Spec], metadata: MetaData, constraints=()) -> Table:
    columns = []
    for field_name, spec in specs.items():
        if spec.column is None:
            continue
        args = []
        if spec.foreign_key:
            table, _, column = spec.foreign_key.partition(".")
            target: Any = spec.foreign_key  # resolved when the schema is made
            if metadata is not db.metadata and table not in metadata.tables:
                target = db.declared_metadata().tables[table].c[column]  # across metadata
            args.append(ForeignKey(target, ondelete=spec.on_delete))
        columns.append(
            Column(
                field_name,
                spec.column,
                *args,
                primary_key=spec.primary_key,
                nullable=spec.nullable,
                unique=spec.unique or None,
                index=spec.index or None,
                default=spec.column_default,
            )
        )
    return Table(name, metadata, *columns, *constraints)


def view_of(view: type) -> Callable[[Any], Any]:
    """A ``view`` for a resource whose view is its record's fields of the same names."""
    names = tuple(f.name for f in dataclasses.fields(view))
    return lambda record: view(**{name: getattr(record, name) for name in names})


DECLARED: dict[str, Resource] = {}


def declare(resource: Resource) -> Resource:
    """Make a resource known to the store: every service loads and keeps it from then on."""
    DECLARED[resource.collection] = resource
    return resource
