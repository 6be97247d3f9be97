"""cloacina.Context: a mapping of JSON values with insert/set/update semantics."""

import math

import pytest

from cloacina import Context, ContextKeyError, SerializationError


def test_insert_refuses_an_existing_key():
    context = Context()
    context.insert("a", 1)
    with pytest.raises(ContextKeyError, match="context key `a` already exists; use `set` or `update`"):
        context.insert("a", 2)
    assert context["a"] == 1


def test_update_refuses_a_missing_key_and_set_does_either():
    context = Context()
    with pytest.raises(ContextKeyError, match="`missing` does not exist; use `insert` or `set`"):
        context.update("missing", 1)
    context.set("k", 1)
    context.set("k", 2)
    context.update("k", 3)
    assert context.get("k") == 3


def test_key_errors_are_also_key_and_value_errors():
    context = Context()
    with pytest.raises(KeyError):
        context["absent"]
    with pytest.raises(KeyError):
        del context["absent"]
    context.insert("taken", True)
    with pytest.raises(ValueError):
        context.insert("taken", False)


def test_get_returns_a_default_and_remove_returns_the_value():
    context = Context({"present": [1, 2]})
    assert context.get("absent") is None
    assert context.get("absent", "fallback") == "fallback"
    assert context.remove("present") == [1, 2]
    assert context.remove("present") is None
    assert "present" not in context


def test_mapping_protocol():
    context = Context({"zeta": 1, "alpha": {"nested": [None, True, 1.5, "x"]}})
    context["middle"] = "m"
    assert len(context) == 3
    assert list(context) == ["zeta", "alpha", "middle"]
    assert context.keys() == ["zeta", "alpha", "middle"]
    assert context.values() == [1, {"nested": [None, True, 1.5, "x"]}, "m"]
    assert context.items()[0] == ("zeta", 1)
    assert context.to_dict() == {"zeta": 1, "alpha": {"nested": [None, True, 1.5, "x"]}, "middle": "m"}
    assert "zeta" in context and 42 not in context
    del context["zeta"]
    assert context == {"alpha": {"nested": [None, True, 1.5, "x"]}, "middle": "m"}
    assert context == Context(context.to_dict())


def test_values_round_trip_as_json_types():
    value = {"int": 2**62, "neg": -7, "float": 0.1, "bool": False, "none": None, "list": [1, [2, [3]]], "text": "é"}
    context = Context()
    context.insert("value", value)
    assert context["value"] == value
    assert context.raw("value") == value
    context.set("tuple", (1, 2))
    assert type(context["tuple"]) is tuple
    assert context["tuple"] == (1, 2)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (frozenset({object()}), "the value at `payload[0]` has type `object`"),
        (object(), "the value has type `object`"),
        ({"inner": [1, math]}, 'the value at `payload["inner"][1]` has type `module`'),
        ({(1, 2): (x for x in [])}, "the value at `payload[(1, 2)]` has type `generator`"),
        ((1, [Context]), "the value at `payload[1][0]` has type `type`"),
    ],
)
def test_unsupported_values_are_refused_naming_key_place_and_type(value, fragment):
    context = Context()
    with pytest.raises(SerializationError) as raised:
        context.set("payload", value)
    assert "context key `payload`" in str(raised.value)
    assert fragment in str(raised.value)
    assert isinstance(raised.value, TypeError)
    assert "payload" not in context


def test_only_dicts_and_contexts_build_a_context():
    with pytest.raises(SerializationError, match=r"a context must be a dict, a cloacina\.Context or None, not `list`"):
        Context([1, 2])
    copy = Context(Context({"a": 1}))
    assert copy["a"] == 1


def test_repr_shows_the_values():
    assert repr(Context({"a": [1], "b": "it's"})) == """Context({'a': [1], 'b': "it's"})"""


@pytest.mark.parametrize(
    ("write", "fragment"),
    [
        (
            lambda context: context.set("text", "lone \udc80"),
            "context key `text`: the value is a str with a lone surrogate",
        ),
        (
            lambda context: context.set("nested", {"inner": ["\ud800"]}),
            'context key `nested`: the value at `nested["inner"][0]` is a str with a lone surrogate',
        ),
        (lambda context: context.set("keys", {"\udfff": 1}), "context key `keys`: the value is a dict with a key"),
        (lambda context: context.set("\udc80", 1), "a context key is not valid Unicode: it contains a lone surrogate"),
        (lambda context: context.insert("\udc80", 1), "a context key is not valid Unicode"),
        (lambda context: context.update("\udc80", 1), "a context key is not valid Unicode"),
        (lambda context: Context({"\udc80": 1}), "a context key is not valid Unicode"),
    ],
)
def test_lone_surrogates_are_serialization_errors(write, fragment):
    with pytest.raises(SerializationError) as raised:
        write(Context())
    assert fragment in str(raised.value)
    assert "surrogate" in str(raised.value)


def test_a_key_that_cannot_exist_is_absent():
    context = Context({"a": 1})
    assert "\udc80" not in context
    assert context.get("\udc80", "default") == "default"
    with pytest.raises(ContextKeyError):
        context["\udc80"]


def test_nesting_deeper_than_the_limit_is_refused_naming_key_and_limit():
    value = None
    for _ in range(100):
        value = [value]
    context = Context()
    context.set("deepest", value)
    assert context["deepest"] == value
    for too_deep in ([value], {"wrapped": value}):
        with pytest.raises(SerializationError, match=r"context key `deep`: .* nests deeper than 100 levels"):
            context.set("deep", too_deep)
    very_deep: list = []
    for _ in range(100_000):
        very_deep = [very_deep]
    with pytest.raises(SerializationError, match="nests deeper than 100 levels"):
        context.set("very_deep", very_deep)


def test_a_value_that_contains_itself_is_refused():
    looped: list = [1]
    looped.append(looped)
    with pytest.raises(SerializationError, match=r"context key `looped`: the value at `looped\[1\]` contains itself"):
        Context().set("looped", looped)
    cycle: dict = {"a": {}}
    cycle["a"]["back"] = cycle
    with pytest.raises(SerializationError, match="contains itself"):
        Context({"cycle": cycle})
    shared = [1, 2]
    assert Context({"twice": [shared, shared]})["twice"] == [[1, 2], [1, 2]]


@pytest.mark.parametrize("number", [130.65331632653061, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 2.0**-1074])
def test_floats_round_trip_to_the_last_digit(number):
    context = Context({"number": number})
    assert repr(context["number"]) == repr(number)


def test_values_live_in_the_context_and_cross_into_python_on_each_read():
    written = {"rows": [1, 2, 3]}
    context = Context()
    context.insert("table", written)
    # The value was converted when written: changing the Python object afterwards changes nothing.
    written["rows"].append(4)
    assert context["table"] == {"rows": [1, 2, 3]}
    # Every read makes new Python objects from the stored value; changing one is not a write.
    first, second = context.get("table"), context.get("table")
    assert first == second and first is not second
    first["rows"].clear()
    assert context["table"] == {"rows": [1, 2, 3]}
    context.update("table", first)
    assert context["table"] == {"rows": []}
