"""Admission control in a real service (production factory and interceptors, real Triton): a
flood past the limits is refused with RESOURCE_EXHAUSTED SERVER_OVERLOADED and a RetryInfo, health
keeps answering SERVING, and the service serves normally once the flood is over."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2

from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from tests.errors_util import error_info, retry_delay_s
from tests.service.harness import health_status, running

HINDI = "भारत एक विशाल देश है। इसकी राजधानी नई दिल्ली है।"
FLOOD = 48
LINEAR16 = audio_pb2.AudioEncoding.AUDIO_ENCODING_LINEAR16


def shed_count(handle, cause: str) -> float:
    value = handle.metrics.registry.get_sample_value(
        "grpc_server_shed_total", {"service": handle.metrics.service, "grpc_type": "unary", "cause": cause})
    return value or 0.0


@pytest.fixture
def nmt_settings(triton, tmp_path) -> NmtSettings:
    # Two calls at a time and two waiting: a flood of 48 at once cannot all be taken in.
    return NmtSettings(port=0, metrics_port=-1, triton_url=triton.url, spool_dir=str(tmp_path / "spool"),
                       log_json=False, log_level="WARNING", max_in_flight_calls=2, admission_queue_size=2,
                       admission_queue_timeout_s=0.2)


async def test_flood_past_the_limit_is_shed_with_retry_info_and_the_service_stays_up(nmt_settings):
    """48 TranslateText calls at once against a limit of 2 running + 2 waiting: every call ends OK or
    RESOURCE_EXHAUSTED SERVER_OVERLOADED with RetryInfo (nothing else), health stays SERVING, and the
    next call after the flood is served."""
    request = nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur")
    async with running(nmt_settings, nmt_app.create) as (_app, handle, channel):
        stub = nmt_grpc.NmtServiceStub(channel)

        async def one() -> grpc.aio.AioRpcError | None:
            try:
                await stub.TranslateText(request, timeout=30)
            except grpc.aio.AioRpcError as err:
                return err
            return None

        flood = [asyncio.create_task(one()) for _ in range(FLOOD)]
        health_during = await health_status(channel)
        outcomes = await asyncio.gather(*flood)
        after = await stub.TranslateText(request, timeout=30)
        health_after = await health_status(channel)
        assert handle.admission is not None
        in_flight_after = handle.admission.in_flight

    errors = [e for e in outcomes if e is not None]
    assert errors, "a flood of 48 against 2 + 2 was all admitted"
    assert {e.code() for e in errors} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert {error_info(e)[0].reason for e in errors} == {"SERVER_OVERLOADED"}
    assert {retry_delay_s(e) for e in errors} == {1.0}
    assert FLOOD - len(errors) >= 2  # the ones admitted were served
    assert shed_count(handle, "queue_full") + shed_count(handle, "queue_timeout") == len(errors)
    assert health_during == health_after == health_pb2.HealthCheckResponse.SERVING
    assert after.translations[0].translated_text
    assert in_flight_after == 0  # every slot was given back


@pytest.fixture
def tts_settings(triton, tmp_path) -> TtsSettings:
    return TtsSettings(port=0, metrics_port=-1, triton_url=triton.url, spool_dir=str(tmp_path / "spool"),
                       log_json=False, log_level="WARNING", tn_languages=(), max_open_streams=1)


async def test_streams_past_the_cap_are_refused_and_health_is_not_counted(tts_settings):
    """With one stream open at a cap of 1, the next stream is refused at once with SERVER_OVERLOADED and
    RetryInfo while health and unary calls still answer; once it closes, a new stream is taken."""
    async with running(tts_settings, tts_app.create) as (_app, handle, channel):
        stub = tts_grpc.TtsServiceStub(channel)
        held = stub.BidiStreamingSynthesize(timeout=30)
        await held.wait_for_connection()
        # The first stream counts once the server has it: wait until it does (bounded).
        for _ in range(200):
            if handle.admission is not None and handle.admission.streams == 1:
                break
            await asyncio.sleep(0.01)
        refused = stub.StreamingSynthesize(tts_pb.StreamingSynthesizeRequest(
            input=tts_pb.SynthesisInput(text=HINDI), voice=tts_pb.VoiceSelectionParams(name="hi-female"),
            audio_config=tts_pb.AudioOutputConfig(encoding=LINEAR16)), timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in refused:
                pass
        health = await health_status(channel)
        unary = await stub.ListVoices(tts_pb.ListVoicesRequest(), timeout=10)
        held.cancel()
        for _ in range(200):
            if handle.admission.streams == 0:
                break
            await asyncio.sleep(0.01)
        again = stub.StreamingSynthesize(tts_pb.StreamingSynthesizeRequest(
            input=tts_pb.SynthesisInput(text=HINDI), voice=tts_pb.VoiceSelectionParams(name="hi-female"),
            audio_config=tts_pb.AudioOutputConfig(encoding=LINEAR16)), timeout=30)
        chunks = [r async for r in again]

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(caught.value)[0]
    assert info.reason == "SERVER_OVERLOADED" and info.metadata["cause"] == "streams_full"
    assert retry_delay_s(caught.value) == 1.0
    assert health == health_pb2.HealthCheckResponse.SERVING
    assert unary.voices
    assert chunks
