"""Dependency faults on a running mesh, shared by tests/e2e/test_dependency_faults.py and
bench/faults.py: freeze (SIGSTOP … SIGCONT) or kill (SIGKILL) one part — PostgreSQL, Redis,
Kafka, Triton, the telemetry service, Prometheus — while a small load of NMT and TTS calls goes
through Envoy, then count what the calls left behind (records, events) by request id."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

import asyncpg
import grpc

from ai4vc.audio.v1 import audio_pb2
from ai4vc.events.v1 import events_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from deploy.local.mesh import Mesh
from deploy.local.parts import Process, pid_alive
from tests.errors_util import error_info, retry_delay_s

PARTS = ("postgres", "redis", "kafka", "triton", "telemetry", "prometheus")
HINDI = "भारत एक विशाल देश है।"
NMT_REQUEST = nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur")
TTS_REQUEST = tts_pb.SynthesizeRequest(input=tts_pb.SynthesisInput(text=HINDI),
                                       voice=tts_pb.VoiceSelectionParams(name="hi-female"),
                                       audio_config=tts_pb.AudioOutputConfig(
                                           encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))
_ids = itertools.count()


# -- the parts ------------------------------------------------------------------------------

def supervisor(mesh: Mesh, part: str) -> Process:
    """The supervised process of `part` (its pid file names the supervisor, which leads the group)."""
    if part == "telemetry":
        return next(s.proc for s in mesh.services if s.name == "telemetry")
    return {"postgres": mesh.postgres.proc, "redis": mesh.redis.proc, "kafka": mesh.kafka.proc,
            "triton": mesh.triton.proc, "prometheus": mesh.prometheus.proc}[part]


def server_pid(mesh: Mesh, part: str) -> int | None:
    """The part's own server process (the supervisor's child; PostgreSQL's postmaster)."""
    if part == "postgres":
        return mesh.postgres.postmaster_pid()
    pid = supervisor(mesh, part).pid()
    if pid is None:
        return None
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    alive = [int(c) for c in children if pid_alive(int(c))]
    return alive[0] if alive else None


def ready(mesh: Mesh, part: str) -> bool:
    try:
        if part == "postgres":
            return mesh.postgres.ready()
        if part == "redis":
            return mesh.redis._ping()
        if part == "kafka":
            return mesh.kafka.ready()
        if part == "triton":
            return mesh.triton.ready()
        if part == "telemetry":
            return next(s for s in mesh.services if s.name == "telemetry").serving()
        return mesh.prometheus.ready()
    except Exception:  # noqa: BLE001 - not (yet) answering
        return False


@contextlib.contextmanager
def frozen(mesh: Mesh, part: str) -> Iterator[None]:
    """The part hung (its sockets stay open and nothing answers), continued on leaving —
    whatever happened inside. The whole process group (PostgreSQL's backends with their
    postmaster), except Triton's: there only tritonserver stops. Its Python-backend stubs frozen
    with it miss the server's stub health checks, and on SIGCONT tritonserver restarted them and
    then crashed (SIGSEGV, seen here once) — a fault of Triton's, which the supervisor recovers
    from (tests/e2e/test_triton_restart.py) but in a minute of model loading, not a hang."""
    if part == "triton":
        pid = server_pid(mesh, part)
        assert pid is not None, "Triton is not running"
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)
        return
    group = supervisor(mesh, part).pid()
    assert group is not None, f"{part} is not running"
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def kill(mesh: Mesh, part: str) -> int:
    """SIGKILLs the part's server (not its supervisor, which is to restart it); returns its pid."""
    pid = server_pid(mesh, part)
    assert pid is not None, f"{part} has no server process"
    os.kill(pid, signal.SIGKILL)
    return pid


async def wait_back(mesh: Mesh, part: str, old_pid: int, timeout_s: float = 90) -> float:
    """Seconds until a new server process of `part` (not `old_pid`) runs and answers."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        pid = await asyncio.to_thread(server_pid, mesh, part)
        if pid is not None and pid != old_pid and await asyncio.to_thread(ready, mesh, part):
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"{part} not back {timeout_s:.0f} s after being killed")


# -- the load -------------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    request_id: str
    method: str  # "nmt" or "tts"
    code: grpc.StatusCode
    latency_s: float
    retry_delay_s: float | None = None  # RetryInfo's delay, when the status carried one
    details: str = ""
    start: float = 0.0  # time.monotonic() at the call's start
    reason: str = ""  # ErrorInfo's reason, when the status carried one

    @property
    def acceptable(self) -> bool:
        """Served, or refused the way a client can act on: UNAVAILABLE with RetryInfo, or the
        refusal of Triton's own queue (RESOURCE_EXHAUSTED BACKEND_OVERLOADED with RetryInfo,
        proto/README.md): a request queued when Triton froze waits out the model's queue timeout
        (models/*/config.pbtxt) and Triton refuses it on waking. Envoy does not retry that refusal
        (it is overload's answer too), so the client is told to, with a delay."""
        if self.code == grpc.StatusCode.OK:
            return True
        told_when = self.retry_delay_s is not None
        return told_when and (self.code == grpc.StatusCode.UNAVAILABLE or (
            self.code == grpc.StatusCode.RESOURCE_EXHAUSTED and self.reason == "BACKEND_OVERLOADED"))


class Load:
    """`workers` callers of TranslateText and Synthesize (alternately) through Envoy, each call
    with its own x-request-id and a `call_timeout_s` deadline, until stopped."""

    def __init__(self, mesh: Mesh, tag: str, workers: int = 3, call_timeout_s: float = 20.0,
                 pause_s: float = 0.05) -> None:
        self.mesh, self.tag, self.workers = mesh, tag, workers
        self.call_timeout_s, self.pause_s = call_timeout_s, pause_s
        self.outcomes: list[Outcome] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._channel: grpc.aio.Channel | None = None

    async def __aenter__(self) -> Load:
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.mesh.ports.envoy}")
        key = self.mesh.admin_key()
        nmt, tts = nmt_grpc.NmtServiceStub(self._channel), tts_grpc.TtsServiceStub(self._channel)
        calls: Sequence[tuple[str, Callable[..., Awaitable[object]], object]] = (
            ("nmt", nmt.TranslateText, NMT_REQUEST), ("tts", tts.Synthesize, TTS_REQUEST))
        for worker in range(self.workers):
            self._tasks.append(asyncio.create_task(self._run(worker, key, calls)))
        return self

    async def _run(self, worker: int, key: str, calls: Sequence[tuple[str, Callable[..., Awaitable[object]], object]]
                   ) -> None:
        for turn in itertools.count(worker):
            if self._stop.is_set():
                return
            method, call, request = calls[turn % len(calls)]
            request_id = f"faults-{self.tag}-{next(_ids)}-{os.getpid()}"
            start = time.monotonic()
            try:
                await call(request, timeout=self.call_timeout_s,
                           metadata=(("x-api-key", key), ("x-request-id", request_id)))
                outcome = Outcome(request_id, method, grpc.StatusCode.OK, time.monotonic() - start, start=start)
            except grpc.aio.AioRpcError as err:
                outcome = Outcome(request_id, method, err.code(), time.monotonic() - start, retry_delay_s(err),
                                  (err.details() or "")[:200], start=start,
                                  reason=info.reason if (info := error_info(err)[0]) else "")
            self.outcomes.append(outcome)
            # A well-behaved client: it waits the RetryInfo delay it was given before the next call.
            await asyncio.sleep(max(self.pause_s, min(outcome.retry_delay_s or 0.0, 5.0)))

    async def served(self, count: int, timeout_s: float = 60) -> None:
        """Waits for `count` more calls served (OK) than now."""
        target = self.ok_count() + count
        deadline = time.monotonic() + timeout_s
        while self.ok_count() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.tag}: fewer than {count} calls served in {timeout_s:.0f} s; "
                                     f"last: {[(o.code.name, o.details) for o in self.outcomes[-5:]]}")
            await asyncio.sleep(0.05)

    def ok_count(self) -> int:
        return sum(o.code == grpc.StatusCode.OK for o in self.outcomes)

    def ok_ids(self) -> dict[str, str]:
        """request id → method of every call served."""
        return {o.request_id: o.method for o in self.outcomes if o.code == grpc.StatusCode.OK}

    def unacceptable(self) -> list[str]:
        return [f"{o.method} {o.code.name} after {o.latency_s:.1f} s: {o.details}" for o in self.outcomes
                if not o.acceptable]

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()


# -- what the calls left behind -------------------------------------------------------------

async def missing(mesh: Mesh, ids: dict[str, str]) -> tuple[set[str], set[str]]:
    """(request ids with no usage record row, request ids whose inference event is not in the
    outbox or not yet sent to Kafka)."""
    conn = await asyncpg.connect(mesh.postgres.url, timeout=5)
    try:
        recorded = {r["request_id"] for table in ("nmt_requests", "tts_requests") for r in await conn.fetch(
            f"SELECT request_id FROM {table} WHERE request_id = ANY($1::text[])", list(ids))}  # noqa: S608
        sent: set[str] = set()
        for row in await conn.fetch("SELECT payload FROM event_outbox WHERE sent_time IS NOT NULL"
                                    " AND topic = 'ai4vc.inference' AND created_time > now() - interval '1 hour'"):
            event = events_pb2.Event.FromString(row["payload"])
            if event.subject in ids:
                sent.add(event.subject)
    finally:
        await conn.close()
    return set(ids) - recorded, set(ids) - sent


async def wait_complete(mesh: Mesh, ids: dict[str, str], timeout_s: float = 90) -> float:
    """Seconds until every served call's record is in PostgreSQL and its event was sent."""
    start = time.monotonic()
    lacking: tuple[set[str], set[str]] = (set(ids), set(ids))
    while time.monotonic() - start < timeout_s:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            lacking = await missing(mesh, ids)
            if not any(lacking):
                return time.monotonic() - start
        await asyncio.sleep(0.5)
    raise AssertionError(f"after {timeout_s:.0f} s, of {len(ids)} served calls {len(lacking[0])} have no record "
                         f"and {len(lacking[1])} no sent event (e.g. {sorted(lacking[0] | lacking[1])[:3]})")
