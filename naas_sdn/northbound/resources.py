"""The core resources — networks, subnets, ports — described for the generic REST controller."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping

from naas_sdn.model import errors, ipam, schema
from naas_sdn.model.common import format_time
from naas_sdn.model.security import enforced_protection
from naas_sdn.model.service import SEGMENTATION_MAX, SEGMENTATION_MIN, NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap


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


def declared_attributes(resource: schema.Resource) -> AttributeMap:
    """The API attribute map of a declared resource: the standard attributes (only the id of a
    bare one), then its own fields as their declaration says."""
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
            )
        )
    first = _standard() if resource.standard else (Attr("id", lambda r: r.id),)
    return AttributeMap(first + tuple(own))


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
        attributes=declared_attributes(resource),
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


def _no_physical_network(attr, value):
    """Segments ride the fabric's own trunks: there is no physical network to name."""
    if value is not None:
        raise errors.InvalidInput(
            error_message=f"physical_network '{value}' unknown for VLAN provider network"
        )


# The project comes from the token unless the body names one; null names none and is refused,
# as neutron-lib's type:string refuses it.
MISSING_OWNER = schema.COMPUTED

NETWORK_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr(
            "admin_state_up",
            lambda r: r.admin_state_up,
            True,
            True,
            True,
            a.boolean,
            "admin_state_up",
            kind="boolean",
        ),
        # port-security: the default of the network's new ports
        Attr(
            "port_security_enabled",
            lambda r: r.port_security_enabled,
            True,
            True,
            True,
            a.boolean,
            "port_security_enabled",
            kind="boolean",
        ),
        Attr("status", lambda r: r.status),
        Attr("subnets", lambda r: list(r.subnets), kind="other"),
        Attr("shared", lambda r: r.shared, True, True, False, a.boolean, "shared", kind="boolean"),
        Attr("mtu", lambda r: r.mtu, kind="integer"),
        Attr(
            "router:external",
            lambda r: False,
            True,
            True,
            False,
            a.only_false("external networks need the router service plugin, which is not loaded"),
            None,
            kind="boolean",
        ),
        Attr(
            "provider:network_type",
            lambda r: r.network_type,
            True,
            False,
            None,
            a.one_of("vlan"),
            "network_type",
        ),
        Attr(
            "provider:physical_network",
            lambda r: None,
            True,
            False,
            None,
            _no_physical_network,
            None,
            kind="other",
        ),
        Attr(
            "provider:segmentation_id",
            lambda r: r.segmentation_id,
            True,
            False,
            None,
            a.integer_range(SEGMENTATION_MIN, SEGMENTATION_MAX),
            "segmentation_id",
            kind="integer",
        ),
    )
)

PORT_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr(
            "network_id",
            lambda r: r.network_id,
            True,
            False,
            a.MISSING,
            a.uuid_string,
            "network_id",
        ),
        Attr(
            "admin_state_up",
            lambda r: r.admin_state_up,
            True,
            True,
            True,
            a.boolean,
            "admin_state_up",
            kind="boolean",
        ),
        Attr(
            "mac_address", lambda r: r.mac_address, True, True, None, a.mac_address, "mac_address"
        ),
        Attr(
            "fixed_ips",
            lambda r: [{"subnet_id": sid, "ip_address": ip} for sid, ip in r.fixed_ips],
            True,
            True,
            schema.COMPUTED,
            a.fixed_ips,
            "fixed_ips",
            kind="fixed_ips",
        ),
        Attr("device_id", lambda r: r.device_id, True, True, "", a.string(), "device_id"),
        Attr("device_owner", lambda r: r.device_owner, True, True, "", a.string(), "device_owner"),
        Attr("status", lambda r: r.status),
        Attr("binding:host_id", lambda r: r.binding_host_id),
        Attr("binding:vif_type", lambda r: r.binding_vif_type),
        Attr(
            "binding:vnic_type",
            lambda r: r.binding_vnic_type,
            True,
            True,
            "normal",
            a.one_of("normal"),
            "binding_vnic_type",
        ),
        Attr(
            "binding:profile",
            lambda r: r.binding_profile,
            True,
            True,
            {},
            a.dictionary,
            "binding_profile",
            kind="other",
        ),
        Attr("binding:vif_details", lambda r: r.binding_vif_details, kind="other"),
        # port-security, security-group, allowed-address-pairs (the model validates the values),
        # shown as the switches enforce them
        Attr(
            "port_security_enabled",
            lambda r: enforced_protection(r)[0],
            True,
            True,
            schema.COMPUTED,
            a.boolean_or_none,
            "port_security_enabled",
            kind="boolean",
        ),
        Attr(
            "security_groups",
            lambda r: list(enforced_protection(r)[1]),
            True,
            True,
            schema.COMPUTED,
            a.uuid_list,
            "security_groups",
            kind="other",
        ),
        Attr(
            "allowed_address_pairs",
            lambda r: [
                {"ip_address": ip, "mac_address": mac or r.mac_address}
                for ip, mac in enforced_protection(r)[2]
            ],
            True,
            True,
            schema.COMPUTED,
            None,
            "allowed_address_pairs",
            kind="other",
        ),
    )
)


_NO_POOLS = "subnet pools are not supported: the subnet_allocation extension is not loaded"

SUBNET_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr(
            "network_id",
            lambda r: r.network_id,
            True,
            False,
            a.MISSING,
            a.uuid_string,
            "network_id",
        ),
        Attr(
            "ip_version",
            lambda r: r.ip_version,
            True,
            False,
            a.MISSING,
            a.ip_version,
            "ip_version",
            kind="integer",
        ),
        Attr("cidr", lambda r: r.cidr, True, False, schema.COMPUTED, a.subnet_cidr, "cidr"),
        Attr(
            "gateway_ip",
            lambda r: r.gateway_ip,
            True,
            True,
            schema.COMPUTED,
            a.ip_or_none,
            "gateway_ip",
        ),
        Attr(
            "allocation_pools",
            lambda r: [{"start": start, "end": end} for start, end in r.allocation_pools],
            True,
            True,
            schema.COMPUTED,
            a.ip_pools,
            "allocation_pools",
            kind="other",
        ),
        Attr(
            "dns_nameservers",
            lambda r: list(r.dns_nameservers),
            True,
            True,
            [],
            a.nameservers,
            "dns_nameservers",
            kind="other",
        ),
        Attr(
            "host_routes",
            lambda r: [{"destination": d, "nexthop": n} for d, n in r.host_routes],
            True,
            True,
            [],
            a.host_routes,
            "host_routes",
            kind="other",
        ),
        Attr(
            "enable_dhcp",
            lambda r: r.enable_dhcp,
            True,
            True,
            True,
            a.boolean,
            "enable_dhcp",
            kind="boolean",
        ),
        Attr(
            "ipv6_ra_mode",
            lambda r: r.ipv6_ra_mode,
            True,
            False,
            None,
            a.one_of_or_none(*ipam.IPV6_MODES),
            "ipv6_ra_mode",
        ),
        Attr(
            "ipv6_address_mode",
            lambda r: r.ipv6_address_mode,
            True,
            False,
            None,
            a.one_of_or_none(*ipam.IPV6_MODES),
            "ipv6_address_mode",
        ),
        Attr("subnetpool_id", lambda r: None, True, False, None, a.only_none(_NO_POOLS), None),
        Attr(
            "use_default_subnetpool",
            lambda r: False,
            True,
            False,
            False,
            a.only_false(_NO_POOLS),
            None,
            kind="boolean",
        ),
        Attr(
            "service_types",
            lambda r: [],
            True,
            True,
            [],
            a.only_empty_list("subnet service types are not supported"),
            None,
            kind="other",
        ),
        Attr(
            "segment_id",
            lambda r: None,
            True,
            False,
            None,
            a.only_none("routed networks need the segments service plugin, which is not loaded"),
            None,
        ),
    )
)


def core_resources(service: NetworkService) -> list[ResourceDef]:
    return [
        ResourceDef(
            collection="networks",
            member="network",
            attributes=NETWORK_ATTRIBUTES,
            list=service.list_networks,
            get=service.get_network,
            create=service.create_networks,
            update=service.update_network,
            delete=service.delete_network,
            not_found=lambda rid: errors.NetworkNotFound(net_id=rid),
        ),
        ResourceDef(
            collection="subnets",
            member="subnet",
            attributes=SUBNET_ATTRIBUTES,
            list=service.list_subnets,
            get=service.get_subnet,
            create=service.create_subnets,
            update=service.update_subnet,
            delete=service.delete_subnet,
            not_found=lambda rid: errors.SubnetNotFound(subnet_id=rid),
        ),
        ResourceDef(
            collection="ports",
            member="port",
            attributes=PORT_ATTRIBUTES,
            list=service.list_ports,
            get=service.get_port,
            create=service.create_ports,
            update=service.update_port,
            delete=service.delete_port,
            not_found=lambda rid: errors.PortNotFound(port_id=rid),
        ),
    ]
