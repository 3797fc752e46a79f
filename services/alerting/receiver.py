"""The HTTP receiver Alertmanager's webhook posts to: `POST /v1/alertmanager` (Alertmanager's
webhook JSON, version 4). The notification is recorded (alerts, events, webhook deliveries) in
one transaction before the answer: 200 once committed, 400 for a body that is not a
notification, 503 while PostgreSQL is away — Alertmanager retries anything but a 2xx, so no
notification is lost. `GET /healthz` answers 200.

On the chassis' small HTTP/1.1 server (`services.common.http_server`), which also closes the
connection Alertmanager keeps alive when the receiver closes; it listens on loopback, where
only Alertmanager calls.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from services.alerting.core import DB_ERRORS, AlertingCore
from services.common.http_server import HttpServer, Request, Response

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024
PATH = "/v1/alertmanager"


class AlertmanagerReceiver:
    def __init__(self, core: AlertingCore, host: str, port: int,
                 after_commit: Callable[[], None] = lambda: None) -> None:
        self.core = core
        self.after_commit = after_commit
        self.notifications = 0
        self.server = HttpServer(self._handle, host, port, name="Alertmanager webhook receiver",
                                 max_body_bytes=MAX_BODY_BYTES)

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> int:
        return await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: Request) -> Response:
        status = await self._status(request)
        return Response(status, b"{}" if status == 200 else b"")

    async def _status(self, request: Request) -> int:
        if request.path == "/healthz" and request.method == "GET":
            return 200
        if request.path != PATH or request.method != "POST":
            return 404
        try:
            payload = json.loads(request.body)
            transitions = await self.core.receive(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("not an Alertmanager notification: %s", exc)
            return 400
        except DB_ERRORS as exc:
            log.warning("notification not recorded (database away); Alertmanager retries: %s: %s",
                        type(exc).__name__, exc)
            return 503
        except Exception:  # noqa: BLE001 - logged; Alertmanager retries a 5xx
            log.exception("notification not recorded")
            return 500
        self.notifications += 1
        if transitions:
            self.after_commit()
        return 200
