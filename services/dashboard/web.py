"""The dashboard page's HTTP server: static files only (the page, its script and style) and
`/healthz`. The page holds no figures: it fetches GetOverview through the edge's REST binding
(`GET /v1/dashboard:overview`) with the API key the user types, so the edge authenticates every
read, whether the page came through Envoy (`/dashboard/`) or straight from this port.

A small HTTP/1.1 server on asyncio streams (GET and HEAD, keep-alive), as the telemetry
service's OTLP/HTTP receiver: no web framework for three files. Every path is served both at
the root and under `/dashboard/`, the prefix the edge routes here.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from pathlib import Path

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"
PREFIX = "/dashboard"
MAX_HEADER_BYTES = 16 * 1024
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/index.html": ("index.html", "text/html; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/style.css": ("style.css", "text/css; charset=utf-8")}
# The page runs only its own script; it may fetch the overview from the edge (another origin
# when loaded straight from this port).
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; connect-src *; img-src 'self' data:; "
                                "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
)


class WebPage:
    def __init__(self, host: str, port: int, edge_url: str = "", web_dir: Path = WEB_DIR) -> None:
        self.host, self.port = host, port
        self.files: dict[str, tuple[bytes, str]] = {}
        for path, (name, kind) in FILES.items():
            body = (web_dir / name).read_bytes()
            if name == "index.html":
                body = body.replace(b"{{EDGE_URL}}", html.escape(edge_url.rstrip("/"), quote=True).encode())
            self.files[path] = (body, kind)
        self._server: asyncio.Server | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port,
                                                  limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def answer(self, method: str, target: str) -> tuple[int, str, bytes, tuple[tuple[str, str], ...]]:
        """(status, content type, body, extra headers) for one request."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n", (("Allow", "GET, HEAD"),)
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
                status, kind, body, extra = self.answer(method, target)
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
        reasons = {200: "OK", 308: "Permanent Redirect", 400: "Bad Request", 404: "Not Found",
                   405: "Method Not Allowed"}
        head = [f"HTTP/1.1 {status} {reasons[status]}", f"Content-Type: {kind}",
                f"Content-Length: {len(body) if length is None else length}",
                *(f"{name}: {value}" for name, value in extra)]
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
