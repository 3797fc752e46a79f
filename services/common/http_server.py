"""The one small HTTP/1.1 server the services use beside their gRPC port, on asyncio streams —
the telemetry service's OTLP/HTTP receiver, the alerting service's Alertmanager webhook receiver,
the dashboard's page: a handful of paths each, no web framework.

What it does for every one of them: a `Date` header on every answer, keep-alive (closed on
`connection: close` and for HTTP/1.0), `Content-Length` bodies only (a chunked body, a bad length
or a malformed request line is 400 and the connection closes; a body over `max_body_bytes` is 413
and closes), HEAD answered with the headers of GET and no body, and `close()` closes the
connections still open too (a client that keeps one alive — Alertmanager does — is not served by a
handler whose resources are gone).
A handler that raises is a 500 for that request; the server stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import http
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent: path, query and all
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0].split("#", 1)[0]


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(self, handler: Handler, host: str, port: int, *, name: str, max_body_bytes: int,
                 max_header_bytes: int = 64 * 1024) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.name = name
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connection, self.host, self.port,
                                                  limit=self.max_header_bytes)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s listening", self.name, extra={"port": self.port})
        return self.port

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    await self._send(writer, Response(400), head_only=False, close=True)
                    return
                method, target, version = parts
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "0")
                if not length.isdigit() or "transfer-encoding" in headers:
                    await self._send(writer, Response(400), head_only=False, close=True)
                    return
                if int(length) > self.max_body_bytes:
                    await self._send(writer, Response(413), head_only=False, close=True)
                    return
                body = await reader.readexactly(int(length)) if int(length) else b""
                try:
                    response = await self.handler(Request(method, target, headers, body))
                except Exception:  # noqa: BLE001 - one request fails, the server stays up
                    log.exception("%s: request failed", self.name, extra={"path": target[:200]})
                    response = Response(500)
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                await self._send(writer, response, head_only=method == "HEAD", close=close)
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, response: Response, *, head_only: bool, close: bool) -> None:
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Status"
        # Date, as an origin server must send it (RFC 9110 §6.6.1): a cache in front (the edge's,
        # for the web console) computes a stored answer's age from it, and stores nothing without it.
        head = [f"HTTP/1.1 {response.status} {reason}", f"Date: {email.utils.formatdate(usegmt=True)}",
                f"Content-Type: {response.content_type}", f"Content-Length: {len(response.body)}",
                *(f"{k}: {v}" for k, v in response.headers)]
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else response.body))
        await writer.drain()
