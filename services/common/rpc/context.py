"""Helpers for gRPC servicers: the deadline passed on to the core, Durations, and the request
record every call submits. Domain cores don't import this module (it knows grpc)."""

from __future__ import annotations

import datetime
import time
import uuid

import grpc
from google.protobuf import duration_pb2

from services.common.backends.records import Record, RecordSink
from services.common.backends.usage import UsageMeter
from services.common.logs import request_id_var
from services.common.rpc.identity import principal_of


def remaining_s(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's remaining time, less a margin to answer in; None when it set no deadline."""
    remaining = context.time_remaining()
    return None if remaining is None else max(0.001, remaining - 0.005)


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


class CallRecorder:
    """Times one call and submits its request record, starting with the fields every record has
    (id, request id, creation time, principal, method when named, latency)."""

    def __init__(self, records: RecordSink, context: grpc.aio.ServicerContext, method: str = "",
                 usage: UsageMeter | None = None) -> None:
        self.records = records
        self.usage = usage
        self.context = context
        self.method = method
        self.id = str(uuid.uuid4())
        self.request_id = request_id_var.get()
        self.started = time.perf_counter()
        self.created = datetime.datetime.now(datetime.UTC)

    def send(self, fields: Record) -> None:
        record: Record = {
            "id": self.id,
            "request_id": self.request_id,
            "created_time": self.created.isoformat(),
            "principal": principal_of(self.context),
        }
        if self.method:
            record["method"] = self.method
        record.update(fields)
        record["latency_ms"] = (time.perf_counter() - self.started) * 1000
        self.records.submit(record)
