"""What the Riva facade costs: the same work asked of the nmt service directly and through
services/riva (one more gRPC hop, two message mappings), in one run, as ratios.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.riva [--calls 200]

Starts its own Triton (free ports, temporary run directory), the nmt service and the facade
in-process (their production factories and interceptors), then, in alternating rounds so
drift hits both sides alike, times sequential calls of
- a discovery call that does no inference: ListLanguagePairs vs Riva's ListSupportedLanguagePairs
  (the hop and the mapping, nearly alone);
- TranslateText of one Hindi sentence, hi→ur (apertium through Triton) vs Riva's TranslateText.
Prints p50/p99 of each and the facade/direct ratio of the p50s; writes
bench/results/riva-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from bench.models import machine
from deploy.local.parts import Triton, free_port
from riva.proto import riva_nmt_pb2 as rnmt
from riva.proto import riva_nmt_pb2_grpc as rnmt_grpc
from services.common.metrics import RpcMetrics
from services.common.rpc.server import build_server
from services.common.settings import CommonSettings
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from services.riva import app as riva_app
from services.riva.settings import RivaSettings

HINDI = "भारत एक विशाल देश है।"
RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.asynccontextmanager
async def serving(settings: CommonSettings, create: Callable[..., Awaitable[Any]], stack: contextlib.AsyncExitStack):
    metrics = RpcMetrics(settings.service_name)
    app = await create(settings, stack, metrics.registry)
    handle = await build_server(settings, app.register, app.service_names, metrics)
    await handle.server.start()
    await handle.set_serving(await app.ready())
    try:
        yield handle.port
    finally:
        await handle.server.stop(0)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000}


async def timed(call: Callable[[], Awaitable[Any]], count: int, into: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        await call()
        into.append(time.perf_counter() - start)


async def run(calls: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ai4vc-bench-riva-") as tmp:
        triton = Triton(Path(tmp) / "triton", free_port(), free_port(), free_port())
        triton.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                common = {"port": 0, "log_json": False, "spool_dir": str(Path(tmp) / "spool"), "tracing": False}
                nmt_port = await stack.enter_async_context(serving(
                    NmtSettings(**common, triton_url=triton.url), nmt_app.create, stack))
                riva_port = await stack.enter_async_context(serving(RivaSettings(
                    **common, nmt_target=f"127.0.0.1:{nmt_port}", asr_target="", tts_target=""),
                    riva_app.create, stack))
                direct_channel = await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{nmt_port}"))
                riva_channel = await stack.enter_async_context(grpc.aio.insecure_channel(f"127.0.0.1:{riva_port}"))
                direct, facade = nmt_grpc.NmtServiceStub(direct_channel), rnmt_grpc.RivaTranslationStub(riva_channel)
                cases: dict[str, tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = {
                    "language_pairs": (lambda: direct.ListLanguagePairs(nmt_pb.ListLanguagePairsRequest(), timeout=10),
                                       lambda: facade.ListSupportedLanguagePairs(rnmt.AvailableLanguageRequest(),
                                                                                 timeout=10)),
                    "translate_hi_ur": (
                        lambda: direct.TranslateText(nmt_pb.TranslateTextRequest(
                            contents=[HINDI], source_language_code="hi", target_language_code="ur"), timeout=30),
                        lambda: facade.TranslateText(rnmt.TranslateTextRequest(
                            texts=[HINDI], source_language="hi", target_language="ur"), timeout=30)),
                }
                out: dict[str, Any] = {}
                for name, (plain, riva) in cases.items():
                    await timed(plain, 5, []), await timed(riva, 5, [])  # warm-up
                    samples: dict[str, list[float]] = {"direct": [], "riva": []}
                    for _ in range(rounds):
                        await timed(plain, calls // rounds, samples["direct"])
                        await timed(riva, calls // rounds, samples["riva"])
                    direct_s, riva_s = summary(samples["direct"]), summary(samples["riva"])
                    out[name] = {"direct": direct_s, "riva": riva_s, "calls": len(samples["direct"]),
                                 "ratio_p50": riva_s["p50_ms"] / direct_s["p50_ms"]}
                return out
        finally:
            triton.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.riva")
    parser.add_argument("--calls", type=int, default=200, help="sequential calls per side and case")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of direct and facade")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.calls, args.rounds))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"riva-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    print("| case | direct p50 / p99 (ms) | through the Riva facade p50 / p99 (ms) | facade / direct (p50) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['direct']['p50_ms']:.2f} / {r['direct']['p99_ms']:.2f} | "
              f"{r['riva']['p50_ms']:.2f} / {r['riva']['p99_ms']:.2f} | {r['ratio_p50']:.2f} |")
    print(f"\n{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
