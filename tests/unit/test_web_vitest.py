"""The web console's own unit tests (Vitest, web/tests/): the microphone path's resampling to
16 kHz and framing, and the WebSocket bridge client — run here so `make test` runs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"


def test_vitest() -> None:
    vitest = WEB / "node_modules" / ".bin" / "vitest"
    if not vitest.exists() or shutil.which("node") is None:
        pytest.skip("needs web/node_modules (deploy/local/bootstrap.sh runs npm ci --prefix web)")
    run = subprocess.run([str(vitest), "run", "--reporter=dot"], cwd=WEB, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "CI": "1"})
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
