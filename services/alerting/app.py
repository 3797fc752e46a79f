"""Wires the alerting service together: PostgreSQL (its tables and the event outbox, migrated),
the rule file (rendered from the stored rules at start, so it always matches them), the
Alertmanager webhook receiver, the webhook dispatcher and the servicer. Ready while PostgreSQL
answers and the dispatcher runs."""

from __future__ import annotations

import contextlib
import logging

import grpc
import httpx
from prometheus_client import CollectorRegistry, Gauge

from ai4vc.alerting.v1 import alerting_service_pb2 as pb
from ai4vc.alerting.v1 import alerting_service_pb2_grpc as pb_grpc
from services.alerting import records
from services.alerting.core import AlertingCore
from services.alerting.delivery import Dispatcher
from services.alerting.event_rules import FailedLogins
from services.alerting.receiver import AlertmanagerReceiver
from services.alerting.servicer import AlertingServicer
from services.alerting.settings import AlertingSettings
from services.common.backends import db, outbox
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AlertingService"].full_name


class AlertingApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, core: AlertingCore, dispatcher: Dispatcher, receiver: AlertmanagerReceiver | None,
                 event_rules: FailedLogins | None = None) -> None:
        self.core = core
        self.event_rules = event_rules
        self.dispatcher = dispatcher
        self.receiver = receiver
        self.servicer = AlertingServicer(core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_AlertingServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        return self.dispatcher.running and await db.answers(self.core.pool)


def _metrics(app: AlertingApp, registry: CollectorRegistry | None) -> None:
    if registry is None:
        return
    Gauge("alerting_webhooks_sent", "Webhook deliveries a receiver took (since start).", registry=registry
          ).set_function(lambda: app.dispatcher.sent)
    Gauge("alerting_webhook_failures", "Webhook attempts that failed, each retried (since start).",
          registry=registry).set_function(lambda: app.dispatcher.failures)
    Gauge("alerting_notifications_received", "Alertmanager notifications recorded (since start).",
          registry=registry).set_function(lambda: app.receiver.notifications if app.receiver else 0)
    Gauge("alerting_prometheus_reload_failures", "Prometheus reloads that failed (since start).",
          registry=registry).set_function(lambda: app.core.reload_failures)


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> AlertingApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, AlertingSettings)
    settings.check()
    pool = await db.open_pool(settings, stack, [(records.MIGRATIONS, "alerting")])
    await outbox.migrate(pool)
    http = httpx.AsyncClient()
    stack.push_async_callback(http.aclose)
    core = AlertingCore(settings, pool, http)
    await core.sync()
    dispatcher = Dispatcher(settings, pool, http)
    dispatcher.start()
    stack.push_async_callback(dispatcher.close)
    receiver = None
    if settings.webhook_port >= 0:
        receiver = AlertmanagerReceiver(core, settings.host, settings.webhook_port, dispatcher.wake)
        await receiver.start()
        stack.push_async_callback(receiver.close)
    event_rules = None
    if settings.kafka_bootstrap:
        # Not part of readiness: a broker that is away delays event alerts, it does not stop the API.
        event_rules = FailedLogins(settings, pool, http)
        core.on_rules_changed = event_rules.invalidate
        event_rules.start()
        stack.push_async_callback(event_rules.close)
    app = AlertingApp(core, dispatcher, receiver, event_rules)
    _metrics(app, registry)
    return app
