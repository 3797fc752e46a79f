"""Wires the dashboard service together: the sources (replica health, Prometheus, Alertmanager,
Triton, the metrics service), the core with its cache, the gRPC servicer and the web page.
Ready as soon as the page serves: every source is optional, a missing one empties its section."""

from __future__ import annotations

import contextlib
import logging

import grpc
import httpx
from prometheus_client import CollectorRegistry, Gauge

from ai4vc.dashboard.v1 import dashboard_service_pb2 as pb
from ai4vc.dashboard.v1 import dashboard_service_pb2_grpc as pb_grpc
from services.common.backends.triton import TritonAdapter
from services.common.settings import CommonSettings
from services.dashboard import sources
from services.dashboard.core import DashboardCore
from services.dashboard.servicer import DashboardServicer
from services.dashboard.settings import DashboardSettings
from services.dashboard.web import WebPage

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DashboardService"].full_name


class DashboardApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, core: DashboardCore, page: WebPage | None) -> None:
        self.core = core
        self.page = page
        self.servicer = DashboardServicer(core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_DashboardServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        return self.page is None or self.page.serving


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> DashboardApp:
    """Builds the app; `stack` closes the page, the channels and the HTTP client in reverse order."""
    assert isinstance(settings, DashboardSettings)
    settings.check()
    # httpx logs every request at INFO: one per source every few seconds is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    http = httpx.AsyncClient()
    stack.push_async_callback(http.aclose)
    channels = sources.Channels(settings)
    stack.push_async_callback(channels.close)
    triton: sources.TritonModels | None = None
    if settings.triton:
        adapter = TritonAdapter(settings.triton_url, settings.source_timeout_s)
        stack.push_async_callback(adapter.close)
        triton = sources.TritonModels(adapter)
    core = DashboardCore(
        settings.parsed_targets(), sources.HealthChecks(channels, http),
        sources.PrometheusApi(settings.prometheus_url, http) if settings.prometheus_url else None,
        sources.AlertmanagerApi(settings.alertmanager_url, http) if settings.alertmanager_url else None,
        triton, sources.MetricsUsage(channels, settings.metrics_target) if settings.metrics_target else None,
        cache_ttl_s=settings.cache_ttl_s, source_timeout_s=settings.source_timeout_s)
    if registry is not None:
        Gauge("dashboard_overview_computations", "Overviews computed (since start; cached ones not counted).",
              registry=registry).set_function(lambda: core.shared.computations)
    page: WebPage | None = None
    if settings.web_port >= 0:
        page = WebPage(settings.host, settings.web_port, settings.edge_url)
        await page.start()
        stack.push_async_callback(page.close)
        log.info("dashboard page on http://%s:%d/", settings.host, page.port)
    return DashboardApp(core, page)
