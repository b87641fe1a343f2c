"""The ``l2-remote-gateway`` service plugin: /v2.0/l2-remote-gateways and
/v2.0/l2-remote-gateway-connections (the shape of networking-l2gw's remote gateway proposal),
their policy rules and extension."""

from __future__ import annotations

import dataclasses

from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_NET_OWNER, crud
from naas_sdn.northbound.resources import declared_resource

from .resource import CONNECTIONS, GATEWAYS

EXTENSIONS = (
    Extension(
        "l2-remote-gateway",
        "L2 remote gateways",
        "Extends a network to a tenant's remote site through a tunnel (VXLAN or GRE) to the "
        "site's bridging device.",
        updated="2026-12-06T00:00:00-00:00",
    ),
)

# A gateway is its project's; a connection bridges a whole network to the outside, so only
# the network's owner (or an admin) makes one, never a project the network is shared with.
RULES = crud("l2_remote_gateway") + crud("l2_remote_gateway_connection", create=ADMIN_OR_NET_OWNER)


def _status(service):
    """ACTIVE once the tunnel is on the terminating bridge (its port is bound), else DOWN."""

    def show(connection) -> str:
        port = service.records("ports").get(connection.port_id)
        return "ACTIVE" if port is not None and port.status == "ACTIVE" else "DOWN"

    return Attr("status", show, kind="other")


def remote_gateway_plugin(service) -> Plugin:
    connections = declared_resource(service, CONNECTIONS)
    connections = dataclasses.replace(
        connections,
        attributes=AttributeMap(connections.attributes.attrs + (_status(service),)),
    )
    return Plugin(
        "l2-remote-gateway",
        (declared_resource(service, GATEWAYS), connections),
        EXTENSIONS,
        policy_rules=RULES,
    )
