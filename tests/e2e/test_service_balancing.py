"""Calls between services balanced over replicas (issue 19): with two ASR and two TTS replicas the
pipeline's speech → text → speech runs go to both of each, a pipeline run survives the SIGKILL of
either ASR replica (the pipeline's channel skips the dead one; calls in flight at the kill are
retried by its own retry), a replica started again on its port gets calls again, and the
WebSocket bridge's live ASR opens a new stream on the survivor, while a stream on the replica
that dies ends UNAVAILABLE."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
import urllib.request

import grpc
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from deploy.local.mesh import Mesh
from deploy.local.parts import Service
from tests.audio_util import RATE, speech
from tests.mesh_util import handled_ok, private_mesh

pytestmark = pytest.mark.e2e
SENTENCE = "hello world"
# Calls in flight when a replica is killed may fail (a stream, or a unary call out of retries);
# a run started this long after the kill must not.
SETTLE_S = 2.0


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


AUDIO = pcm16(speech(SENTENCE))
REQUEST = pb.RunPipelineRequest(
    tasks=[pb.PipelineTask(asr=asr_pb.RecognitionConfig(language_code="en")),
           pb.PipelineTask(tts=pb.SynthesisConfig(
               voice=tts_pb.VoiceSelectionParams(language_code="en"),
               audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16)))],
    input=pb.PipelineInput(audio=pb.AudioInput(content=AUDIO, audio_config=audio_pb2.AudioConfig(
        encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE))))


def handled(service: Service, method: str) -> int:
    """Calls of `method` ("Service/Method") the replica answered OK, from its own metrics port."""
    return handled_ok(service.metrics_port, method)


@pytest.fixture(scope="module")
def balanced_mesh(run_base):
    with private_mesh(run_base, "balancing", replicas={"asr": 2, "tts": 2}) as mesh:
        yield mesh


class Runs:
    """Pipeline runs through Envoy by a few concurrent workers, each failure kept with when it started."""

    def __init__(self, mesh: Mesh, stub: pb_grpc.PipelineServiceStub, workers: int = 2) -> None:
        self.metadata = (("x-api-key", mesh.admin_key()),)
        self.stub = stub
        self.done = 0
        self.failures: list[tuple[float, str]] = []
        self.stop = asyncio.Event()
        self.tasks = [asyncio.create_task(self.worker()) for _ in range(workers)]

    async def worker(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                answer = await self.stub.RunPipeline(REQUEST, timeout=60, metadata=self.metadata)
                assert answer.outputs[0].transcript.transcript and answer.outputs[1].audio.audio_content
                self.done += 1
            except grpc.aio.AioRpcError as err:
                self.failures.append((started, f"{err.code().name}: {err.details()}"))
                await asyncio.sleep(0.1)  # a fast failure must not become a busy loop

    async def until(self, more: int) -> None:
        """Waits for `more` successful runs (bounded: a stuck mesh fails the test, it does not hang it)."""
        target = self.done + more
        for _ in range(3000):
            if self.done >= target:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {self.done} of {target} runs succeeded; failures: {self.failures[-3:]}")

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


async def live_asr(mesh: Mesh) -> tuple[list[dict], int | None]:
    """One live ASR session on the bridge through Envoy: config, the audio in 100 ms frames, end."""
    config = {"config": {"config": {"languageCode": "en", "audioConfig": {
        "encoding": "AUDIO_ENCODING_LINEAR16", "sampleRateHertz": RATE}}, "interimResults": True}}
    step = RATE // 10 * 2
    received: list[dict] = []
    async with connect(f"ws://127.0.0.1:{mesh.ports.envoy}/v1/ws/asr",
                       subprotocols=["ai4vc.v1", f"ai4vc-key.{mesh.admin_key()}"]) as ws:
        await ws.send(json.dumps(config))
        for start in range(0, len(AUDIO), step):
            await ws.send(AUDIO[start:start + step])
        await ws.send(json.dumps({"event": "end"}))
        async for frame in ws:
            if isinstance(frame, str):
                received.append(json.loads(frame))
        return received, ws.close_code


def kill(service: Service) -> float:
    """SIGKILL of the replica and its supervisor (it stays dead); returns when it happened, once its
    port refuses connections. (A SIGKILLed process keeps its sockets open, accepting, while the
    kernel tears its memory down: calls started then are calls in flight at the kill.)"""
    pid = service.proc.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
        except OSError:
            return killed_at
        time.sleep(0.025)
    raise AssertionError(f"{service.proc.name} still accepts connections after SIGKILL")


async def test_pipeline_runs_spread_over_replicas_and_survive_either_asr_dying(balanced_mesh):
    """Runs reach both ASR and both TTS replicas; after SIGKILL of ASR replica 0, then (0 back) of
    replica 1, every run started SETTLE_S after the kill succeeds; the restarted replica gets calls."""
    mesh = balanced_mesh
    asr = [s for s in mesh.services if s.name == "asr"]
    tts = [s for s in mesh.services if s.name == "tts"]
    assert len(asr) == 2 and len(tts) == 2
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        runs = Runs(mesh, pb_grpc.PipelineServiceStub(channel))
        try:
            await runs.until(8)
            asr_served = [await asyncio.to_thread(handled, s, "AsrService/Recognize") for s in asr]
            tts_served = [await asyncio.to_thread(handled, s, "TtsService/Synthesize") for s in tts]
            assert all(asr_served) and all(tts_served), f"not spread: asr {asr_served}, tts {tts_served}"
            assert runs.failures == []

            for victim, survivor in ((asr[0], asr[1]), (asr[1], asr[0])):
                killed_at = kill(victim)
                before = await asyncio.to_thread(handled, survivor, "AsrService/Recognize")
                await runs.until(6)
                while time.monotonic() < killed_at + SETTLE_S:
                    await runs.until(1)
                await runs.until(4)
                late = [why for started, why in runs.failures if started > killed_at + SETTLE_S]
                assert late == [], f"runs failed after {victim.proc.name} died: {late}"
                assert await asyncio.to_thread(handled, survivor, "AsrService/Recognize") >= before + 10
                if victim is asr[0]:
                    # Back on the same port (as the supervisor would restart it): calls reach it again.
                    victim.start()
                    await asyncio.to_thread(victim.wait_serving)
                    back = await asyncio.to_thread(handled, victim, "AsrService/Recognize")
                    for _ in range(60):
                        await runs.until(2)
                        if await asyncio.to_thread(handled, victim, "AsrService/Recognize") > back:
                            break
                    else:
                        raise AssertionError(f"{victim.proc.name} restarted but gets no calls")
        finally:
            await runs.close()
    # Failures at all: only runs in flight at a kill (two workers, two kills).
    print(f"{runs.done} runs, failures: {runs.failures}")
    assert len(runs.failures) <= 4, runs.failures


async def both_replicas_used_by_the_bridge(mesh: Mesh, asr: list[Service]) -> None:
    """Starts a replica an earlier test left dead, then runs live ASR sessions until each replica
    has served one since (the bridge's channel reconnects to a restarted one within its backoff)."""
    for replica in asr:
        if not replica.proc.alive():
            replica.start()
            await asyncio.to_thread(replica.wait_serving)
    first = [await asyncio.to_thread(handled, s, "AsrService/StreamingRecognize") for s in asr]
    for _ in range(40):
        received, code = await live_asr(mesh)
        assert code == 1000 and received[-1] == {"event": "done"}, received[-3:]
        now = [await asyncio.to_thread(handled, s, "AsrService/StreamingRecognize") for s in asr]
        if all(n > f for n, f in zip(now, first, strict=True)):
            return
    raise AssertionError(f"the bridge's sessions did not reach both ASR replicas: {first} → {now}")


async def test_bridge_live_asr_survives_the_loss_of_replica_0(balanced_mesh):
    """Once the bridge's sessions reach both ASR replicas, SIGKILL of replica 0 (its supervisor too)
    leaves new live ASR WebSocket sessions whole: a final transcript and {"event": "done"}, from replica 1."""
    mesh = balanced_mesh
    asr = [s for s in mesh.services if s.name == "asr"]
    await both_replicas_used_by_the_bridge(mesh, asr)
    before = await asyncio.to_thread(handled, asr[1], "AsrService/StreamingRecognize")
    killed_at = kill(asr[0])
    print(f"replica 0 refused connections {time.monotonic() - killed_at:.3f} s after SIGKILL")
    for attempt in range(3):
        received, code = await live_asr(mesh)
        assert code == 1000 and received[-1] == {"event": "done"}, (attempt, received[-3:])
        finals = [r for f in received for r in f.get("results", []) if r.get("isFinal")]
        assert finals and finals[0]["alternatives"][0]["transcript"], received
    assert await asyncio.to_thread(handled, asr[1], "AsrService/StreamingRecognize") >= before + 3


def in_flight(service: Service, method: str) -> int:
    """Calls of `method` ("Service/Method") open on the replica now, from its metrics port."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{service.metrics_port}/metrics", timeout=5).read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith("grpc_server_in_flight{") and f'.{method}"' in line))


async def test_bridge_stream_on_a_replica_that_dies_ends_unavailable(balanced_mesh):
    """A live ASR session whose stream is on the replica that is SIGKILLed ends with an UNAVAILABLE
    error frame and close 1011 (it does not hang); the next session succeeds on the other replica."""
    mesh = balanced_mesh
    asr = [s for s in mesh.services if s.name == "asr"]
    await both_replicas_used_by_the_bridge(mesh, asr)
    config = {"config": {"config": {"languageCode": "en", "audioConfig": {
        "encoding": "AUDIO_ENCODING_LINEAR16", "sampleRateHertz": RATE}}, "interimResults": True}}
    async with connect(f"ws://127.0.0.1:{mesh.ports.envoy}/v1/ws/asr",
                       subprotocols=["ai4vc.v1", f"ai4vc-key.{mesh.admin_key()}"]) as ws:
        await ws.send(json.dumps(config))
        await ws.send(AUDIO[:RATE // 10 * 2])
        holder = None
        for _ in range(200):  # which replica holds the stream
            open_now = [await asyncio.to_thread(in_flight, s, "AsrService/StreamingRecognize") for s in asr]
            if sum(open_now) == 1:
                holder = asr[open_now.index(1)]
                break
            await asyncio.sleep(0.05)
        assert holder is not None, "the session's stream never showed on a replica"
        kill(holder)
        frames = []
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(60):  # a bound, so a hang fails the test instead of stalling it
                async for frame in ws:
                    frames.append(frame if isinstance(frame, bytes) else json.loads(frame))
        assert ws.close_code == 1011, (ws.close_code, frames[-2:])
        assert frames and frames[-1]["error"]["code"] == "UNAVAILABLE", frames[-2:]
    received, code = await live_asr(mesh)
    assert code == 1000 and received[-1] == {"event": "done"}, received[-3:]
