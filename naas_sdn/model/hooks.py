"""Rules a feature attaches to the core resources (networks, subnets, ports), in the way of
neutron's registry callbacks: the core runs every rule attached to one of its events, and so
never names the feature that brought it (a router's interfaces are ports the port API must not
take over).

Events and what their rules get (a rule refuses by raising a Neutron-shaped error):
- ``ports``, ``before_create``: ``(txn, ctx, attrs)``;
- ``ports``, ``before_update``: ``(txn, ctx, port, values, fixed_ips)``: the changed values, and
  the requested fixed_ips (None when the request names none);
- ``ports``, ``before_delete``: ``(txn, port)``.
"""

from __future__ import annotations

from collections.abc import Callable

_RULES: dict[tuple[str, str], list[Callable[..., None]]] = {}


def attach(collection: str, event: str, rule: Callable[..., None]) -> None:
    """Run ``rule`` at every ``event`` of ``collection`` from now on (once, however often a
    slice is imported)."""
    rules = _RULES.setdefault((collection, event), [])
    if rule not in rules:
        rules.append(rule)


def run(collection: str, event: str, *args) -> None:
    for rule in _RULES.get((collection, event), ()):
        rule(*args)
