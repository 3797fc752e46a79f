"""gRPC adapter for the TTS core: proto → domain call → proto. Every synthesis is recorded
(whatever its outcome); a completed one meters its characters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ai4vc.tts.v1 import tts_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as pb_grpc
from services.common import audio
from services.common.backends.records import RecordSink
from services.common.backends.usage import UsageMeter
from services.common.logs import request_id_var
from services.common.rpc.context import CallRecorder, duration, remaining_s, status_of
from services.common.streams import first_config, payloads
from services.tts import records as tts_records
from services.tts.core import Chunk, Plan, TtsCore

_GENDER = {"male": pb.SSML_VOICE_GENDER_MALE, "female": pb.SSML_VOICE_GENDER_FEMALE,
           "neutral": pb.SSML_VOICE_GENDER_NEUTRAL}


_NORMALIZATION = {"grammar": pb.TEXT_NORMALIZATION_GRAMMAR, "numbers": pb.TEXT_NORMALIZATION_NUMBERS,
                  "none": pb.TEXT_NORMALIZATION_NONE}


def _audio_config(plan: Plan) -> pb.AudioOutputConfig:
    o = plan.output
    return pb.AudioOutputConfig(encoding=o.encoding, sample_rate_hertz=o.sample_rate_hertz,  # type: ignore[arg-type]
                                speaking_rate=o.speaking_rate, pitch_semitones=o.pitch_semitones,
                                volume_gain_db=o.volume_gain_db)


async def _plan(core: TtsCore, source: pb.SynthesizeRequest | pb.StreamingSynthesizeRequest, streaming: bool) -> Plan:
    which = source.input.WhichOneof("input_source")
    cfg = source.audio_config
    return await core.plan(
        text=source.input.text if which == "text" else None,
        ssml_text=source.input.ssml if which == "ssml" else None,
        language_code=source.voice.language_code, name=source.voice.name, gender=int(source.voice.ssml_gender),
        encoding=int(cfg.encoding), sample_rate=cfg.sample_rate_hertz, speaking_rate=cfg.speaking_rate,
        pitch=cfg.pitch_semitones, gain=cfg.volume_gain_db, streaming=streaming,
        normalize=(source.input.enable_text_normalization
                   if source.input.HasField("enable_text_normalization") else None))


def _record(recorder: CallRecorder, plan: Plan, audio_s: float, status: str) -> None:
    """Records a synthesis that ended; only one that completed meters its characters."""
    recorder.send(tts_records.synthesis(plan, audio_s, status), characters=plan.characters if status == "OK" else 0)


class TtsServicer(pb_grpc.TtsServiceServicer):
    def __init__(self, core: TtsCore, records: RecordSink, usage: UsageMeter | None = None) -> None:
        self.core = core
        self.records = records
        self.usage = usage

    async def Synthesize(self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext
                         ) -> pb.SynthesizeResponse:
        recorder = CallRecorder(self.records, context, "Synthesize", self.usage)
        plan = await _plan(self.core, request, streaming=False)
        try:
            content, seconds = await self.core.synthesize(plan, timeout_s=remaining_s(context),
                                                          request_id=request_id_var.get())
        except BaseException as exc:
            _record(recorder, plan, 0.0, status_of(exc))
            raise
        _record(recorder, plan, seconds, "OK")
        return pb.SynthesizeResponse(audio_content=content, audio_config=_audio_config(plan),
                                     audio_duration=duration(seconds), voice_name=plan.voice.name,
                                     normalized_text=plan.normalized_text)

    async def _stream(self, plan: Plan, chunks: AsyncIterator[Chunk], recorder: CallRecorder, bidi: bool
                      ) -> AsyncIterator[pb.StreamingSynthesizeResponse | pb.BidiStreamingSynthesizeResponse]:
        rate = plan.output.sample_rate_hertz
        per_sample = audio.bytes_per_sample(plan.output.encoding)
        first = True
        status = "OK"
        audio_s = 0.0
        try:
            async for chunk in chunks:
                kwargs = {"audio_content": chunk.audio_content, "audio_offset": duration(chunk.offset_s)}
                if first:
                    kwargs.update(audio_config=_audio_config(plan), voice_name=plan.voice.name)
                    first = False
                audio_s = chunk.offset_s + len(chunk.audio_content) / per_sample / rate
                if bidi:
                    yield pb.BidiStreamingSynthesizeResponse(sentence_text=chunk.sentence_text, **kwargs)
                else:
                    yield pb.StreamingSynthesizeResponse(**kwargs)
        except BaseException as exc:
            status = status_of(exc)
            raise
        finally:
            _record(recorder, plan, audio_s, status)

    async def StreamingSynthesize(self, request: pb.StreamingSynthesizeRequest, context: grpc.aio.ServicerContext
                                  ) -> AsyncIterator[pb.StreamingSynthesizeResponse]:
        recorder = CallRecorder(self.records, context, "StreamingSynthesize", self.usage)
        plan = await _plan(self.core, request, streaming=True)
        chunks = self.core.stream(plan, plan.pieces, timeout_s=remaining_s(context), request_id=request_id_var.get())
        async for response in self._stream(plan, chunks, recorder, bidi=False):
            yield response  # type: ignore[misc]

    async def BidiStreamingSynthesize(self, request_iterator: AsyncIterator[pb.BidiStreamingSynthesizeRequest],
                                      context: grpc.aio.ServicerContext
                                      ) -> AsyncIterator[pb.BidiStreamingSynthesizeResponse]:
        recorder = CallRecorder(self.records, context, "BidiStreamingSynthesize", self.usage)
        requests = aiter(request_iterator)
        first = await first_config(requests, self.core.settings.stream_config_timeout_s)
        config = first.streaming_config
        cfg = config.audio_config
        plan = await self.core.stream_plan(
            config.voice.language_code, config.voice.name, int(config.voice.ssml_gender), int(cfg.encoding),
            cfg.sample_rate_hertz, cfg.speaking_rate, cfg.pitch_semitones, cfg.volume_gain_db,
            normalize=config.enable_text_normalization if config.HasField("enable_text_normalization") else None)

        chunks = self.core.bidi(plan, payloads(requests, "text"), timeout_s=remaining_s(context),
                                request_id=request_id_var.get())
        async for response in self._stream(plan, chunks, recorder, bidi=True):
            yield response  # type: ignore[misc]

    async def ListVoices(self, request: pb.ListVoicesRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListVoicesResponse:
        voices, next_token = await self.core.list_voices(request.page_size, request.page_token,
                                                         request.language_code)
        return pb.ListVoicesResponse(
            voices=[
                pb.Voice(name=v.name, language_codes=[v.language],
                         ssml_gender=_GENDER.get(v.gender, pb.SSML_VOICE_GENDER_NEUTRAL),
                         natural_sample_rate_hertz=v.natural_sample_rate_hertz,
                         supports_streaming=v.supports_streaming, supports_ssml=True, backend=v.backend,
                         text_normalization=_NORMALIZATION[self.core.text_normalization(v.language)])
                for v in voices
            ],
            next_page_token=next_token,
        )

