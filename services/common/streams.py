"""Client streams whose first message carries the stream's config (`streaming_config` in the
`streaming_request` oneof). Knows nothing of grpc; a bad stream is an `InvalidArgument`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from services.common.errors import InvalidArgument, Reason

M = TypeVar("M", bound=Message)


async def first_config(requests: AsyncIterator[M]) -> M:
    """The stream's first message, which must carry `streaming_config` (STREAM_CONFIG_MISSING)."""
    try:
        first = await anext(requests)
    except StopAsyncIteration:
        raise InvalidArgument("the stream ended before its config", reason=Reason.STREAM_CONFIG_MISSING,
                              field="streaming_config") from None
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
