"""Runs the `perf_analyzer` binary shipped in the tritonclient wheel against one model at one
concurrency and reads its CSV (throughput, p50/p99) and, from its report, the server's
average batch size (inference count / execution count).

It needs the Debian package `libb64-0d` and a `libcudart.so.12` (PyPI
`nvidia-cuda-runtime-cu12`; no GPU is used, the binary is only linked against it).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TOOL = "perf_analyzer"


class PerfError(RuntimeError):
    """perf_analyzer could not run or did not produce a measurement."""


def binary() -> Path:
    path = Path(sys.executable).parent / "perf_analyzer"
    if not path.exists():
        raise PerfError(f"{path} not found (it ships in the tritonclient wheel)")
    return path


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec and spec.submodule_search_locations:
        libdir = Path(list(spec.submodule_search_locations)[0]) / "lib"
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (str(libdir), env.get("LD_LIBRARY_PATH", "")) if p)
    return env


def available() -> str | None:
    """None when the binary starts here, else why it does not."""
    try:
        result = subprocess.run([str(binary()), "--version"], capture_output=True, text=True, timeout=20,
                                env=_environment())
    except (PerfError, OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    text = result.stdout + result.stderr
    if "error while loading shared libraries" in text:
        return text.strip().splitlines()[-1]
    return None


def measure(model: str, url: str, input_data: Path, concurrency: int, csv_path: Path, *,
            window_ms: int, trials: int, stability_pct: float, count_window: int | None = None,
            streaming: bool = False, timeout_s: float = 120) -> dict[str, Any]:
    """One perf_analyzer run. Windows are `window_ms` long, or, with `count_window`, as long as
    that many requests take (for slow models, where a short time window may see none).
    perf_analyzer stops after three consecutive windows within `stability_pct` of each other,
    or fails after `trials` windows."""
    argv = [str(binary()), "-m", model, "-i", "grpc", "-u", url, "--input-data", str(input_data),
            f"--concurrency-range={concurrency}:{concurrency}", "--percentile=99",
            f"--stability-percentage={stability_pct:g}", f"--max-trials={trials}", "-f", str(csv_path)]
    if count_window:
        argv += ["--measurement-mode=count_windows", f"--measurement-request-count={count_window}"]
    else:
        argv.append(f"--measurement-interval={window_ms}")
    if streaming:
        argv.append("--streaming")
    csv_path.unlink(missing_ok=True)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=_environment())
    except subprocess.TimeoutExpired as exc:
        raise PerfError(f"perf_analyzer timed out after {timeout_s:.0f} s on {model}") from exc
    if result.returncode != 0 or not csv_path.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise PerfError(f"perf_analyzer failed on {model} at concurrency {concurrency}: {' | '.join(tail)}")
    with csv_path.open() as handle:
        row = next(csv.DictReader(handle))
    inferences = re.search(r"Inference count: (\d+)", result.stdout)
    executions = re.search(r"Execution count: (\d+)", result.stdout)
    out: dict[str, Any] = {
        "tool": TOOL,
        "concurrency": concurrency,
        "throughput": float(row["Inferences/Second"]),
        "p50_ms": float(row["p50 latency"]) / 1000.0,
        "p99_ms": float(row["p99 latency"]) / 1000.0,
    }
    if inferences and executions and int(executions.group(1)):
        out["avg_batch"] = round(int(inferences.group(1)) / int(executions.group(1)), 2)
    if streaming:
        # For a decoupled model perf_analyzer times the first response: time to first chunk.
        out["latency_is"] = "first response"
        if "Response Throughput" in row:
            out["responses_per_s"] = float(row["Response Throughput"])
    return out
