"""REST collections for the generic controller: every declared resource's, the core ones
(networks, subnets, ports) included."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from naas_sdn.model import errors, schema
from naas_sdn.model.common import format_time
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap


def refuse_change(*_args):
    """The create, update and delete of a read-only resource (its router answers 405 first)."""
    raise errors.MethodNotAllowed(method="this")


@dataclasses.dataclass(frozen=True)
class ResourceDef:
    """A REST collection: its attribute map and the service calls that implement it.

    A nested collection (``children``, e.g. a QoS policy's bandwidth_limit_rules) is declared
    with callables that take the parent's id right after ``ctx`` (``not_found``: first); the
    controller binds it to the parent named in the URL (:meth:`bind`).
    """

    collection: str  # plural body key and, unless ``path`` says otherwise, the URL segment
    member: str  # singular body key, e.g. "network"
    attributes: AttributeMap
    list: Callable  # (ctx) -> records
    get: Callable  # (ctx, id) -> record
    create: Callable  # (ctx, [fields]) -> records, all or nothing
    update: Callable  # (ctx, id, fields, if_revision) -> record
    delete: Callable  # (ctx, id, if_revision) -> None
    not_found: Callable[..., errors.NeutronException]  # (id); nested: (parent id, id)
    taggable: bool = True
    # PUT /<collection>/<id>/<action>: (ctx, id, JSON body) -> JSON body, e.g. Neutron's
    # add_router_interface, whose request and answer are bare objects.
    actions: Mapping[str, Callable] = dataclasses.field(default_factory=dict)
    path: str = ""  # URL below /v2.0/ when not the collection name, e.g. "qos/policies"
    children: Mapping[str, ResourceDef] = dataclasses.field(default_factory=dict)
    valid_id: Callable[[str], bool] = a.is_uuid  # ids that are not: the member is not found
    read_only: bool = False  # GET only (e.g. qos/rule-types)
    policy_member: str = ""  # the name policy rules use, when not ``member``
    parent_owner: str | None = None  # a bound nested collection: its parent's project
    # (ctx, id, fields) -> record: a GET whose answer depends on the ``fields`` asked, shown
    # whole (auto-allocated-topology's ``fields=dry-run`` checks instead of building)
    show: Callable | None = None
    # filter-only query parameters (neutron-lib's is_visible False, is_filter True): name ->
    # conversion of one value; ``list`` takes them as keywords, each a list of values
    list_filters: Mapping[str, Callable[[str, str], Any]] = dataclasses.field(default_factory=dict)
    primary_key: str = "id"  # the attribute a member is named by (its URL, a page's marker)
    # None: ``list`` and ``get`` return only what the default ``get`` rule lets the caller see
    # (the model scopes them). Given: they return every object, as Neutron's plugins do, and
    # this is the default rule's decision on one, (ctx, record) -> bool, so that a list need
    # not evaluate the rule per object; an overridden rule is evaluated per object, and a show
    # it denies is Neutron's generic 404 (ResourceNotFound)
    default_visible: Callable[[Any, Any], bool] | None = None

    @property
    def policy_name(self) -> str:
        """``port`` in ``create_port``, ``policy_bandwidth_limit_rule`` for a QoS rule."""
        return self.policy_member or self.member

    def rule(self, verb: str) -> str:
        """The policy rule of one verb on this resource: ``create_port``, ``get_network``."""
        return f"{verb}_{self.policy_name}"

    @property
    def url_path(self) -> str:
        return self.path or self.collection

    def bind(self, parent_id: str, parent_owner: str) -> ResourceDef:
        """This nested collection as seen below one parent (owned by ``parent_owner``)."""

        def under(call):
            return lambda ctx, *args: call(ctx, parent_id, *args)

        return dataclasses.replace(
            self,
            list=under(self.list),
            get=under(self.get),
            create=under(self.create),
            update=under(self.update),
            delete=under(self.delete),
            not_found=lambda rid: self.not_found(parent_id, rid),
            parent_owner=parent_owner,
        )

    def extended(self, attrs) -> ResourceDef:
        """With attributes a service plugin adds (e.g. qos_policy_id on ports)."""
        return dataclasses.replace(
            self, attributes=AttributeMap(self.attributes.attrs + tuple(attrs))
        )


def read_only(
    collection: str,
    member: str,
    attributes: AttributeMap,
    listed: Callable,
    shown: Callable,
    not_found: Callable[..., errors.NeutronException],
    valid_id: Callable[[str], bool] | None = None,
    default_visible: Callable[[Any, Any], bool] | None = None,
) -> ResourceDef:
    """A collection the API only reads (GET list and show; anything else 405), at its name
    with dashes, untagged."""
    resource = ResourceDef(
        collection=collection,
        member=member,
        path=collection.replace("_", "-"),
        attributes=attributes,
        list=listed,
        get=shown,
        create=refuse_change,
        update=refuse_change,
        delete=refuse_change,
        not_found=not_found,
        taggable=False,
        read_only=True,
        default_visible=default_visible,
    )
    return resource if valid_id is None else dataclasses.replace(resource, valid_id=valid_id)


def _standard(name_getter=lambda r: r.project_id) -> tuple[Attr, ...]:
    """The attributes every Neutron resource with standard attributes carries."""
    return (
        (
            Attr("id", lambda r: r.id),
            Attr("name", lambda r: r.name, True, True, "", a.name_string(), "name"),
            Attr("description", lambda r: r.description, True, True, "", a.string(), "description"),
        )
        + _owned_and_stamped(name_getter)
        + (Attr("tags", lambda r: list(r.tags), True, False, [], a.tag_list, "tags", kind="other"),)
    )


def _owned_and_stamped(name_getter=lambda r: r.project_id) -> tuple[Attr, ...]:
    """The project and revision/timestamp attributes (alone: resources with no name or tags)."""
    return (
        Attr("project_id", name_getter, True, False, MISSING_OWNER, a.string(), "project_id"),
        Attr("tenant_id", name_getter, True, False, MISSING_OWNER, a.string(), "project_id"),
        Attr("revision_number", lambda r: r.revision_number, kind="integer"),
        Attr("created_at", lambda r: format_time(r.created_at)),
        Attr("updated_at", lambda r: format_time(r.updated_at)),
    )


def declared_attributes(resource: schema.Resource, model=None) -> AttributeMap:
    """The API attribute map of a declared resource: the standard attributes (only the id of a
    bare one), then its own fields as their declaration says (a field shown per caller reads
    ``model``)."""
    own = []
    for name, spec in resource.own_fields.items():
        if not spec.visible:
            continue
        own.append(
            Attr(
                spec.wire or name,
                spec.show or operator.attrgetter(name),
                spec.post,
                spec.put,
                spec.default,
                spec.validate,
                name,
                kind=spec.kind,
                readable=spec.readable,
                show_to=_caller_view(spec, model),
            )
        )
    for wire, spec in resource.virtual:
        show = spec.show or (lambda r: None)
        own.append(
            Attr(
                wire,
                show,
                spec.post,
                spec.put,
                spec.default,
                spec.validate,
                wire if wire in resource.requests else None,  # passed on to the hooks
                spec.kind,
                readable=spec.readable,
                show_to=_caller_view(spec, model),
            )
        )
    first = _standard() if resource.standard else (Attr("id", lambda r: r.id),)
    return AttributeMap(first + tuple(own))


def _caller_view(spec: schema.Spec, model):
    """``Attr.show_to`` of a field shown per caller (None: shown alike to all)."""
    if spec.show_to is None or model is None:
        return None
    return functools.partial(_show_to, spec.show_to, model)


def _show_to(show_to, model, ctx, record):
    return show_to(ctx, record, model)


def declared_resource(
    service, resource: schema.Resource, actions: Mapping[str, Callable] | None = None
) -> ResourceDef:
    """The REST collection of a declared resource, served by the generic store (which keeps
    it from now on, if it was declared after the service started), with the collections
    nested below it (their calls take the parent's id after ``ctx``, as :meth:`ResourceDef.bind`
    gives it). ``actions``: its member actions, PUT /v2.0/<path>/<id>/<action>, as
    ``ResourceDef.actions`` takes them (they run their work in the store's
    :meth:`~naas_sdn.model.store.DeclaredStore.change_record`)."""
    service.adopt(resource)
    collection = resource.collection

    def scoped(call):
        if not resource.nested:
            return call
        return lambda ctx, parent_id, *args: call(ctx, *args, parent=parent_id)

    link = resource.nesting
    parent = schema.DECLARED[link.collection] if link is not None else None
    return ResourceDef(
        collection=resource.api_collection,
        member=resource.member,
        path=resource.path,
        attributes=declared_attributes(resource, service),
        list=scoped(lambda ctx, parent=None: service.list_records(ctx, collection, parent)),
        get=scoped(lambda ctx, rid, parent=None: service.get_record(ctx, collection, rid, parent)),
        create=scoped(
            lambda ctx, items, parent=None: service.create_records(ctx, collection, items, parent)
        ),
        update=scoped(
            lambda ctx, rid, attrs, rev=None, parent=None: service.update_record(
                ctx, collection, rid, attrs, rev, parent
            )
        ),
        delete=scoped(
            lambda ctx, rid, rev=None, parent=None: service.delete_record(
                ctx, collection, rid, rev, parent
            )
        ),
        not_found=resource.not_found,
        taggable=resource.standard,
        children={
            child.api_collection: declared_resource(service, child)
            for child in schema.DECLARED.values()
            if child.nesting is not None and child.nesting.collection == collection
        },
        # Neutron's names for a nested resource's rules: create_policy_bandwidth_limit_rule
        policy_member=f"{parent.member}_{resource.member}" if parent else "",
        actions=dict(actions or {}),
    )


# The project comes from the token unless the body names one; null names none and is refused,
# as neutron-lib's type:string refuses it.
MISSING_OWNER = schema.COMPUTED


def core_resources(service) -> list[ResourceDef]:
    """Networks, subnets and ports, declared in :mod:`naas_sdn.features.networking`."""
    from naas_sdn.features.networking import networks, ports, subnets

    return [
        declared_resource(service, declaration)
        for declaration in (networks.NETWORKS, subnets.SUBNETS, ports.PORTS)
    ]
