"""What a service that calls other services passes on with each downstream call (grpc-free, so
domain cores can hold it): the caller's metadata and deadline, and the map that moves a
downstream error's field into the caller's request. `services.common.rpc.downstream` builds
a CallContext from an incoming call and turns downstream failures into domain errors."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

from services.common.errors import DeadlineExceeded, Reason

# Maps a downstream request's field path onto the caller's request's ("config.language_code"
# → "tasks[0].asr.language_code").
FieldMap = Callable[[str], str]


@dataclasses.dataclass(frozen=True)
class CallContext:
    """What every downstream call of one incoming call carries: metadata and the deadline."""

    metadata: tuple[tuple[str, str], ...] = ()
    deadline: float | None = None  # time.monotonic() at which the caller gives up

    def timeout(self, default_s: float) -> float:
        """Seconds a downstream call may take: the caller's remaining time, less a margin to
        answer in, or `default_s` when the caller set no deadline."""
        if self.deadline is None:
            return default_s
        remaining = self.deadline - time.monotonic() - 0.01
        if remaining <= 0:
            raise DeadlineExceeded("the caller's deadline passed before the downstream calls finished",
                                   reason=Reason.DEADLINE_EXCEEDED)
        return remaining


def field_map(renames: Mapping[str, str], otherwise: str) -> FieldMap:
    """A FieldMap: a downstream field under one of `renames`' prefixes moves under its value;
    any other field (the text or audio the caller's request passed on) becomes `otherwise`."""

    def rename(field: str) -> str:
        for source, target in renames.items():
            if field == source or field.startswith((source + ".", source + "[")):
                return target + field[len(source):]
        return otherwise

    return rename
