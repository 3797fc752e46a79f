"""Wires the metrics service together: PostgreSQL (migrated), the optional InfluxDB sink, the
ingest loop (Kafka → rollups) and the servicer. Ready while PostgreSQL answers and the ingest
loop runs: a broker that is away delays the numbers (the loop retries), it does not stop the
service from answering with what it has."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.metrics.v1 import metrics_service_pb2 as pb
from ai4vc.metrics.v1 import metrics_service_pb2_grpc as pb_grpc
from services.common.backends import db
from services.common.settings import CommonSettings
from services.metrics import records
from services.metrics.core import MetricsCore
from services.metrics.influx import InfluxSink
from services.metrics.ingest import Ingest
from services.metrics.servicer import MetricsServicer
from services.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["MetricsService"].full_name


class MetricsApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, core: MetricsCore, ingest: Ingest, task: asyncio.Task[None]) -> None:
        self.core = core
        self.ingest = ingest
        self.task = task
        self.servicer = MetricsServicer(core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_MetricsServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        if self.task.done():
            return False
        return await db.answers(self.core.pool)


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> MetricsApp:
    """Builds the app and starts ingesting; `stack` stops the loop, then closes the sink and pool."""
    assert isinstance(settings, MetricsSettings)
    settings.check()
    pool = await db.open_pool(settings, stack, [(records.MIGRATIONS, "metrics")])
    influx: InfluxSink | None = None
    if settings.influx_url:
        influx = InfluxSink(settings.influx_url, settings.influx_database, settings.influx_timeout_s, registry)
        stack.push_async_callback(influx.close)
        with contextlib.suppress(Exception):  # away now: the first write makes the database
            await influx.ensure_database()
    ingest = Ingest(settings, pool, registry, influx)
    task = asyncio.create_task(ingest.run(), name="metrics-ingest")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    return MetricsApp(MetricsCore(settings, pool), ingest, task)
