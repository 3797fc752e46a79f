"""What one call hands on to every downstream call it makes: the caller's metadata (request id,
trace context, identity) and deadline, and how a downstream field name maps back onto the
caller's request. Shared by the services that call other services (pipeline, ulca); no grpc
here, so domain cores can take a `CallContext`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

from services.common.errors import DeadlineExceeded, Reason

# Maps a downstream request's field path onto the calling request's ("config.language_code"
# → "tasks[0].asr.language_code").
FieldMap = Callable[[str], str]


@dataclasses.dataclass(frozen=True)
class CallContext:
    """What every downstream call of one call carries: metadata and the deadline."""

    metadata: tuple[tuple[str, str], ...] = ()
    deadline: float | None = None  # time.monotonic() at which the caller gives up

    def timeout(self, default_s: float) -> float:
        """Seconds a downstream call may take: the caller's remaining time, less a margin to
        answer in, or `default_s` when the caller set no deadline."""
        if self.deadline is None:
            return default_s
        remaining = self.deadline - time.monotonic() - 0.01
        if remaining <= 0:
            raise DeadlineExceeded("the caller's deadline passed before the call finished",
                                   reason=Reason.DEADLINE_EXCEEDED)
        return remaining


def field_map(renames: Mapping[str, str], otherwise: str) -> FieldMap:
    """A FieldMap: a downstream field under one of `renames`' prefixes moves under its value;
    any other field (the text or audio the pipeline itself passed on) becomes `otherwise`."""

    def rename(field: str) -> str:
        for source, target in renames.items():
            if field == source or field.startswith((source + ".", source + "[")):
                return target + field[len(source):]
        return otherwise

    return rename
