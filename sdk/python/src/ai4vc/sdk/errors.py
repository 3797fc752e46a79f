"""Typed exceptions for failed calls. The servers send a `google.rpc.Status` in the
`grpc-status-details-bin` trailer with an `ErrorInfo` (reason, domain, metadata) and, where they
apply, `BadRequest` field violations, `RetryInfo` and `QuotaFailure`; each exception carries them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of the request, as the server named it (`BadRequest.field_violations`)."""

    field: str
    description: str
    reason: str = ""


@dataclass(frozen=True)
class QuotaViolation:
    subject: str
    description: str


@dataclass
class Ai4vcError(Exception):
    """A call that failed: the gRPC code, the server's message and its structured details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    quota_violations: list[QuotaViolation] = field(default_factory=list)
    retry_delay: float | None = None  # seconds, from RetryInfo
    method: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [f"{self.code.name}"]
        if self.reason:
            parts.append(self.reason)
        text = f"{' '.join(parts)}: {self.message}"
        if self.field_violations:
            text += " [" + "; ".join(f"{v.field}: {v.description}" for v in self.field_violations) + "]"
        return text

    __hash__ = Exception.__hash__  # dataclass(eq=True) would otherwise make it unhashable


class InvalidArgument(Ai4vcError):
    """The request was wrong (see `field_violations`); sending it again will not help."""


class Unauthenticated(Ai4vcError):
    """No credential, or one the edge refused (unknown, revoked or expired key or token)."""


class PermissionDenied(Ai4vcError):
    """The credential is valid but lacks the scope the method needs."""


class NotFound(Ai4vcError):
    pass


class AlreadyExists(Ai4vcError):
    pass


class ResourceExhausted(Ai4vcError):
    """A rate limit or quota was hit; `retry_delay` says when to try again, where known."""


class FailedPrecondition(Ai4vcError):
    pass


class Aborted(Ai4vcError):
    pass


class OutOfRange(Ai4vcError):
    pass


class Unavailable(Ai4vcError):
    """The endpoint or a backend behind it cannot serve now; idempotent calls were retried."""


class DeadlineExceeded(Ai4vcError):
    pass


class Unimplemented(Ai4vcError):
    pass


class Cancelled(Ai4vcError):
    pass


class Internal(Ai4vcError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[Ai4vcError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.INTERNAL: Internal,
}


def error_class(code: grpc.StatusCode) -> type[Ai4vcError]:
    return _BY_CODE.get(code, Ai4vcError)


def from_status(code: grpc.StatusCode, message: str, trailers: Iterable[tuple[str, Any]] | None,
                method: str = "") -> Ai4vcError:
    """The typed exception for a failed call's code, message and trailing metadata."""
    kwargs: dict[str, Any] = {}
    for key, value in trailers or ():
        if key != STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value if isinstance(value, bytes) else bytes(value, "latin-1"))
        except Exception:  # a malformed trailer is not worth hiding the real error for
            break
        message = status.message or message
        kwargs = _details(status)
    return error_class(code)(code=code, message=message, method=method, **kwargs)


def _details(status: status_pb2.Status) -> dict[str, Any]:
    out: dict[str, Any] = {"field_violations": [], "quota_violations": []}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            out.update(reason=info.reason, domain=info.domain, metadata=dict(info.metadata))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out["field_violations"].extend(
                FieldViolation(v.field, v.description, getattr(v, "reason", "")) for v in bad.field_violations)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            out["retry_delay"] = retry.retry_delay.ToTimedelta().total_seconds()
        elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            quota = error_details_pb2.QuotaFailure()
            detail.Unpack(quota)
            out["quota_violations"].extend(QuotaViolation(v.subject, v.description) for v in quota.violations)
    return out


def from_rpc_error(error: grpc.RpcError, method: str = "") -> Ai4vcError:
    """The typed exception for a `grpc.RpcError` (sync) or `grpc.aio.AioRpcError`."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return from_status(code or grpc.StatusCode.UNKNOWN, details or "", trailers, method)
