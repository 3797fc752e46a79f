"""The web console (web/, a Next.js static export) for `make up` and the test mesh: built once
(`next build`, skipped while a stamp over the lockfile and the sources matches) and served by a
small static server on the chassis' HTTP/1.1 server (`services.common.http_server`), on :3000
and, through Envoy, at `/ui/` — the prefix gateway/policy.py makes public (the console holds no
data: it calls the edge with the key the user keeps in the browser).

What the server answers (GET and HEAD): `/ui/<file>` from web/out (a directory's index.html),
`/ui/config.json` (the edge URL and this port, so a page loaded from :3000 knows where the edge
is), `/healthz`, `/` and `/ui` redirected to `/ui/`. Next's hashed files (`/ui/_next/static/`)
are sent with a year-long immutable `Cache-Control` — the static-content layer's caching, which
Envoy's cache filter serves from memory at the edge; the rest `no-cache`; any file asked for under a
second name (a query, an empty segment) `no-store`, so that cache stays as small as the build.

    python -m deploy.local.webui --port 3000 --edge-url http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import mimetypes
import os
import shutil
import signal
import subprocess
from pathlib import Path

from services.common.http_server import HttpServer, Request, Response

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
OUT_DIR = WEB_DIR / "out"
PREFIX = "/ui"
STAMP = ".ai4vc-build-stamp"
# What the build depends on (besides web/node_modules, which the lockfile pins).
SOURCES = ("package.json", "package-lock.json", "next.config.mjs", "tsconfig.json", "app", "lib", "public")
SDK_SOURCES = ROOT / "sdk" / "typescript" / "src"
IMMUTABLE = "public, max-age=31536000, immutable"
HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
           ("X-Frame-Options", "SAMEORIGIN"))
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
         ".svg": "image/svg+xml", ".ico": "image/x-icon", ".woff2": "font/woff2", ".map": "application/json"}


class BuildError(RuntimeError):
    pass


def source_stamp(web_dir: Path = WEB_DIR, sdk_dir: Path = SDK_SOURCES) -> str:
    """A digest over every source file of the build (paths and contents)."""
    digest = hashlib.sha256()
    files = []
    for name in SOURCES:
        path = web_dir / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    files += sorted(p for p in sdk_dir.rglob("*.ts") if p.is_file())
    for path in files:
        if path.exists():
            digest.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
            digest.update(b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def build(web_dir: Path = WEB_DIR, log_path: Path | None = None) -> Path:
    """web/out, built by `next build` unless its stamp says it is up to date."""
    out = web_dir / "out"
    stamp = source_stamp(web_dir)
    if (out / STAMP).is_file() and (out / STAMP).read_text().strip() == stamp:
        return out
    if not (web_dir / "node_modules" / "next").is_dir():
        raise BuildError("web/node_modules is missing: run deploy/local/bootstrap.sh (npm ci --prefix web)")
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found: run deploy/local/bootstrap.sh")
    log.info("building the web console (next build)")
    env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1"}
    done = subprocess.run([npm, "run", "--silent", "build"], cwd=web_dir, env=env, capture_output=True, text=True,
                          timeout=900)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BuildError(f"next build failed:\n{(done.stdout + done.stderr)[-3000:]}")
    (out / STAMP).write_text(stamp + "\n")
    return out


class WebUi:
    def __init__(self, host: str, port: int, out_dir: Path = OUT_DIR, edge_url: str = "") -> None:
        self.server = HttpServer(self._handle, host, port, name="web console", max_body_bytes=0,
                                 max_header_bytes=16 * 1024)
        self.out_dir = out_dir.resolve()
        self.edge_url = edge_url.rstrip("/")

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> int:
        return await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: Request) -> Response:
        return self.answer(request.method, request.target)

    def answer(self, method: str, target: str) -> Response:
        """The answer to `method` on `target` (the request's path, with its query if any)."""
        path = target.split("?", 1)[0].split("#", 1)[0]
        if method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n", "text/plain", (("Allow", "GET, HEAD"),))
        if path == "/healthz":
            return Response(200, b"ok\n", "text/plain")
        if path in ("/", PREFIX):
            return Response(308, b"", "text/plain", (("Location", f"{PREFIX}/"),))
        if path == f"{PREFIX}/config.json":
            body = json.dumps({"edgeUrl": self.edge_url, "webPort": self.port}).encode()
            return Response(200, body, "application/json", (("Cache-Control", "no-store"), *HEADERS))
        if not path.startswith(PREFIX + "/"):
            return Response(404, b"not found\n", "text/plain")
        file = self._file(path[len(PREFIX) + 1:])
        if file is None:
            missing = self.out_dir / "404.html"
            body = missing.read_bytes() if missing.is_file() else b"not found\n"
            return Response(404, body, "text/html; charset=utf-8", HEADERS)
        # The edge's cache stores what is marked immutable, and also what is marked no-cache (to
        # revalidate it): each file under one name only (no query, no empty segment), so the cache
        # cannot grow with names a client makes up; any other name is no-store.
        canonical = target == path and "//" not in path
        if not canonical:
            cache = "no-store"
        elif path.startswith(f"{PREFIX}/_next/static/"):
            cache = IMMUTABLE
        else:
            cache = "no-cache"
        kind = TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return Response(200, file.read_bytes(), kind, (("Cache-Control", cache), *HEADERS))

    def _file(self, relative: str) -> Path | None:
        """The file under out/ for a URL path, never outside it (no `..`, no hidden files)."""
        parts = [p for p in relative.split("/") if p]
        if any(p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return None
        path = self.out_dir.joinpath(*parts)
        if path.is_dir():
            path = path / "index.html"
        try:
            resolved = path.resolve()
        except OSError:
            return None
        if not resolved.is_relative_to(self.out_dir) or not resolved.is_file():
            return None
        return resolved


async def _serve(host: str, port: int, out_dir: Path, edge_url: str) -> None:
    ui = WebUi(host, port, out_dir, edge_url)
    await ui.start()
    log.info("web console on http://%s:%d%s/ (edge %s)", host, ui.port, PREFIX, edge_url or "the page's origin")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await ui.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default=os.environ.get("AI4VC_LISTEN_ADDRESS", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--edge-url", default="")
    parser.add_argument("--build", action="store_true", help="build web/out first (when out of date)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.build:
        build()
    asyncio.run(_serve(args.host, args.port, args.out_dir, args.edge_url))


if __name__ == "__main__":
    main()
