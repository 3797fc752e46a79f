"""Overload through Envoy (issue 16): offered load past capacity is shed fast, and what is admitted
stays fast.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.overload [--factor 1.5] [--seconds 30]

Starts a mesh, measures each kind's capacity alone (closed loop, as bench.soak), then offers, open
loop (Poisson arrivals, so a slow server cannot slow the offer), `--factor` × capacity: first each
kind alone for `--seconds`, then the mix (equal shares, as bench.soak) for `--mix-seconds`.

Per phase and kind: the fraction shed (RESOURCE_EXHAUSTED or UNAVAILABLE, by ErrorInfo reason),
how fast a shed call learns it (p50/p99 of the refusals' latency), the p99 of the admitted (OK)
calls, the first second a call was shed, and the calls that ended any other way (DEADLINE_EXCEEDED
means a call was admitted and then waited out its 30 s deadline: what admission control is for).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bench.soak import (
    KINDS,
    SHED_CODES,
    Client,
    Sample,
    levels,
    loadavg,
    measure_capacities,
    open_loop,
    pct,
    run,
    share_rates,
)
from deploy.local.mesh import Mesh


def shedding(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """The overload figures of one phase, per kind."""
    out: dict[str, Any] = {}
    for kind in sorted({s.kind for s in samples}):
        mine = [s for s in samples if s.kind == kind]
        ok = [s.latency_s for s in mine if s.code == "OK"]
        shed = [s for s in mine if s.code in SHED_CODES]
        other: dict[str, int] = {}
        for s in mine:
            if s.code != "OK" and s.code not in SHED_CODES:
                key = f"{s.code}/{s.reason}" if s.reason else s.code  # no reason: the client's own deadline
                other[key] = other.get(key, 0) + 1
        reasons: dict[str, int] = {}
        for s in shed:
            key = f"{s.code}/{s.reason or '-'}"
            reasons[key] = reasons.get(key, 0) + 1
        out[kind] = {
            "offered": len(mine), "offered_per_s": len(mine) / seconds, "ok": len(ok),
            "ok_per_s": len(ok) / seconds, "shed": len(shed),
            "shed_fraction": len(shed) / len(mine) if mine else 0.0, "shed_by_reason": reasons,
            "other": other,
            "time_to_shed_p50_ms": pct([s.latency_s for s in shed], 50),
            "time_to_shed_p99_ms": pct([s.latency_s for s in shed], 99),
            "first_shed_at_s": min((s.start_s for s in shed), default=float("nan")),
            "admitted_p50_ms": pct(ok, 50), "admitted_p99_ms": pct(ok, 99),
            "admitted_max_ms": max(ok) * 1000 if ok else float("nan"),
        }
    return out


async def overload(mesh: Mesh, args: argparse.Namespace) -> dict[str, Any]:
    client = Client(f"127.0.0.1:{mesh.ports.envoy}", mesh.admin_key())
    phases: dict[str, Any] = {}
    try:
        measured = await measure_capacities(client, levels(args.levels), args.capacity_seconds)
        caps = measured["capacity_per_s"]
        kinds = [k for k in KINDS if k in args.kinds.split(",")]
        for kind in kinds:
            rate = args.factor * caps[kind]
            print(f"overload {kind}: {rate:.2f}/s for {args.seconds:g} s", file=sys.stderr, flush=True)
            before = loadavg()
            samples = await open_loop(client, {kind: rate}, args.seconds)
            phases[kind] = {"rates_per_s": {kind: rate}, "seconds": args.seconds, "loadavg_start": before,
                            "loadavg_end": loadavg(), "kinds": shedding(samples, args.seconds)}
            await asyncio.sleep(args.pause)  # queues drain before the next phase
        if args.mix_seconds > 0:
            rates = share_rates({k: caps[k] for k in kinds}, args.factor)
            print(f"overload mix: {rates} for {args.mix_seconds:g} s", file=sys.stderr, flush=True)
            before = loadavg()
            samples = await open_loop(client, rates, args.mix_seconds)
            phases["mix"] = {"rates_per_s": rates, "seconds": args.mix_seconds, "loadavg_start": before,
                             "loadavg_end": loadavg(), "kinds": shedding(samples, args.mix_seconds)}
    finally:
        await client.close()
    return {**measured, "factor": args.factor, "levels": args.levels, "phases": phases}


def markdown(r: dict[str, Any]) -> str:
    lines = [f"overload at {r['factor']:.0%} of capacity (capacity: the best closed-loop rate over "
             f"{r['levels']} callers)", "",
             "| phase | kind | capacity/s | offered/s | served OK/s | shed | shed by | other "
             "| time to shed p50 / p99 ms | admitted p50 / p99 / max ms | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for phase, p in r["phases"].items():
        for kind, k in p["kinds"].items():
            lines.append(
                f"| {phase} | {kind} | {r['capacity_per_s'][kind]:.2f} | {k['offered_per_s']:.2f} | "
                f"{k['ok_per_s']:.2f} | "
                f"{k['shed_fraction']:.1%} | {k['shed_by_reason'] or '-'} | {k['other'] or '-'} | "
                f"{k['time_to_shed_p50_ms']:.0f} / {k['time_to_shed_p99_ms']:.0f} | "
                f"{k['admitted_p50_ms']:.0f} / {k['admitted_p99_ms']:.0f} / {k['admitted_max_ms']:.0f} | "
                f"{p['loadavg_start'][0]} → {p['loadavg_end'][0]} |")
    lines += ["", f"Envoy's not-OK calls (gRPC status, flags, details): {r.get('edge_not_ok', {})}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--seconds", type=float, default=30.0, help="each kind alone")
    parser.add_argument("--mix-seconds", type=float, default=60.0)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--levels", default="1,2,4,8", help="closed-loop callers per capacity step")
    parser.add_argument("--capacity-seconds", type=float, default=10.0, help="seconds per capacity step")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between the mesh's start and the load")
    parser.add_argument("--pause", type=float, default=5.0)
    args = parser.parse_args(argv)
    return run("overload", lambda mesh: overload(mesh, args), markdown, args.settle)


if __name__ == "__main__":
    sys.exit(main())
