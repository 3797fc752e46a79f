"""Domain errors → rich `google.rpc.Status` (ErrorInfo, BadRequest, RetryInfo)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from services.common import errors
from services.common.rpc.interceptors import status_for


def _unpack(status, message_type):  # type: ignore[no-untyped-def]
    found = []
    for detail in status.details:
        if detail.Is(message_type.DESCRIPTOR):
            message = message_type()
            detail.Unpack(message)
            found.append(message)
    return found


@pytest.mark.parametrize("code", list(errors.Code))
def test_codes_match_grpc_numbering(code: errors.Code) -> None:
    """Every domain Code has the same number and name as the gRPC status code."""
    assert grpc.StatusCode[code.name].value[0] == int(code)


@pytest.mark.parametrize(
    ("cls", "code", "reason"),
    [
        (errors.Unavailable, errors.Code.UNAVAILABLE, "BACKEND_UNAVAILABLE"),
        (errors.DeadlineExceeded, errors.Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"),
        (errors.Internal, errors.Code.INTERNAL, "INTERNAL"),
        (errors.Unauthenticated, errors.Code.UNAUTHENTICATED, "UNAUTHENTICATED"),
        (errors.PermissionDenied, errors.Code.PERMISSION_DENIED, "PERMISSION_DENIED"),
    ],
)
def test_error_classes_carry_code_and_default_reason(cls: type[errors.DomainError], code: errors.Code,
                                                      reason: str) -> None:
    """Each error class maps to its status code and an UPPER_SNAKE default reason."""
    err = cls("boom")
    assert (err.code, err.reason, err.message) == (code, reason, "boom")


@pytest.mark.parametrize("cls", [errors.InvalidArgument, errors.NotFound, errors.ResourceExhausted,
                                 errors.FailedPrecondition, errors.OutOfRange])
def test_error_classes_without_a_default_need_a_reason(cls: type[errors.DomainError]) -> None:
    """Bad-input and state errors name what is wrong: they have no generic default reason."""
    with pytest.raises(TypeError):
        cls("boom")
    assert cls("boom", reason=errors.Reason.FIELD_REQUIRED).reason == "FIELD_REQUIRED"


def test_field_is_copied_into_metadata_without_overwriting() -> None:
    """`field` is added to metadata, but an explicit metadata["field"] is kept."""
    required = errors.Reason.FIELD_REQUIRED
    assert errors.InvalidArgument("x", reason=required, field="contents").metadata == {"field": "contents"}
    assert errors.InvalidArgument("x", reason=errors.Reason.FIELD_REQUIRED, field="a",
                                   metadata={"field": "b"}).metadata == {"field": "b"}


def test_status_carries_code_message_and_error_info() -> None:
    """The status has the error's code and message, and an ErrorInfo with reason, domain and metadata."""
    err = errors.NotFound("no such job", reason=errors.Reason.KEY_NOT_FOUND, metadata={"job": "j1"})
    status = status_for(err, "req-1")
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert status.message == "no such job"
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert info.reason == "KEY_NOT_FOUND"
    assert info.domain == "ai4vc"
    assert dict(info.metadata) == {"job": "j1", "request_id": "req-1"}


def test_status_omits_request_id_when_empty_and_has_no_extra_details() -> None:
    """Without request id, field or retry hint the status holds only the ErrorInfo."""
    status = status_for(errors.Internal("x"), "")
    assert len(status.details) == 1
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert "request_id" not in info.metadata


def test_field_adds_bad_request_violation() -> None:
    """An error with `field` carries a BadRequest naming the field, and the field in ErrorInfo metadata."""
    err = errors.InvalidArgument("contents[1] is empty", reason=errors.Reason.FIELD_REQUIRED, field="contents[1]")
    status = status_for(err, "r")
    [bad] = _unpack(status, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [("contents[1]", "contents[1] is empty")]
    [info] = _unpack(status, error_details_pb2.ErrorInfo)
    assert info.metadata["field"] == "contents[1]"
    assert not _unpack(status, error_details_pb2.RetryInfo)


def test_retry_after_adds_retry_info() -> None:
    """An error with retry_after_s carries a RetryInfo with that delay."""
    err = errors.ResourceExhausted("slow down", reason=errors.Reason.RATE_LIMITED, retry_after_s=1.5)
    status = status_for(err, "r")
    [retry] = _unpack(status, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 1_500_000_000
    assert not _unpack(status, error_details_pb2.BadRequest)


def test_zero_retry_after_still_sends_retry_info() -> None:
    """retry_after_s=0 means "retry now" and is still sent (only None omits RetryInfo)."""
    status = status_for(errors.Unavailable("down", retry_after_s=0.0), "r")
    [retry] = _unpack(status, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 0
