"""A live ASR stream that falls behind takes its queued messages together into one model call
(issue 17): on a model slower than real time it makes fewer, longer calls instead of falling
further behind at one call per chunk, and loses no audio (the final is the same as on a model
that keeps up). The real service (production factory, real Triton and pocketsphinx)."""

from __future__ import annotations

import asyncio
import statistics

import numpy as np
import pytest

from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from tests.audio_util import speech
from tests.service.harness import running
from tests.service.test_asr_service import RATE, chunks_of, collect, results, silence, stream_config

MODEL_DELAY_S = 0.3  # three 100 ms messages queue behind each call
CHUNK_SAMPLES = RATE // 10  # stream_chunk_ms (100 ms)


@pytest.fixture
def settings(triton, pg_schema, tmp_path) -> AsrSettings:
    url, schema = pg_schema
    # Shedding off: this stream is behind on purpose.
    return AsrSettings(port=0, metrics_port=-1, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False, log_level="WARNING", itn_languages=(),
                       stream_shed_lag_s=0.0)


def record_calls(app: asr_app.AsrApp, delay_s: float) -> list[int]:
    """Samples of every streaming model call the app makes from now on (each `delay_s` slower)."""
    sizes: list[int] = []
    sequences = app.servicer.sequences
    original = sequences.send

    async def send(model, corrid, samples, *args, **kwargs):
        sizes.append(int(samples.size))
        if delay_s:
            await asyncio.sleep(delay_s)
        return await original(model, corrid, samples, *args, **kwargs)

    sequences.send = send  # type: ignore[method-assign]
    return sizes


async def paced_stream(channel, messages) -> list:
    call = pb_grpc.AsrServiceStub(channel).StreamingRecognize(timeout=120)
    await call.write(stream_config(interim=True))

    async def write() -> None:
        for message in messages:
            await call.write(message)
            await asyncio.sleep(0.1)
        await call.done_writing()

    writer = asyncio.create_task(write())
    responses = await collect(call)
    await writer
    return responses


def final_text(responses) -> str:
    return " ".join(r.alternatives[0].transcript for r in results(responses) if r.is_final).strip()


async def test_a_stream_behind_real_time_coalesces_its_queued_messages_and_loses_no_audio(settings):
    """Speech paced at real time on a model 3x slower than real time: the calls carry several
    messages each (median ≥ 300 ms, where a stream that keeps up sends each 100 ms message as it
    comes: 90–120 ms, never held for the next), there are fewer of them than 180 ms chunks of the
    audio, and the final equals the one on the fast model."""
    messages = chunks_of(np.concatenate([speech("the quick brown fox jumps over the lazy dog"), silence(1.2)]))
    async with running(settings, asr_app.create) as (app, _handle, channel):
        fast = record_calls(app, 0.0)
        keeping_up = await paced_stream(channel, messages)
    async with running(settings, asr_app.create) as (app, _handle, channel):
        slow = record_calls(app, MODEL_DELAY_S)
        behind = await paced_stream(channel, messages)
    audio_calls = [n for n in slow if n]
    assert final_text(keeping_up)
    assert final_text(behind) == final_text(keeping_up)
    assert statistics.median(n for n in fast if n) <= CHUNK_SAMPLES + 320  # a message a call, whole frames
    assert statistics.median(audio_calls) >= 3 * CHUNK_SAMPLES
    assert len(audio_calls) < sum(fast) / (1.8 * CHUNK_SAMPLES)
    assert sum(slow) == sum(fast)  # every sample of the utterance reached the model, once
