"""The dashboard page's HTTP server: static files (the page, its script and style) and
`/healthz`. The page holds no figures: it fetches GetOverview from its own origin at the edge's
REST path (`GET /v1/dashboard:overview`) with the API key the user types. Through Envoy
(`/dashboard/`) that is the edge itself; loaded straight from this port, this server relays
that one path to the edge (`edge_url`) with the caller's credential header, so the edge
authenticates every read either way and the page works from one origin, with a
Content-Security-Policy of `default-src 'self'` (the edge does answer REST CORS preflights,
but the page needs none).

On the chassis' small HTTP/1.1 server (`services.common.http_server`; GET and HEAD): no web
framework for three files. Every path is served both at
the root and under `/dashboard/`, the prefix the edge routes here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from services.common.http_server import HttpServer, Request, Response

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
        self.server = HttpServer(self._handle, host, port, name="dashboard page", max_body_bytes=1024 * 1024,
                                 max_header_bytes=MAX_HEADER_BYTES)
        self.edge_url = edge_url.rstrip("/")
        self.relay_timeout_s = relay_timeout_s
        self.files = {path: ((web_dir / name).read_bytes(), kind) for path, (name, kind) in FILES.items()}
        self._http = httpx.AsyncClient() if self.edge_url else None

    @property
    def serving(self) -> bool:
        return self.server.serving

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        await self.server.start()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self.server.close()

    async def _handle(self, request: Request) -> Response:
        status, kind, body, extra = await self.answer(request.method, request.target, request.headers)
        return Response(status, body, kind, extra)

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
