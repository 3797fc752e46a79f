"""Reads the rich error (google.rpc.Status details) off a failed gRPC call."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def error_info(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo | None, list[str]]:
    """(ErrorInfo, fields named by BadRequest) of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    info = None
    fields: list[str] = []
    if status is None:
        return None, fields
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return info, fields


def retry_delay_s(error: grpc.aio.AioRpcError) -> float | None:
    """RetryInfo's delay of a failed call, in seconds, or None when it carried none."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            return retry.retry_delay.ToNanoseconds() / 1e9
    return None
