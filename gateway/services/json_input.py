"""Client JSON, decoded within bounds. Every face reads what a client sends through
`loads`: REST bodies (gateway/rest/route_class.py), GraphQL bodies and query parameters, and
WebSocket messages (gateway/graphql/router.py, gateway/graphql/transport_ws.py).

The standard library's decoder alone turned three kinds of input into a 500: nesting
near 1,000 levels (RecursionError), an integer of more than 4,300 digits (a plain
ValueError) and bytes that are not UTF-8 (UnicodeDecodeError). Here each is an
`InvalidJson` whose message says what is wrong; malformed JSON stays a JSONDecodeError,
which every face already answers.

The depth check costs two `count`s on an ordinary body: a body with at most MAX_DEPTH
brackets cannot nest deeper, and only a larger one is measured.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from gateway.services.errors import InvalidJson

MAX_DEPTH = 64
# Under 640, the lowest limit Python's int() can be configured to, so int() never refuses
# what is let through; far beyond any number a job takes (BigInt stops at 100 digits).
MAX_INT_DIGITS = 500

# What is not a bracket of an array or an object: a JSON string (escapes included), whose
# brackets nest nothing, and any run of other characters.
_NOT_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[^"\[\]{}]+')
_SQUARE = str.maketrans("{}", "[]")


def loads(data: bytes | str) -> Any:
    """`json.loads` within the bounds above: InvalidJson when out of them,
    json.JSONDecodeError when the text is not JSON."""
    if isinstance(data, bytes):
        kinds = data.translate(_KINDS)
        if kinds.count(b"[") <= MAX_DEPTH and _LONG_NUMBER not in kinds:
            try:
                return orjson.loads(data)
            except orjson.JSONDecodeError:
                pass  # not UTF-8, NaN, 1e400, a lone surrogate, not JSON: the standard way
    return _standard_loads(data)


def _standard_loads(data: bytes | str) -> Any:
    if isinstance(data, bytes):
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise InvalidJson(f"the JSON is not UTF-8 (byte {exc.object[exc.start]:#04x} "
                              f"at position {exc.start})") from None
    else:
        text = data
    if text.count("[") + text.count("{") > MAX_DEPTH and nested_deeper(text, MAX_DEPTH):
        raise InvalidJson(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        return _DECODER.decode(text)
    except RecursionError:  # the measure above makes this unreachable; a 500 never
        raise InvalidJson(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None


def nested_deeper(text: str, levels: int) -> bool:
    """True when arrays and objects in `text` nest more than `levels` deep. Without its
    strings and everything else but brackets, JSON is a bracket sequence; each pass
    removes the innermost (empty) pairs, so one level at a time. What is left when no
    pair is (malformed JSON) is closers then openers: the unclosed openers still nest, on
    top of the levels removed so far (the decoder recursed into them before it could
    tell the JSON is malformed)."""
    brackets = _NOT_BRACKET.sub("", text).translate(_SQUARE)
    for removed in range(levels + 1):
        if "[]" not in brackets:
            return removed + brackets.count("[") > levels
        brackets = brackets.replace("[]", "")
    return True


def _int(digits: str) -> int:
    if len(digits.removeprefix("-")) > MAX_INT_DIGITS:
        raise InvalidJson(f"the JSON has an integer of more than {MAX_INT_DIGITS} digits")
    return int(digits)


# A body within the depth bound and without a run of 19 digits is decoded by orjson, which
# answers as the standard library does there, 0.9 µs for a GraphQL request's body where
# the standard way takes 1.6 (orjson makes an integer beyond 64 bits a float, hence the
# digits). The check is one translate: each byte as a bracket ("["), a digit ("0") or else.
_KINDS = bytes(ord("[") if b in b"[{" else ord("0") if b in b"0123456789" else ord(" ")
               for b in range(256))
_LONG_NUMBER = b"0" * 19

# Built once: json.loads with any option builds a new decoder per call.
_DECODER = json.JSONDecoder(parse_int=_int)
