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
