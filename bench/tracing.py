"""What tracing and OTLP export cost a request: NMT DetectLanguage and TranslateText throughput,
called directly (no Envoy), on two NMT processes side by side in one run — one with spans and
log export to the telemetry service on, one with tracing off — over the same Triton and
PostgreSQL. Rounds alternate between the two so that drift on a shared machine hits both alike.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.tracing [--window 5] [--rounds 3] [--concurrency 8]
        [--sample-ratio 1.0]

Prints a markdown table (requests/s per mode and the cost, 1 - on/off) and writes
bench/results/tracing-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from ai4vc.telemetry.v1 import telemetry_service_pb2 as tpb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as tpb_grpc
from deploy.local.parts import Postgres, Service, Triton, free_port

HINDI = "भारत एक विशाल देश है।"
RESULTS = Path(__file__).parent / "results"
IDENTITY = (("x-ai4vc-principal", "bench"), ("x-ai4vc-scopes", "admin"))


def calls(stub: pb_grpc.NmtServiceStub) -> dict[str, object]:
    return {
        "DetectLanguage": lambda: stub.DetectLanguage(pb.DetectLanguageRequest(content=HINDI), timeout=10,
                                                      metadata=IDENTITY),
        "TranslateText": lambda: stub.TranslateText(pb.TranslateTextRequest(
            contents=[HINDI], source_language_code="hi", target_language_code="ur"), timeout=10, metadata=IDENTITY),
    }


async def load(call, concurrency: int, window_s: float) -> float:  # type: ignore[no-untyped-def]
    """Requests per second of a closed loop of `concurrency` callers for `window_s`."""
    done = 0
    deadline = time.perf_counter() + window_s

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def measure(ports: dict[str, int], telemetry_port: int, window_s: float, rounds: int,
                  concurrency: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}
    channels = {mode: grpc.aio.insecure_channel(f"127.0.0.1:{port}") for mode, port in ports.items()}
    try:
        stubs = {mode: calls(pb_grpc.NmtServiceStub(channel)) for mode, channel in channels.items()}
        for method in ("DetectLanguage", "TranslateText"):
            for mode in ports:  # warm-up
                await load(stubs[mode][method], concurrency, 1.0)
            for index in range(rounds):
                order = list(ports) if index % 2 == 0 else list(reversed(ports))
                for mode in order:
                    rate = await load(stubs[mode][method], concurrency, window_s)
                    results.setdefault(method, {}).setdefault(mode, []).append(rate)
        # The exported side really exported: its spans are in the telemetry service.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{telemetry_port}") as channel:
            await asyncio.sleep(1.5)
            found = await tpb_grpc.TelemetryServiceStub(channel).SearchTraces(
                tpb.SearchTracesRequest(service="nmt", page_size=5), metadata=IDENTITY, timeout=10)
            results["_check"] = {"traces_found": [float(len(found.traces))]}
    finally:
        for channel in channels.values():
            await channel.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample-ratio", type=float, default=1.0)
    parser.add_argument("--baseline", choices=("untraced", "traced"), default="untraced",
                        help="the off side: no spans at all (untraced), or spans made but not exported (traced)")
    parser.add_argument("--export", choices=("all", "spans", "logs"), default="all",
                        help="what the on side exports")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="ai4vc-bench-tracing-"))
    run_dir.chmod(0o755)
    (run_dir / "pg").mkdir()
    (run_dir / "pg").chmod(0o755)
    postgres = Postgres(run_dir / "pg", free_port(), durable=False)
    triton = Triton(run_dir / "triton", free_port(), free_port(), free_port())
    started: list[Service] = []
    try:
        postgres.start()
        triton.start()
        base = {"AI4VC_DATABASE_URL": postgres.url, "AI4VC_TRITON_URL": triton.url,
                "AI4VC_SPOOL_DIR": str(run_dir / "spool"), "AI4VC_LOG_LEVEL": "INFO"}
        telemetry = Service("telemetry", run_dir, free_port(), free_port(), base, module="services.telemetry",
                            health_service="ai4vc.telemetry.v1.TelemetryService")
        otlp = f"127.0.0.1:{telemetry.port}"
        modes = {
            "off": {**base, "AI4VC_NMT_TRACING": "true" if args.baseline == "traced" else "false",
                    "AI4VC_TRACING_EXPORTER": "none", "AI4VC_LOG_EXPORTER": "none"},
            "on": {**base, "AI4VC_TRACING_EXPORTER": "otlp" if args.export in ("all", "spans") else "none",
                   "AI4VC_LOG_EXPORTER": "otlp" if args.export in ("all", "logs") else "none",
                   "AI4VC_OTLP_ENDPOINT": otlp, "AI4VC_TRACING_SAMPLE_RATIO": str(args.sample_ratio)},
        }
        services = {mode: Service("nmt", run_dir, free_port(), free_port(), env, replica=i, module="services.nmt",
                                  health_service="ai4vc.nmt.v1.NmtService")
                    for i, (mode, env) in enumerate(modes.items())}
        for service in (telemetry, *services.values()):
            service.start()
            started.append(service)
        for service in started:
            service.wait_serving()
        results = asyncio.run(measure({m: s.port for m, s in services.items()}, telemetry.port, args.window,
                                      args.rounds, args.concurrency))
    finally:
        for service in reversed(started):
            service.stop()
        triton.stop()
        postgres.stop()
    lines = [f"concurrency {args.concurrency}, {args.rounds} rounds × {args.window:g} s per mode, "
             f"sample ratio {args.sample_ratio:g}, baseline {args.baseline}, export {args.export}", "",
             "| method | off (req/s) | on (req/s) | cost (1 - on/off) |", "|---|---|---|---|"]
    summary: dict[str, object] = {"args": vars(args), "raw": results}
    for method in ("DetectLanguage", "TranslateText"):
        off = sum(results[method]["off"]) / len(results[method]["off"])
        on = sum(results[method]["on"]) / len(results[method]["on"])
        cost = 1 - on / off
        summary[method] = {"off": off, "on": on, "cost": cost}
        lines.append(f"| {method} | {off:.0f} | {on:.0f} | {cost * 100:+.1f} % |")
    lines.append(f"\ntraces found in the telemetry service after the run: {results['_check']['traces_found'][0]:.0f}")
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
