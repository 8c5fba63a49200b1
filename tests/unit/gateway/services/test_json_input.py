"""The bounded JSON decoder every face reads client JSON through (gateway/services/json_input.py):
its depth measure against a plain recursive one, its limits at their edges, and that
malformed JSON stays a JSONDecodeError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.services.errors import InvalidJson
from gateway.services.json_input import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    _standard_loads,
    loads,
    nested_deeper,
)

# Keys and strings full of what could confuse a bracket count: brackets, quotes, escapes.
TRICKY_TEXT = st.text(alphabet='[]{}"\\ ab:,', max_size=6)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY_TEXT, inner,
                                                                 max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, levels=st.integers(min_value=0, max_value=12))
def test_nested_deeper_agrees_with_the_decoded_depth(value: Any, levels: int) -> None:
    assert nested_deeper(json.dumps(value), levels) == (depth(value) > levels)


def nest(levels: int, inner: str = "1") -> str:
    return '{"a": ' * (levels // 2) + "[" * (levels - levels // 2) + inner + \
        "]" * (levels - levels // 2) + "}" * (levels // 2)


def test_depth_limit_at_its_edge() -> None:
    assert depth(loads(nest(MAX_DEPTH))) == MAX_DEPTH
    for levels in (MAX_DEPTH + 1, 1000, 30_000):
        with pytest.raises(InvalidJson, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads(nest(levels))


@pytest.mark.parametrize("text", ["[" * 2000, '{"a":' * 2000, '{"q": 1, "v": ' + "[" * 5000 + "1"])
def test_unclosed_deep_nesting_is_too_deep_not_a_crash(text: str) -> None:
    """Malformed and deep: the decoder would recurse before it found the JSON unclosed."""
    with pytest.raises(InvalidJson, match=f"nested deeper than {MAX_DEPTH} levels"):
        loads(text)


def test_brackets_inside_strings_do_not_nest() -> None:
    text = json.dumps({"a": "[" * 500, "b": ['\\"]]', "{{{"]})
    assert loads(text) == json.loads(text)


def test_integer_digits_at_their_edge() -> None:
    assert loads("9" * MAX_INT_DIGITS) == int("9" * MAX_INT_DIGITS)
    assert loads("-" + "9" * MAX_INT_DIGITS) == -int("9" * MAX_INT_DIGITS)
    for text in ("9" * (MAX_INT_DIGITS + 1), '{"n": -' + "1" * 5000 + "}"):
        with pytest.raises(InvalidJson, match=f"integer of more than {MAX_INT_DIGITS} digits"):
            loads(text)
    assert loads('"' + "9" * 5000 + '"') == "9" * 5000  # a string of digits is no integer


def test_bytes_must_be_utf8() -> None:
    assert loads('{"a": "é"}'.encode()) == {"a": "é"}
    with pytest.raises(InvalidJson, match=r"not UTF-8 \(byte 0xff at position 7\)"):
        loads(b'{"a": "\xff"}')
    with pytest.raises(InvalidJson, match="not UTF-8"):
        loads('{"a": "é"}'.encode("utf-16"))


@pytest.mark.parametrize("text", ["{", '{"a": 1', "[1,]", "", "nul", "[" * 10 + "]" * 9])
def test_malformed_json_stays_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads(text)


def test_the_refusal_is_bad_input_with_details() -> None:
    with pytest.raises(InvalidJson) as refused:
        loads(nest(100))
    assert refused.value.code == "BAD_USER_INPUT"
    assert refused.value.details == [{"loc": ["body"], "msg": refused.value.message,
                                      "type": "json_invalid"}]


NUMBERS_AND_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(value=NUMBERS_AND_TEXT)
def test_the_fast_way_answers_as_the_standard_way(value: Any) -> None:
    """orjson takes what it decodes as the standard library does; big integers, lone
    surrogates, NaN and the rest go the standard way (floats compared by their repr)."""
    text = json.dumps(value).encode()
    assert repr(loads(text)) == repr(_standard_loads(text))


@pytest.mark.parametrize("text", [b"123456789012345678901234567890", b"[-9223372036854775809]",
                                  b"[NaN, Infinity]", b"[1e400]", b'"\\ud800"', b"1e-400"])
def test_what_orjson_would_change_goes_the_standard_way(text: bytes) -> None:
    assert repr(loads(text)) == repr(json.loads(text))
