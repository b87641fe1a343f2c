"""Plugin registry: which API resources and extensions the server offers.

The core (networks, subnets, ports) is always loaded. Service plugins — in-tree ones registered with
:func:`register`, third-party ones through the ``naas_sdn.plugins`` entry point group — add
resources and extensions when the operator lists them in ``service_plugins``. Paths of Neutron
service areas whose plugin is not loaded answer 501, so clients learn the feature is missing
rather than that the URL is wrong.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterable
from importlib import metadata

from naas_sdn import features
from naas_sdn.model import schema
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.resources import core_resources

LOG = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "naas_sdn.plugins"
CORE = "core"


PluginFactory = Callable[[object], Plugin]  # (NetworkService) -> Plugin

# First path segment under /v2.0/ → the Neutron service plugin that serves it.
SERVICE_AREAS = {
    "network-ip-availabilities": "network-ip-availability",
    "traces": "trace",
    "fabric-switches": "trace",
    "fabric-links": "trace",
    "routers": "router",
    "floatingips": "router",
    "floatingip-pools": "router",
    "ndp-proxies": "router",
    "security-groups": "security-group",
    "security-group-rules": "security-group",
    "address-groups": "security-group",
    "qos": "qos",
    "trunks": "trunk",
    "metering": "metering",
    "segments": "segments",
    "network-segment-ranges": "network-segment-range",
    "port-forwardings": "port-forwarding",
    "local-ips": "local-ip",
    "log": "log",
    "fwaas": "firewall",
    "vpn": "vpnaas",
    "lbaas": "lbaas",
    "bgpvpn": "bgpvpn",
    "bgp-speakers": "bgp",
    "bgp-peers": "bgp",
    "sfc": "sfc",
    "taas": "taas",
    "flavors": "flavors",
    "service_profiles": "flavors",
    "agents": "agent",
    "availability_zones": "availability_zone",
    "auto-allocated-topology": "router",
    "service-providers": "servicetype",
    "network_segment_ranges": "network-segment-range",
    "policies": "qos",  # the tag extension's path of QoS policies: /policies/{id}/tags
    "protocol-blocks": "protocol-block",
    "l2-remote-gateways": "l2-remote-gateway",
    "l2-remote-gateway-connections": "l2-remote-gateway",
    "network-statistics": "statistics",
    "port-statistics": "statistics",
    "vif-statistics": "statistics",
    "ip-statistics": "statistics",
}

CORE_EXTENSIONS = (
    Extension(
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    Extension(
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    Extension(
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    Extension(
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources that have "
        "Neutron standard attributes.",
    ),
    Extension(
        "standard-attr-tag",
        "Tag support for resources with standard attribute",
        "Enables to set tag on resources with standard attribute.",
    ),
    Extension(
        "tag-creation",
        "Tag creation extension",
        "Allow to create multiple tags for a resource",
    ),
    Extension(
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    Extension("sorting", "Sorting support", "Enabled sorting support"),
    Extension("pagination", "Pagination support", "Enabled pagination support"),
    Extension(
        "filter-validation",
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    Extension(
        "empty-string-filtering",
        "Empty String Filtering Extension",
        "Allow filtering by attributes with empty string value",
    ),
    Extension(
        "provider", "Provider Network", "Expose mapping of virtual networks to physical networks"
    ),
    Extension("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    Extension(
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    Extension(
        "ip-substring-filtering",
        "IP address substring filtering",
        "Provides IP address substring filtering when listing ports",
    ),
    Extension(
        "binding", "Port Binding", "Expose port bindings of a virtual port to external application"
    ),
)


class UnknownPluginError(ValueError):
    """The configuration names a service plugin nobody provides."""


def core_plugin(service) -> Plugin:
    from naas_sdn.features.networking.pools_api import POOL_EXTENSIONS, POOL_RULES, pool_resources
    from naas_sdn.features.networking.rbac_api import RBAC_EXTENSIONS, RBAC_RULES, rbac_resource
    from naas_sdn.features.security.api import (
        SECURITY_EXTENSIONS,
        SECURITY_RULES,
        security_resources,
    )
    from naas_sdn.features.security.ports import ATTRIBUTES as PORT_SECURITY
    from naas_sdn.northbound.policy import CORE_RULES
    from naas_sdn.northbound.quotas import QUOTA_EXTENSIONS, QUOTA_RULES

    return Plugin(
        CORE,
        tuple(
            core_resources(service)
            + pool_resources(service)
            + security_resources(service)
            + [rbac_resource(service)]
        ),
        CORE_EXTENSIONS
        + POOL_EXTENSIONS
        + SECURITY_EXTENSIONS
        + QUOTA_EXTENSIONS
        + RBAC_EXTENSIONS,
        policy_rules=CORE_RULES + POOL_RULES + SECURITY_RULES + QUOTA_RULES + RBAC_RULES,
        attribute_extensions=PORT_SECURITY,
        shareable=("network", "security_group", "subnetpool", "address_scope"),
    )


def available() -> dict[str, Callable[[], PluginFactory]]:
    """Plugin name → a loader returning its factory (entry points are imported lazily)."""
    return {name: functools.partial(_resolve, target) for name, target in _targets().items()}


def _targets() -> dict[str, str]:
    """Plugin name → "module:factory", in-tree ones first."""
    found = dict(features.IN_TREE)
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def dormant_areas(loaded: Iterable[str]) -> dict[str, str]:
    """First URL segments of the resources that installed plugins declare but the operator
    did not load → the plugin's name, so that they answer 501 like Neutron's areas. A plugin
    that fails to import is left out with a warning: it must not stop the others."""
    loaded = set(loaded)
    areas = {}
    for name, target in _targets().items():
        if name in loaded:
            continue
        module = target.partition(":")[0]
        try:
            importlib.import_module(module)
        except Exception:  # a third party's bug: report it, serve the rest
            LOG.warning("service plugin %r (%s) cannot be imported", name, module, exc_info=True)
            continue
        for resource in schema.DECLARED.values():
            owner = resource.record.__module__
            if owner == module or owner.startswith(module + "."):
                areas[(resource.path or resource.collection).split("/")[0]] = name
    return areas


def _resolve(target: str) -> PluginFactory:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def load(service, names: Iterable[str] | None) -> list[Plugin]:
    """The core plus the configured service plugins, in order; unknown names raise."""
    names = [n.strip() for n in (names or []) if n and n.strip()]
    known = available()
    unknown = [n for n in names if n not in known and n != CORE]
    if unknown:
        raise UnknownPluginError(
            f"unknown service plugin(s) {', '.join(repr(n) for n in unknown)} in "
            f"service_plugins; available: {', '.join(sorted(known)) or 'none'}"
        )
    plugins = [core_plugin(service)]
    for name in dict.fromkeys(names):
        if name == CORE:
            continue
        plugins.append(known[name]()(service))
    return plugins
