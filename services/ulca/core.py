"""Maps Dhruva's / ULCA's requests onto the asr, nmt and tts services and their answers back.

Pure mapping and validation over the contracts' messages; the calls go through a `Backends`
object (services/ulca/clients.py) and this module never imports grpc. Every problem with a
request is an INVALID_ARGUMENT naming the ULCA field (config.language.sourceLanguage, …).

Fixes for what Dhruva users meet: ASR audio longer than `segment_above_s` is recognized
utterance by utterance through the ASR service's VAD (StreamingRecognize) instead of in one
model call; a translation whose source equals its target returns the input; TTS answers a
complete WAV at the voice's own rate.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import numpy as np

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.ulca.v1 import ulca_service_pb2 as pb
from services.common import audio
from services.common.calls import CallContext, FieldMap, field_map
from services.common.errors import InvalidArgument, Reason
from services.ulca.settings import TASKS, UlcaSettings

E = audio_pb2.AudioEncoding
AUDIO_FORMATS = {
    "wav": E.AUDIO_ENCODING_WAV,
    "flac": E.AUDIO_ENCODING_FLAC,
    "ogg": E.AUDIO_ENCODING_OGG_OPUS,
    "opus": E.AUDIO_ENCODING_OGG_OPUS,
    "mp3": E.AUDIO_ENCODING_MP3,
    "pcm": E.AUDIO_ENCODING_LINEAR16,
}
GENDERS = {
    "": tts_pb.SSML_VOICE_GENDER_UNSPECIFIED,
    "female": tts_pb.SSML_VOICE_GENDER_FEMALE,
    "male": tts_pb.SSML_VOICE_GENDER_MALE,
}
OWN_PREFIX = "ai4vc/"
PIPELINE_PATH = "/services/inference/pipeline"
# 100 ms of 16-bit audio per streaming chunk at the model's rate; far below the 32 KB limit.
_CHUNK_S = 0.1
_TAKES = {"asr": "audio", "translation": "text", "transliteration": "text", "tts": "text"}
_GIVES = {"asr": "text", "translation": "text", "transliteration": "text", "tts": "audio"}


class Backends(Protocol):
    async def recognize(self, request: asr_pb.RecognizeRequest, call: CallContext, fields: FieldMap
                        ) -> asr_pb.RecognizeResponse: ...

    def streaming_recognize(self, requests: AsyncIterator[asr_pb.StreamingRecognizeRequest], call: CallContext,
                            fields: FieldMap) -> AsyncIterator[asr_pb.StreamingRecognizeResponse]: ...

    async def translate(self, request: nmt_pb.TranslateTextRequest, call: CallContext, fields: FieldMap
                        ) -> nmt_pb.TranslateTextResponse: ...

    async def transliterate(self, request: nmt_pb.TransliterateRequest, call: CallContext, fields: FieldMap
                            ) -> nmt_pb.TransliterateResponse: ...

    async def synthesize(self, request: tts_pb.SynthesizeRequest, call: CallContext, fields: FieldMap
                         ) -> tts_pb.SynthesizeResponse: ...

    async def asr_models(self, call: CallContext) -> list[asr_pb.Model]: ...

    async def language_pairs(self, call: CallContext) -> list[nmt_pb.LanguagePair]: ...

    async def transliteration_pairs(self, call: CallContext) -> list[nmt_pb.TransliterationPair]: ...

    async def voices(self, call: CallContext) -> list[tts_pb.Voice]: ...


@dataclasses.dataclass(frozen=True)
class Service:
    """One serviceId of this deployment: its task, the model (or voice backend) behind it and
    the directions it serves ((source, target); target "" for asr and tts)."""

    service_id: str
    task: str
    model: str
    directions: tuple[tuple[str, str], ...]
    streaming: bool = False


@dataclasses.dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]
    voices: tuple[tts_pb.Voice, ...]

    def of(self, task: str) -> list[Service]:
        return [s for s in self.services if s.task == task]


def base(code: str) -> str:
    """"hi-IN" → "hi", "en_US" → "en": ULCA speaks ISO 639 codes, our services BCP-47."""
    return code.strip().replace("_", "-").split("-")[0].lower()


def catalog_of(models: Sequence[asr_pb.Model], pairs: Sequence[nmt_pb.LanguagePair],
               xlit: Sequence[nmt_pb.TransliterationPair], voices: Sequence[tts_pb.Voice]) -> Catalog:
    """The serviceIds this deployment serves, from what the services' discovery RPCs report:
    ai4vc/asr/<model>, ai4vc/translation/<model>, ai4vc/transliteration/<backend> and
    ai4vc/tts/<backend> (the voice picked by language and gender)."""
    services = [Service(f"{OWN_PREFIX}asr/{m.name}", "asr", m.name,
                        tuple(sorted({(base(c), "") for c in m.language_codes})), m.supports_streaming)
                for m in models]
    by_model: dict[str, set[tuple[str, str]]] = {}
    for p in pairs:
        by_model.setdefault(p.model, set()).add((base(p.source_language_code), base(p.target_language_code)))
    services += [Service(f"{OWN_PREFIX}translation/{m}", "translation", m, tuple(sorted(d)))
                 for m, d in sorted(by_model.items())]
    by_backend: dict[str, set[tuple[str, str]]] = {}
    for x in xlit:
        by_backend.setdefault(x.backend, set()).add((base(x.source_language_code), base(x.target_language_code)))
    services += [Service(f"{OWN_PREFIX}transliteration/{b}", "transliteration", b, tuple(sorted(d)))
                 for b, d in sorted(by_backend.items())]
    by_voice: dict[str, set[tuple[str, str]]] = {}
    for v in voices:
        by_voice.setdefault(v.backend, set()).update((base(c), "") for c in v.language_codes)
    services += [Service(f"{OWN_PREFIX}tts/{b}", "tts", b, tuple(sorted(d))) for b, d in sorted(by_voice.items())]
    return Catalog(tuple(services), tuple(voices))


def audio_bytes(item: pb.AudioItem, field: str) -> bytes:
    """The bytes of one audio item: audioContent, or a data: URI's payload. Other URIs are
    refused: fetching a caller's URL from inside the mesh would let any caller make the
    platform request internal addresses (server-side request forgery)."""
    if item.audio_content:
        return item.audio_content
    uri = item.audio_uri.strip()
    if not uri:
        raise InvalidArgument(f"{field} needs audioContent (base64) or a data: audioUri",
                              reason=Reason.FIELD_REQUIRED, field=f"{field}.audioContent")
    if not uri.lower().startswith("data:"):
        scheme = uri.split(":", 1)[0][:16] if ":" in uri else "a relative"
        raise InvalidArgument(
            f"{field}.audioUri is {scheme!r} URI: this platform fetches no URL on a caller's behalf; "
            "send the audio as audioContent (base64) or as a data: URI", reason=Reason.UNSUPPORTED_AUDIO_URI,
            field=f"{field}.audioUri", metadata={"scheme": scheme})
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise InvalidArgument(f"{field}.audioUri is a data: URI without ','", reason=Reason.UNSUPPORTED_AUDIO_URI,
                              field=f"{field}.audioUri")
    try:
        data = base64.b64decode(payload, validate=True) if header.endswith(";base64") \
            else urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{field}.audioUri holds invalid base64", reason=Reason.AUDIO_UNDECODABLE,
                              field=f"{field}.audioUri") from None
    if not data:
        raise InvalidArgument(f"{field}.audioUri holds no audio", reason=Reason.FIELD_REQUIRED,
                              field=f"{field}.audioUri")
    return data


def texts_of(items: Sequence[pb.TextItem], field: str, limit: int) -> list[str]:
    if not items:
        raise InvalidArgument(f"{field} needs at least one {{\"source\": ...}}", reason=Reason.FIELD_REQUIRED,
                              field=field)
    if len(items) > limit:
        raise InvalidArgument(f"{field} holds {len(items)} items, at most {limit}", reason=Reason.TOO_MANY_CONTENTS,
                              field=field)
    for index, item in enumerate(items):
        if not item.source.strip():
            raise InvalidArgument(f"{field}[{index}].source is empty", reason=Reason.FIELD_REQUIRED,
                                  field=f"{field}[{index}].source")
    return [item.source for item in items]


def source_language(config: pb.TaskConfig, prefix: str) -> str:
    language = base(config.language.source_language)
    if not language:
        raise InvalidArgument(f"{prefix}.language.sourceLanguage is required", reason=Reason.FIELD_REQUIRED,
                              field=f"{prefix}.language.sourceLanguage")
    return language


def target_language(config: pb.TaskConfig, prefix: str) -> str:
    language = base(config.language.target_language)
    if not language:
        raise InvalidArgument(f"{prefix}.language.targetLanguage is required", reason=Reason.FIELD_REQUIRED,
                              field=f"{prefix}.language.targetLanguage")
    return language


def script_code(language: str, script: str) -> str:
    """ULCA language + ISO 15924 script → BCP-47 ("hi", "Latn" → "hi-Latn"); no script: the
    language alone (its usual script)."""
    script = script.strip()
    return f"{language}-{script[:1].upper()}{script[1:].lower()}" if script else language


def wav_rate(data: bytes) -> int:
    """Sample rate in a RIFF/WAVE header (0 when there is none)."""
    if len(data) >= 28 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return int.from_bytes(data[24:28], "little")
    return 0


class UlcaCore:
    def __init__(self, settings: UlcaSettings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends
        self.aliases = settings.aliases()
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._lock = asyncio.Lock()

    # -- serviceIds ----------------------------------------------------------------------

    async def catalog(self, call: CallContext) -> Catalog:
        """What the services report they serve, cached for catalog_ttl_s."""
        async with self._lock:
            if self._catalog is None or time.monotonic() - self._catalog_at > self.settings.catalog_ttl_s:
                models, pairs, xlit, voices = await asyncio.gather(
                    self.backends.asr_models(call), self.backends.language_pairs(call),
                    self.backends.transliteration_pairs(call), self.backends.voices(call))
                self._catalog = catalog_of(models, pairs, xlit, voices)
                self._catalog_at = time.monotonic()
            return self._catalog

    async def model_for(self, task: str, service_id: str, field: str, call: CallContext) -> str:
        """The model (tts, transliteration: the backend) a serviceId selects; "" for the
        deployment's default. Unknown ids, and ids of another task, are UNKNOWN_SERVICE_ID."""
        service_id = service_id.strip()
        if not service_id:
            return ""
        if service_id in self.aliases:
            aliased, model = self.aliases[service_id]
            if aliased != task:
                raise InvalidArgument(f"serviceId {service_id!r} is a {aliased} service, not {task}",
                                      reason=Reason.UNKNOWN_SERVICE_ID, field=field,
                                      metadata={"service_id": service_id[:128], "task": aliased})
            return model
        if not service_id.startswith(OWN_PREFIX):
            raise InvalidArgument(f"no {task} service has serviceId {service_id[:128]!r}: this deployment serves its "
                                  f"own ({OWN_PREFIX}{task}/..., see getModelsPipeline) and Dhruva's published ids",
                                  reason=Reason.UNKNOWN_SERVICE_ID, field=field,
                                  metadata={"service_id": service_id[:128]})
        own_task = service_id[len(OWN_PREFIX):].split("/", 1)[0]
        if own_task != task:
            raise InvalidArgument(f"serviceId {service_id[:128]!r} is not a {task} service",
                                  reason=Reason.UNKNOWN_SERVICE_ID, field=field,
                                  metadata={"service_id": service_id[:128]})
        catalog = await self.catalog(call)
        for service in catalog.services:
            if service.service_id == service_id:
                if service.task != task:
                    raise InvalidArgument(f"serviceId {service_id!r} is a {service.task} service, not {task}",
                                          reason=Reason.UNKNOWN_SERVICE_ID, field=field,
                                          metadata={"service_id": service_id, "task": service.task})
                return service.model
        known = ", ".join(s.service_id for s in catalog.of(task)) or "none"
        raise InvalidArgument(f"no {task} service has serviceId {service_id[:128]!r}; this deployment serves: {known}"
                              " (see getModelsPipeline)", reason=Reason.UNKNOWN_SERVICE_ID, field=field,
                              metadata={"service_id": service_id[:128]})

    # -- single tasks --------------------------------------------------------------------

    async def asr(self, config: pb.TaskConfig, items: Sequence[pb.AudioItem], call: CallContext,
                  prefix: str = "config", items_field: str = "audio") -> list[pb.TextOutput]:
        language = source_language(config, prefix)
        model = await self.model_for("asr", config.service_id, f"{prefix}.serviceId", call)
        audio_format = (config.audio_format or "wav").strip().lower()
        if audio_format not in AUDIO_FORMATS:
            raise InvalidArgument(f"{prefix}.audioFormat {audio_format[:32]!r} is not one of "
                                  f"{', '.join(AUDIO_FORMATS)}",
                                  reason=Reason.UNSUPPORTED_ENCODING, field=f"{prefix}.audioFormat")
        encoding = AUDIO_FORMATS[audio_format]
        rate = config.sampling_rate
        if encoding == E.AUDIO_ENCODING_LINEAR16 and not rate:
            raise InvalidArgument(f"{prefix}.samplingRate is required for pcm audio", reason=Reason.FIELD_REQUIRED,
                                  field=f"{prefix}.samplingRate")
        if rate and not audio.MIN_SAMPLE_RATE_HERTZ <= rate <= audio.MAX_SAMPLE_RATE_HERTZ:
            raise InvalidArgument(f"{prefix}.samplingRate={rate} is outside 8000-48000",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=f"{prefix}.samplingRate")
        if not items:
            raise InvalidArgument(f"{items_field} needs at least one {{\"audioContent\": ...}}",
                                  reason=Reason.FIELD_REQUIRED, field=items_field)
        if len(items) > self.settings.max_audio_items:
            raise InvalidArgument(f"{items_field} holds {len(items)} items, at most {self.settings.max_audio_items}",
                                  reason=Reason.TOO_MANY_CONTENTS, field=items_field)
        clips = [audio_bytes(item, f"{items_field}[{i}]") for i, item in enumerate(items)]
        punctuation = any(p.strip().lower() == "punctuation" for p in config.post_processors)
        outputs = []
        for index, content in enumerate(clips):
            where = f"{items_field}[{index}]"
            # A WAV's own header says its rate; Dhruva clients often send a samplingRate that
            # disagrees with it (44100 by habit): the header wins, as Dhruva's decoder lets it.
            declared = 0 if encoding != E.AUDIO_ENCODING_LINEAR16 else rate
            samples, sample_rate = audio.decode(content, encoding, declared, field=f"{where}.audioContent",
                                                encoding_field=f"{prefix}.audioFormat",
                                                rate_field=f"{prefix}.samplingRate")
            recognition = asr_pb.RecognitionConfig(
                language_code=language, model=model, enable_automatic_punctuation=punctuation,
                audio_config=audio_pb2.AudioConfig(encoding=encoding, sample_rate_hertz=declared))
            fields = field_map({"config.model": f"{prefix}.serviceId", "config.language_code":
                                f"{prefix}.language.sourceLanguage", "config.audio_config": f"{prefix}.audioFormat",
                                "streaming_config.config.model": f"{prefix}.serviceId",
                                "streaming_config.config.language_code": f"{prefix}.language.sourceLanguage"},
                               f"{where}.audioContent")
            seconds = samples.size / sample_rate if sample_rate else 0.0
            if seconds > self.settings.segment_above_s:
                text = await self._segmented(recognition, samples, sample_rate, call, fields)
            else:
                answer = await self.backends.recognize(asr_pb.RecognizeRequest(config=recognition, content=content),
                                                       call, fields)
                text = " ".join(r.alternatives[0].transcript.strip() for r in answer.results
                                if r.alternatives and r.alternatives[0].transcript.strip())
            outputs.append(pb.TextOutput(source=text))
        return outputs

    async def _segmented(self, recognition: asr_pb.RecognitionConfig, samples: np.ndarray, rate: int,
                         call: CallContext, fields: FieldMap) -> str:
        """Long audio through the ASR service's VAD: streamed as 16-bit PCM, one final result
        per utterance, joined in order."""
        config = asr_pb.RecognitionConfig()
        config.CopyFrom(recognition)
        config.audio_config.CopyFrom(audio_pb2.AudioConfig(encoding=E.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=rate))
        pcm = audio.to_pcm16(samples).tobytes()
        step = max(2, int(rate * _CHUNK_S) * 2)

        async def requests() -> AsyncIterator[asr_pb.StreamingRecognizeRequest]:
            yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(config=config))
            for start in range(0, len(pcm), step):
                yield asr_pb.StreamingRecognizeRequest(audio=pcm[start:start + step])

        finals: dict[int, str] = {}
        async for response in self.backends.streaming_recognize(requests(), call, fields):
            for result in response.results:
                if result.is_final and result.alternatives and result.alternatives[0].transcript.strip():
                    finals[result.utterance_index] = result.alternatives[0].transcript.strip()
        return " ".join(finals[i] for i in sorted(finals))

    async def translation(self, config: pb.TaskConfig, texts: list[str], call: CallContext,
                          prefix: str = "config", items_field: str = "input") -> list[pb.TextOutput]:
        source = source_language(config, prefix)
        target = target_language(config, prefix)
        model = await self.model_for("translation", config.service_id, f"{prefix}.serviceId", call)
        if source == target:
            # Nothing to translate: Dhruva sends such requests to the model, which garbles them.
            return [pb.TextOutput(source=t, target=t) for t in texts]
        fields = field_map({"source_language_code": f"{prefix}.language.sourceLanguage",
                            "target_language_code": f"{prefix}.language.targetLanguage",
                            "model": f"{prefix}.serviceId", "contents": items_field}, items_field)
        answer = await self.backends.translate(nmt_pb.TranslateTextRequest(
            contents=texts, source_language_code=source, target_language_code=target, model=model), call, fields)
        return [pb.TextOutput(source=s, target=t.translated_text) for s, t in zip(texts, answer.translations,
                                                                                 strict=True)]

    async def transliteration(self, config: pb.TaskConfig, texts: list[str], call: CallContext,
                              prefix: str = "config", items_field: str = "input") -> list[pb.TransliterationOutput]:
        source = source_language(config, prefix)
        target = target_language(config, prefix)
        await self.model_for("transliteration", config.service_id, f"{prefix}.serviceId", call)
        if not 0 <= config.num_suggestions <= 10:
            raise InvalidArgument(f"{prefix}.numSuggestions must be 0 to 10", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field=f"{prefix}.numSuggestions")
        fields = field_map({"source_language_code": f"{prefix}.language.sourceLanguage",
                            "target_language_code": f"{prefix}.language.targetLanguage",
                            "top_k": f"{prefix}.numSuggestions", "contents": items_field}, items_field)
        answer = await self.backends.transliterate(nmt_pb.TransliterateRequest(
            contents=texts, source_language_code=script_code(source, config.language.source_script_code),
            target_language_code=script_code(target, config.language.target_script_code),
            is_word_level=not config.is_sentence, top_k=1 if config.is_sentence else config.num_suggestions),
            call, fields)
        return [pb.TransliterationOutput(source=s, target=list(t.candidates))
                for s, t in zip(texts, answer.transliterations, strict=True)]

    async def tts(self, config: pb.TaskConfig, texts: list[str], call: CallContext, prefix: str = "config",
                  items_field: str = "input") -> tuple[list[pb.AudioItem], pb.TtsAudioConfig]:
        language = source_language(config, prefix)
        backend = await self.model_for("tts", config.service_id, f"{prefix}.serviceId", call)
        gender = config.gender.strip().lower()
        if gender not in GENDERS:
            raise InvalidArgument(f"{prefix}.gender must be \"female\" or \"male\"", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field=f"{prefix}.gender")
        audio_format = (config.audio_format or "wav").strip().lower()
        if audio_format != "wav":
            raise InvalidArgument(f"{prefix}.audioFormat {audio_format[:32]!r}: only wav is produced",
                                  reason=Reason.UNSUPPORTED_ENCODING, field=f"{prefix}.audioFormat")
        voice = tts_pb.VoiceSelectionParams(language_code=language, ssml_gender=GENDERS[gender])
        if backend:
            voice.name = await self._voice(backend, language, GENDERS[gender], prefix, call)
        outputs = []
        rate = 0
        for index, text in enumerate(texts):
            answer = await self.backends.synthesize(tts_pb.SynthesizeRequest(
                input=tts_pb.SynthesisInput(text=text), voice=voice,
                audio_config=tts_pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_WAV)), call,
                field_map({"voice.name": f"{prefix}.serviceId", "voice.ssml_gender": f"{prefix}.gender",
                           "voice": f"{prefix}.language.sourceLanguage"}, f"{items_field}[{index}].source"))
            rate = answer.audio_config.sample_rate_hertz or wav_rate(answer.audio_content)
            outputs.append(pb.AudioItem(audio_content=answer.audio_content))
        return outputs, pb.TtsAudioConfig(language=pb.LanguageConfig(source_language=language), audio_format="wav",
                                          encoding="base64", sampling_rate=rate)

    async def _voice(self, backend: str, language: str, gender: int, prefix: str, call: CallContext) -> str:
        """The voice of `backend` speaking `language` (with `gender` when set)."""
        catalog = await self.catalog(call)
        voices = [v for v in catalog.voices if v.backend == backend and language in {base(c) for c in v.language_codes}]
        if not voices:
            raise InvalidArgument(f"serviceId {OWN_PREFIX}tts/{backend} has no voice for {language!r}",
                                  reason=Reason.UNSUPPORTED_LANGUAGE, field=f"{prefix}.language.sourceLanguage")
        matching = [v for v in voices if not gender or v.ssml_gender == gender]
        if not matching:
            raise InvalidArgument(f"no {language!r} voice of that gender", reason=Reason.NO_MATCHING_VOICE,
                                  field=f"{prefix}.gender")
        return sorted(matching, key=lambda v: v.name)[0].name

    # -- pipelines -----------------------------------------------------------------------

    def _task_types(self, tasks: Sequence[pb.UlcaPipelineTask]) -> list[str]:
        if not tasks:
            raise InvalidArgument("pipelineTasks needs at least one task", reason=Reason.FIELD_REQUIRED,
                                  field="pipelineTasks")
        if len(tasks) > self.settings.max_tasks:
            raise InvalidArgument(f"pipelineTasks holds {len(tasks)} tasks, at most {self.settings.max_tasks}",
                                  reason=Reason.INVALID_PIPELINE, field="pipelineTasks")
        kinds = []
        for index, task in enumerate(tasks):
            kind = task.task_type.strip().lower()
            if kind not in TASKS:
                raise InvalidArgument(f"pipelineTasks[{index}].taskType {task.task_type[:32]!r} is not one of "
                                      f"{', '.join(TASKS)}", reason=Reason.INVALID_PIPELINE,
                                      field=f"pipelineTasks[{index}].taskType")
            kinds.append(kind)
        return kinds

    async def pipeline(self, request: pb.ComputePipelineRequest, call: CallContext) -> pb.ComputePipelineResponse:
        """Runs the tasks in order, each on every output item of the one before."""
        kinds = self._task_types(request.pipeline_tasks)
        carrying = _TAKES[kinds[0]]
        for index, kind in enumerate(kinds):
            if _TAKES[kind] != carrying:
                raise InvalidArgument(f"pipelineTasks[{index}] ({kind}) takes {_TAKES[kind]} but "
                                      f"{'the task before' if index else 'the input'} gives {carrying}",
                                      reason=Reason.INVALID_PIPELINE, field=f"pipelineTasks[{index}]")
            carrying = _GIVES[kind]
        data = request.input_data
        texts: list[str] = []
        clips: Sequence[pb.AudioItem] = []
        if kinds[0] == "asr":
            clips = data.audio
        else:
            texts = texts_of(data.input, "inputData.input", self.settings.max_text_items)
        out = pb.ComputePipelineResponse()
        for index, (kind, task) in enumerate(zip(kinds, request.pipeline_tasks, strict=True)):
            prefix = f"pipelineTasks[{index}].config"
            items = "inputData.audio" if index == 0 and kind == "asr" else \
                "inputData.input" if index == 0 else f"pipelineTasks[{index - 1}].output"
            entry = out.pipeline_response.add(task_type=kind)
            if kind == "asr":
                outputs = await self.asr(task.config, clips, call, prefix, items)
                entry.output.extend(outputs)
                texts = [o.source for o in outputs]
            elif kind == "translation":
                outputs = await self.translation(task.config, texts, call, prefix, items)
                entry.output.extend(outputs)
                texts = [o.target for o in outputs]
            elif kind == "transliteration":
                xlits = await self.transliteration(task.config, texts, call, prefix, items)
                entry.output.extend(pb.TextOutput(source=x.source, target=x.target[0] if x.target else "")
                                    for x in xlits)
                texts = [o.target for o in entry.output]
            else:
                if not any(t.strip() for t in texts):
                    raise InvalidArgument(f"pipelineTasks[{index}] (tts) has no text to speak: the task before "
                                          "gave none", reason=Reason.NO_SPEECH_RECOGNIZED, field=items)
                clips_out, config = await self.tts(task.config, [t for t in texts if t.strip()], call, prefix, items)
                entry.audio.extend(clips_out)
                entry.config.CopyFrom(config)
        return out

    async def models_pipeline(self, request: pb.GetModelsPipelineRequest, call: CallContext
                              ) -> pb.GetModelsPipelineResponse:
        """Per requested task, the serviceIds that serve its (requested) languages; the first
        task's languages with what the chain reaches from each; where to send the compute."""
        kinds = self._task_types(request.pipeline_tasks)
        catalog = await self.catalog(call)
        out = pb.GetModelsPipelineResponse()
        offered: list[list[tuple[str, str]]] = []
        for kind, task in zip(kinds, request.pipeline_tasks, strict=True):
            want_source = base(task.config.language.source_language)
            want_target = base(task.config.language.target_language)
            entry = out.pipeline_response_config.add(task_type=kind)
            directions = []
            for service in catalog.of(kind):
                for source, target in service.directions:
                    if (want_source and source != want_source) or (want_target and target != want_target):
                        continue
                    directions.append((source, target))
                    entry.config.add(service_id=service.service_id, model_id=service.model,
                                     language=pb.LanguageConfig(source_language=source, target_language=target))
            offered.append(directions)
        reach: dict[str, set[str]] = {s: {t or s} for s, t in offered[0]}
        for directions in offered[1:]:
            for source, ends in reach.items():
                reach[source] = {t or e for e in ends for s, t in directions if s == e}
        for source in sorted(reach):
            out.languages.add(source_language=source, target_language_list=sorted(reach[source]))
        endpoint = out.pipeline_inference_api_end_point
        endpoint.callback_url = self.settings.public_url.rstrip("/") + PIPELINE_PATH
        endpoint.inference_api_key.name = "Authorization"
        endpoint.is_sync_api = True
        return out
