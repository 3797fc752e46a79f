"""Publishing Envoy's routes: write the whole DiscoveryResponse to a temporary file in the watched
directory, fsync, rename it over `routes.json`. Envoy watches the directory for the rename
(`watched_directory`), so it never reads a half-written file; a file it rejects leaves the
previous routes in force.

The big per-key texts (basic_auth's users, the identity code with its key records) do not go
inside routes.json: Envoy parses a JSON string at ~20 MB/s, and at 100k keys those ~10 MB cost
≈ 0.45 s of every publish (bench/README.md). `DataFiles` writes each into `data/` under the
watched directory before routes.json names it; Envoy reads a DataSource file as it is, with no
parsing. The subdirectory is not watched (a rename into it does not make Envoy re-read
routes.json); a file is never rewritten (a new text is a new name, unique to this process — an
unchanged text keeps its file and is not written again), and the files of the last few publishes
are kept, so the routes Envoy is applying always find theirs.
Gateway and Envoy must see the directory at the same absolute path (compose: /etc/ai4vc-edge).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

ROUTES_FILE = "routes.json"
DATA_DIR = "data"
KEEP_PUBLISHES = 4


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class DataFiles:
    """The files a publish's routes refer to (render.routes' `store`): `source` names a text's
    file during the render (no I/O), `write` makes the new ones, `collect` removes those no recent
    publish names."""

    def __init__(self, routes_dir: Path) -> None:
        self.dir = routes_dir.resolve() / DATA_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # Names unique to this process, so no file a previous gateway left is taken for ours.
        self._run = f"{int(time.time())}-{secrets.token_hex(4)}"
        self._serial = 0
        self._pending: dict[Path, str] = {}
        self._named: set[str] = set()
        self._recent: deque[set[str]] = deque(maxlen=KEEP_PUBLISHES)
        self._last: dict[str, tuple[str, Path]] = {}  # name → (its text, its file)

    def source(self, name: str, content: str) -> dict[str, str]:
        last = self._last.get(name)
        # Identity first: an unchanged KeyTable hands out the same string object.
        if (last is not None and (last[0] is content or last[0] == content)
                and (last[1] in self._pending or last[1].exists())):
            path = last[1]
        else:
            self._serial += 1
            path = self.dir / f"{name}-{self._run}-{self._serial}.txt"
            self._last[name] = (content, path)
            self._pending[path] = content
        self._named.add(path.name)
        return {"filename": str(path)}

    def write(self) -> int:
        """Writes the files named since the last write that do not exist yet; bytes written."""
        written = 0
        for path, content in self._pending.items():
            data = content.encode()
            _write_atomically(path, data)
            written += len(data)
        self._pending.clear()
        self._recent.append(self._named)
        self._named = set()
        return written

    def collect(self) -> None:
        keep = set().union(*self._recent)
        for path in self.dir.iterdir():
            if path.name not in keep and not path.name.startswith("."):
                path.unlink(missing_ok=True)


def publish(routes_dir: Path, document: dict[str, Any], files: DataFiles | None = None) -> tuple[int, float]:
    """Writes the new data files (when `files` named any), then atomically replaces
    `routes_dir/routes.json` with `document`; (bytes written, seconds taken)."""
    started = time.perf_counter()
    written = files.write() if files is not None else 0
    data = json.dumps(document, separators=(",", ":")).encode()
    _write_atomically(routes_dir / ROUTES_FILE, data)
    if files is not None:
        files.collect()
    return written + len(data), time.perf_counter() - started
