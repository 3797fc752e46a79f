"""gRPC adapter for the TTS core: proto → domain call → proto, and the request record."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import grpc

from ai4vc.tts.v1 import tts_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as pb_grpc
from services.common import audio
from services.common.backends.records import Record, RecordSink
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.logs import request_id_var
from services.common.rpc.context import CallRecorder, duration, remaining_s
from services.common.streams import first_config, payloads
from services.tts.core import Chunk, Plan, TtsCore

_GENDER = {"male": pb.SSML_VOICE_GENDER_MALE, "female": pb.SSML_VOICE_GENDER_FEMALE,
           "neutral": pb.SSML_VOICE_GENDER_NEUTRAL}


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
        pitch=cfg.pitch_semitones, gain=cfg.volume_gain_db, streaming=streaming)


class _Recorder(CallRecorder):
    """Times one call and submits its record when it ends, whatever the outcome."""

    def __init__(self, records: RecordSink, context: grpc.aio.ServicerContext, method: str,
                 usage: UsageMeter | None = None) -> None:
        super().__init__(records, context, method, usage)
        self.audio_s = 0.0

    def submit(self, plan: Plan, status: str) -> None:
        if status == "OK" and self.usage is not None:
            self.usage.record(self.context, characters=plan.characters)
        self.send({
            "voice": plan.voice.name,
            "language": plan.voice.language,
            "characters": plan.characters,
            "audio_seconds": self.audio_s,
            "encoding": audio.encoding_name(plan.output.encoding),
            "status": status,
        })


def _status(exc: BaseException) -> str:
    """What a record says of a call that raised: the reason, or CANCELLED for a client gone away."""
    if isinstance(exc, DomainError):
        return exc.reason
    return "INTERNAL" if isinstance(exc, Exception) else "CANCELLED"


class TtsServicer(pb_grpc.TtsServiceServicer):
    def __init__(self, core: TtsCore, records: RecordSink, usage: UsageMeter | None = None) -> None:
        self.core = core
        self.records = records
        self.usage = usage

    async def Synthesize(self, request: pb.SynthesizeRequest, context: grpc.aio.ServicerContext
                         ) -> pb.SynthesizeResponse:
        recorder = _Recorder(self.records, context, "Synthesize", self.usage)
        plan = await _plan(self.core, request, streaming=False)
        try:
            content, seconds = await self.core.synthesize(plan, timeout_s=remaining_s(context),
                                                          request_id=request_id_var.get())
        except BaseException as exc:
            recorder.submit(plan, _status(exc))
            raise
        recorder.audio_s = seconds
        recorder.submit(plan, "OK")
        return pb.SynthesizeResponse(audio_content=content, audio_config=_audio_config(plan),
                                     audio_duration=duration(seconds), voice_name=plan.voice.name)

    async def _stream(self, plan: Plan, chunks: AsyncIterator[Chunk], recorder: _Recorder, bidi: bool
                      ) -> AsyncIterator[pb.StreamingSynthesizeResponse | pb.BidiStreamingSynthesizeResponse]:
        rate = plan.output.sample_rate_hertz
        per_sample = audio.bytes_per_sample(plan.output.encoding)
        first = True
        status = "OK"
        try:
            async for chunk in chunks:
                kwargs = {"audio_content": chunk.audio_content, "audio_offset": duration(chunk.offset_s)}
                if first:
                    kwargs.update(audio_config=_audio_config(plan), voice_name=plan.voice.name)
                    first = False
                recorder.audio_s = chunk.offset_s + len(chunk.audio_content) / per_sample / rate
                if bidi:
                    yield pb.BidiStreamingSynthesizeResponse(sentence_text=chunk.sentence_text, **kwargs)
                else:
                    yield pb.StreamingSynthesizeResponse(**kwargs)
        except BaseException as exc:
            status = _status(exc)
            raise
        finally:
            recorder.submit(plan, status)

    async def StreamingSynthesize(self, request: pb.StreamingSynthesizeRequest, context: grpc.aio.ServicerContext
                                  ) -> AsyncIterator[pb.StreamingSynthesizeResponse]:
        recorder = _Recorder(self.records, context, "StreamingSynthesize", self.usage)
        plan = await _plan(self.core, request, streaming=True)
        chunks = self.core.stream(plan, plan.pieces, timeout_s=remaining_s(context), request_id=request_id_var.get())
        async for response in self._stream(plan, chunks, recorder, bidi=False):
            yield response  # type: ignore[misc]

    async def BidiStreamingSynthesize(self, request_iterator: AsyncIterator[pb.BidiStreamingSynthesizeRequest],
                                      context: grpc.aio.ServicerContext
                                      ) -> AsyncIterator[pb.BidiStreamingSynthesizeResponse]:
        recorder = _Recorder(self.records, context, "BidiStreamingSynthesize", self.usage)
        requests = aiter(request_iterator)
        first = await first_config(requests)
        config = first.streaming_config
        cfg = config.audio_config
        plan = await self.core.stream_plan(
            config.voice.language_code, config.voice.name, int(config.voice.ssml_gender), int(cfg.encoding),
            cfg.sample_rate_hertz, cfg.speaking_rate, cfg.pitch_semitones, cfg.volume_gain_db)

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
                         supports_streaming=v.supports_streaming, supports_ssml=True, backend=v.backend)
                for v in voices
            ],
            next_page_token=next_token,
        )


async def write_records(conn: asyncpg.Connection, batch: Sequence[Record]) -> None:
    """Idempotent batch insert (replays are harmless)."""
    await conn.executemany(
        "INSERT INTO tts_requests (id, request_id, created_time, principal, method, voice, language, characters,"
        " audio_seconds, encoding, status, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING",
        [
            (
                uuid.UUID(r["id"]), r["request_id"], datetime.datetime.fromisoformat(r["created_time"]),
                r["principal"], r["method"], r["voice"], r["language"], r["characters"], r["audio_seconds"],
                r["encoding"], r["status"], r["latency_ms"],
            )
            for r in batch
        ],
    )
