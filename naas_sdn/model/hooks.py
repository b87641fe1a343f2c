"""Rules a feature attaches to another slice's resources (the core's ports), in the way of
neutron's registry callbacks: the core runs every rule attached to one of its events, and so
never names the feature that brought it (a router's interfaces are ports the port API must not
take over).

The generic store runs them for every declared resource, before the resource's own hooks;
what their rules get (a rule refuses by raising a Neutron-shaped error):
- ``before_create``: ``(txn, ctx, attrs)``;
- ``before_update``: ``(txn, ctx, record, values)``: the changed values as requested (a
  port's ``fixed_ips`` as the request lists them);
- ``before_delete``: ``(txn, record)``;
- ``after_create``: ``(txn, ctx, record)``: the new record, once the resource's own hooks
  made what comes with it (a router's gateway port takes an address on a new subnet of its
  external network).
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
