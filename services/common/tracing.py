"""OpenTelemetry tracing: one tracer provider per process, spans for every RPC.

The exporter is chosen by settings: `none` (spans are still created, so trace context
propagates), `console`, or `otlp` (needs `opentelemetry-exporter-otlp` installed and
`OTEL_EXPORTER_OTLP_ENDPOINT`).
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

log = logging.getLogger(__name__)


def configure(service: str, exporter: str) -> TracerProvider:
    """Installs a global tracer provider for `service` (once per process) and returns it."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("otlp tracing requested but opentelemetry-exporter-otlp is not installed; spans not exported")
        else:
            span_exporter = OTLPSpanExporter()
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    return provider
