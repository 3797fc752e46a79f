"""Live ASR streams shed under overload (issue 16), in the real service (production factory and
interceptors, real Triton and PostgreSQL): while an open real-time stream falls behind because the
model is slower than real time, a NEW stream is refused with RESOURCE_EXHAUSTED SERVER_OVERLOADED,
cause streams_behind and a RetryInfo, and the open stream is not cut."""

from __future__ import annotations

import asyncio
import dataclasses

import grpc
import pytest

from ai4vc.asr.v1 import asr_service_pb2 as pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from tests.audio_util import speech
from tests.errors_util import error_info
from tests.service.harness import running
from tests.service.test_asr_service import chunks_of, collect, results, stream_config
from tests.service.test_shedding import retry_delay_s

SHED_LAG_S = 0.5
MODEL_DELAY_S = 0.3  # each model call of a 100 ms chunk: three times slower than real time


@pytest.fixture
def settings(triton, pg_schema, tmp_path) -> AsrSettings:
    url, schema = pg_schema
    return AsrSettings(port=0, metrics_port=-1, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False, log_level="WARNING", itn_languages=(),
                       stream_shed_lag_s=SHED_LAG_S, stream_lag_window_s=2.0)


def slow_model(app: asr_app.AsrApp) -> None:
    """Every streaming model call takes MODEL_DELAY_S longer (the CPU of an overloaded host, on demand)."""
    sequences = app.servicer.sequences
    original = sequences.send

    async def slow(*args, **kwargs):
        await asyncio.sleep(MODEL_DELAY_S)
        return await original(*args, **kwargs)

    sequences.send = slow  # type: ignore[method-assign]


async def test_a_new_stream_is_refused_while_open_streams_lag_and_the_open_one_is_not_cut(settings):
    """A real-time stream on a model 3x slower than real time lags past 0.5 s; a new stream is then
    refused (RESOURCE_EXHAUSTED, SERVER_OVERLOADED, cause streams_behind, RetryInfo 1 s, counted, the
    lag gauge above the threshold) and the open stream still ends OK with its final."""
    samples = speech("the quick brown fox jumps over the lazy dog")
    async with running(settings, asr_app.create) as (app, handle, channel):
        slow_model(app)
        stub = pb_grpc.AsrServiceStub(channel)
        open_call = stub.StreamingRecognize(timeout=120)
        await open_call.write(stream_config())

        async def paced() -> None:
            for message in chunks_of(samples):
                await open_call.write(message)
                await asyncio.sleep(0.1)
            await open_call.done_writing()

        writer = asyncio.create_task(paced())
        reader = asyncio.create_task(collect(open_call))
        for _ in range(200):  # until the open stream is past the threshold (or the audio ends)
            if app.stream_lag.lag() > SHED_LAG_S or writer.done():
                break
            await asyncio.sleep(0.05)
        lag_gauge = handle.metrics.registry.get_sample_value("grpc_server_stream_lag_seconds", {"service": "asr"})

        refused = stub.StreamingRecognize(timeout=30)
        await refused.write(stream_config())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await collect(refused)
        await writer
        responses = await reader
        shed = handle.metrics.registry.get_sample_value(
            "grpc_server_shed_total", {"service": "asr", "grpc_type": "bidi_stream", "cause": "streams_behind"})
        open_status = await open_call.code()

    assert lag_gauge is not None and lag_gauge > SHED_LAG_S
    error = caught.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info, _ = error_info(error)
    assert info is not None and info.reason == "SERVER_OVERLOADED" and info.metadata["cause"] == "streams_behind"
    assert retry_delay_s(error) == 1.0
    assert shed == 1
    assert open_status == grpc.StatusCode.OK
    finals = [r for r in results(responses) if r.is_final]
    assert finals and finals[-1].alternatives[0].transcript


async def test_real_time_streams_on_a_model_that_keeps_up_are_admitted(settings):
    """Paced streams on the model at its own speed do not read as lagging: a second stream opened
    during the first is served OK, and the probe stays under the threshold (2 s here, so a busy
    shared test machine does not make it lag for real)."""
    samples = speech("good morning how are you today")
    settings = dataclasses.replace(settings, stream_shed_lag_s=2.0)
    async with running(settings, asr_app.create) as (app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)

        async def stream() -> tuple[grpc.StatusCode, list[pb.StreamingRecognizeResponse]]:
            call = stub.StreamingRecognize(timeout=120)
            await call.write(stream_config())
            for message in chunks_of(samples):
                await call.write(message)
                await asyncio.sleep(0.1)
            await call.done_writing()
            responses = await collect(call)
            return await call.code(), responses

        first = asyncio.create_task(stream())
        await asyncio.sleep(1.0)
        second = await stream()
        outcomes = [await first, second]
        worst = app.stream_lag.lag()

    assert [code for code, _ in outcomes] == [grpc.StatusCode.OK, grpc.StatusCode.OK]
    assert all(any(r.is_final for r in results(responses)) for _, responses in outcomes)
    assert worst <= settings.stream_shed_lag_s
