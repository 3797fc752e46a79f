"""Offset-based pagination for List methods: opaque page tokens and slicing a list into pages —
and, for a caller of such a method, reading every page (`all_pages`).

Knows nothing of grpc; a bad `page_size` or `page_token` is an `InvalidArgument`. Each service
passes its own default page size. A token can be bound to the query it pages (`query_digest` of
every request field but the paging ones), so a token sent with other filters is refused instead of
silently paging a different result.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from services.common.errors import InvalidArgument, Reason

T = TypeVar("T")

MAX_PAGE_SIZE = 1000


def query_digest(fields: Mapping[str, Any]) -> str:
    """What a page token is bound to: a stable hash of the fields that decide a query's result."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_page_token(offset: int, bound: str = "") -> str:
    return base64.urlsafe_b64encode(f"o:{offset}:{bound}".encode() if bound else f"o:{offset}".encode()).decode()


def decode_page_token(token: str, bound: str = "") -> int:
    """The offset a token stands for (0 for the empty token); INVALID_PAGE_TOKEN for one not ours,
    or one issued for another query than `bound` names."""
    if not token:
        return 0
    try:
        kind, _, rest = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        value, _, issued_for = rest.partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token is not one this server issued", reason=Reason.INVALID_PAGE_TOKEN,
                              field="page_token") from exc
    if issued_for != bound:
        raise InvalidArgument("page_token belongs to another query; send the same fields as the first page",
                              reason=Reason.INVALID_PAGE_TOKEN, field="page_token")
    return offset


def checked_page_size(page_size: int, default_size: int) -> int:
    """`default_size` when page_size is 0, at most MAX_PAGE_SIZE; FIELD_OUT_OF_RANGE when negative."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", reason=Reason.FIELD_OUT_OF_RANGE, field="page_size")
    return min(page_size or default_size, MAX_PAGE_SIZE)


def page_window(page_size: int, page_token: str, *, default_size: int) -> tuple[int, int]:
    """(offset, size) of the page asked for: `default_size` when page_size is 0, at most 1000."""
    size = checked_page_size(page_size, default_size)
    return decode_page_token(page_token), size


def page(items: list[T], page_size: int, page_token: str, *, default_size: int) -> tuple[list[T], str]:
    """One page of `items` and the token for the next ("" on the last page)."""
    offset, size = page_window(page_size, page_token, default_size=default_size)
    next_offset = offset + size
    next_token = encode_page_token(next_offset) if next_offset < len(items) else ""
    return items[offset:next_offset], next_token


# Pages of a discovery list (ListModels, ListVoices, ListLanguagePairs) a caller reads before giving
# up: far beyond any deployment, and a bound should a server hand back tokens that never end.
MAX_PAGES = 100


async def all_pages(fetch: Callable[[str], Awaitable[tuple[list[T], str]]]) -> list[T]:
    """Every item of a paged list: `fetch(page_token)` → (items, next_page_token), from the empty
    token until one comes back empty (or MAX_PAGES pages)."""
    items: list[T] = []
    token = ""
    for _ in range(MAX_PAGES):
        page, token = await fetch(token)
        items.extend(page)
        if not token:
            break
    return items
