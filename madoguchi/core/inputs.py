"""Text that no layer below can hold, refused where it enters.

PostgreSQL refuses a NUL character in text and in jsonb, and a lone surrogate (U+D800–U+DFFF) cannot be
encoded in UTF-8 at all, so either one reaching a query is a server error instead of a clear answer.
JSON nested deeper than the interpreter's stack is a RecursionError in `json.loads`. Every body, query
string and form that comes from outside passes through `is_safe_text` (the middleware) or `loads`.
"""

import json
import re

# Deeper than any message we accept (LINE events nest about five levels, JWT claims two or three).
MAX_JSON_DEPTH = 32

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class UnsafeInput(ValueError):
    """NUL, a lone surrogate, undecodable bytes or too deep nesting. A ValueError, so that code which
    already refuses malformed JSON with `except ValueError` refuses this too."""


def is_safe_text(value: str) -> bool:
    return _UNSAFE.search(value) is None


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest, without parsing it."""
    depth = deepest = 0
    for ch in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check(value) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_safe_text(item):
                raise UnsafeInput("NUL or lone surrogate in JSON")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH):
    """`json.loads` for input from outside: UTF-8 only, nesting at most `max_depth`, and no string
    (key or value) holding NUL or a lone surrogate."""
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeInput("JSON is not UTF-8") from None
    # Counting brackets first keeps the usual small message off the slower scan.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise UnsafeInput("JSON nested too deep")
    try:
        data = json.loads(text)
    except RecursionError:  # unreachable after the depth check; kept as the last line of defence
        raise UnsafeInput("JSON nested too deep") from None
    except ValueError as exc:
        raise UnsafeInput(f"malformed JSON: {exc}") from None
    _check(data)
    return data
