"""The dashboard page's HTTP server: static files (the page, its script and style) and
`/healthz`. The page holds no figures: it fetches GetOverview from its own origin at the edge's
REST path (`GET /v1/dashboard:overview`) with the API key the user types. Through Envoy
(`/dashboard/`) that is the edge itself; loaded straight from this port, this server relays
that one path to the edge (`edge_url`) with the caller's credential header, so the edge
authenticates every read either way and the browser needs no cross-origin call (the edge's
CORS policy cannot answer a REST preflight: its routes match gRPC paths, and the transcoder runs
after the CORS filter).

A small HTTP/1.1 server on asyncio streams (GET and HEAD, keep-alive), as the telemetry
service's OTLP/HTTP receiver: no web framework for three files. Every path is served both at
the root and under `/dashboard/`, the prefix the edge routes here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import httpx

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"
PREFIX = "/dashboard"
MAX_HEADER_BYTES = 16 * 1024
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/index.html": ("index.html", "text/html; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/style.css": ("style.css", "text/css; charset=utf-8")}
OVERVIEW_PATH = "/v1/dashboard:overview"
# Credentials the relay passes on to the edge (nothing else of the browser's request is).
CREDENTIAL_HEADERS = ("x-api-key", "authorization")
# The page runs only its own script and talks to its own origin.
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
)


class WebPage:
    def __init__(self, host: str, port: int, edge_url: str = "", web_dir: Path = WEB_DIR,
                 relay_timeout_s: float = 10.0) -> None:
        self.host, self.port = host, port
        self.edge_url = edge_url.rstrip("/")
        self.relay_timeout_s = relay_timeout_s
        self.files = {path: ((web_dir / name).read_bytes(), kind) for path, (name, kind) in FILES.items()}
        self._server: asyncio.Server | None = None
        self._http = httpx.AsyncClient() if self.edge_url else None

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port,
                                                  limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def answer(self, method: str, target: str, headers: dict[str, str]
                     ) -> tuple[int, str, bytes, tuple[tuple[str, str], ...]]:
        """(status, content type, body, extra headers) for one request."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n", (("Allow", "GET, HEAD"),)
        if path == OVERVIEW_PATH and self._http is not None:
            return await self._relay(target, headers)
        if path == "/healthz":
            return 200, "text/plain", b"ok\n", ()
        if path == PREFIX:
            return 308, "text/plain", b"", (("Location", f"{PREFIX}/"),)
        if path.startswith(PREFIX + "/"):
            path = path[len(PREFIX):]
        if path in self.files:
            body, kind = self.files[path]
            return 200, kind, body, SECURITY_HEADERS
        return 404, "text/plain", b"not found\n", ()

    async def _relay(self, target: str, headers: dict[str, str]) -> tuple[int, str, bytes, tuple[tuple[str, str], ...]]:
        """GetOverview through the edge, as the browser asked for it (its query and credential)."""
        assert self._http is not None
        forward = {name: headers[name] for name in CREDENTIAL_HEADERS if name in headers}
        try:
            answer = await self._http.get(f"{self.edge_url}{target}", headers=forward, timeout=self.relay_timeout_s)
        except httpx.HTTPError:
            return 502, "application/json", b'{"code":14,"message":"the edge did not answer"}', ()
        kind = answer.headers.get("content-type", "application/json")
        return answer.status_code, kind, answer.content, (("Cache-Control", "no-store"),)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    await self._send(writer, 400, "text/plain", b"bad request\n", (), close=True)
                    return
                method, target, version = parts
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "0")
                if not length.isdigit() or int(length) > 1024 * 1024 or "transfer-encoding" in headers:
                    await self._send(writer, 400, "text/plain", b"bad request\n", (), close=True)
                    return
                if int(length):
                    await reader.readexactly(int(length))  # a GET carries no body worth reading
                status, kind, body, extra = await self.answer(method, target, headers)
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                await self._send(writer, status, kind, b"" if method == "HEAD" else body, extra, close,
                                 length=len(body))
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, kind: str, body: bytes,
                    extra: tuple[tuple[str, str], ...], close: bool, length: int | None = None) -> None:
        reasons = {200: "OK", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
                   403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
                   502: "Bad Gateway"}
        head = [f"HTTP/1.1 {status} {reasons.get(status, 'Status')}", f"Content-Type: {kind}",
                f"Content-Length: {len(body) if length is None else length}",
                *(f"{name}: {value}" for name, value in extra)]
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
