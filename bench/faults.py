"""What each dependency fault costs the callers (issue 16, "Faults").

`python -m bench.faults [--freeze-s 3] [--parts postgres,redis,...] [--workers 3]` starts the
whole mesh on free ports (temporary directory), measures a baseline of NMT and TTS calls through
Envoy (tests/fault_util.Load), then for each part (PostgreSQL, Redis, Kafka, Triton, the
telemetry service, Prometheus) and each fault — frozen for `--freeze-s` (SIGSTOP … SIGCONT), then
killed (SIGKILL, brought back by the supervisor) — runs the same load through the fault.

Reported per fault: the served fraction (calls answered OK / calls made from the fault's start
until the part answered again), the max added latency (the slowest such call minus the baseline
p50, and as a ratio of that p50), the part's recovery time (kill: until a new server answers;
freeze: 0, it answers on SIGCONT) and the time until every served call's record and event was
complete (counted by request id). Results also go to bench/results/faults-<ts>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.models import machine
from deploy.local.mesh import Mesh, Ports
from deploy.local.parts import ROOT
from tests import fault_util
from tests.fault_util import Load

RESULTS = ROOT / "bench" / "results"


async def _one(mesh: Mesh, part: str, fault: str, freeze_s: float, workers: int, p50: float) -> dict[str, object]:
    async with Load(mesh, f"bench-{fault}-{part}", workers=workers, call_timeout_s=30) as load:
        await load.served(4)
        began = time.monotonic()
        if fault == "freeze":
            with fault_util.frozen(mesh, part):
                await asyncio.sleep(freeze_s)
            recovery_s = 0.0
            back = time.monotonic()
        else:
            old = fault_util.kill(mesh, part)
            recovery_s = await fault_util.wait_back(mesh, part, old)
            back = time.monotonic()
        await load.served(6)
    during = [o for o in load.outcomes if began <= o.start <= back]
    # A call that started before the fault but ran into it counts too.
    hit = [o for o in load.outcomes if o.start < back and o.start + o.latency_s >= began]
    slowest = max((o.latency_s for o in hit), default=0.0)
    try:
        complete_s: float | None = await fault_util.wait_complete(mesh, load.ok_ids(), timeout_s=120)
        lacking = 0
    except AssertionError:  # reported, not fatal: the other faults are still measured
        complete_s = None
        lacking = len(set.union(*await fault_util.missing(mesh, load.ok_ids())))
    served = sum(o.code.name == "OK" for o in hit)
    return {
        "part": part, "fault": fault, "calls": len(hit), "calls_started_during": len(during),
        "served_fraction": round(served / len(hit), 3) if hit else 1.0,
        "refused_with_retry_info": sum(o.code.name == "UNAVAILABLE" and o.retry_delay_s is not None for o in hit),
        "unacceptable": load.unacceptable(),
        "max_added_latency_s": round(max(0.0, slowest - p50), 3),
        "max_added_latency_x_p50": round(max(0.0, slowest - p50) / p50, 1),
        "recovery_s": round(recovery_s, 2),
        "complete_after_s": round(complete_s, 2) if complete_s is not None else None,
        "incomplete_after_120s": lacking,
    }


async def run(parts: list[str], freeze_s: float, workers: int, run_dir: Path) -> dict[str, object]:
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True)
    mesh.up()
    try:
        async with Load(mesh, "bench-baseline", workers=workers) as baseline:
            await baseline.served(40)
        latencies = sorted(o.latency_s for o in baseline.outcomes if o.code.name == "OK")
        p50 = statistics.median(latencies)
        results = []
        for part in parts:
            for fault in ("freeze", "kill"):
                results.append(await _one(mesh, part, fault, freeze_s, workers, p50))
                print(json.dumps(results[-1]), flush=True)
                await asyncio.to_thread(mesh.envoy.wait_healthy, 120)
        return {"machine": machine(), "freeze_s": freeze_s, "workers": workers,
                "baseline_p50_s": round(p50, 4), "baseline_calls": len(latencies), "results": results}
    finally:
        mesh.down()


def table(report: dict[str, object]) -> str:
    rows = ["| part | fault | calls hit | served | UNAVAILABLE+RetryInfo | max added latency | × p50 |"
            " part back after | records+events complete after |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:  # type: ignore[attr-defined]
        rows.append(f"| {r['part']} | {r['fault']} | {r['calls']} | {r['served_fraction']:.0%} |"
                    f" {r['refused_with_retry_info']} | {r['max_added_latency_s']:.2f} s |"
                    f" {r['max_added_latency_x_p50']} | {r['recovery_s']:.1f} s | "
                    + (f"{r['complete_after_s']:.1f} s |" if r["complete_after_s"] is not None
                       else f"**{r['incomplete_after_120s']} served calls incomplete after 120 s** |"))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default=",".join(fault_util.PARTS))
    parser.add_argument("--freeze-s", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs) afterwards")
    args = parser.parse_args(argv)
    run_dir = Path(tempfile.mkdtemp(prefix="ai4vc-bench-faults-"))
    run_dir.chmod(0o755)  # PostgreSQL runs as its own user
    try:
        report = asyncio.run(run(args.parts.split(","), args.freeze_s, args.workers, run_dir))
    finally:
        if args.keep:
            print(f"run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"faults-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(report, indent=2))
    print(f"baseline p50 {report['baseline_p50_s']} s over {report['baseline_calls']} calls")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
