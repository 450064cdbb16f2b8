"""Replica reads remembered for the length of one rendering (`one_render`).

A kind asks for the same rows several times while one certificate is checked and drawn: the 戸籍
named by 本籍 and 筆頭者 from `relation`, `persons` and `content`, the tax record from `eligibility`
and `content`, the seal registration likewise. Inside `one_render` each is read once; outside it
nothing is remembered, and nothing outlives it, so the next rendering sees the replica as it is then
(a 発行停止 placed, a 戸籍 corrected, a 外字 mapped). The restriction checks themselves
(支援措置, 発行停止, 外字) are never remembered here: they are read for every rendering.
"""

import contextlib
import contextvars
from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

T = TypeVar("T")

_reads: contextvars.ContextVar[dict | None] = contextvars.ContextVar("madoguchi_render_reads", default=None)


@contextlib.contextmanager
def one_render() -> Iterator[None]:
    """Remember replica reads until the block ends (an enclosing block's memory is shared)."""
    if _reads.get() is not None:
        yield
        return
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, once per `key` inside `one_render`; every time outside it. A read that raises is
    not remembered."""
    reads = _reads.get()
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return reads[key]
