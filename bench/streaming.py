"""What streaming costs through the mesh: StreamingRecognize and StreamingSynthesize through
Envoy, each against the Triton model driven directly in the same run (issue 17's targets).

`python -m bench.streaming` builds a temporary model repository (every model of `models/`,
symlinked, plus `asr_streaming_trivial`: the `asr_streaming` config with the trivial model of
`bench/trivial_models/`, which answers each chunk at once, and `asr_streaming_live`:
`asr_streaming` with `final_pass=live`), starts the whole mesh over it on free ports (the ASR
service as `--asr-replicas` processes behind Envoy), and measures, in this order (memory
first, before load grows the heap):

1. memory per open stream: the ASR processes' VmRSS with 0 and with K idle streams open
   (config sent, 100 ms of -60 dBFS noise every second, which the VAD calls silence);
2. finals: where a final's time goes in the model alone (END with the second pass, with
   PREPARE_FINAL first, live END); then one utterance at a time through Envoy, over gRPC and
   through the WebSocket bridge, per model and end_of_utterance_silence (`--eou`): final
   arrival minus the send time of the client chunk that completes that much silence after the
   last speech sample, and the same from the VAD's own speech end (its END event);
3. interim overhead: real-time paced streams through Envoy, latency from sending the chunk that
   completes a model chunk to its interim result, against the per-chunk latency of the same
   model driven directly as a Triton sequence (1600 samples every 100 ms: the client's messages,
   which is what the service sends it on average); trivial model (noise: every chunk an interim)
   and pocketsphinx (speech),
   `--overhead-runs` times each, so the spread between runs is shown;
4. TTS time to first audio: StreamingSynthesize through Envoy against `tts_streaming` directly,
   one call at a time (with the CPU each process spent per call), `--tts-concurrency` (32)
   started at once (rounds, each call read whole, the next round when all ended), and 32 always open (a
   closed loop reading whole streams, the model-alone baseline's method), after the TTS
   service's grammars have loaded;
5. capacity with pocketsphinx: N concurrent real-time streams through the mesh vs the model
   alone (direct Triton sequences, same pacing), N stepped until streams stop keeping up,
   the two paths alternating per N, after warming the model's decoder pool;
6. capacity with the trivial model: the same, N up to 1,000, through the mesh only, with
   -26 dBFS white noise, which the service's VAD calls speech, so every 100 ms message of each
   stream is a model call and an interim result.

A stream keeps up when it ends with its final result, without error, and the p99 of its
responses' lag is at most `LAG_LIMIT_S`: through the mesh, arrival minus the send time of the
client chunk holding the last audio sample the interim covers (the client sends on schedule);
direct, answer minus the time the chunk was due (a sequence sends one request at a time, so a
model behind real time delays the sends).
Client processes (multiprocessing, spawned), Envoy, the services and Triton share the cores.
`--only-final` / `--only-tts` run only those rows.
Results go to bench/results/streaming-<timestamp>.json (git-ignored), markdown to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import tritonclient.grpc.aio as grpcclient
from google.protobuf import duration_pb2

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.audio.v1 import audio_pb2
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from bench import loadgen
from bench.models import machine
from bench.repo import rename
from deploy.local.mesh import Mesh, Ports
from deploy.local.parts import ROOT

RESULTS = ROOT / "bench" / "results"
TRIVIAL = "asr_streaming_trivial"
REAL = "asr_streaming"
LIVE = "asr_streaming_live"  # asr_streaming with final_pass=live (no second pass)
RATE = 16000
PERIOD_S = 0.1
CHUNK = int(RATE * PERIOD_S)  # samples per client message
# What the service sends the model per call: each 100 ms client message as it comes, in whole
# 30 ms VAD frames (90, 90, 120 ms …: 100 ms on average); the direct baseline of (3) sends the
# client's 100 ms messages to the model as they come, one call each.
MODEL_CHUNK = CHUNK
SPEECH = "the weather today is very pleasant and the children are playing outside in the garden"
TTS_TEXT = ("The quick brown fox jumps over the lazy dog while the children play happily "
            "in the green park every day")  # 20 words, one sentence (the service splits at sentences)
TTS_VOICE = "en-female"
# Keep-up criterion and the targets.
LAG_LIMIT_S = 1.0
# Capacity lags count from the second second of a stream on: a stream's first chunk may build
# a pocketsphinx decoder (about 0.8 s) when the model's pool has none ready.
SKIP_CHUNKS = 10
OVERHEAD_P99_MS = 20.0
TRIVIAL_STREAMS = 1000
REAL_RATIO = 0.80
TTS_P50_MS = 50.0
TTS_CONCURRENCY = 32
MB_PER_STREAM = 200 / 1024  # 200 KB
FINAL_P50_MS, FINAL_P99_MS = 150.0, 300.0
# The utterance of the final-latency rows (2.1 s of eSpeak speech).
FINAL_SPEECH = "the weather today is very pleasant"
PARTS = ("memory", "final", "overhead", "tts", "capacity")


# -- repository and audio ---------------------------------------------------------------------

def repository(target: Path, tts_instances: int = 0) -> None:
    """`models/` symlinked, plus asr_streaming_live (below) and the trivial stand-in for
    asr_streaming. The trivial one's config is the
    shipped one with two changes: the name, and max_candidate_sequences (8 per instance in the
    shipped config, sized for 80 MB pocketsphinx decoders) raised to 1024 so that hundreds of
    streams hold sequences at once instead of waiting in Triton's backlog, and max_batch_size
    raised from 8 to 64. `tts_instances` > 0
    serves tts_streaming with that many instances (processes: eSpeak's state is per process)
    instead of the shipped count."""
    target.mkdir(parents=True)
    for model in sorted((ROOT / "models").iterdir()):
        if model.name == "tts_streaming" and tts_instances > 0:
            config, count = re.subn(r"(instance_group \[ \{ kind: KIND_CPU count: )\d+", rf"\g<1>{tts_instances}",
                                    (model / "config.pbtxt").read_text())
            if count != 1:
                raise RuntimeError("tts_streaming's config has no single instance count to set")
            (target / model.name).mkdir()
            (target / model.name / "config.pbtxt").write_text(config)
            (target / model.name / "1").symlink_to((model / "1").resolve(), target_is_directory=True)
        elif (model / "config.pbtxt").exists():
            (target / model.name).symlink_to(model.resolve(), target_is_directory=True)
    config = rename((ROOT / "models" / REAL / "config.pbtxt").read_text(), TRIVIAL)
    config, count = re.subn(r"max_candidate_sequences:\s*\d+", "max_candidate_sequences: 1024", config)
    config = config.replace('string_value: "pocketsphinx"', 'string_value: "trivial"')
    if count != 1:
        raise RuntimeError("asr_streaming's config has no single max_candidate_sequences to raise")
    # Up to 64 streams' chunks per execute (8 in the shipped config): at hundreds of streams the
    # per-execute round trip to the Python stub, not the model, is Triton's cost.
    config, count = re.subn(r"^max_batch_size:\s*\d+", "max_batch_size: 64", config, flags=re.MULTILINE)
    if count != 1:
        raise RuntimeError("asr_streaming's config has no single max_batch_size to raise")
    (target / TRIVIAL).mkdir()
    (target / TRIVIAL / "config.pbtxt").write_text(config)
    (target / TRIVIAL / "1").symlink_to(ROOT / "bench" / "trivial_models" / TRIVIAL / "1", target_is_directory=True)
    # asr_streaming_live: the pocketsphinx model with final_pass=live, so the final rows can show
    # what the second pass costs after the endpoint (and what skipping it costs in accuracy).
    live, count = re.subn(r'(key: "final_pass" value: \{ string_value: )"rescore"', r'\1"live"',
                          rename((ROOT / "models" / REAL / "config.pbtxt").read_text(), LIVE))
    if count != 1:
        raise RuntimeError("asr_streaming's config has no final_pass parameter to set")
    (target / LIVE).mkdir()
    (target / LIVE / "config.pbtxt").write_text(live)
    (target / LIVE / "1").symlink_to((ROOT / "models" / REAL / "1").resolve(), target_is_directory=True)


def noise(seconds: float, std: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, std, int(seconds * RATE)).astype(np.float32)


def speech_audio(seconds: float | None = None) -> np.ndarray:
    """eSpeak NG English speech at 16 kHz, repeated up to `seconds` when given."""
    from tests.audio_util import speech

    one = speech(SPEECH)
    if seconds is None:
        return one
    return np.tile(one, math.ceil(seconds * RATE / one.size))[:int(seconds * RATE)]


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float | int]:
    if not values:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    a = np.asarray(values) * scale
    return {"n": len(values), "p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max())}


# -- one StreamingRecognize through Envoy -----------------------------------------------------

async def recognize(stub: asr_grpc.AsrServiceStub, key: str, model: str, audio: np.ndarray, start_at: float,
                    *, period_s: float = PERIOD_S, timeout_s: float = 120.0, skip: int = 0) -> dict[str, Any]:
    """One stream: config, then `audio` in CHUNK-sample messages sent at start_at + k·period_s.
    Lag of an interim = its arrival − the send time of the chunk holding its last audio sample."""
    data = pcm16(audio)
    step = CHUNK * 2
    chunks = [data[i:i + step] for i in range(0, len(data), step)]
    sent: list[float] = []
    lags: list[float] = []
    late: list[float] = []
    final_at: float | None = None
    error = ""
    config = asr_pb.RecognitionConfig(language_code="en", model=model, audio_config=audio_pb2.AudioConfig(
        encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE))

    async def requests():  # type: ignore[no-untyped-def]
        yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
            config=config, interim_results=True))
        for k, chunk in enumerate(chunks):
            due = start_at + k * period_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            late.append(now - due)
            sent.append(now)
            yield asr_pb.StreamingRecognizeRequest(audio=chunk)

    try:
        call = stub.StreamingRecognize(requests(), metadata=(("x-api-key", key),), timeout=timeout_s)
        async for response in call:
            now = time.perf_counter()
            for result in response.results:
                if result.is_final:
                    final_at = now
                    continue
                processed = round(response.audio_processed.ToNanoseconds() * RATE / 1e9)
                k = (processed - 1) // CHUNK
                if skip <= k < len(sent):
                    lags.append(now - sent[k])
    except grpc.aio.AioRpcError as exc:
        error = exc.code().name
    done = time.perf_counter()
    return {"lags": lags, "late": late, "error": error, "complete_after_last_send_s": done - sent[-1] if sent else 0.0,
            "final": final_at is not None}


# -- final latency: from the endpoint to the final result ------------------------------------

def final_audio(eou_ms: int) -> tuple[np.ndarray, int]:
    """FINAL_SPEECH, then -60 dBFS noise for the end-of-utterance silence and 1.2 s more; and the
    index of the sample where the silence has lasted `eou_ms` after the last speech sample."""
    from tests.audio_util import speech

    voice = speech(FINAL_SPEECH)
    last = int(np.nonzero(np.abs(voice) > 0.01)[0][-1])
    audio = np.concatenate([voice[:last + 1], noise(eou_ms / 1000 + 1.2, 0.001, 5)])
    return audio, last + 1 + eou_ms * RATE // 1000


def _streaming_config(model: str, eou_ms: int) -> asr_pb.StreamingRecognitionConfig:
    return asr_pb.StreamingRecognitionConfig(
        config=asr_pb.RecognitionConfig(language_code="en", model=model, audio_config=audio_pb2.AudioConfig(
            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)),
        interim_results=True, enable_voice_activity_events=True,
        endpointing=asr_pb.EndpointingConfig(end_of_utterance_silence=duration_pb2.Duration(
            nanos=eou_ms * 1_000_000)))


async def final_grpc(stub: asr_grpc.AsrServiceStub, key: str, model: str, eou_ms: int) -> dict[str, Any]:
    """One utterance through Envoy (gRPC): final arrival − send time of the client chunk holding
    the sample at which `eou_ms` of silence after the last speech sample is complete."""
    audio, endpoint = final_audio(eou_ms)
    data = pcm16(audio)
    chunks = [data[i:i + CHUNK * 2] for i in range(0, len(data), CHUNK * 2)]
    sent: list[float] = []
    finals: list[tuple[float, str]] = []
    vad_end: list[float] = []
    start_at = time.perf_counter() + 0.1

    async def requests():  # type: ignore[no-untyped-def]
        yield asr_pb.StreamingRecognizeRequest(streaming_config=_streaming_config(model, eou_ms))
        for k, chunk in enumerate(chunks):
            delay = start_at + k * PERIOD_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent.append(time.perf_counter())
            yield asr_pb.StreamingRecognizeRequest(audio=chunk)

    error = ""
    try:
        async for response in stub.StreamingRecognize(requests(), metadata=(("x-api-key", key),), timeout=60):
            now = time.perf_counter()
            finals += [(now, r.alternatives[0].transcript if r.alternatives else "")
                       for r in response.results if r.is_final]
            if response.speech_event_type == asr_pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END:
                vad_end.append(response.speech_event_offset.ToNanoseconds() / 1e9)
    except grpc.aio.AioRpcError as exc:
        error = exc.code().name
    return _final_row(sent, finals, endpoint, error, vad_end, eou_ms)


async def final_ws(url: str, key: str, model: str, eou_ms: int) -> dict[str, Any]:
    """The same utterance through Envoy's /v1/ws/asr route and the WebSocket bridge."""
    from google.protobuf import json_format
    from websockets.asyncio.client import connect

    audio, endpoint = final_audio(eou_ms)
    data = pcm16(audio)
    chunks = [data[i:i + CHUNK * 2] for i in range(0, len(data), CHUNK * 2)]
    sent: list[float] = []
    finals: list[tuple[float, str]] = []
    vad_end: list[float] = []
    error = ""
    try:
        async with connect(url, subprotocols=["ai4vc.v1", f"ai4vc-key.{key}"], max_size=None) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"config": json_format.MessageToDict(_streaming_config(model, eou_ms))}))

            async def send() -> None:
                start_at = time.perf_counter() + 0.1
                for k, chunk in enumerate(chunks):
                    delay = start_at + k * PERIOD_S - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sent.append(time.perf_counter())
                    await ws.send(chunk)
                await ws.send(json.dumps({"event": "end"}))

            sender = asyncio.create_task(send())
            async for frame in ws:
                now = time.perf_counter()
                message = json.loads(frame) if isinstance(frame, str) else {}
                if "error" in message:
                    error = str(message["error"].get("code", "error"))
                for r in message.get("results", []):
                    if r.get("isFinal"):
                        finals.append((now, (r.get("alternatives") or [{}])[0].get("transcript", "")))
                if message.get("speechEventType") == "SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END":
                    vad_end.append(float(message["speechEventOffset"].rstrip("s")))
                if message.get("event") == "done":
                    break
            await sender
    except Exception as exc:  # noqa: BLE001 - recorded as the row's error
        error = type(exc).__name__
    return _final_row(sent, finals, endpoint, error, vad_end, eou_ms)


def _final_row(sent: list[float], finals: list[tuple[float, str]], endpoint: int, error: str,
               vad_end: list[float], eou_ms: int) -> dict[str, Any]:
    """`latency_s`: final arrival − send time of the chunk completing `eou_ms` of silence after the
    last speech sample; `after_vad_s`: the same from the VAD's own speech end (its END event);
    `hangover_s`: VAD speech end − last speech sample (negative: the VAD called the soft tail silence)."""
    k = endpoint // CHUNK
    if error or len(finals) != 1 or k >= len(sent) or len(vad_end) != 1:
        return {"error": error or f"{len(finals)} finals, {len(vad_end)} ends", "latency_s": None, "transcript": ""}
    k_vad = int(vad_end[0] * RATE + eou_ms * RATE // 1000) // CHUNK
    last_speech = (endpoint - eou_ms * RATE // 1000) / RATE
    return {"error": "", "latency_s": finals[0][0] - sent[k], "transcript": finals[0][1],
            "after_vad_s": finals[0][0] - sent[min(k_vad, len(sent) - 1)], "hangover_s": vad_end[0] - last_speech}


async def final_decode(triton: str, repeats: int) -> dict[str, Any]:
    """Where a final's time goes in the model: the FINAL_SPEECH utterance with 300 ms of trailing
    silence as a Triton sequence (1920-sample chunks, each sent when the last is answered), ended
    three ways — END on the last chunk (asr_streaming: the second pass runs on END), PREPARE_FINAL
    on the last chunk then an empty END (the pass runs on the prepare), and asr_streaming_live's
    END (no second pass). Times in ms, p50 of `repeats`."""
    audio, _ = final_audio(300)
    audio = audio[:-int(1.2 * RATE)]
    lang = np.array([[b"en"]], dtype=np.object_)
    client = grpcclient.InferenceServerClient(triton)

    async def call(model: str, corrid: int, piece: np.ndarray, *, start: bool, end: bool, prepare: bool) -> float:
        row = piece.reshape(1, -1)
        inputs = [grpcclient.InferInput("AUDIO_CHUNK", list(row.shape), "FP32"),
                  grpcclient.InferInput("LANG_ID", [1, 1], "BYTES")]
        inputs[0].set_data_from_numpy(row)
        inputs[1].set_data_from_numpy(lang)
        if prepare:
            inputs.append(grpcclient.InferInput("PREPARE_FINAL", [1, 1], "INT32"))
            inputs[-1].set_data_from_numpy(np.ones((1, 1), np.int32))
        t0 = time.perf_counter()
        await client.infer(model, inputs, sequence_id=corrid, sequence_start=start, sequence_end=end,
                           client_timeout=60)
        return time.perf_counter() - t0

    pieces = [audio[i:i + MODEL_CHUNK] for i in range(0, audio.size, MODEL_CHUNK)]
    out: dict[str, list[float]] = {"end_rescore": [], "prepare": [], "end_after_prepare": [], "end_live": [],
                                   "chunk": []}
    try:
        for rep in range(repeats):
            for mode in ("end_rescore", "prepare", "end_live"):
                model = LIVE if mode == "end_live" else REAL
                corrid = 600_000 + rep * 3 + ("end_rescore", "prepare", "end_live").index(mode)
                for k, piece in enumerate(pieces[:-1]):
                    out["chunk"].append(await call(model, corrid, piece, start=k == 0, end=False, prepare=False))
                last = pieces[-1]
                if mode == "prepare":
                    out["prepare"].append(await call(model, corrid, last, start=False, end=False, prepare=True))
                    out["end_after_prepare"].append(await call(model, corrid, last[:0], start=False, end=True,
                                                               prepare=False))
                else:
                    out[mode].append(await call(model, corrid, last, start=False, end=True, prepare=False))
    finally:
        await client.close()
    return {"audio_s": audio.size / RATE, "repeats": repeats,
            **{f"{name}_ms": percentiles(values) for name, values in out.items()}}


async def final_latency(envoy: str, key: str, models: list[str], eous: list[int], utterances: int,
                        ws_eou: int) -> list[dict[str, Any]]:
    """Per model and end_of_utterance_silence, `utterances` streams one at a time through Envoy
    (gRPC), and at `ws_eou` through the WebSocket bridge too."""
    from tests.audio_util import word_errors

    rows = []
    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = asr_grpc.AsrServiceStub(channel)
        for model in models:
            for eou in eous:
                for path in ("grpc", "ws") if eou == ws_eou else ("grpc",):
                    print(f"  final: {model} eou {eou} ms via {path} …", file=sys.stderr, flush=True)
                    runs = []
                    for _ in range(utterances):
                        runs.append(await final_grpc(stub, key, model, eou) if path == "grpc" else
                                    await final_ws(f"ws://{envoy}/v1/ws/asr", key, model, eou))
                    ok = [r for r in runs if not r["error"]]
                    lat = percentiles([r["latency_s"] for r in ok])
                    wer = (sum(word_errors(FINAL_SPEECH, r["transcript"]) for r in ok)
                           / (len(FINAL_SPEECH.split()) * len(ok))) if ok else float("nan")
                    rows.append({"model": model, "eou_ms": eou, "path": path, "utterances": utterances,
                                 "after_endpoint_ms": lat,
                                 "after_vad_endpoint_ms": percentiles([r["after_vad_s"] for r in ok]),
                                 "vad_hangover_ms": percentiles([r["hangover_s"] for r in ok]),
                                 "errors": sorted({r["error"] for r in runs if r["error"]}),
                                 "wer": wer, "transcripts": [r["transcript"] for r in ok],
                                 "met": bool(ok) and len(ok) == len(runs) and lat["p50"] <= FINAL_P50_MS
                                 and lat["p99"] <= FINAL_P99_MS})
    return rows


# -- one sequence straight into Triton --------------------------------------------------------

async def sequence(client: grpcclient.InferenceServerClient, model: str, audio: np.ndarray, corrid: int,
                   start_at: float, *, chunk: int, period_s: float, skip: int = 0) -> dict[str, Any]:
    """The model alone: chunk k sent at start_at + k·period_s (or when the previous answer came,
    if later: a sequence's requests go one at a time, in order), then an empty END request.
    `latencies`: send → answer per chunk (the model's own time); `lags`: answer − the time the
    chunk was due, so a model falling behind real time shows there, as it does through the mesh."""
    lang = np.array([[b"en"]], dtype=np.object_)
    pieces = [audio[i:i + chunk] for i in range(0, audio.size, chunk)] + [np.zeros(0, np.float32)]
    latencies: list[float] = []
    lags: list[float] = []
    late: list[float] = []
    error = ""
    last_send = done = due = time.perf_counter()
    for k, piece in enumerate(pieces):
        end = k == len(pieces) - 1
        if not end:
            due = start_at + k * period_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            late.append(time.perf_counter() - due)
        row = piece.reshape(1, -1)
        inputs = [grpcclient.InferInput("AUDIO_CHUNK", list(row.shape), "FP32"),
                  grpcclient.InferInput("LANG_ID", [1, 1], "BYTES")]
        inputs[0].set_data_from_numpy(row)
        inputs[1].set_data_from_numpy(lang)
        sent = time.perf_counter()
        if end:
            last_send = sent
        try:
            await client.infer(model, inputs, sequence_id=corrid, sequence_start=k == 0, sequence_end=end,
                               client_timeout=60)
        except Exception as exc:  # noqa: BLE001 - recorded; the stream is counted as failed
            error = type(exc).__name__
            break
        done = time.perf_counter()
        if not end:
            latencies.append(done - sent)
            if k >= skip:
                lags.append(done - due)
    return {"lags": lags, "latencies": latencies, "late": late, "error": error,
            "complete_after_last_send_s": done - last_send, "final": not error}


# -- N streams, in spawned client processes ---------------------------------------------------

async def _streams(kind: str, target: str, key: str, model: str, count: int, first: int, total: int,
                   seconds: float, signal: str, start_at: float) -> list[dict[str, Any]]:
    audio = speech_audio(seconds) if signal == "speech" else noise(seconds, 0.05, 7)
    # Streams spread their chunk times evenly over one period, as independent callers would.
    offsets = [(first + i) / total * PERIOD_S for i in range(count)]
    if kind == "mesh":
        async with grpc.aio.insecure_channel(target) as channel:
            stub = asr_grpc.AsrServiceStub(channel)
            return list(await asyncio.gather(*(recognize(stub, key, model, audio, start_at + o, timeout_s=seconds + 90,
                                                         skip=SKIP_CHUNKS)
                                               for o in offsets)))
    client = grpcclient.InferenceServerClient(target)
    try:
        return list(await asyncio.gather(*(
            sequence(client, model, audio, 900_000 + first + i, start_at + o, chunk=CHUNK, period_s=PERIOD_S,
                     skip=SKIP_CHUNKS)
            for i, o in enumerate(offsets))))
    finally:
        await client.close()


def client_worker(args: tuple) -> tuple[list[dict[str, Any]], float]:
    """Runs in a spawned client process: the streams' results and the CPU seconds it spent."""
    cpu = time.process_time()
    streams = asyncio.run(_streams(*args))
    return streams, time.process_time() - cpu


def capacity_step(pool: Any, workers: int, kind: str, target: str, key: str, model: str, n: int, seconds: float,
                  signal: str, watch: dict[str, list[int]]) -> dict[str, Any]:
    shares = [n // workers + (1 if w < n % workers else 0) for w in range(workers)]
    start_at = time.perf_counter() + 2.0  # CLOCK_MONOTONIC: the same clock in every process
    tasks, first = [], 0
    for share in shares:
        if share:
            tasks.append(pool.apply_async(client_worker, ((kind, target, key, model, share, first, n, seconds,
                                                           signal, start_at),)))
        first += share
    cpu0 = {name: sum(tree_cpu_s(pid) for pid in group) for name, group in watch.items()}
    wall0 = time.perf_counter()
    answers = [t.get(timeout=seconds + 150) for t in tasks]
    wall = time.perf_counter() - wall0
    cpu = {name: round((sum(tree_cpu_s(pid) for pid in group) - cpu0[name]) / wall, 2)
           for name, group in watch.items()}
    cpu["client"] = round(sum(c for _, c in answers) / wall, 2)
    streams = [s for batch, _ in answers for s in batch]
    lags = [x for s in streams for x in s["lags"]]
    per_stream_p99 = [float(np.percentile(s["lags"], 99)) if s["lags"] else math.inf for s in streams]
    errors = sum(1 for s in streams if s["error"])
    keeps_up = [not s["error"] and s["final"] and p <= LAG_LIMIT_S
                for s, p in zip(streams, per_stream_p99, strict=True)]
    result = {
        "kind": kind, "model": model, "streams": n, "seconds": seconds, "signal": signal,
        "lag_ms": percentiles(lags), "client_late_ms": percentiles([x for s in streams for x in s["late"]]),
        "complete_after_last_send_ms": percentiles([s["complete_after_last_send_s"] for s in streams]),
        "streams_keeping_up": sum(keeps_up), "errors": errors,
        "error_codes": sorted({s["error"] for s in streams if s["error"]}),
        "load_average": os.getloadavg()[0], "cores_used": cpu,
    }
    result["keeps_up"] = all(keeps_up)
    return result


def step_up(pool: Any, workers: int, paths: dict[str, tuple[str, str, str]], model: str, levels: list[int],
            seconds: float, signal: str, deadline: float, watch: dict[str, list[int]]
            ) -> dict[str, list[dict[str, Any]]]:
    """For each level in order, each path (name -> (kind, target, key)) that has kept up so far; stops
    when none has or the run's time is spent. Paths alternate per level, so they meet the
    same machine state."""
    steps: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
    for n in levels:
        for name, (kind, target, key) in paths.items():
            if steps[name] and not steps[name][-1]["keeps_up"]:
                continue
            if time.monotonic() > deadline:
                print(f"  {name} {model}: out of time before N={n}", file=sys.stderr, flush=True)
                return steps
            print(f"  {name} {model}: N={n} …", file=sys.stderr, flush=True)
            step = capacity_step(pool, workers, kind, target, key, model, n, seconds, signal, watch)
            print(f"    lag p99 {step['lag_ms']['p99']:.0f} ms, keeping up {step['streams_keeping_up']}/{n}, "
                  f"errors {step['errors']}, cores {step['cores_used']}", file=sys.stderr, flush=True)
            steps[name].append(step)
            time.sleep(1.0)  # let the last finals and Triton's sequence slots drain
        if all(v and not v[-1]["keeps_up"] for v in steps.values()):
            break
    return steps


async def warm_decoders(triton: str, streams: int) -> None:
    """Opens `streams` sequences at once and ends them, so the model's decoder pool holds that
    many: building one takes about 0.8 s of the instance's time, which would otherwise land in
    the first capacity steps' lags (whichever path ran first)."""
    client = grpcclient.InferenceServerClient(triton)
    try:
        audio = speech_audio()[:RATE]
        await asyncio.gather(*(sequence(client, REAL, audio, 700_000 + i, time.perf_counter(), chunk=CHUNK,
                                        period_s=0.0) for i in range(streams)))
    finally:
        await client.close()


def largest_ok(steps: list[dict[str, Any]]) -> int:
    return max((s["streams"] for s in steps if s["keeps_up"]), default=0)


# -- (1) memory per open stream ---------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def descendants(pid: int) -> list[int]:
    """The process and its descendants alive now; one that exits while this walks is left out
    (a process can go between its parent's children list and its own /proc entry)."""
    out = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += descendants(int(child))
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live descendants (Triton: the server and its stubs)."""
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            total += cpu_s(p)
    return total


def child_pid(supervisor: int | None) -> int:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"supervisor {supervisor} has children {children}")
    return int(children[0])


def service_pids(mesh: Mesh, name: str) -> list[int]:
    """The service's processes, one per replica (each the child of its supervisor)."""
    return [child_pid(s.proc.pid()) for s in mesh.services if s.name == name]


async def memory(envoy: str, key: str, pids: list[int], k: int) -> dict[str, Any]:
    quiet = pcm16(noise(PERIOD_S, 0.001, 3))  # -60 dBFS: the VAD hears silence, no model call
    config = asr_pb.RecognitionConfig(language_code="en", model=TRIVIAL, audio_config=audio_pb2.AudioConfig(
        encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE))
    stop = asyncio.Event()

    async def idle_stream(stub: asr_grpc.AsrServiceStub) -> str:
        async def requests():  # type: ignore[no-untyped-def]
            yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
                config=config, interim_results=True))
            while not stop.is_set():
                yield asr_pb.StreamingRecognizeRequest(audio=quiet)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

        try:
            async for _ in stub.StreamingRecognize(requests(), metadata=(("x-api-key", key),), timeout=120):
                pass
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return ""

    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = asr_grpc.AsrServiceStub(channel)
        # Warm-up: a few streams opened and closed, so lazily built state is not counted as streams'.
        tasks = [asyncio.create_task(idle_stream(stub)) for _ in range(5)]
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*tasks)
        stop.clear()
        await asyncio.sleep(2.0)
        rss0 = sum(rss_kb(pid) for pid in pids)
        tasks = [asyncio.create_task(idle_stream(stub)) for _ in range(k)]
        await asyncio.sleep(5.0)
        open_samples = []
        for _ in range(3):
            open_samples.append(sum(rss_kb(pid) for pid in pids))
            await asyncio.sleep(0.5)
        rss_k = max(open_samples)
        stop.set()
        errors = [e for e in await asyncio.gather(*tasks) if e]
        await asyncio.sleep(2.0)
        rss_after = sum(rss_kb(pid) for pid in pids)
    per_stream_mb = (rss_k - rss0) / k / 1024
    return {"streams": k, "rss0_mb": rss0 / 1024, "rssk_mb": rss_k / 1024, "rss_after_close_mb": rss_after / 1024,
            "mb_per_stream": per_stream_mb, "errors": len(errors),
            # A negative figure means the processes' memory moved for another reason meanwhile: no verdict.
            "met": 0 <= per_stream_mb <= MB_PER_STREAM and not errors}


# -- (2) ASR overhead per chunk ---------------------------------------------------------------

async def overhead(envoy: str, triton: str, key: str, repeats: int, model: str = REAL) -> dict[str, Any]:
    """Interim lag through Envoy vs the model alone, `repeats` streams each way. pocketsphinx
    gets speech; the trivial model noise the VAD calls speech, so every model chunk is an interim
    and the model's own time (~1 ms) leaves the mesh's nearly alone in the difference."""
    audio = speech_audio() if model != TRIVIAL else noise(4.4, 0.05, 11)
    mesh_lags: list[float] = []
    direct: list[float] = []
    errors = []
    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = asr_grpc.AsrServiceStub(channel)
        for _ in range(repeats):
            r = await recognize(stub, key, model, audio, time.perf_counter() + 0.2)
            mesh_lags += r["lags"]
            errors += [r["error"]] if r["error"] else []
    client = grpcclient.InferenceServerClient(triton)
    try:
        for i in range(repeats):
            r = await sequence(client, model, audio, 800_000 + i, time.perf_counter() + 0.2, chunk=MODEL_CHUNK,
                               period_s=MODEL_CHUNK / RATE)
            direct += r["latencies"]
            errors += [r["error"]] if r["error"] else []
    finally:
        await client.close()
    m, d = percentiles(mesh_lags), percentiles(direct)
    chunks_sent = repeats * math.ceil(audio.size / CHUNK)
    added = {"p50": m["p50"] - d["p50"], "p99": m["p99"] - d["p99"]}
    return {"model": model, "streams": repeats, "audio_s": audio.size / RATE, "client_chunks": chunks_sent,
            "interims_timed": m["n"], "mesh_ms": m, "direct_ms": d, "added_ms": added, "errors": errors,
            "met": added["p99"] <= OVERHEAD_P99_MS and not errors}


def overhead_runs(envoy: str, triton: str, key: str, repeats: int, runs: int, model: str) -> dict[str, Any]:
    """`runs` overhead measurements back to back; the spread of their added p99 is the stability."""
    each = [asyncio.run(overhead(envoy, triton, key, repeats, model)) for _ in range(runs)]
    p99s = [r["added_ms"]["p99"] for r in each]
    return {"model": model, "runs": each, "added_p99_ms": p99s, "spread_ms": max(p99s) - min(p99s),
            "met": all(r["met"] for r in each)}


# -- (3) TTS time to first chunk --------------------------------------------------------------

async def tts_grammars_ready(envoy: str, key: str, timeout_s: float = 300.0) -> dict[str, Any]:
    """Waits until ListVoices says every voice of a grammar language (the TTS service's
    tn_languages: en, hi) is normalized by its grammar. A TTS process loads its NeMo grammars in
    a background thread after it reports healthy; the load holds the GIL (pynini), so rows timed
    meanwhile measure the start-up, not the steady state."""
    started = time.perf_counter()
    modes: dict[str, str] = {}
    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = tts_grpc.TtsServiceStub(channel)
        while True:
            answer = await stub.ListVoices(tts_pb.ListVoicesRequest(page_size=1000), metadata=(("x-api-key", key),),
                                           timeout=10)
            modes = {v.language_codes[0]: tts_pb.TextNormalization.Name(v.text_normalization) for v in answer.voices
                     if v.language_codes and v.language_codes[0].split("-")[0] in ("en", "hi")}
            ready = bool(modes) and all(m == "TEXT_NORMALIZATION_GRAMMAR" for m in modes.values())
            waited = time.perf_counter() - started
            if ready or waited > timeout_s:
                return {"ready": ready, "waited_s": round(waited, 1), "modes": modes}
            await asyncio.sleep(0.5)


def settled(pids: list[int], timeout_s: float = 300.0, window: int = 6, period_s: float = 0.5) -> dict[str, Any]:
    """Waits until the processes are idle and their memory still: over the last `window`
    samples (`period_s` apart) RSS moved < 2 MB and they used < 0.05 cores. The ASR processes
    load their ITN grammars (en, hi, mr) in a background thread after they report healthy, and
    nothing outside says when all are done; meanwhile a core is busy and RSS peaks and falls by
    tens of MB (a memory row read 435 → 402 MB with 200 streams opened during it)."""
    started = time.perf_counter()
    rss: list[float] = []
    cpu: list[float] = []
    while True:
        rss.append(sum(rss_kb(pid) for pid in pids) / 1024)
        cpu.append(sum(tree_cpu_s(pid) for pid in pids))
        waited = time.perf_counter() - started
        if len(rss) > window:
            still = max(rss[-window:]) - min(rss[-window:]) < 2.0
            idle = (cpu[-1] - cpu[-window - 1]) / (window * period_s) < 0.05
            if (still and idle) or waited > timeout_s:
                return {"settled": still and idle, "waited_s": round(waited, 1), "rss_mb": round(rss[-1], 1)}
        time.sleep(period_s)


def _cpu_now(watch: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(tree_cpu_s(pid) for pid in group) for name, group in watch.items()}


def stalled_s(arrivals: list[tuple[float, float]]) -> float:
    """Seconds a listener would wait for audio mid-stream: playback starts at the first audio,
    plays each chunk as it is there (`arrivals`: time received, seconds of audio, in order) and
    pauses when it runs dry. 0 when the audio always arrived ahead of playback."""
    if not arrivals:
        return 0.0
    clock = arrivals[0][0]  # when playback reaches the end of what has arrived
    stalled = 0.0
    for received, seconds in arrivals:
        if received > clock:
            stalled += received - clock
            clock = received
        clock += seconds
    return stalled


async def _synthesize_timed(stub: tts_grpc.TtsServiceStub, request: tts_pb.StreamingSynthesizeRequest, key: str,
                            timeout_s: float = 60) -> tuple[float | None, float, int]:
    """One StreamingSynthesize read whole: (seconds to the first audio, seconds a listener
    playing from it would have stalled, audio messages)."""
    started = time.perf_counter()
    arrivals: list[tuple[float, float]] = []
    rate = 0
    async for response in stub.StreamingSynthesize(request, metadata=(("x-api-key", key),), timeout=timeout_s):
        rate = rate or response.audio_config.sample_rate_hertz
        if response.audio_content:
            arrivals.append((time.perf_counter(), len(response.audio_content) / 2 / (rate or 22050)))  # LINEAR16
    first = arrivals[0][0] - started if arrivals else None
    return first, stalled_s(arrivals), len(arrivals)


def _stalls(stalls: list[float]) -> dict[str, float | int]:
    return {"streams": len(stalls), "stalled": sum(1 for x in stalls if x > 0),
            "max_ms": round(max(stalls, default=0.0) * 1000, 1)}


async def tts_first_chunk(envoy: str, triton: str, key: str, calls: int, watch: dict[str, list[int]] | None = None
                          ) -> dict[str, Any]:
    """One StreamingSynthesize at a time through Envoy, each read whole; with `watch`
    (process groups by name), the CPU each group spent per call."""
    watch = watch or {}
    request = tts_pb.StreamingSynthesizeRequest(
        input=tts_pb.SynthesisInput(text=TTS_TEXT), voice=tts_pb.VoiceSelectionParams(name=TTS_VOICE),
        audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))
    firsts: list[float] = []
    errors = 0
    cpu0: dict[str, float] = {}
    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = tts_grpc.TtsServiceStub(channel)
        for n in range(calls + 2):  # the first two warm the path and are not counted
            if n == 2:
                cpu0 = _cpu_now(watch)
            try:
                first, _, _ = await _synthesize_timed(stub, request, key, timeout_s=30)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            if n >= 2 and first is not None:
                firsts.append(first)
    cpu_ms = {name: round((spent - cpu0[name]) * 1000 / max(1, calls), 2) for name, spent in _cpu_now(watch).items()}
    row = {"INPUT_TEXT": np.array([TTS_TEXT.encode()], dtype=np.object_),
           "INPUT_SPEAKER_ID": np.array([b"female"], dtype=np.object_),
           "INPUT_LANGUAGE_ID": np.array([b"en"], dtype=np.object_)}
    direct = await loadgen.streaming(triton, "tts_streaming", [row], 1, seconds=2.0, warmup_s=0.3)
    m = percentiles(firsts)
    return {"text_words": len(TTS_TEXT.split()), "voice": TTS_VOICE, "mesh_ms": m, "errors": errors,
            "cpu_ms_per_call": cpu_ms,
            "direct_ms": {"p50": direct["ttfc_p50_ms"], "p99": direct["ttfc_p99_ms"], "tool": loadgen.TOOL,
                          "errors": direct["errors"]},
            "met": m["p50"] <= TTS_P50_MS and not errors}


# Envoy's counters of the tts cluster that say why a call found no upstream: failed health checks
# (a busy process that did not answer in time) and calls refused with none healthy.
TTS_ENVOY_STATS = ("health_check.failure", "health_check.network_failure", "upstream_cx_none_healthy",
                   "outlier_detection.ejections_enforced_total", "upstream_rq_pending_overflow")


def envoy_counters(admin: str, cluster: str, names: tuple[str, ...]) -> dict[str, int]:
    """Named counters of one Envoy cluster, from the admin endpoint."""
    with urllib.request.urlopen(f"http://{admin}/stats?filter=^cluster\\.{cluster}\\.", timeout=5) as answer:
        lines = answer.read().decode().splitlines()
    values = dict(line.split(": ", 1) for line in lines if ": " in line)
    return {name: int(values.get(f"cluster.{cluster}.{name}", "0")) for name in names}


async def tts_concurrent(envoy: str, triton: str, key: str, concurrency: int, rounds: int, admin: str = ""
                         ) -> dict[str, Any]:
    """Time to first audio with `concurrency` StreamingSynthesize calls started at once through
    Envoy, each read whole, the next round when all have ended (`rounds` rounds, after one
    warm-up round), against tts_streaming driven directly at the
    same concurrency. With Envoy's `admin` address, also what the tts cluster's health checks and
    no-upstream counters did meanwhile."""
    before = envoy_counters(admin, "tts", TTS_ENVOY_STATS) if admin else {}
    request = tts_pb.StreamingSynthesizeRequest(
        input=tts_pb.SynthesisInput(text=TTS_TEXT), voice=tts_pb.VoiceSelectionParams(name=TTS_VOICE),
        audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))
    firsts: list[float] = []
    errors = 0
    codes: dict[str, str] = {}  # code → its first message: what an UNAVAILABLE was (no upstream, reset, …)

    stalls: list[float] = []

    async def one(stub: tts_grpc.TtsServiceStub) -> float | None:
        # Read whole: a call left open after its first audio (neither read nor cancelled) went on
        # being synthesised into the next rounds, and past 1,024 of them Envoy's default circuit
        # breaker held new calls until the first ones' deadlines (a 49 s round in 60).
        first, stalled, _ = await _synthesize_timed(stub, request, key)
        stalls.append(stalled)
        return first

    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = tts_grpc.TtsServiceStub(channel)
        for n in range(rounds + 1):
            got = await asyncio.gather(*(one(stub) for _ in range(concurrency)), return_exceptions=True)
            if n == 0:
                stalls.clear()
                continue
            failed = [g for g in got if not isinstance(g, float)]
            errors += len(failed)
            for g in failed:
                code, message = ((g.code().name, g.details() or "") if isinstance(g, grpc.aio.AioRpcError)
                                 else (type(g).__name__, repr(g)))
                codes.setdefault(code, message[:300])
            firsts += [g for g in got if isinstance(g, float)]
    row = {"INPUT_TEXT": np.array([TTS_TEXT.encode()], dtype=np.object_),
           "INPUT_SPEAKER_ID": np.array([b"female"], dtype=np.object_),
           "INPUT_LANGUAGE_ID": np.array([b"en"], dtype=np.object_)}
    envoy_stats = ({k: v - before[k] for k, v in envoy_counters(admin, "tts", TTS_ENVOY_STATS).items()}
                   if admin else {})
    direct = await loadgen.streaming(triton, "tts_streaming", [row], concurrency, seconds=3.0, warmup_s=0.5)
    m = percentiles(firsts)
    return {"concurrency": concurrency, "rounds": rounds, "mesh_ms": m, "errors": errors, "error_codes": sorted(codes),
            "error_messages": codes, "envoy_tts_cluster": envoy_stats, "playback": (playback := _stalls(stalls)),
            "direct_ms": {"p50": direct["ttfc_p50_ms"], "p99": direct["ttfc_p99_ms"], "tool": loadgen.TOOL,
                          "errors": direct["errors"]},
            "met": m["p50"] <= TTS_P50_MS and not errors and not playback["stalled"]}


async def tts_steady(envoy: str, triton: str, key: str, concurrency: int, seconds: float, warmup_s: float = 1.0
                     ) -> dict[str, Any]:
    """Time to first audio with `concurrency` streams always open: each worker calls
    StreamingSynthesize through Envoy, reads the whole stream, and calls again (a closed loop,
    the method of the model-alone baseline `bench.loadgen.streaming`, driven at the same
    concurrency in the same run). A new call's first audio then queues behind the open calls'
    later chunks, unlike the rounds (32 calls started at once, the next 32 only when all have ended)."""
    request = tts_pb.StreamingSynthesizeRequest(
        input=tts_pb.SynthesisInput(text=TTS_TEXT), voice=tts_pb.VoiceSelectionParams(name=TTS_VOICE),
        audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))
    firsts: list[float] = []
    wholes: list[float] = []
    messages: list[int] = []
    stalls: list[float] = []
    errors = 0
    codes: dict[str, str] = {}
    start = time.perf_counter()
    measure_from, deadline = start + warmup_s, start + warmup_s + seconds

    async def worker(stub: tts_grpc.TtsServiceStub, offset: float) -> None:
        nonlocal errors
        await asyncio.sleep(offset)  # arrivals spread over the first 100 ms, not one burst
        while (sent := time.perf_counter()) < deadline:
            try:
                first, stalled, count = await _synthesize_timed(stub, request, key)
            except grpc.aio.AioRpcError as exc:
                errors += 1
                codes.setdefault(exc.code().name, (exc.details() or "")[:300])
                continue
            if sent >= measure_from and first is not None:
                firsts.append(first)
                wholes.append(time.perf_counter() - sent)
                messages.append(count)
                stalls.append(stalled)

    async with grpc.aio.insecure_channel(envoy) as channel:
        stub = tts_grpc.TtsServiceStub(channel)
        await asyncio.gather(*(worker(stub, 0.1 * n / concurrency) for n in range(concurrency)))
    row = {"INPUT_TEXT": np.array([TTS_TEXT.encode()], dtype=np.object_),
           "INPUT_SPEAKER_ID": np.array([b"female"], dtype=np.object_),
           "INPUT_LANGUAGE_ID": np.array([b"en"], dtype=np.object_)}
    direct = await loadgen.streaming(triton, "tts_streaming", [row], concurrency, seconds=seconds, warmup_s=warmup_s)
    m = percentiles(firsts)
    return {"concurrency": concurrency, "seconds": seconds, "mesh_ms": m, "whole_ms": percentiles(wholes),
            "messages_per_call": statistics.median(messages) if messages else 0, "errors": errors,
            "playback": (playback := _stalls(stalls)),
            "error_codes": sorted(codes), "error_messages": codes,
            "direct_ms": {"p50": direct["ttfc_p50_ms"], "p99": direct["ttfc_p99_ms"], "tool": loadgen.TOOL,
                          "errors": direct["errors"]},
            "met": m["p50"] <= TTS_P50_MS and not errors and not playback["stalled"]}


# -- report -----------------------------------------------------------------------------------

def _yes(met: bool) -> str:
    return "met" if met else "**not met**"


def _messages(t: dict[str, Any]) -> str:
    """Each error code with its first message ("UNAVAILABLE: no healthy upstream")."""
    messages = t.get("error_messages", {})
    return ", ".join(f"{code}: {messages[code]!r}" if messages.get(code) else code for code in t["error_codes"])


def _playback_note(t: dict[str, Any]) -> str:
    """What a listener playing each stream from its first audio would have heard."""
    p = t.get("playback")
    if not p:
        return ""
    if not p["stalled"]:
        return f"; playback from the first audio never ran dry ({p['streams']} streams)"
    return (f"; playback from the first audio **ran dry** in {p['stalled']} of {p['streams']} streams "
            f"(max {p['max_ms']:g} ms)")


def _envoy_note(counters: dict[str, int]) -> str:
    """The tts cluster's non-zero Envoy counters during the rounds ("; Envoy: health_check.failure 2")."""
    busy = [f"{name} {value}" for name, value in counters.items() if value]
    return f"; Envoy: {', '.join(busy)}" if busy else ""


def capacity_reason(steps: list[dict[str, Any]], cores: int) -> str:
    """Why the trivial-model target is not met, from the largest step measured: the CPU the mesh
    and the clients spent per stream-second there, and the cores 1,000 streams would need."""
    if not steps:
        return ""
    top = max(steps, key=lambda s: s["streams"])
    used = top["cores_used"]
    per_stream = {k: used[k] * 1000 / top["streams"] for k in ("asr", "envoy", "triton", "client")}
    total = sum(per_stream.values())
    return (f": at {top['streams']} streams {sum(used[k] for k in per_stream):.2f} of {cores} cores were busy; "
            f"CPU per stream-second {total:.1f} ms ("
            + ", ".join(f"{k} {v:.1f}" for k, v in per_stream.items())
            + f"), so {TRIVIAL_STREAMS:,} streams need ≈ {total * TRIVIAL_STREAMS / 1000:.1f} cores")


def tts_reason(r: dict[str, Any], t: dict[str, Any]) -> str:
    """Why a TTS first-audio target is not met: the CPU one call costs across the processes
    (from the one-at-a-time row), what the concurrent calls' work is on this machine's cores,
    and the model alone at the same concurrency."""
    cpu = r.get("tts", {}).get("cpu_ms_per_call", {})
    if not cpu or t["met"]:
        return ""
    cores = r.get("machine", {}).get("cores") or 2
    total = sum(cpu.values())
    n = t["concurrency"]
    return (f": one whole call costs {total:.0f} ms of CPU (" + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
            + f"): {n} calls are {total * n / cores:.0f} ms of work for {cores} cores, the TTS service's "
            f"{cpu.get('tts', 0.0) * n:.0f} ms on one event loop per process; the model alone at {n} has p50 "
            f"{t['direct_ms']['p50']:.0f} ms")


def markdown(r: dict[str, Any]) -> str:
    lines = ["| target | measured | baseline (same run) | verdict |", "|---|---|---|---|"]
    for f in r.get("final", []):
        a = f["after_endpoint_ms"]
        v, h = f["after_vad_endpoint_ms"], f["vad_hangover_ms"]
        lines.append(f"| final after the endpoint, p50 ≤ {FINAL_P50_MS:g} / p99 ≤ {FINAL_P99_MS:g} ms: {f['model']}, "
                     f"end_of_utterance_silence {f['eou_ms']} ms, {f['path']} | p50 {a['p50']:.0f} ms, p99 "
                     f"{a['p99']:.0f} ms; from the VAD's speech end + silence p50 {v['p50']:.0f} / p99 "
                     f"{v['p99']:.0f} ms "
                     f"(VAD end − last speech sample p50 {h['p50']:.0f} ms) ({a['n']} of {f['utterances']} utterances; "
                     f"WER {f['wer']:.2f}"
                     f"{'; errors ' + ', '.join(f['errors']) if f['errors'] else ''}) | — | {_yes(f['met'])} |")
    if "final_decode" in r:
        fd = r["final_decode"]
        lines.append(f"| where a final's time goes, model alone ({fd['audio_s']:.1f} s utterance, p50 of "
                     f"{fd['repeats']}) | END with the second pass {fd['end_rescore_ms']['p50']:.0f} ms; PREPARE_FINAL "
                     f"{fd['prepare_ms']['p50']:.0f} ms, then empty END {fd['end_after_prepare_ms']['p50']:.0f} ms; "
                     f"live END {fd['end_live_ms']['p50']:.0f} ms | a 120 ms chunk "
                     f"{fd['chunk_ms']['p50']:.0f} ms | — |")
    for o in r.get("overhead", []):
        runs = "; ".join(f"{x['added_ms']['p99']:+.1f} (mesh {x['mesh_ms']['p99']:.1f} / model "
                         f"{x['direct_ms']['p99']:.1f})" for x in o["runs"])
        lines.append(f"| interim overhead p99 ≤ {OVERHEAD_P99_MS:g} ms over the model alone: {o['model']} | added p99 "
                     f"per run {runs} ms; spread {o['spread_ms']:.1f} ms; added p50 "
                     f"{', '.join(format(x['added_ms']['p50'], '+.1f') for x in o['runs'])} ms | model alone "
                     f"p50 {', '.join(format(x['direct_ms']['p50'], '.1f') for x in o['runs'])} ms | "
                     f"{_yes(o['met'])} |")
    if "trivial_capacity" in r:
        triv = r["trivial_capacity"]
        lines.append(f"| trivial-model streams keeping up ≥ {TRIVIAL_STREAMS} ({r.get('asr_replicas', 1)} ASR "
                     f"processes) | {triv['largest']} (of {', '.join(str(s['streams']) for s in triv['steps'])} "
                     f"tried) | — | {_yes(triv['met'])}"
                     f"{'' if triv['met'] else capacity_reason(triv['steps'], r.get('machine', {}).get('cores') or 2)}"
                     " |")
    if "real_capacity" in r:
        real = r["real_capacity"]
        lines.append(f"| pocketsphinx streams, mesh / model alone ≥ {REAL_RATIO:.0%} | {real['mesh_largest']} / "
                     f"{real['direct_largest']} = {real['ratio']:.0%} | model alone {real['direct_largest']} | "
                     f"{_yes(real['met'])} |")
    if "tts" in r:
        t = r["tts"]
        lines.append(f"| TTS first audio, one call at a time | p50 {t['mesh_ms']['p50']:.1f} ms, p99 "
                     f"{t['mesh_ms']['p99']:.1f} ms ({t['mesh_ms']['n']} calls; CPU per call "
                     f"{', '.join(f'{k} {v:.1f} ms' for k, v in t.get('cpu_ms_per_call', {}).items())}) | "
                     f"tts_streaming alone p50 "
                     f"{t['direct_ms']['p50']:.1f} / p99 {t['direct_ms']['p99']:.1f} ms | — |")
    if "tts_concurrent" in r:
        t = r["tts_concurrent"]
        lines.append(f"| TTS first audio p50 ≤ {TTS_P50_MS:g} ms at {t['concurrency']} concurrent | p50 "
                     f"{t['mesh_ms']['p50']:.1f} ms, p99 {t['mesh_ms']['p99']:.1f} ms ({t['mesh_ms']['n']} calls"
                     f"{'; errors ' + str(t['errors']) + ' ' + _messages(t) if t['errors'] else ''}"
                     f"{_envoy_note(t.get('envoy_tts_cluster', {}))}{_playback_note(t)}) | "
                     f"tts_streaming alone at {t['concurrency']}: p50 {t['direct_ms']['p50']:.1f} / p99 "
                     f"{t['direct_ms']['p99']:.1f} ms | {_yes(t['met'])}{tts_reason(r, t)} |")
    if "tts_steady" in r:
        t = r["tts_steady"]
        lines.append(f"| TTS first audio p50 ≤ {TTS_P50_MS:g} ms with {t['concurrency']} streams always open "
                     f"(closed loop, whole streams read) | p50 {t['mesh_ms']['p50']:.1f} ms, p99 "
                     f"{t['mesh_ms']['p99']:.1f} ms ({t['mesh_ms']['n']} calls in {t['seconds']:g} s; whole call "
                     f"p50 {t['whole_ms']['p50']:.0f} ms, {t['messages_per_call']:g} messages{_playback_note(t)}"
                     f"{'; errors ' + str(t['errors']) + ' ' + _messages(t) if t['errors'] else ''}) | "
                     f"tts_streaming alone, same loop at {t['concurrency']}: p50 {t['direct_ms']['p50']:.1f} / p99 "
                     f"{t['direct_ms']['p99']:.1f} ms | {_yes(t['met'])}{tts_reason(r, t)} |")
    if "memory" in r:
        mem = r["memory"]
        lines.append(f"| memory per open stream ≤ {MB_PER_STREAM * 1024:.0f} KB | {mem['mb_per_stream'] * 1024:.0f} KB "
                     f"(ASR RSS {mem['rss0_mb']:.1f} → {mem['rssk_mb']:.1f} MB with {mem['streams']} streams) | — | "
                     f"{_yes(mem['met'])}"
                     f"{': RSS fell while the streams opened, not a measure' if mem['mb_per_stream'] < 0 else ''} |")
    steps = (sorted(r["real_capacity"]["mesh"] + r["real_capacity"]["direct"], key=lambda x: (x["streams"], x["kind"]))
             if "real_capacity" in r else []) + (r["trivial_capacity"]["steps"] if "trivial_capacity" in r else [])
    if steps:
        lines += ["", "| path | model | signal | streams | lag p50 ms | lag p99 ms | lag max ms | client late p99 ms | "
                  "end after last chunk p99 ms | keeping up | errors | cores busy: asr / envoy / triton / client |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in steps:
        c = s["cores_used"]
        lines.append(f"| {s['kind']} | {s['model']} | {s['signal']} | {s['streams']} | {s['lag_ms']['p50']:.0f} | "
                     f"{s['lag_ms']['p99']:.0f} | {s['lag_ms']['max']:.0f} | {s['client_late_ms']['p99']:.0f} | "
                     f"{s['complete_after_last_send_ms']['p99']:.0f} | {s['streams_keeping_up']}/{s['streams']} | "
                     f"{s['errors']} | {c['asr']:.2f} / {c['envoy']:.2f} / {c['triton']:.2f} / {c['client']:.2f} |")
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------

def levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only-final", action="store_true", help="only the final-latency rows")
    parser.add_argument("--only-tts", action="store_true", help="only the TTS rows")
    parser.add_argument("--only", default="", help=f"comma-separated parts to run, of {','.join(PARTS)} (default all)")
    parser.add_argument("--tts-instances", type=int, default=0, help="tts_streaming instances (0: as shipped)")
    parser.add_argument("--final-utterances", type=int, default=5, help="utterances per final-latency row")
    parser.add_argument("--eou", default="800,300", help="end_of_utterance_silence values (ms) of the final rows; "
                        "the first also goes through the WebSocket bridge")
    parser.add_argument("--final-models", default=f"{TRIVIAL},{REAL},{LIVE}")
    parser.add_argument("--asr-replicas", type=int, default=2, help="ASR service processes behind Envoy")
    parser.add_argument("--tts-replicas", type=int, default=1, help="TTS service processes behind Envoy")
    parser.add_argument("--trivial-streams", default="100,200,300,400,600,800,1000", help="N steps, trivial model")
    parser.add_argument("--real-streams", default="2,3,4", help="N steps, pocketsphinx")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per capacity stream")
    parser.add_argument("--idle-streams", type=int, default=200, help="K for memory per stream")
    parser.add_argument("--overhead-streams", type=int, default=3, help="streams per overhead run")
    parser.add_argument("--overhead-runs", type=int, default=3, help="overhead runs (their spread is the stability)")
    parser.add_argument("--tts-calls", type=int, default=30)
    parser.add_argument("--tts-concurrency", type=int, default=TTS_CONCURRENCY)
    parser.add_argument("--tts-rounds", type=int, default=3)
    parser.add_argument("--tts-seconds", type=float, default=10.0, help="measured seconds of the closed-loop TTS row")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--budget", type=float, default=400.0,
                        help="seconds of capacity steps (half for pocketsphinx) after which no new step starts")
    args = parser.parse_args(argv)
    started = time.monotonic()

    work = Path(tempfile.mkdtemp(prefix="ai4vc-bench-streaming-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    run_dir = work / "mesh"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    repository(work / "models", args.tts_instances)
    # Hundreds of streams a minute from one key: lift the per-principal default (600/min) as
    # bench.edge does, so the limiter runs on every call but refuses none.
    os.environ["AI4VC_GATEWAY_DEFAULT_REQUESTS_PER_MINUTE"] = "1000000"
    mesh = Mesh(run_dir, Ports.free(), replicas={"asr": args.asr_replicas, "tts": args.tts_replicas}, durable=False,
                free_metrics_ports=True,
                model_repository=work / "models")
    result: dict[str, Any] = {"benchmark": "streaming", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "machine": machine(), "client_processes": args.client_processes,
                              "asr_replicas": args.asr_replicas, "tts_replicas": args.tts_replicas,
                              "tts_instances": args.tts_instances or "shipped",
                              "lag_limit_s": LAG_LIMIT_S, "seconds": args.seconds}
    if args.only_final or args.only_tts:
        parts = {name for name, on in (("final", args.only_final), ("tts", args.only_tts)) if on}
    else:
        parts = {name for name in args.only.split(",") if name} or set(PARTS)
    if parts - set(PARTS):
        parser.error(f"unknown parts {sorted(parts - set(PARTS))} (of {', '.join(PARTS)})")
    result["parts"] = sorted(parts)
    ctx = multiprocessing.get_context("spawn")
    pool = ctx.Pool(args.client_processes) if "capacity" in parts else None
    try:
        print("starting the mesh …", file=sys.stderr, flush=True)
        mesh.up()
        envoy, key, triton = f"127.0.0.1:{mesh.ports.envoy}", mesh.admin_key(), mesh.triton.url
        pids = service_pids(mesh, "asr")
        # Every part waits for the grammars the TTS and ASR processes load in the background
        # after they report healthy: loading keeps a core busy for seconds (one run's first
        # interim-overhead run had a p99 of 73 ms against 6 ms in the next two when it started
        # straight away) and moves the ASR processes' RSS by tens of MB (a memory row read
        # 436 → 401 MB with 200 streams opened meanwhile).
        print("waiting for the TTS grammars and the ASR processes to settle …", file=sys.stderr, flush=True)
        result["tts_grammars"] = asyncio.run(tts_grammars_ready(envoy, key))
        result["asr_settled"] = settled(pids)
        if "memory" in parts:
            print(f"memory: {args.idle_streams} idle streams …", file=sys.stderr, flush=True)
            result["memory"] = asyncio.run(memory(envoy, key, pids, args.idle_streams))
        if "final" in parts:
            print("final latency …", file=sys.stderr, flush=True)
            eous = levels(args.eou)
            if LIVE in args.final_models:
                result["final_decode"] = asyncio.run(final_decode(triton, 3))
            result["final"] = asyncio.run(final_latency(envoy, key, [m for m in args.final_models.split(",") if m],
                                                        eous, args.final_utterances, eous[0]))
        if "overhead" in parts:
            result["overhead"] = []
            for model in (TRIVIAL, REAL):
                print(f"interim overhead, {model} …", file=sys.stderr, flush=True)
                result["overhead"].append(overhead_runs(envoy, triton, key, args.overhead_streams, args.overhead_runs,
                                                        model))
        if "tts" in parts:
            print("TTS time to first audio …", file=sys.stderr, flush=True)
            tts_watch = {"tts": service_pids(mesh, "tts"), "envoy": [child_pid(mesh.envoy.proc.pid())],
                         "triton": [child_pid(mesh.triton.proc.pid())]}
            result["tts"] = asyncio.run(tts_first_chunk(envoy, triton, key, args.tts_calls, tts_watch))
            result["tts_concurrent"] = asyncio.run(tts_concurrent(envoy, triton, key, args.tts_concurrency,
                                                                  args.tts_rounds,
                                                                  f"127.0.0.1:{mesh.ports.envoy_admin}"))
            result["tts_steady"] = asyncio.run(tts_steady(envoy, triton, key, args.tts_concurrency, args.tts_seconds))
        if "capacity" in parts:
            assert pool is not None
            deadline = time.monotonic() + args.budget
            watch = {"asr": pids, "envoy": [child_pid(mesh.envoy.proc.pid())],
                     "triton": [child_pid(mesh.triton.proc.pid())]}
            result["cores_used_note"] = ("cores busy during a step = CPU seconds / wall seconds: asr service (all "
                                         "replicas), envoy, triton (server + Python stubs), client (all client "
                                         "processes)")
            if levels(args.real_streams):  # --real-streams "": the trivial model only
                print("capacity, pocketsphinx …", file=sys.stderr, flush=True)
                asyncio.run(warm_decoders(triton, max(levels(args.real_streams))))
                real = step_up(pool, args.client_processes,
                               {"mesh": ("mesh", envoy, key), "direct": ("direct", triton, key)},
                               REAL, levels(args.real_streams), args.seconds, "speech", deadline - args.budget / 2,
                               watch)
                m, d = largest_ok(real["mesh"]), largest_ok(real["direct"])
                result["real_capacity"] = {**real, "mesh_largest": m, "direct_largest": d,
                                           "ratio": m / d if d else 0.0, "met": bool(d) and m / d >= REAL_RATIO,
                                           "levels": levels(args.real_streams)}
            print("capacity, trivial model …", file=sys.stderr, flush=True)
            steps = step_up(pool, args.client_processes, {"mesh": ("mesh", envoy, key)}, TRIVIAL,
                            levels(args.trivial_streams), args.seconds, "noise", deadline, watch)["mesh"]
            result["trivial_capacity"] = {"steps": steps, "largest": largest_ok(steps),
                                          "met": largest_ok(steps) >= TRIVIAL_STREAMS}
            result["asr_rss_end_mb"] = sum(rss_kb(pid) for pid in pids) / 1024
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        mesh.down()
        shutil.rmtree(work, ignore_errors=True)

    result["elapsed_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"streaming-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(markdown(result))
    print(f"\nresults: {out.relative_to(ROOT)} ({result['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
