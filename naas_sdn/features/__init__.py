"""Feature slices: each one package holding a feature's declaration, its rules, its API and
its flow builder.

``IN_TREE`` is the composition root of the slices shipped with naas-sdn: their resources are
always declared (their tables exist whatever the operator loads), while their API is offered
only when ``service_plugins`` names them. ``BUILDERS`` lists their flow builders, which the
compiler loads when it is imported, API or not. Third-party slices come through the
``naas_sdn.plugins`` entry point group instead (:mod:`naas_sdn.northbound.plugins`) and
register their builder when loaded (``compiler.register_feature``).
"""

from __future__ import annotations

import importlib

# plugin name -> "module:factory of its API plugin"
IN_TREE = {
    "router": "naas_sdn.features.router:router_plugin",
    "qos": "naas_sdn.features.qos.api:qos_plugin",
    "protocol-block": "naas_sdn.features.protocol_block.api:protocol_block_plugin",
    "statistics": "naas_sdn.features.statistics.api:statistics_plugin",
    "l2-remote-gateway": "naas_sdn.features.remote_gateway.api:remote_gateway_plugin",
    "network-ip-availability": "naas_sdn.features.ip_availability.api:ip_availability_plugin",
    "trace": "naas_sdn.features.trace.api:trace_plugin",
}

# "module:class" of each in-tree slice's flow builder. A builder module imports only
# naas_sdn.flows and the model's snapshot views, so loading it keeps the compiler pure.
BUILDERS = (
    "naas_sdn.features.protocol_block.flows:ProtocolBlocks",
    "naas_sdn.features.qos.flows:Qos",
    "naas_sdn.features.statistics.flows:Statistics",
)


# Slices of the core, whose API is always offered (naas_sdn.northbound.plugins.core_plugin):
# declared first, before any service plugin's (whose resources refer to them), so their tables
# and quotas come first.
CORE_SLICES = (
    "naas_sdn.features.networking",
    "naas_sdn.features.security.groups",
    "naas_sdn.features.security.ports",
)


def import_declarations() -> None:
    """Import every in-tree slice, so that its resources are declared (idempotent). Not done
    at this package's import: the compiler imports it for ``BUILDERS`` and stays pure."""
    for module in CORE_SLICES:
        importlib.import_module(module)
    for target in IN_TREE.values():
        module = target.partition(":")[0]
        if module.startswith(__name__ + "."):
            importlib.import_module(module)


def in_tree_builders() -> list:
    """The builder classes of ``BUILDERS``, imported."""
    found = []
    for target in BUILDERS:
        module, _, name = target.partition(":")
        found.append(getattr(importlib.import_module(module), name))
    return found
