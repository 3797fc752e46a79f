"""Wires the telemetry service together: the store (PostgreSQL, migrated; or OpenSearch), the
ingest queue and its writer, retention, the API servicer and the OTLP collector services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry, Gauge

from ai4vc.telemetry.v1 import telemetry_service_pb2 as pb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as pb_grpc
from services.common.backends import db
from services.common.settings import CommonSettings
from services.telemetry.core import Ingest, Retention, Store, TelemetryCore
from services.telemetry.otlp_http import OtlpHttpReceiver
from services.telemetry.servicer import LOGS_SERVICE, TRACE_SERVICE, Collector, TelemetryServicer
from services.telemetry.settings import TelemetrySettings
from services.telemetry.store import PostgresStore

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TelemetryService"].full_name


class TelemetryApp:
    service_names = (SERVICE_NAME, TRACE_SERVICE, LOGS_SERVICE)

    def __init__(self, core: TelemetryCore, ingest: Ingest, retention: Retention) -> None:
        self.core = core
        self.ingest = ingest
        self.retention = retention
        self.servicer = TelemetryServicer(core)
        self.collector = Collector(ingest)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_TelemetryServiceServicer_to_server(self.servicer, server)
        self.collector.register(server)

    async def ready(self) -> bool:
        try:
            return await self.core.store.ready()
        except Exception:  # noqa: BLE001 - any failure to answer is "not ready"
            return False


def _metrics(ingest: Ingest, retention: Retention, registry: CollectorRegistry | None) -> None:
    if registry is None:
        return
    def reader(values: dict[str, int], kind: str) -> Callable[[], float]:
        return lambda: values[kind]

    for kind in ("spans", "logs"):
        for name, values, doc in (("received", ingest.received, "received over OTLP"),
                                  ("dropped", ingest.dropped, "dropped: the ingest queue was full"),
                                  ("written", ingest.written, "written to the store")):
            gauge = Gauge(f"telemetry_{kind}_{name}", f"{kind.capitalize()} {doc} (since start).", registry=registry)
            gauge.set_function(reader(values, kind))
    Gauge("telemetry_queue_depth", "Spans and log records waiting to be written.", registry=registry
          ).set_function(lambda: len(ingest.spans) + len(ingest.logs))
    Gauge("telemetry_retention_deleted", "Rows deleted by retention (since start).", registry=registry
          ).set_function(lambda: retention.deleted)
    Gauge("telemetry_write_failures", "Failed batch writes (since start; each retried).", registry=registry
          ).set_function(lambda: ingest.write_failures)


async def open_store(settings: TelemetrySettings, stack: contextlib.AsyncExitStack) -> Store:
    if settings.opensearch_url:
        from services.telemetry.opensearch import OpenSearchStore

        store = OpenSearchStore(settings.opensearch_url, settings.opensearch_index_prefix, settings.query_timeout_s)
        await store.setup()
        stack.push_async_callback(store.close)
        return store
    pool = await db.open_pool(settings, stack, [(MIGRATIONS, "telemetry")])
    return PostgresStore(pool, settings.query_timeout_s)


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> TelemetryApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, TelemetrySettings)
    settings.check()
    store = await open_store(settings, stack)
    ingest = Ingest(store, max_queue=settings.max_queue, batch_size=settings.batch_size,
                    flush_interval_s=settings.flush_interval_s)
    ingest.start()
    stack.push_async_callback(ingest.close)
    retention = Retention(store, settings.retention_max_rows, settings.retention_days * 86_400,
                          settings.retention_interval_s)
    retention.start()
    stack.push_async_callback(retention.close)
    _metrics(ingest, retention, registry)
    if settings.otlp_http_port >= 0:
        receiver = OtlpHttpReceiver(ingest, settings.host, settings.otlp_http_port)
        await receiver.start()
        stack.push_async_callback(receiver.close)
    return TelemetryApp(TelemetryCore(settings, store), ingest, retention)
