"""Client streams whose first message carries the stream's config (`streaming_config` in the
`streaming_request` oneof). Knows nothing of grpc; a bad stream is an `InvalidArgument`, and so
is one that sends no config in time (a client that opens streams and sends nothing would hold
each one, and its server-side state, until the stream's deadline, if any)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from services.common.errors import InvalidArgument, Reason

M = TypeVar("M", bound=Message)


# CommonSettings.stream_config_timeout_s's default.
STREAM_CONFIG_TIMEOUT_S = 10.0


async def first_config(requests: AsyncIterator[M], timeout_s: float = STREAM_CONFIG_TIMEOUT_S) -> M:
    """The stream's first message, which must carry `streaming_config` and arrive within
    `timeout_s` (STREAM_CONFIG_MISSING)."""
    try:
        first = await asyncio.wait_for(anext(requests), timeout_s)
    except StopAsyncIteration:
        raise InvalidArgument("the stream ended before its config", reason=Reason.STREAM_CONFIG_MISSING,
                              field="streaming_config") from None
    except TimeoutError:
        raise InvalidArgument(f"no streaming_config within {timeout_s:g} s of the stream's start",
                              reason=Reason.STREAM_CONFIG_MISSING, field="streaming_config") from None
    if first.WhichOneof("streaming_request") != "streaming_config":
        raise InvalidArgument("the first message must carry streaming_config", reason=Reason.STREAM_CONFIG_MISSING,
                              field="streaming_config")
    return first


async def payloads(requests: AsyncIterator[M], field: str) -> AsyncIterator[Any]:
    """The rest of the stream: each message's `field` (its `streaming_request`), where another
    config is STREAM_CONFIG_REPEATED."""
    async for message in requests:
        if message.WhichOneof("streaming_request") != field:
            raise InvalidArgument("streaming_config may only be sent first", reason=Reason.STREAM_CONFIG_REPEATED,
                                  field="streaming_config")
        yield getattr(message, field)
