"""An immutable mapping in insertion order whose changed copy costs what changed.

The mirror publishes a new snapshot per commit, and readers keep the old ones: copying a
collection of 10,000 ports to change one costs a millisecond per commit, most of a create's
time at that size. A :class:`FrozenMap` shares its base dict with its copies and keeps their
changes in a small delta beside it, folded into a new base once the delta outgrows the square
root of the base (so an update costs O(sqrt n) at worst, amortised; a lookup two dict probes).
Libraries of persistent maps (immutables, pyrsistent) hash-trie their keys and lose the
insertion order that API listings follow.
"""

from __future__ import annotations

import math
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Any

_GONE: Any = object()  # in a delta: a key of the base removed
_ABSENT: Any = object()  # not in a delta
_MIN_DELTA = 32


class FrozenMap(Mapping):
    """Keys in the order first inserted (a key updated keeps its place; one removed and
    inserted again keeps its old place when it is still in the base)."""

    __slots__ = ("_base", "_delta", "_len")

    def __init__(self, items: Mapping | Iterable = ()):
        self._base: dict = dict(items)
        self._delta: dict = {}
        self._len = len(self._base)

    @classmethod
    def of(cls, mapping: Mapping) -> FrozenMap:
        """``mapping`` itself if it is a FrozenMap, else a FrozenMap of it."""
        return mapping if isinstance(mapping, FrozenMap) else cls(mapping)

    def updated(self, changes: Mapping) -> FrozenMap:
        """A copy with ``changes`` applied: key -> new value, or None to remove the key."""
        base, delta, size = self._base, dict(self._delta), self._len
        for key, value in changes.items():
            present = key in self
            if value is None:
                if not present:
                    continue
                size -= 1
                if key in base:
                    delta[key] = _GONE
                else:
                    del delta[key]
            else:
                size += not present
                delta[key] = value
        result = FrozenMap.__new__(FrozenMap)
        result._base, result._delta, result._len = base, delta, size
        if len(delta) > max(_MIN_DELTA, math.isqrt(len(base))):
            result._base, result._delta = _folded(base, delta), {}
        return result

    def changed_since(self, older: FrozenMap) -> set | None:
        """The keys whose values may differ in ``older`` (a map this one was made from by
        :meth:`updated`), or None when that is not known cheaply (a fold gave them different
        bases): what a reader keeping something derived from ``older`` updates. Costs the two
        deltas, not the map."""
        if older._base is not self._base:
            return None
        mine, theirs = self._delta, older._delta
        return {
            key
            for key in mine.keys() | theirs.keys()
            if mine.get(key, _ABSENT) is not theirs.get(key, _ABSENT)
        }

    def __getitem__(self, key):
        delta = self._delta
        if key in delta:
            value = delta[key]
            if value is _GONE:
                raise KeyError(key)
            return value
        return self._base[key]

    def get(self, key, default=None):
        delta = self._delta
        if key in delta:
            value = delta[key]
            return default if value is _GONE else value
        return self._base.get(key, default)

    def __contains__(self, key) -> bool:
        delta = self._delta
        if key in delta:
            return delta[key] is not _GONE
        return key in self._base

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator:
        if not self._delta:
            return iter(self._base)
        return (key for key, _ in self._pairs())

    def items(self) -> ItemsView:
        return _Items(self)

    def values(self) -> ValuesView:
        return _Values(self)

    def _pairs(self) -> Iterator[tuple]:
        base, delta = self._base, self._delta
        if not delta:
            yield from base.items()
            return
        for key, value in base.items():
            if key in delta:
                value = delta[key]
                if value is _GONE:
                    continue
            yield key, value
        for key, value in delta.items():
            if key not in base:
                yield key, value

    def __eq__(self, other) -> bool:
        if (
            isinstance(other, FrozenMap)
            and other._base is self._base
            and other._delta == self._delta
        ):
            return True
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._pairs())!r})"


class _Items(ItemsView):
    def __init__(self, frozen: FrozenMap):
        super().__init__(frozen)
        self._frozen = frozen

    def __iter__(self):
        return self._frozen._pairs()


class _Values(ValuesView):
    def __init__(self, frozen: FrozenMap):
        super().__init__(frozen)
        self._frozen = frozen

    def __iter__(self):
        return (value for _, value in self._frozen._pairs())


def _folded(base: dict, delta: dict) -> dict:
    """``base`` with ``delta`` applied, in the map's order: a key of the base keeps its place,
    a new one follows in the order it came. Copied by dict's own loops, not pair by pair
    through :meth:`FrozenMap._pairs`: in Python a fold of 10,000 ports made a create's
    update cost three times what it does at 10."""
    folded = base | delta
    for key, value in delta.items():
        if value is _GONE:
            del folded[key]
    return folded
