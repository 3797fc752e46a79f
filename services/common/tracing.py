"""OpenTelemetry tracing: one tracer provider per process, spans for every RPC.

The exporter is chosen by settings: `none` (spans are still created, so trace context
propagates), `console`, or `otlp`: batches over OTLP/gRPC to `endpoint` (the telemetry
service; `services.common.otlp`), from the SDK's batch processor thread with a bounded queue,
so a collector that is slow or away never holds up a request (spans are dropped and counted).
`sample_ratio` below 1 samples root traces by trace id and follows the caller's decision
otherwise (ParentBased(TraceIdRatioBased)), so one request stays one whole trace or none.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

log = logging.getLogger(__name__)
# Spans waiting for export; past this the newest are dropped (the SDK logs it once).
MAX_QUEUE = 8192


def configure(service: str, exporter: str, endpoint: str = "", sample_ratio: float = 1.0,
              credentials: Any = None) -> TracerProvider:
    """Installs a global tracer provider for `service` (once per process) and returns it;
    `credentials` (grpc.ChannelCredentials, mesh mTLS) for the OTLP channel, None: plaintext."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    sampler = ParentBased(TraceIdRatioBased(sample_ratio)) if sample_ratio < 1.0 else None
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        target = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").removeprefix("http://")
        if not target:
            log.warning("otlp tracing requested without an endpoint (AI4VC_OTLP_ENDPOINT); spans not exported")
        else:
            from services.common.otlp import OtlpSpanExporter

            span_exporter = OtlpSpanExporter(target, credentials=credentials)
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter, max_queue_size=MAX_QUEUE,
                                                       max_export_batch_size=512, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    return provider
