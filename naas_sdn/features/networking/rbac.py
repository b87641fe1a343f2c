"""Sharing objects with other projects: Neutron's RBAC policies (``/v2.0/rbac-policies``).

An entry lets ``target_tenant`` (one project, or ``*`` for all) use an object of another
project: ``access_as_shared`` on a network (see it and its subnets, put ports on it), a QoS
policy or a security group (bind it to its own ports and networks). The slices that own a
shareable object type say so with :func:`shareable`; who sees what follows from the entries
alone (:func:`shared_with`), so the API's ``shared`` of an object is the caller's own view of
it, as in Neutron: true when an entry targets the caller or everyone.

A network's or QoS policy's ``shared`` column is its ``*`` entry, kept by the hooks here in
the same transaction both ways (``shared: true`` creates the entry, deleting the entry clears
the flag). An entry that others depend on (the target's ports on the network, its ports using
the group...) is not deleted or narrowed (``RbacPolicyInUse``), unless another entry still
grants the same access.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Boolean, String, UniqueConstraint

from naas_sdn.model import db, derived, errors, hooks, schema
from naas_sdn.model.common import Context, owner
from naas_sdn.model.schema import field
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

ACCESS_AS_SHARED = "access_as_shared"
ACCESS_AS_EXTERNAL = "access_as_external"  # networks: seen as external networks
ACTIONS = (ACCESS_AS_SHARED, ACCESS_AS_EXTERNAL)
# the record's column each action's entries keep: shared (its "*" entry), external (any)
FLAGS = {ACCESS_AS_SHARED: "shared", ACCESS_AS_EXTERNAL: "external"}
WILDCARD = "*"
POLICIES = "rbac_policies"
_FROM_OBJECT = "rbac: the object's own shared attribute"  # memo key: (type, id) being synced
_GOING = "rbac: objects being deleted"  # memo key: (type, id) whose entries go with them


@dataclasses.dataclass(frozen=True)
class Shareable:
    """An object type projects may share: its collection, its 404, and the projects whose
    resources depend on access to one object (``users(txn, record)``: the projects with
    ports on a network, with ports or networks bound to a QoS policy...). ``flag``: the
    record keeps its ``*`` access_as_shared entry as its ``shared`` column (and, with
    access_as_external among its ``actions``, whether it has any such entry as ``external``)."""

    object_type: str
    collection: str
    not_found: Callable[[str], errors.NeutronException]
    users: Callable[[Transaction, Any], Iterable[str]]
    flag: bool = False
    actions: tuple[str, ...] = (ACCESS_AS_SHARED,)


SHAREABLE: dict[str, Shareable] = {}


def shareable(kind: Shareable) -> Shareable:
    """Let projects share objects of ``kind``: their entries go when the object goes."""
    SHAREABLE[kind.object_type] = kind
    hooks.attach(kind.collection, "before_delete", _object_going(kind))
    return kind


@dataclasses.dataclass(frozen=True, kw_only=True)
class RbacPolicy(schema.Bare):
    project_id: str = field(String(db.PROJECT_LEN), index=True)
    object_type: str = field(String(db.NAME_LEN), post=True, validate=a.string())
    object_id: str = field(String(db.UUID_LEN), index=True, post=True, validate=a.uuid_string)
    action: str = field(String(db.NAME_LEN), post=True, validate=a.one_of(*ACTIONS))
    # required, by this name or as target_project (the API's two names of it)
    target_tenant: str = field(
        String(db.PROJECT_LEN), post=True, put=True, default=schema.COMPUTED, validate=a.string()
    )


# ------------------------------------------------------------------------------------ reading
# an object's entries, by (object type, object id)
_ENTRIES = derived.Grouped(POLICIES, keys=lambda e: ((e.object_type, e.object_id),))


def targets(model, object_type: str, object_id: str, action=ACCESS_AS_SHARED) -> frozenset:
    """The projects an object is shared with (``*``: every project), or made external to."""
    entries = _ENTRIES.under(model, (object_type, object_id)).values()
    return frozenset(e.target_tenant for e in entries if e.action == action)


def shared_with(model, object_type: str, record, project_id: str | None) -> bool:
    """Shared with ``project_id``: an entry names it or every project (Neutron's ``shared``
    as that project sees the object)."""
    found = targets(model, object_type, record.id)
    return WILDCARD in found or (project_id is not None and project_id in found)


def visible(object_type: str) -> Callable[[Context, Any, Any], bool]:
    """A shareable resource's ``visible`` hook: admins, its project and those it is shared
    with see it."""

    def check(ctx: Context, record, model) -> bool:
        if ctx.is_admin or record.project_id == ctx.project_id:
            return True
        found = _ENTRIES.under(model, (object_type, record.id)).values()
        return any(e.target_tenant in (WILDCARD, ctx.project_id) for e in found)

    return check


def shown_shared(object_type: str) -> Callable[[Context, Any, Any], bool]:
    """The ``shared`` attribute as one caller sees it."""
    return lambda ctx, record, model: shared_with(model, object_type, record, ctx.project_id)


def shared_field(object_type: str, put: bool = True) -> Any:
    """The ``shared`` column of an object type whose ``*`` entry is kept on the record (a
    network, a QoS policy): set on POST (and PUT, unless the type's ``shared`` is fixed at
    creation, as a subnet pool's), shown as the caller sees it."""
    return field(
        Boolean,
        post=True,
        put=put,
        default=False,
        validate=a.boolean,
        kind="boolean",
        show_to=shown_shared(object_type),
    )


# ------------------------------------------------------------------------- the object's side
def share_with_all(
    txn: Transaction, object_type: str, record, on: bool, action: str = ACCESS_AS_SHARED
) -> None:
    """The object's own ``shared`` (or a network's ``router:external``) set through its
    API: its ``*`` entry of that action follows, created in its project's name; turned off,
    ``shared`` removes the ``*`` entry, ``router:external`` every external entry (the caller
    checks who depends on them first)."""
    syncing = txn.changes.memo.setdefault(_FROM_OBJECT, set())
    syncing.add((object_type, record.id))
    try:
        wildcard = entries(txn, object_type, record.id, target=WILDCARD, action=action)
        if on and not wildcard:
            attrs = {
                "project_id": record.project_id,
                "object_type": object_type,
                "object_id": record.id,
                "action": action,
                "target_tenant": WILDCARD,
            }
            txn.create(POLICIES, Context.admin(), attrs)
        elif not on:
            gone = (
                wildcard
                if action == ACCESS_AS_SHARED
                else entries(txn, object_type, record.id, action=action)
            )
            if gone:
                txn.delete(POLICIES, gone)
    finally:
        syncing.discard((object_type, record.id))


def users_without_access(txn: Transaction, object_type: str, record, dropped: RbacPolicy):
    """The projects that depend on the object (not its owner) and would lose access if
    ``dropped`` went: none when another entry still grants everyone access."""
    kind = SHAREABLE[object_type]
    others = {e.target_tenant for e in entries(txn, object_type, record.id) if e.id != dropped.id}
    if WILDCARD in others or dropped.target_tenant == record.project_id:
        return set()
    users = set(kind.users(txn, record)) - {record.project_id}
    if dropped.target_tenant == WILDCARD:
        return users - others
    return users & {dropped.target_tenant}


def entries(
    txn: Transaction,
    object_type: str,
    object_id: str,
    target: str | None = None,
    action: str = ACCESS_AS_SHARED,
):
    """The object's entries of ``action`` as the transaction sees them (to ``target`` only,
    if given)."""
    return [
        e
        for e in _ENTRIES.in_transaction(txn, (object_type, object_id)).values()
        if e.action == action and (target is None or e.target_tenant == target)
    ]


def _object_going(kind: Shareable) -> Callable[[Transaction, Any], None]:
    def drop(txn: Transaction, record) -> None:
        """The object's entries go with it (no dependency check: the object's own rules
        refuse deleting what is in use)."""
        going = txn.changes.memo.setdefault(_GOING, set())
        going.add((kind.object_type, record.id))
        txn.delete(
            POLICIES, list(_ENTRIES.in_transaction(txn, (kind.object_type, record.id)).values())
        )

    return drop


# --------------------------------------------------------------------------- the entry's side
def _kind(object_type: str) -> Shareable:
    kind = SHAREABLE.get(object_type)
    if kind is None:
        raise a.invalid("object_type", f"'{object_type}' is not in {sorted(SHAREABLE)}")
    return kind


def _owned_object(txn: Transaction, ctx: Context, kind: Shareable, object_id: str):
    """The object an entry shares: one the caller sees (else its 404) and owns (else
    Neutron's 400), unless the caller is an admin."""
    record = txn.get(kind.collection, object_id)
    if record is None or not schema.DECLARED[kind.collection].is_visible(ctx, record, txn.service):
        raise kind.not_found(object_id)
    if not ctx.is_admin and record.project_id != ctx.project_id:
        raise errors.InvalidInput(
            error_message="Only admins can manipulate policies on objects they do not own"
        )
    return record


def _check_unique(txn: Transaction, values: Mapping, but: str | None = None) -> None:
    same = (values["action"], values["target_tenant"])
    for e in _ENTRIES.in_transaction(txn, (values["object_type"], values["object_id"])).values():
        if e.id != but and (e.action, e.target_tenant) == same:
            raise errors.DuplicateRbacPolicy()


def going(txn: Transaction, object_type: str, object_id: str) -> bool:
    """The object is being deleted in this transaction (its entries go with it)."""
    return (object_type, object_id) in txn.changes.memo.get(_GOING, ())


def _sync_flag(txn: Transaction, kind: Shareable, record, action: str, on: bool) -> None:
    """The object's ``shared`` (``external``) column follows its entries (unless the object
    itself is the one changing it, or is going), as an update of it the other slices' rules
    see (a network with routers' gateways stays external)."""
    key = (kind.object_type, record.id)
    if not kind.flag or key in txn.changes.memo.get(_FROM_OBJECT, ()):
        return
    if going(txn, *key):
        return
    current = txn.get(kind.collection, record.id)
    if current is not None and getattr(current, FLAGS[action]) != on:
        values = {FLAGS[action]: on}
        hooks.run(
            kind.collection, "before_update", txn, txn.ctx or Context.admin(), current, values
        )
        txn.save(kind.collection, current, values)


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    kind = _kind(attrs["object_type"])
    if attrs["action"] not in kind.actions:
        raise errors.InvalidInput(
            error_message=f"Invalid action '{attrs['action']}' for object type "
            f"'{kind.object_type}'. Valid actions: {list(kind.actions)}"
        )
    target = attrs.get("target_tenant")
    if target is None:
        raise errors.BadRequestMessage(
            msg="Failed to parse request. Required attribute 'target_tenant' not specified"
        )
    if (kind.object_type, attrs["object_id"]) in txn.changes.memo.get(_FROM_OBJECT, ()):
        record = txn.get(kind.collection, attrs["object_id"])
    else:
        record = _owned_object(txn, ctx, kind, attrs["object_id"])
    values = {
        "project_id": owner(ctx, attrs),
        "object_type": kind.object_type,
        "object_id": record.id,
        "action": attrs["action"],
        "target_tenant": target,
    }
    _check_unique(txn, values)
    if target == WILDCARD or values["action"] == ACCESS_AS_EXTERNAL:
        _sync_flag(txn, kind, record, values["action"], True)
    return values


def _check_dropped(txn: Transaction, kind: Shareable, record, entry: RbacPolicy) -> None:
    """Nobody may lose the access they depend on (the object's own rules decide when it is
    going, or when its ``shared`` is what changes)."""
    key = (kind.object_type, record.id)
    if key in txn.changes.memo.get(_GOING, ()) or key in txn.changes.memo.get(_FROM_OBJECT, ()):
        return
    left_out = users_without_access(txn, kind.object_type, record, entry)
    if left_out:
        raise errors.RbacPolicyInUse(
            object_id=record.id, details=f"project_id={sorted(left_out)[0]}"
        )


def _before_update(txn: Transaction, ctx: Context, entry: RbacPolicy, values: dict) -> None:
    """A new target: the object's owner (or an admin) changes it, and the old target must
    not depend on it (a new ``*`` keeps everyone's access)."""
    kind = _kind(entry.object_type)
    record = _owned_object(txn, ctx, kind, entry.object_id)
    new = values["target_tenant"]
    _check_unique(txn, {**entry.__dict__, "target_tenant": new}, but=entry.id)
    if entry.action != ACCESS_AS_SHARED:
        return  # an external network stays external, whoever it is external to
    if new != WILDCARD:
        _check_dropped(txn, kind, record, entry)
    if WILDCARD in (new, entry.target_tenant):
        _sync_flag(txn, kind, record, ACCESS_AS_SHARED, new == WILDCARD)


def _before_delete(txn: Transaction, entry: RbacPolicy) -> None:
    kind = SHAREABLE.get(entry.object_type)
    record = txn.get(kind.collection, entry.object_id) if kind else None
    if kind is None or record is None:
        return
    if entry.action == ACCESS_AS_EXTERNAL:  # external while any external entry is left
        left = entries(txn, kind.object_type, record.id, action=entry.action)
        if not [e for e in left if e.id != entry.id]:
            _sync_flag(txn, kind, record, entry.action, False)
        return
    _check_dropped(txn, kind, record, entry)
    if entry.target_tenant == WILDCARD:
        _sync_flag(txn, kind, record, ACCESS_AS_SHARED, False)


RBAC_POLICIES = schema.declare(
    schema.Resource(
        RbacPolicy,
        POLICIES,
        "rbac_policy",
        path="rbac-policies",
        not_found=lambda policy_id: errors.RbacPolicyNotFound(id=policy_id, object_type="unknown"),
        prepare=_prepare,
        before_update=_before_update,
        before_delete=_before_delete,
        quota=10,
        constraints=(
            UniqueConstraint(
                "object_type",
                "object_id",
                "action",
                "target_tenant",
                name="uniq_rbac_policies_object_action_target",
            ),
        ),
    )
)
