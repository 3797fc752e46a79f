"""Sustained mixed load through Envoy (issue 16, "Load and soak").

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.soak [--minutes 12] [--fraction 0.7]

Starts a mesh (ephemeral ports, not durable), measures each kind's capacity alone (closed loop:
`--concurrency` callers for `--capacity-seconds`), then offers the mix — NMT TranslateText, TTS
Synthesize, ASR Recognize (unary) and live ASR streams (StreamingRecognize, audio paced at real
time) — open loop (Poisson arrivals) at `--fraction` of capacity for `--minutes`. Each kind gets
an equal share of the machine: kind k arrives at fraction × capacity_k / 4, so the mix as a whole
is at `fraction` of what the machine sustains (the kinds share its cores).

Reports, per kind: error rate, p99 per window and its drift (last window's p99 over the first's);
and, per process of the mesh (every pid file of the run directory and its children, read from
/proc), RSS at the start and end of the load and its growth. The load average is noted: on a
shared machine it says how much of the figures is the neighbours'.

The pieces (`Client`, `capacity`, `open_loop`, `RssSampler`, `summarize`) are shared by
bench.overload and tests/e2e/test_soak_smoke.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from deploy.local.mesh import Mesh, Ports
from deploy.local.parts import ROOT

RESULTS = ROOT / "bench" / "results"
KINDS = ("nmt", "tts", "asr", "asr_stream")
RATE = 16000
PERIOD_S = 0.1  # a live stream sends 100 ms of audio every 100 ms
SPEECH = "the weather today is very pleasant"
HINDI = "भारत एक विशाल देश है। इसकी राजधानी नई दिल्ली है।"
CALL_TIMEOUT_S = 30.0
# Codes that mean "refused for load, come back later": what overload should produce.
SHED_CODES = ("RESOURCE_EXHAUSTED", "UNAVAILABLE")
# Codes that mean the platform failed a call it should have served or refused cleanly.
BROKEN_CODES = ("INTERNAL", "UNKNOWN", "DATA_LOSS")


@dataclasses.dataclass(frozen=True)
class Sample:
    kind: str
    start_s: float  # since the run began
    latency_s: float
    code: str  # "OK" or the status code's name
    reason: str = ""  # ErrorInfo.reason of a failed call, when it had one


def speech_audio() -> np.ndarray:
    from tests.audio_util import speech

    return speech(SPEECH)


def _reason(error: grpc.aio.AioRpcError) -> str:
    with contextlib.suppress(Exception):
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info.reason
    return ""


class Client:
    """One channel to Envoy and one prepared request per kind; `call(kind)` runs one call."""

    def __init__(self, target: str, key: str) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.metadata = (("x-api-key", key),)
        self.nmt = nmt_grpc.NmtServiceStub(self.channel)
        self.tts = tts_grpc.TtsServiceStub(self.channel)
        self.asr = asr_grpc.AsrServiceStub(self.channel)
        audio = speech_audio()
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        step = int(RATE * PERIOD_S) * 2
        self.chunks = [pcm[i:i + step] for i in range(0, len(pcm), step)]
        self.audio_s = audio.size / RATE
        config = asr_pb.RecognitionConfig(language_code="en", audio_config=audio_pb2.AudioConfig(
            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE))
        self.recognize = asr_pb.RecognizeRequest(config=config, content=pcm)
        self.stream_config = asr_pb.StreamingRecognizeRequest(
            streaming_config=asr_pb.StreamingRecognitionConfig(config=config, interim_results=True))
        self.translate = nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi",
                                                     target_language_code="ur")
        self.synthesize = tts_pb.SynthesizeRequest(
            input=tts_pb.SynthesisInput(text=HINDI), voice=tts_pb.VoiceSelectionParams(name="hi-female"),
            audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))

    async def close(self) -> None:
        await self.channel.close()

    async def _stream(self) -> None:
        async def requests():  # type: ignore[no-untyped-def]
            yield self.stream_config
            start = time.perf_counter()
            for k, chunk in enumerate(self.chunks):
                delay = start + k * PERIOD_S - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield asr_pb.StreamingRecognizeRequest(audio=chunk)

        call = self.asr.StreamingRecognize(requests(), metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        async for _ in call:
            pass

    async def call(self, kind: str) -> None:
        if kind == "nmt":
            await self.nmt.TranslateText(self.translate, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        elif kind == "tts":
            await self.tts.Synthesize(self.synthesize, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        elif kind == "asr":
            await self.asr.Recognize(self.recognize, metadata=self.metadata, timeout=CALL_TIMEOUT_S)
        elif kind == "asr_stream":
            await self._stream()
        else:
            raise ValueError(kind)

    async def timed(self, kind: str, origin: float) -> Sample:
        start = time.perf_counter()
        try:
            await self.call(kind)
        except grpc.aio.AioRpcError as err:
            return Sample(kind, start - origin, time.perf_counter() - start, err.code().name, _reason(err))
        except Exception as exc:  # noqa: BLE001 - the client's own failure, kept apart from the server's codes
            return Sample(kind, start - origin, time.perf_counter() - start, "CLIENT_ERROR", type(exc).__name__)
        return Sample(kind, start - origin, time.perf_counter() - start, "OK")


async def capacity(client: Client, kind: str, concurrency: int, seconds: float) -> tuple[float, float]:
    """(calls served OK per second, fraction of calls that failed) of a closed loop of
    `concurrency` callers of `kind` for `seconds`."""
    origin = time.perf_counter()
    end = origin + seconds
    ok = failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        while time.perf_counter() < end:
            if (await client.timed(kind, origin)).code == "OK":
                ok += 1
            else:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok / (time.perf_counter() - origin), failed / max(1, ok + failed)


async def open_loop(client: Client, rates: dict[str, float], seconds: float, *, seed: int = 16,
                    max_outstanding: int = 4000) -> list[Sample]:
    """Poisson arrivals of each kind at `rates[kind]` per second for `seconds`; every call's Sample.
    Arrivals do not wait for answers (open loop), so an overloaded server cannot slow the offer."""
    origin = time.perf_counter()
    samples: list[Sample] = []
    pending: set[asyncio.Task[Sample]] = set()
    rng = random.Random(seed)

    def finished(task: asyncio.Task[Sample]) -> None:
        pending.discard(task)
        samples.append(task.result())

    async def arrivals(kind: str, rate: float) -> None:
        if rate <= 0:
            return
        due = origin
        while True:
            due += rng.expovariate(rate)
            if due - origin >= seconds:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(pending) >= max_outstanding:
                continue  # the client's own bound; counted as not offered
            task = asyncio.create_task(client.timed(kind, origin))
            pending.add(task)
            task.add_done_callback(finished)

    await asyncio.gather(*(arrivals(k, r) for k, r in rates.items()))
    if pending:
        await asyncio.wait(set(pending))
    return samples


# -- RSS of every process of the mesh ---------------------------------------------------------

def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    out += descendants(int(child))
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def mesh_processes(run_dir: Path) -> dict[str, int]:
    """`<pid file>/<command>[<pid>]` → pid, for every process the run directory started and its
    children (a service's supervisor and the service, Triton and its Python stubs)."""
    found: dict[str, int] = {}
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        with contextlib.suppress(OSError, ValueError):
            root = int(pid_file.read_text().strip())
            for pid in descendants(root):
                found[f"{pid_file.stem}/{comm(pid)}[{pid}]"] = pid
    return found


class RssSampler:
    """RSS of the mesh's processes every `interval_s`, in the background."""

    def __init__(self, run_dir: Path, interval_s: float = 10.0) -> None:
        self.run_dir = run_dir
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        now = time.monotonic()
        values = {name: kb for name, pid in mesh_processes(self.run_dir).items() if (kb := rss_kb(pid)) is not None}
        self.samples.append((now, values))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()

    def growth(self) -> dict[str, dict[str, float]]:
        """Per process seen in the first and last sample: start, end, peak MB and growth %."""
        if not self.samples:
            return {}
        first, last = self.samples[0][1], self.samples[-1][1]
        out = {}
        for name in sorted(first.keys() & last.keys()):
            peak = max(s[1].get(name, 0) for s in self.samples)
            out[name] = {"start_mb": first[name] / 1024, "end_mb": last[name] / 1024, "peak_mb": peak / 1024,
                         "growth_pct": 100.0 * (last[name] - first[name]) / first[name] if first[name] else 0.0}
        return out


# -- figures ----------------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def summarize(samples: list[Sample], seconds: float, window_s: float) -> dict[str, Any]:
    """Per kind: counts by code and reason, error rate, latency percentiles (ms) of the OK calls,
    p99 per window and drift (last window's p99 / first window's)."""
    out: dict[str, Any] = {}
    windows = max(1, int(round(seconds / window_s)))
    for kind in sorted({s.kind for s in samples}):
        mine = [s for s in samples if s.kind == kind]
        ok = [s.latency_s for s in mine if s.code == "OK"]
        per_window = []
        for w in range(windows):
            lat = [s.latency_s for s in mine if s.code == "OK" and w * window_s <= s.start_s < (w + 1) * window_s]
            per_window.append(round(pct(lat, 99), 1))
        valid = [p for p in per_window if p == p]  # not NaN
        out[kind] = {
            "calls": len(mine),
            "codes": dict(Counter(s.code for s in mine)),
            "reasons": dict(Counter(s.reason for s in mine if s.reason)),
            "error_rate": 1.0 - len(ok) / len(mine) if mine else 0.0,
            "p50_ms": pct(ok, 50), "p99_ms": pct(ok, 99), "max_ms": max(ok) * 1000 if ok else float("nan"),
            "p99_per_window_ms": per_window,
            "p99_drift": valid[-1] / valid[0] if len(valid) >= 2 and valid[0] > 0 else float("nan"),
        }
    return out


def share_rates(caps: dict[str, float], fraction: float) -> dict[str, float]:
    """Each kind's arrival rate: `fraction` of its capacity, over the number of kinds (equal shares)."""
    return {k: fraction * c / len(caps) for k, c in caps.items()}


def edge_outcomes(mesh: Mesh) -> dict[str, int]:
    """Envoy's access log, tallied for the calls that did not end OK: gRPC status, response flags
    and details (`UO` overflow: a circuit breaker; `UH`: no healthy upstream; `via_upstream`: the
    service's own answer), so a refusal can be told from the edge's."""
    tally: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in mesh.access_log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if str(entry.get("grpc_status")) not in ("OK", "Ok", "0", "-", "None", ""):
                    tally[f"{entry.get('grpc_status')} {entry.get('flags')} {entry.get('details')}"] += 1
    return dict(tally.most_common(12))


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def start_mesh(work: Path, settle_s: float = 30.0) -> Mesh:
    """A mesh for a load run: ephemeral ports, not durable, the per-key rate limit lifted (the
    edge's limiter still runs on every call) so the load reaches the services."""
    work.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    run_dir = work / "mesh"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    os.environ["AI4VC_GATEWAY_DEFAULT_REQUESTS_PER_MINUTE"] = "10000000"
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True)
    mesh.up()
    # The services load their text-normalization grammars in the background after start (tens of
    # CPU seconds): capacity measured meanwhile would be the grammars' leftovers.
    time.sleep(settle_s)
    return mesh


async def measure_capacities(client: Client, levels: Sequence[int], seconds: float) -> dict[str, Any]:
    """Each kind's capacity: the most calls per second served OK by a closed loop, stepping the
    callers up through `levels` until the rate stops growing or calls start failing (past the
    knee more callers only queue: a fixed high concurrency measures the collapse, not capacity)."""
    caps: dict[str, float] = {}
    steps: dict[str, list[dict[str, float]]] = {}
    for kind in KINDS:
        await capacity(client, kind, 1, min(3.0, seconds))  # warm: connections, decoders, caches
        best = 0.0
        steps[kind] = []
        for level in levels:
            rate, failed = await capacity(client, kind, level, seconds)
            steps[kind].append({"concurrency": level, "ok_per_s": rate, "failed": failed})
            print(f"capacity {kind}: {rate:.2f}/s at concurrency {level} ({failed:.0%} failed)",
                  file=sys.stderr, flush=True)
            if failed <= 0.01:
                best = max(best, rate)
            if failed > 0.01 or rate < 1.1 * (steps[kind][-2]["ok_per_s"] if len(steps[kind]) > 1 else 0.0):
                break
        caps[kind] = best
    return {"capacity_per_s": caps, "capacity_steps": steps}


def levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


async def soak(mesh: Mesh, args: argparse.Namespace) -> dict[str, Any]:
    client = Client(f"127.0.0.1:{mesh.ports.envoy}", mesh.admin_key())
    try:
        measured = await measure_capacities(client, levels(args.levels), args.capacity_seconds)
        caps = measured["capacity_per_s"]
        rates = share_rates(caps, args.fraction)
        seconds = args.minutes * 60.0
        sampler = RssSampler(mesh.run_dir, args.rss_interval)
        load_start = loadavg()
        sampler.start()
        print(f"soak: {seconds:.0f} s at {args.fraction:.0%} ({rates})", file=sys.stderr, flush=True)
        started = time.monotonic()
        samples = await open_loop(client, rates, seconds)
        elapsed = time.monotonic() - started
        await sampler.stop()
    finally:
        await client.close()
    return {**measured, "rates_per_s": rates, "fraction": args.fraction, "seconds": seconds,
            "elapsed_s": elapsed, "window_s": args.window, "levels": args.levels,
            "loadavg_start": load_start, "loadavg_end": loadavg(), "cpus": os.cpu_count(),
            "kinds": summarize(samples, seconds, args.window), "rss": sampler.growth()}


def markdown(r: dict[str, Any]) -> str:
    lines = [f"soak: {r['seconds'] / 60:g} min at {r['fraction']:.0%} of capacity (elapsed {r['elapsed_s']:.0f} s); "
             f"load average {r['loadavg_start']} → {r['loadavg_end']} on {r['cpus']} cores", "",
             "| kind | capacity/s | offered/s | calls | error rate | codes | p50 ms | p99 ms "
             "| p99 first → last window ms | drift |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, k in r["kinds"].items():
        windows = k["p99_per_window_ms"]
        lines.append(f"| {kind} | {r['capacity_per_s'][kind]:.2f} | {r['rates_per_s'][kind]:.2f} | {k['calls']} | "
                     f"{k['error_rate']:.2%} | {k['codes']} | {k['p50_ms']:.0f} | {k['p99_ms']:.0f} | "
                     f"{windows[0]} → {windows[-1]} | {k['p99_drift']:.2f} |")
    lines += ["", f"Envoy's not-OK calls (gRPC status, flags, details): {r.get('edge_not_ok', {})}"]
    lines += ["", "| process | RSS start MB | end MB | peak MB | growth |", "|---|---|---|---|---|"]
    for name, g in r["rss"].items():
        lines.append(f"| {name} | {g['start_mb']:.1f} | {g['end_mb']:.1f} | {g['peak_mb']:.1f} "
                     f"| {g['growth_pct']:+.1f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--levels", default="1,2,4,8", help="closed-loop callers per capacity step")
    parser.add_argument("--capacity-seconds", type=float, default=10.0, help="seconds per capacity step")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between the mesh's start and the load")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per p99 window")
    parser.add_argument("--rss-interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    return run("soak", lambda mesh: soak(mesh, args), markdown, args.settle)


def run(name: str, measure: Callable[[Mesh], Coroutine[Any, Any, dict[str, Any]]],
        report: Callable[[dict[str, Any]], str], settle_s: float) -> int:
    """A bench's whole run (bench.soak, bench.overload): its own mesh in a temporary directory,
    `measure` against it, Envoy's not-OK calls, then the JSON under bench/results/ and `report`'s
    markdown on stdout."""
    work = Path(tempfile.mkdtemp(prefix=f"ai4vc-bench-{name}-"))
    mesh = None
    try:
        print("starting the mesh …", file=sys.stderr, flush=True)
        mesh = start_mesh(work, settle_s)
        result: dict[str, Any] = {"benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                  **asyncio.run(measure(mesh))}
        result["edge_not_ok"] = edge_outcomes(mesh)
    finally:
        if mesh is not None:
            mesh.down()
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(report(result))
    print(f"\nresults: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
