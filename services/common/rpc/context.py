"""Helpers for gRPC servicers: the deadline passed on to the core, Durations, and the request
record (and usage) every call submits. Domain cores don't import this module (it knows grpc)."""

from __future__ import annotations

import datetime
import time
import uuid

import grpc
from google.protobuf import duration_pb2
from opentelemetry import propagate

from services.common.backends.records import Record, RecordSink
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.logs import request_id_var
from services.common.rpc.identity import identity_of


def remaining_s(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's remaining time, less a margin to answer in; None when it set no deadline."""
    remaining = context.time_remaining()
    return None if remaining is None else max(0.001, remaining - 0.005)


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def status_of(exc: BaseException) -> str:
    """What a record says of a call that raised: the domain error's reason, INTERNAL for any
    other exception, CANCELLED for a caller gone away (cancellation, a closed stream)."""
    if isinstance(exc, DomainError):
        return exc.reason
    return "INTERNAL" if isinstance(exc, Exception) else "CANCELLED"


class CallRecorder:
    """The one way a servicer records a call: created when the call starts (it takes the time,
    the request id and the caller's identity, parsed once), then `send(fields, ...)` once when
    the call ends, with the service's own fields (built by `services/<svc>/records.py`) and
    what to meter. Every record starts with id, request id, creation time, principal and
    method, and ends with the caller's key id, the trace context, what was metered and the
    latency (what the call's events are built from: `records.call_events`).

    Creating one admits the call: when the sink could not keep its record (spool disk full and
    its memory allowance held), the call fails here with UNAVAILABLE, before any work is done."""

    def __init__(self, records: RecordSink, context: grpc.aio.ServicerContext, method: str,
                 usage: UsageMeter | None = None) -> None:
        records.admit()
        self.records = records
        self.usage = usage
        self.method = method
        self.identity = identity_of(context)
        self.id = str(uuid.uuid4())
        self.request_id = request_id_var.get()
        self.started = time.perf_counter()
        self.created = datetime.datetime.now(datetime.UTC)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # the call's span, so an event links to the request's trace
        self.traceparent = carrier.get("traceparent", "")

    def send(self, fields: Record, *, characters: int = 0, audio_seconds: float = 0.0) -> None:
        """Meters `characters`/`audio_seconds` against the caller's key (nothing when both are 0)
        and submits the record; neither waits on Redis or PostgreSQL."""
        if self.usage is not None:
            self.usage.record(self.identity.key_id, characters=characters, audio_seconds=audio_seconds)
        record: Record = {
            "id": self.id,
            "request_id": self.request_id,
            "created_time": self.created.isoformat(),
            "principal": self.identity.principal,
            "method": self.method,
        }
        record.update(fields)
        record["key_id"] = self.identity.key_id
        record["traceparent"] = self.traceparent
        record["metered"] = {"characters": characters, "audio_seconds": audio_seconds}
        record["latency_ms"] = (time.perf_counter() - self.started) * 1000
        self.records.submit(record)
