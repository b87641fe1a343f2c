"""Feature slices: each one package or module holding a feature's declaration, its rules and
its API (and, as the compiler's builder interface lands, its flows).

``IN_TREE`` is the composition root of the slices shipped with naas-sdn: their resources are
always declared (their tables exist whatever the operator loads), while their API is offered
only when ``service_plugins`` names them. Third-party slices come through the
``naas_sdn.plugins`` entry point group instead (:mod:`naas_sdn.northbound.plugins`).
"""

from __future__ import annotations

import importlib

# plugin name -> "module:factory of its API plugin"
IN_TREE = {
    "router": "naas_sdn.features.router:router_plugin",
    "qos": "naas_sdn.features.qos.api:qos_plugin",
    "protocol-block": "naas_sdn.features.protocol_block:protocol_block_plugin",
    "statistics": "naas_sdn.northbound.statistics:statistics_plugin",
}


def import_declarations() -> None:
    """Import every in-tree slice, so that its resources are declared (idempotent)."""
    for target in IN_TREE.values():
        module = target.partition(":")[0]
        if module.startswith(__name__ + "."):
            importlib.import_module(module)


# Slices of the core, whose API is always offered (naas_sdn.northbound.plugins.core_plugin):
# declared with this package, before any service plugin's (whose resources refer to them), so
# their tables and quotas come first.
CORE_SLICES = (
    "naas_sdn.features.networking",
    "naas_sdn.features.security.groups",
    "naas_sdn.features.security.ports",
)
for _module in CORE_SLICES:
    importlib.import_module(_module)
