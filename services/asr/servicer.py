"""gRPC adapter for the ASR core: proto → domain call → proto. Every recognition is recorded
(whatever its outcome) and meters the seconds of audio it took."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import grpc

from ai4vc.asr.v1 import asr_service_pb2 as pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from services.asr import records as asr_records
from services.asr.core import AsrCore, Options, RecognitionWarning, SpeechContext, Utterance, supports_boosting
from services.asr.sequence import SequenceClient
from services.asr.stream import Event, Final, Interim, StreamSession, make_endpointing
from services.common.backends.records import RecordSink
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.logs import request_id_var
from services.common.rpc.admission import LagProbe
from services.common.rpc.context import CallRecorder, duration, remaining_s, status_of
from services.common.streams import first_config, payloads

_FORMATS = {pb.SUBTITLE_FORMAT_SRT: "srt", pb.SUBTITLE_FORMAT_WEBVTT: "webvtt"}
_FORMAT_ENUM = {v: k for k, v in _FORMATS.items()}
_EVENTS = {"begin": pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN, "end": pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END,
           "single_end": pb.SPEECH_EVENT_TYPE_END_OF_SINGLE_UTTERANCE,
           "timeout": pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_TIMEOUT}


def _seconds(message: pb.EndpointingConfig, name: str) -> float | None:
    return getattr(message, name).ToNanoseconds() / 1e9 if message.HasField(name) else None  # type: ignore[arg-type]


def options_of(config: pb.RecognitionConfig, prefix: str) -> Options:
    a = config.audio_config
    return Options(
        language_code=config.language_code, encoding=int(a.encoding), model=config.model,
        sample_rate_hertz=a.sample_rate_hertz, channels=a.audio_channel_count,
        max_alternatives=config.max_alternatives, word_time_offsets=config.enable_word_time_offsets,
        word_confidence=config.enable_word_confidence, profanity_filter=config.profanity_filter,
        subtitle_formats=tuple(_FORMATS.get(f, "") for f in config.subtitle_formats),
        store_audio=config.store_audio,
        inverse_text_normalization=(config.enable_inverse_text_normalization
                                    if config.HasField("enable_inverse_text_normalization") else None),
        speech_contexts=tuple(SpeechContext(tuple(c.phrases), c.boost) for c in config.speech_contexts),
        prefix=prefix)


def warnings_of(warnings: list[RecognitionWarning]) -> list[pb.RecognitionWarning]:
    return [pb.RecognitionWarning(reason=w.reason, field=w.field, message=w.message) for w in warnings]


def alternative(u: Utterance, options: Options) -> pb.SpeechRecognitionAlternative:
    words = []
    if options.word_time_offsets or options.word_confidence:
        for w in u.words:
            info = pb.WordInfo(word=w.word, confidence=w.confidence if options.word_confidence else 0.0,
                               spoken_word=w.spoken)
            if options.word_time_offsets:
                info.start_offset.CopyFrom(duration(w.start_s))
                info.end_offset.CopyFrom(duration(w.end_s))
            words.append(info)
    return pb.SpeechRecognitionAlternative(transcript=u.transcript, confidence=u.confidence, words=words,
                                           inverse_text_normalized=u.normalized, spoken_transcript=u.spoken)


class AsrServicer(pb_grpc.AsrServiceServicer):
    def __init__(self, core: AsrCore, sequences: SequenceClient, records: RecordSink,
                 usage: UsageMeter | None = None, stream_lag: LagProbe | None = None) -> None:
        self.core = core
        self.stream_lag = stream_lag
        self.sequences = sequences
        self.records = records
        self.usage = usage

    async def Recognize(self, request: pb.RecognizeRequest, context: grpc.aio.ServicerContext
                        ) -> pb.RecognizeResponse:
        recorder = CallRecorder(self.records, context, "Recognize", self.usage)
        options = options_of(request.config, "config.")
        try:
            result = await self.core.recognize(options, request.content, timeout_s=remaining_s(context),
                                               request_id=request_id_var.get())
        except DomainError as exc:
            recorder.send(asr_records.recognition(
                model=options.model, language=options.language_code, options=options, audio_s=0.0,
                sample_rate=options.sample_rate_hertz, status=exc.reason, utterances=()))
            raise
        # Recorded as sent: the header's encoding when it had one (stored audio stays decodable).
        recorder.send(asr_records.recognition(
            model=result.model, language=result.language,
            options=dataclasses.replace(options, encoding=result.encoding or options.encoding),
            audio_s=result.duration_s,
            sample_rate=result.sample_rate_hertz, status="OK", utterances=result.utterances,
            stored=request.content), audio_seconds=result.duration_s)
        return pb.RecognizeResponse(
            results=[pb.SpeechRecognitionResult(alternatives=[alternative(u, options)],
                                                language_code=request.config.language_code,
                                                result_end_offset=duration(u.end_s))
                     for u in result.utterances],
            audio_duration=duration(result.duration_s), model=result.model,
            subtitles=[pb.Subtitle(format=_FORMAT_ENUM[f], content=c) for f, c in result.subtitles],  # type: ignore[arg-type]
            warnings=warnings_of(result.warnings))

    async def StreamingRecognize(self, request_iterator: AsyncIterator[pb.StreamingRecognizeRequest],
                                 context: grpc.aio.ServicerContext) -> AsyncIterator[pb.StreamingRecognizeResponse]:
        requests = aiter(request_iterator)
        first = await first_config(requests, self.core.settings.stream_config_timeout_s)
        sc = first.streaming_config
        options = dataclasses.replace(options_of(sc.config, "streaming_config.config."),
                                      interim_inverse_text_normalization=sc.interim_inverse_text_normalization)
        ep = sc.endpointing
        endpointing = make_endpointing(
            interim_results=sc.interim_results, single_utterance=sc.single_utterance,
            voice_activity_events=sc.enable_voice_activity_events,
            speech_start_timeout_s=_seconds(ep, "speech_start_timeout"),
            end_of_utterance_silence_s=_seconds(ep, "end_of_utterance_silence"),
            max_utterance_s=_seconds(ep, "max_utterance_duration"))
        info, language = await self.core.resolve(options, streaming=True)
        lag = self.stream_lag.open() if self.stream_lag is not None else None
        session = StreamSession(self.core, self.sequences, info, language, options, endpointing,
                                request_id_var.get(), lag)
        recorder = CallRecorder(self.records, context, "StreamingRecognize", self.usage)

        status = "OK"
        self.core.sessions.add(session)
        warned = 0
        try:
            async for item in session.run(payloads(requests, "audio")):
                response = self._response(item, sc.config.language_code, options)
                # Each warning once, on the first response after it is known.
                response.warnings.extend(warnings_of(session.warnings[warned:]))
                warned = len(session.warnings)
                yield response
        except BaseException as exc:
            status = status_of(exc)
            raise
        finally:
            self.core.sessions.discard(session)
            if lag is not None:
                lag.close()
            # Audio the stream took is metered whatever the outcome: it was processed.
            decoder = session.decoder
            recorder.send(asr_records.recognition(
                model=info.name, language=language,
                options=dataclasses.replace(options, encoding=decoder.encoding or options.encoding),
                audio_s=session.received_s, sample_rate=decoder.sample_rate or options.sample_rate_hertz, status=status,
                utterances=session.utterances,
                stored=bytes(session.stored), truncated=session.stored_truncated),
                audio_seconds=session.received_s)

    @staticmethod
    def _response(item: Interim | Final | Event, language_code: str, options: Options
                  ) -> pb.StreamingRecognizeResponse:
        if isinstance(item, Event):
            return pb.StreamingRecognizeResponse(speech_event_type=_EVENTS[item.kind],  # type: ignore[arg-type]
                                                 speech_event_offset=duration(item.offset_s),
                                                 audio_processed=duration(item.processed_s))
        if isinstance(item, Interim):
            result = pb.StreamingRecognitionResult(
                alternatives=[pb.SpeechRecognitionAlternative(
                    transcript=item.transcript, inverse_text_normalized=item.normalized,
                    spoken_transcript=item.spoken)], is_final=False,
                stability=item.stability, result_end_offset=duration(item.end_s),
                utterance_index=item.utterance_index, language_code=language_code)
        else:
            u = item.utterance
            result = pb.StreamingRecognitionResult(
                alternatives=[alternative(u, options)], is_final=True, result_end_offset=duration(u.end_s),
                utterance_index=u.index, language_code=language_code)
        return pb.StreamingRecognizeResponse(results=[result], audio_processed=duration(item.processed_s))

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListModelsResponse:
        models, next_token = await self.core.list_models(request.page_size, request.page_token,
                                                         request.language_code)
        return pb.ListModelsResponse(
            models=[
                pb.Model(
                    name=m.name,
                    description=m.parameters.get("description") or (
                        f"{m.backend} {'streaming' if m.streaming else 'offline'} recognizer; languages: "
                        f"{', '.join(m.languages)}"),
                    language_codes=list(m.languages), supports_streaming=m.streaming,
                    sample_rate_hertz=m.sample_rate_hertz, supports_automatic_punctuation=False,
                    supports_word_time_offsets=m.parameters.get("word_times", "true").lower() != "false",
                    backend=f"triton:{m.name}", supports_word_boosting=supports_boosting(m),
                    inverse_text_normalization_language_codes=self.core.itn_languages(m.languages))
                for m in models
            ],
            next_page_token=next_token,
        )

