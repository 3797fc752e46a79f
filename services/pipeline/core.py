"""Runs pipelines: the unary chain task by task, and live speech to (translated) speech as
three concurrent stages joined by bounded queues. Calls the other services through a
`Backends` object and never imports grpc; downstream errors arrive as domain errors already.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from services.common.calls import CallContext, FieldMap, field_map
from services.common.errors import InvalidArgument, Reason
from services.common.streams import first_config, payloads
from services.pipeline import plan
from services.pipeline.settings import PipelineSettings


class Backends(Protocol):
    async def recognize(self, request: asr_pb.RecognizeRequest, call: CallContext, fields: FieldMap
                        ) -> asr_pb.RecognizeResponse: ...

    async def translate(self, request: nmt_pb.TranslateTextRequest, call: CallContext, fields: FieldMap
                        ) -> nmt_pb.TranslateTextResponse: ...

    async def synthesize(self, request: tts_pb.SynthesizeRequest, call: CallContext, fields: FieldMap
                         ) -> tts_pb.SynthesizeResponse: ...

    def streaming_recognize(self, requests: AsyncIterator[asr_pb.StreamingRecognizeRequest], call: CallContext,
                            fields: FieldMap) -> AsyncIterator[asr_pb.StreamingRecognizeResponse]: ...

    def streaming_synthesize(self, request: tts_pb.StreamingSynthesizeRequest, call: CallContext,
                             fields: FieldMap) -> AsyncIterator[tts_pb.StreamingSynthesizeResponse]: ...


def best_transcript(results: list[asr_pb.SpeechRecognitionResult]) -> str:
    return " ".join(r.alternatives[0].transcript.strip() for r in results
                    if r.alternatives and r.alternatives[0].transcript.strip())


class PipelineCore:
    def __init__(self, settings: PipelineSettings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends

    async def run(self, request: pb.RunPipelineRequest, call: CallContext) -> pb.RunPipelineResponse:
        """Checks the whole chain, then runs it task by task; each output feeds the next task."""
        steps = plan.check(request, self.settings.max_tasks)
        text = request.input.text.text
        audio = request.input.audio.content
        audio_config = request.input.audio.audio_config
        outputs: list[pb.TaskOutput] = []
        for step in steps:
            where = step.field
            own = f"tasks[{step.index}]"
            if step.kind == "asr":
                config = asr_pb.RecognitionConfig()
                config.CopyFrom(step.task.asr)
                if not config.HasField("audio_config"):
                    config.audio_config.CopyFrom(audio_config)
                content_field = "input.audio.content" if step.index == 0 else own
                recognized = await self.backends.recognize(
                    asr_pb.RecognizeRequest(config=config, content=audio), call,
                    field_map({"config": where, "content": content_field}, own))
                text = best_transcript(list(recognized.results))
                outputs.append(pb.TaskOutput(task_index=step.index, transcript=pb.TranscriptOutput(
                    transcript=text, language_code=config.language_code, results=recognized.results,
                    model=recognized.model)))
                if not text and step.index + 1 < len(steps):
                    raise InvalidArgument(f"{own} recognized no speech, so tasks[{step.index + 1}] has no text",
                                          reason=Reason.NO_SPEECH_RECOGNIZED, field=own,
                                          metadata={"task_index": str(step.index)})
            elif step.kind == "translation":
                cfg = step.task.translation
                translated = await self.backends.translate(
                    nmt_pb.TranslateTextRequest(contents=[text], source_language_code=step.language,
                                                target_language_code=cfg.target_language_code, model=cfg.model),
                    call, field_map({name: f"{where}.{name}" for name in
                                     ("source_language_code", "target_language_code", "model")}, own))
                result = translated.translations[0]
                text = result.translated_text
                outputs.append(pb.TaskOutput(task_index=step.index, translation=pb.TranslationOutput(
                    translated_text=text, source_language_code=step.language or result.detected_language_code,
                    target_language_code=cfg.target_language_code, model=result.model)))
            else:
                cfg = step.task.tts
                spoken = await self.backends.synthesize(
                    tts_pb.SynthesizeRequest(input=tts_pb.SynthesisInput(text=text), voice=cfg.voice,
                                             audio_config=cfg.audio_config),
                    call, field_map({"voice": f"{where}.voice", "audio_config": f"{where}.audio_config"}, own))
                audio = spoken.audio_content
                audio_config = audio_pb2.AudioConfig(encoding=spoken.audio_config.encoding,
                                                     sample_rate_hertz=spoken.audio_config.sample_rate_hertz)
                outputs.append(pb.TaskOutput(task_index=step.index, audio=pb.SynthesisOutput(
                    audio_content=spoken.audio_content, audio_config=spoken.audio_config,
                    audio_duration=spoken.audio_duration, voice_name=spoken.voice_name)))
        return pb.RunPipelineResponse(outputs=outputs)

    async def speech_to_speech(self, requests: AsyncIterator[pb.StreamingSpeechToSpeechRequest], call: CallContext
                               ) -> AsyncIterator[pb.StreamingSpeechToSpeechResponse]:
        """Client audio → ASR stream; each final transcript → translation → TTS stream. Three
        stages joined by bounded queues, so a slow client or a slow synthesis stops the reading
        of the recognizer (and so of the client) rather than buffering without end. Any stage's
        failure, or the caller going away, cancels every stage and every downstream call."""
        stream = aiter(requests)
        first = await first_config(stream, self.settings.stream_config_timeout_s)
        config = first.streaming_config
        source, target = plan.check_streaming(config)
        stages = _Stages(self, config, source, target, call)
        async for event in stages.run(stream):
            yield event


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class _Stages:
    """One StreamingSpeechToSpeech call: pump (client → ASR), recognize (ASR → transcripts and
    utterances), speak (utterance → translation → audio), and the events they produce."""

    def __init__(self, core: PipelineCore, config: pb.StreamingSpeechToSpeechConfig, source: str, target: str,
                 call: CallContext) -> None:
        self.core = core
        self.backends = core.backends
        self.settings = core.settings
        self.config = config
        self.source = source
        self.target = target
        self.call = call
        self.audio: asyncio.Queue[bytes | None] = asyncio.Queue(self.settings.max_pending_events)
        self.utterances: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(self.settings.max_pending_utterances)
        self.events: asyncio.Queue[object] = asyncio.Queue(self.settings.max_pending_events)
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self, stream: AsyncIterator[pb.StreamingSpeechToSpeechRequest]
                  ) -> AsyncIterator[pb.StreamingSpeechToSpeechResponse]:
        self.tasks = [asyncio.create_task(self._pump(stream)), asyncio.create_task(self._recognize()),
                      asyncio.create_task(self._speak())]
        for task in self.tasks:
            task.add_done_callback(self._on_done)
        try:
            while True:
                event = await self.events.get()
                if event is _DONE:
                    return
                if isinstance(event, _Failure):
                    raise event.error
                assert isinstance(event, pb.StreamingSpeechToSpeechResponse)
                yield event
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        for other in self.tasks:
            other.cancel()
        # Pending events no longer matter; make room so the failure is the next thing read.
        while not self.events.empty():
            self.events.get_nowait()
        self.events.put_nowait(_Failure(task.exception()))  # type: ignore[arg-type]

    async def _pump(self, stream: AsyncIterator[pb.StreamingSpeechToSpeechRequest]) -> None:
        async for chunk in payloads(stream, "audio"):
            await self.audio.put(chunk)
        await self.audio.put(None)

    async def _asr_requests(self) -> AsyncIterator[asr_pb.StreamingRecognizeRequest]:
        yield asr_pb.StreamingRecognizeRequest(streaming_config=self.config.recognition_config)
        while (chunk := await self.audio.get()) is not None:
            yield asr_pb.StreamingRecognizeRequest(audio=chunk)

    async def _recognize(self) -> None:
        fields = field_map({"streaming_config": "streaming_config.recognition_config"}, "audio")
        responses = self.backends.streaming_recognize(self._asr_requests(), self.call, fields)
        async for response in responses:
            for result in response.results:
                transcript = result.alternatives[0].transcript.strip() if result.alternatives else ""
                await self.events.put(pb.StreamingSpeechToSpeechResponse(
                    utterance_index=result.utterance_index,
                    transcript=pb.StreamingTranscript(
                        transcript=transcript, is_final=result.is_final, stability=result.stability,
                        language_code=result.language_code or self.source,
                        result_end_offset=result.result_end_offset)))
                if result.is_final and transcript:
                    await self.utterances.put((result.utterance_index, transcript))
        await self.utterances.put(None)

    async def _speak(self) -> None:
        nmt_fields = field_map({"target_language_code": "streaming_config.target_language_code",
                                "model": "streaming_config.translation_model",
                                "source_language_code": "streaming_config.recognition_config.config.language_code"},
                               "streaming_config")
        tts_fields = field_map({"voice": "streaming_config.voice", "audio_config": "streaming_config.audio_config"},
                               "streaming_config")
        while (item := await self.utterances.get()) is not None:
            index, text = item
            if self.target:
                translated = await self.backends.translate(
                    nmt_pb.TranslateTextRequest(contents=[text], source_language_code=self.source,
                                                target_language_code=self.target,
                                                model=self.config.translation_model), self.call, nmt_fields)
                result = translated.translations[0]
                text = result.translated_text
                await self.events.put(pb.StreamingSpeechToSpeechResponse(
                    utterance_index=index, translation=pb.TranslationOutput(
                        translated_text=text, source_language_code=self.source,
                        target_language_code=self.target, model=result.model)))
            request = tts_pb.StreamingSynthesizeRequest(input=tts_pb.SynthesisInput(text=text),
                                                        voice=self.config.voice,
                                                        audio_config=self.config.audio_config)
            async for chunk in self.backends.streaming_synthesize(request, self.call, tts_fields):
                await self.events.put(pb.StreamingSpeechToSpeechResponse(
                    utterance_index=index, audio=pb.SynthesizedAudioChunk(
                        audio_content=chunk.audio_content, audio_offset=chunk.audio_offset,
                        audio_config=chunk.audio_config if chunk.HasField("audio_config") else None,
                        voice_name=chunk.voice_name)))
        await self.events.put(_DONE)
