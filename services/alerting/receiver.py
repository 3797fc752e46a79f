"""The HTTP receiver Alertmanager's webhook posts to: `POST /v1/alertmanager` (Alertmanager's
webhook JSON, version 4). The notification is recorded (alerts, events, webhook deliveries) in
one transaction before the answer: 200 once committed, 400 for a body that is not a
notification, 503 while PostgreSQL is away — Alertmanager retries anything but a 2xx, so no
notification is lost. `GET /healthz` answers 200.

A small HTTP/1.1 server on asyncio streams (keep-alive, Content-Length bodies), as the
telemetry service's OTLP/HTTP receiver; it listens on loopback, where only Alertmanager calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from services.alerting.core import DB_ERRORS, AlertingCore

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
PATH = "/v1/alertmanager"
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}


class AlertmanagerReceiver:
    def __init__(self, core: AlertingCore, host: str, port: int,
                 after_commit: Callable[[], None] = lambda: None) -> None:
        self.core = core
        self.host, self.port = host, port
        self.after_commit = after_commit
        self.notifications = 0
        self._server: asyncio.Server | None = None
        # Open connections: Alertmanager keeps one alive, and closing the listener leaves it
        # served (by a receiver whose pool is gone) unless it is closed too.
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("Alertmanager webhook receiver listening", extra={"port": self.port})
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                parts = request_line.split(" ")
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                try:
                    length = int(headers.get("content-length", "0"))
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY_BYTES:
                    await self._answer(writer, 413 if length > 0 else 400, close=True)
                    return
                body = await reader.readexactly(length) if length else b""
                status = await self._handle(parts[0] if parts else "", parts[1] if len(parts) > 1 else "", body)
                keep = headers.get("connection", "").lower() != "close"
                await self._answer(writer, status, close=not keep)
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, method: str, path: str, body: bytes) -> int:
        path = path.split("?", 1)[0]
        if path == "/healthz" and method == "GET":
            return 200
        if path != PATH or method != "POST":
            return 404
        try:
            payload = json.loads(body)
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

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, *, close: bool) -> None:
        body = b"{}" if status == 200 else b""
        head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n")
        if close:
            head += "connection: close\r\n"
        writer.write((head + "\r\n").encode("latin-1") + body)
        await writer.drain()


