"""Publishing Envoy's routes: write the whole DiscoveryResponse to a temporary file in the watched
directory, fsync, rename it over `routes.json`. Envoy watches the directory for the rename
(`watched_directory`), so it never reads a half-written file; a file it rejects leaves the
previous routes in force."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROUTES_FILE = "routes.json"


def publish(routes_dir: Path, document: dict[str, Any]) -> tuple[int, float]:
    """Atomically replaces `routes_dir/routes.json` with `document`; (bytes written, seconds taken)."""
    started = time.perf_counter()
    data = json.dumps(document, separators=(",", ":")).encode()
    tmp = routes_dir / f".{ROUTES_FILE}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, routes_dir / ROUTES_FILE)
    return len(data), time.perf_counter() - started
