"""Offset-based pagination for List methods: opaque page tokens and slicing a list into pages.

Knows nothing of grpc; a bad `page_size` or `page_token` is an `InvalidArgument`. Each service
passes its own default page size.
"""

from __future__ import annotations

import base64
from typing import TypeVar

from services.common.errors import InvalidArgument, Reason

T = TypeVar("T")

MAX_PAGE_SIZE = 1000


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_page_token(token: str) -> int:
    """The offset a token stands for (0 for the empty token); INVALID_PAGE_TOKEN for one not ours."""
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token is not one this server issued", reason=Reason.INVALID_PAGE_TOKEN,
                              field="page_token") from exc
    return offset


def page_window(page_size: int, page_token: str, *, default_size: int) -> tuple[int, int]:
    """(offset, size) of the page asked for: `default_size` when page_size is 0, at most 1000."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", reason=Reason.FIELD_OUT_OF_RANGE, field="page_size")
    size = min(page_size or default_size, MAX_PAGE_SIZE)
    return decode_page_token(page_token), size


def page(items: list[T], page_size: int, page_token: str, *, default_size: int) -> tuple[list[T], str]:
    """One page of `items` and the token for the next ("" on the last page)."""
    offset, size = page_window(page_size, page_token, default_size=default_size)
    next_offset = offset + size
    next_token = encode_page_token(next_offset) if next_offset < len(items) else ""
    return items[offset:next_offset], next_token
