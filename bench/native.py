"""Native load generators for the edge benchmark, so a Python client is not what is measured:
`h2load` (Debian `nghttp2-client`) sends gRPC frames over HTTP/2, `wrk` (Debian `wrk`) sends the
REST/JSON requests over HTTP/1.1. Both run closed-loop at a given concurrency for a time window;
latencies come from h2load's per-request log and wrk's latency distribution.

Install them with `apt-get install nghttp2-client wrk`; without them `bench.edge` says so and
reports the Python clients' rows only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from google.protobuf.message import Message


def available() -> dict[str, bool]:
    return {"h2load": shutil.which("h2load") is not None, "wrk": shutil.which("wrk") is not None}


def grpc_frame(message: Message) -> bytes:
    """One length-prefixed, uncompressed gRPC message (what goes in the HTTP/2 DATA frames)."""
    payload = message.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def h2load_grpc(url: str, message: Message, headers: dict[str, str], concurrency: int, seconds: float,
                warmup_s: float) -> dict[str, float]:
    """Unary gRPC calls at `url` (http://host:port/pkg.Service/Method): `concurrency` streams in
    flight, over at most 4 connections. Counts answers whose HTTP status is 200 (a gRPC error
    would still be 200: the caller checks one call through a real client first)."""
    connections = max(1, min(4, concurrency))
    streams = max(1, concurrency // connections)
    with tempfile.TemporaryDirectory(prefix="ai4vc-h2load-") as work:
        body, log = Path(work) / "body", Path(work) / "log.tsv"
        body.write_bytes(grpc_frame(message))
        command = ["h2load", "-c", str(connections), "-m", str(streams), "-D", f"{round(seconds * 1000)}ms",
                   "--warm-up-time", f"{round(warmup_s * 1000)}ms", "-d", str(body), "--log-file", str(log),
                   "-H", "content-type: application/grpc", "-H", "te: trailers"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        run = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + warmup_s + 60)
        if run.returncode != 0:
            raise RuntimeError(f"h2load failed: {run.stderr[-500:] or run.stdout[-500:]}")
        rows = [line.split("\t") for line in log.read_text().splitlines() if line.strip()]
    ok = [int(r[2]) / 1000.0 for r in rows if r[1] == "200"]
    errors = len(rows) - len(ok)
    return _summary(ok, seconds, errors)


_WRK_LUA = """
wrk.method = "POST"
wrk.body = {body}
{headers}
"""


def wrk_rest(url: str, body: bytes, headers: dict[str, str], concurrency: int, seconds: float) -> dict[str, float]:
    """POSTs of `body` at `url` with `concurrency` connections (one request in flight each)."""
    lua_headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    with tempfile.TemporaryDirectory(prefix="ai4vc-wrk-") as work:
        script = Path(work) / "post.lua"
        script.write_text(_WRK_LUA.format(body=_lua_string(body.decode()), headers=lua_headers))
        command = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
                   "--latency", "-s", str(script), url]
        run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed: {run.stderr[-500:]}")
    out = run.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(int(x) for x in socket.groups())
    return {"throughput": (requests - errors) / max(1, round(seconds)), "p50_ms": _wrk_ms(out, "50%"),
            "p99_ms": _wrk_ms(out, "99%"), "requests": requests, "errors": errors}


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk_ms(out: str, percentile: str) -> float:
    found = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not found:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000.0 if unit == "us" else value * 1000.0 if unit == "s" else value


def _summary(latencies_ms: list[float], seconds: float, errors: int) -> dict[str, float]:
    ms = np.array(latencies_ms)
    return {"throughput": len(ms) / seconds, "p50_ms": float(np.percentile(ms, 50)) if len(ms) else 0.0,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else 0.0, "requests": len(ms), "errors": errors}
