"""FrozenMap: an immutable mapping that behaves as the dict it stands for, copies included."""

from hypothesis import given, settings
from hypothesis import strategies as st

from naas_sdn.model.frozenmap import FrozenMap

# Steps: (key, value) sets the key, (key, None) removes it; keys are never inserted again
# once removed (ids are UUIDs), so a dict in insertion order is the reference.
steps = st.lists(
    st.lists(st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers())), max_size=40),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_every_copy_equals_its_dict(batches):
    removed: set = set()
    reference: dict = {}
    current = FrozenMap()
    kept = []
    for batch in batches:
        changes = {}
        for key, value in batch:
            if key in removed:
                continue
            changes[key] = value
        for key, value in changes.items():
            if value is None:
                if key in reference:
                    removed.add(key)
                reference.pop(key, None)
            else:
                reference[key] = value
        current = current.updated(changes)
        kept.append((current, dict(reference)))
    for mapping, expected in kept:  # older copies are untouched by later changes
        assert list(mapping.items()) == list(expected.items())
        assert list(mapping) == list(expected) and list(mapping.values()) == list(expected.values())
        assert len(mapping) == len(expected)
        assert mapping == expected and expected == dict(mapping)
        for key in range(0, 401, 7):
            assert (key in mapping) == (key in expected)
            assert mapping.get(key, "none") == expected.get(key, "none")


def test_an_updated_key_keeps_its_place_and_the_copy_shares_its_base():
    first = FrozenMap({"a": 1, "b": 2, "c": 3})
    second = first.updated({"a": 10, "d": 4, "b": None})
    assert list(second.items()) == [("a", 10), ("c", 3), ("d", 4)]
    assert dict(first) == {"a": 1, "b": 2, "c": 3}
    assert second._base is first._base  # nothing copied for a small change
    assert "b" not in second and second.get("b") is None
    try:
        second["b"]
    except KeyError:
        pass
    else:
        raise AssertionError("a removed key must be missing")


def test_a_large_delta_is_folded_into_a_new_base():
    mapping = FrozenMap({i: i for i in range(10_000)})
    for i in range(200):
        mapping = mapping.updated({10_000 + i: i, i: None})
    assert len(mapping) == 10_000
    assert len(mapping._delta) <= 100  # sqrt(10,000): folded once it grew past that
    assert list(mapping)[:2] == [200, 201] and list(mapping)[-1] == 10_199


@settings(max_examples=200, deadline=None)
@given(steps)
def test_changed_since_names_every_key_that_differs(batches):
    """What a reader keeping something derived from an older copy must update: every key
    whose value differs (or None, when the copies no longer share a base)."""
    previous = current = FrozenMap({key: -key for key in range(0, 400, 3)})
    for batch in batches:
        current = current.updated(dict(batch))
        changed = current.changed_since(previous)
        differing = {
            key
            for key in set(current) | set(previous)
            if current.get(key, "absent") != previous.get(key, "absent")
        }
        if changed is not None:
            assert differing <= changed
        previous = current


@settings(max_examples=100, deadline=None)
@given(steps)
def test_a_grouped_index_follows_every_commit(batches):
    """Grouped (naas_sdn.model.derived) over a collection changed commit by commit equals
    the grouping made from scratch, whatever folds happen in between."""
    from naas_sdn.model.derived import Grouped

    class Model:
        def __init__(self):
            self.map = FrozenMap({key: key % 7 for key in range(0, 400, 2)})

        def records(self, collection):
            return self.map

    model = Model()
    grouped = Grouped("things", keys=lambda value: (value % 5,) if value % 3 else ())
    for batch in batches:
        model.map = model.map.updated(dict(batch))
        for group in range(5):
            expected = {
                key: value for key, value in model.map.items() if value % 3 and value % 5 == group
            }
            assert grouped.under(model, group) == expected
