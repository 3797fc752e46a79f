"""Overload through Envoy (issue 16): offered load past capacity is shed fast, and what is admitted
stays fast.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.overload [--factor 1.5] [--seconds 30]
    PYTHONPATH=gen/python:. .venv/bin/python -m bench.overload --rates asr=2.12,asr_stream=0.68 \
        [--mix-rates nmt=5.4,tts=12.13,asr=0.44,asr_stream=0.11]

Starts a mesh, measures each kind's capacity alone (closed loop, as bench.soak), then offers, open
loop (Poisson arrivals, so a slow server cannot slow the offer), `--factor` × capacity: first each
kind alone for `--seconds`, then the mix (equal shares, as bench.soak) for `--mix-seconds`.

Per phase and kind: the fraction shed (RESOURCE_EXHAUSTED or UNAVAILABLE, by ErrorInfo reason),
how fast a shed call learns it (p50/p99 of the refusals' latency), the p99 of the admitted (OK)
calls, the first second a call was shed, and the calls that ended any other way (DEADLINE_EXCEEDED
means a call was admitted and then waited out its 30 s deadline: what admission control is for).
For live streams also "last result after end of audio": how long after the client sent its last
audio chunk the stream's last result came (p50/p99 of the streams that ended OK) — how far behind
real time an admitted stream ran.

`--rates kind=per_s,…` fixes each alone phase's offered rate (and skips measuring capacity), so
two runs — before and after a change — offer the same load; `--mix-rates` does the same for the
mix (without it, and with `--rates`, there is no mix phase).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import grpc

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from bench.soak import (
    CALL_TIMEOUT_S,
    KINDS,
    PERIOD_S,
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


class OverloadClient(Client):
    """bench.soak's client, whose live streams also note how long after their last audio chunk their
    last result came (`tails`, seconds, streams that ended OK)."""

    def __init__(self, target: str, key: str) -> None:
        super().__init__(target, key)
        self.tails: list[float] = []

    async def _stream(self) -> None:
        sent_last = 0.0

        async def requests():  # type: ignore[no-untyped-def]
            nonlocal sent_last
            yield self.stream_config
            start = time.perf_counter()
            for k, chunk in enumerate(self.chunks):
                delay = start + k * PERIOD_S - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield asr_pb.StreamingRecognizeRequest(audio=chunk)
            sent_last = time.perf_counter()

        call = self.asr.StreamingRecognize(requests(), metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        last = 0.0
        async for _ in call:
            last = time.perf_counter()
        if await call.code() == grpc.StatusCode.OK and sent_last and last:
            self.tails.append(max(0.0, last - sent_last))


def shedding(samples: list[Sample], seconds: float, tails: list[float] | None = None) -> dict[str, Any]:
    """The overload figures of one phase, per kind (`tails`: the streams' last result after end of audio)."""
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
        if kind == "asr_stream" and tails is not None:
            out[kind]["last_result_after_audio_p50_ms"] = pct(tails, 50)
            out[kind]["last_result_after_audio_p99_ms"] = pct(tails, 99)
    return out


def parse_rates(text: str) -> dict[str, float]:
    """`kind=per_s,…` → {kind: per_s}, kinds from bench.soak.KINDS."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, value = part.partition("=")
        if kind not in KINDS or not value:
            raise argparse.ArgumentTypeError(f"{part!r}: use kind=per_s with kind one of {', '.join(KINDS)}")
        rates[kind] = float(value)
    return rates


async def phase(client: OverloadClient, name: str, rates: dict[str, float], seconds: float) -> dict[str, Any]:
    print(f"overload {name}: {rates} for {seconds:g} s", file=sys.stderr, flush=True)
    before = loadavg()
    client.tails = []
    samples = await open_loop(client, rates, seconds)
    return {"rates_per_s": rates, "seconds": seconds, "loadavg_start": before, "loadavg_end": loadavg(),
            "kinds": shedding(samples, seconds, client.tails)}


async def overload(mesh: Mesh, args: argparse.Namespace) -> dict[str, Any]:
    client = OverloadClient(f"127.0.0.1:{mesh.ports.envoy}", mesh.admin_key())
    phases: dict[str, Any] = {}
    try:
        if args.rates:
            # Fixed offered rates: no capacity run (its figures come from the run the rates were read off).
            measured: dict[str, Any] = {"capacity_per_s": {}, "capacity_steps": {}}
            alone = args.rates
            mix = args.mix_rates
            for kind in {*alone, *mix}:
                await client.timed(kind, time.perf_counter())  # warm: connections, decoders, caches
        else:
            measured = await measure_capacities(client, levels(args.levels), args.capacity_seconds)
            caps = measured["capacity_per_s"]
            kinds = [k for k in KINDS if k in args.kinds.split(",")]
            alone = {kind: args.factor * caps[kind] for kind in kinds}
            mix = share_rates({k: caps[k] for k in kinds}, args.factor)
        for kind, rate in alone.items():
            phases[kind] = await phase(client, kind, {kind: rate}, args.seconds)
            await asyncio.sleep(args.pause)  # queues drain before the next phase
        if args.mix_seconds > 0 and mix:
            phases["mix"] = await phase(client, "mix", mix, args.mix_seconds)
    finally:
        await client.close()
    return {**measured, "factor": args.factor, "levels": args.levels, "rates": args.rates,
            "mix_rates": args.mix_rates, "phases": phases}


def markdown(r: dict[str, Any]) -> str:
    head = (f"overload at fixed offered rates {r['rates']}" if r.get("rates") else
            f"overload at {r['factor']:.0%} of capacity (capacity: the best closed-loop rate over "
            f"{r['levels']} callers)")
    lines = [head, "",
             "| phase | kind | capacity/s | offered/s | served OK/s | shed | shed by | other "
             "| time to shed p50 / p99 ms | admitted p50 / p99 / max ms | last result after audio p50 / p99 ms "
             "| load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, p in r["phases"].items():
        for kind, k in p["kinds"].items():
            tail = (f"{k['last_result_after_audio_p50_ms']:.0f} / {k['last_result_after_audio_p99_ms']:.0f}"
                    if "last_result_after_audio_p50_ms" in k else "-")
            lines.append(
                f"| {name} | {kind} | {r['capacity_per_s'].get(kind, float('nan')):.2f} | "
                f"{k['offered_per_s']:.2f} | {k['ok_per_s']:.2f} | "
                f"{k['shed']} ({k['shed_fraction']:.1%}) | {k['shed_by_reason'] or '-'} | {k['other'] or '-'} | "
                f"{k['time_to_shed_p50_ms']:.0f} / {k['time_to_shed_p99_ms']:.0f} | "
                f"{k['admitted_p50_ms']:.0f} / {k['admitted_p99_ms']:.0f} / {k['admitted_max_ms']:.0f} | {tail} | "
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
    parser.add_argument("--rates", type=parse_rates, default={},
                        help="kind=per_s,… : fixed offered rates of the alone phases (no capacity run)")
    parser.add_argument("--mix-rates", type=parse_rates, default={},
                        help="kind=per_s,… : fixed offered rates of the mix (with --rates)")
    args = parser.parse_args(argv)
    return run("overload", lambda mesh: overload(mesh, args), markdown, args.settle)


if __name__ == "__main__":
    sys.exit(main())
