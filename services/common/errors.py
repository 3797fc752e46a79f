"""Domain errors, defined once.

Each error carries a canonical status code and an UPPER_SNAKE reason. Domain code raises
these without importing grpc; the server interceptor turns them into `google.rpc.Status`
with an `ErrorInfo` (and a `BadRequest` naming the field, a `RetryInfo`, where they apply).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

DOMAIN = "ai4vc"


class Code(enum.IntEnum):
    """Every canonical error code, numbered as `google.rpc.Code` so they map 1:1 to gRPC."""

    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class DomainError(Exception):
    """Base class: an error a caller can act on, with a machine-readable reason."""

    code: Code = Code.INTERNAL
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.field = field
        self.metadata = dict(metadata or {})
        if field:
            self.metadata.setdefault("field", field)
        self.retry_after_s = retry_after_s


class InvalidArgument(DomainError):
    code = Code.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(DomainError):
    code = Code.NOT_FOUND
    default_reason = "NOT_FOUND"


class ResourceExhausted(DomainError):
    code = Code.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class FailedPrecondition(DomainError):
    code = Code.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class OutOfRange(DomainError):
    """A value past a limit that depends on state (a stream longer than its maximum)."""

    code = Code.OUT_OF_RANGE
    default_reason = "OUT_OF_RANGE"


class Unavailable(DomainError):
    """A dependency (Triton, a database) cannot serve now; the caller may retry."""

    code = Code.UNAVAILABLE
    default_reason = "BACKEND_UNAVAILABLE"


class DeadlineExceeded(DomainError):
    code = Code.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


class Internal(DomainError):
    """A server-side failure. Never used for bad input."""

    code = Code.INTERNAL
    default_reason = "INTERNAL"
