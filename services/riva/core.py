"""Riva's ASR, TTS and NMT messages mapped onto our asr, tts and nmt services and back. A thin
adapter: every answer comes from those services (through `Backends`); this module only
translates requests, results, errors' fields and audio framing. Knows nothing of grpc.

Quirks of Riva clients it absorbs:
- the streaming example sends no encoding or sample rate, and its first audio chunk starts
  with the WAV file's header: the audio is passed on as it came, encoding unspecified, and our
  ASR reads the header (services.common.audio.sniff; a declared rate it contradicts is
  SAMPLE_RATE_MISMATCH, reported on Riva's field);
- a Recognize of a whole WAV file (header included) is passed on the same way;
- language codes are BCP-47 ("en-US", "hi-IN"): our services key models by the primary
  subtag, so they are passed on as they are; an empty code is Riva's default, "en-US";
- Riva voice names are `voice_name.subvoice` from GetRivaSynthesisConfig: here the subvoice
  is the voice's gender, so "hi-female.Female" and "hi-female" name the same voice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

from google.protobuf import duration_pb2
from google.protobuf.message import Message

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from riva.proto import riva_asr_pb2 as rasr
from riva.proto import riva_audio_pb2 as raudio
from riva.proto import riva_nmt_pb2 as rnmt
from riva.proto import riva_tts_pb2 as rtts
from services.common.calls import CallContext, FieldMap, field_map
from services.common.errors import DomainError, InvalidArgument, Reason
from services.common.paging import all_pages
from services.common.streams import first_config, payloads
from services.riva.settings import RivaSettings

E = audio_pb2.AudioEncoding
RE = raudio.AudioEncoding
M = TypeVar("M", bound=Message)

# Riva's documented default language.
DEFAULT_LANGUAGE = "en-US"
# Riva encodings → ours, for audio clients send (ASR) and audio they ask for (TTS).
ENCODINGS: dict[int, audio_pb2.AudioEncoding] = {
    RE.LINEAR_PCM: E.AUDIO_ENCODING_LINEAR16,
    RE.FLAC: E.AUDIO_ENCODING_FLAC,
    RE.MULAW: E.AUDIO_ENCODING_MULAW,
    RE.OGGOPUS: E.AUDIO_ENCODING_OGG_OPUS,
    RE.ALAW: E.AUDIO_ENCODING_ALAW,
}
# The subvoice GetRivaSynthesisConfig lists for a voice: its gender.
GENDERS: dict[int, str] = {
    tts_pb.SSML_VOICE_GENDER_FEMALE: "Female",
    tts_pb.SSML_VOICE_GENDER_MALE: "Male",
    tts_pb.SSML_VOICE_GENDER_NEUTRAL: "Neutral",
}

# Our request's field paths → Riva's (errors name the field the Riva client sent).
RECOGNIZE_FIELDS = field_map({"config.audio_config": "config", "config": "config", "content": "audio"}, "audio")
STREAMING_FIELDS = field_map({"streaming_config.config.audio_config": "streaming_config.config",
                              "streaming_config": "streaming_config", "audio": "audio_content"}, "audio_content")
SYNTHESIZE_FIELDS = field_map({"input.text": "text", "input": "text", "voice.language_code": "language_code",
                               "voice.name": "voice_name", "voice": "voice_name",
                               "audio_config.encoding": "encoding", "audio_config.sample_rate_hertz": "sample_rate_hz",
                               "audio_config": "encoding"}, "text")
TRANSLATE_FIELDS = field_map({"contents": "texts", "source_language_code": "source_language",
                              "target_language_code": "target_language", "model": "model",
                              "do_not_translate": "dnt_phrases"}, "texts")


class Backends(Protocol):
    async def unary(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap) -> Any: ...

    def stream(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap
               ) -> AsyncIterator[Any]: ...


def _no_field(field: str) -> str:
    return ""


# --- ASR -------------------------------------------------------------------------------------

def ms(value: duration_pb2.Duration) -> int:
    return round(value.ToNanoseconds() / 1e6)


def seconds(value: duration_pb2.Duration) -> float:
    return value.ToNanoseconds() / 1e9


def alternative(ours: asr_pb.SpeechRecognitionAlternative, language: str) -> rasr.SpeechRecognitionAlternative:
    """Our alternative as Riva's: words with start/end times in milliseconds."""
    return rasr.SpeechRecognitionAlternative(
        transcript=ours.transcript, confidence=ours.confidence,
        words=[rasr.WordInfo(word=w.word, start_time=ms(w.start_offset), end_time=ms(w.end_offset),
                             confidence=w.confidence, language_code=language) for w in ours.words],
        language_code=[language] if language else [])


def _check_features(config: rasr.RecognitionConfig, prefix: str) -> None:
    """Riva options that would change the answer and that our services do not offer: refused,
    never silently dropped."""
    if config.diarization_config.enable_speaker_diarization:
        field = f"{prefix}diarization_config.enable_speaker_diarization"
        raise InvalidArgument(f"{field}: speaker diarization is not offered here", reason=Reason.UNSUPPORTED_FEATURE,
                              field=field)
    if config.enable_separate_recognition_per_channel:
        field = f"{prefix}enable_separate_recognition_per_channel"
        raise InvalidArgument(f"{field}: channels are mixed down, not recognized separately",
                              reason=Reason.UNSUPPORTED_FEATURE, field=field)


def recognition_config(config: rasr.RecognitionConfig, audio_config: audio_pb2.AudioConfig, prefix: str
                       ) -> asr_pb.RecognitionConfig:
    """Riva's RecognitionConfig as ours. Word boosting (speech_contexts) goes on as ours (a boost
    outside 0..20 is refused on Riva's field); verbatim_transcripts is Riva's switch for inverse
    text normalization (false, its default: written forms, as ours)."""
    _check_features(config, prefix)
    return asr_pb.RecognitionConfig(
        language_code=config.language_code or DEFAULT_LANGUAGE, model=config.model, audio_config=audio_config,
        max_alternatives=config.max_alternatives, enable_word_time_offsets=config.enable_word_time_offsets,
        enable_automatic_punctuation=config.enable_automatic_punctuation, profanity_filter=config.profanity_filter,
        enable_inverse_text_normalization=not config.verbatim_transcripts,
        speech_contexts=[asr_pb.SpeechContext(phrases=list(c.phrases), boost=c.boost) for c in config.speech_contexts])


def audio_config(config: rasr.RecognitionConfig) -> audio_pb2.AudioConfig:
    """Riva's encoding, rate and channels as ours. An unspecified encoding stays unspecified: our
    ASR reads the audio's container header (Riva's streaming example sends a WAV file, header in
    its first chunk, and no encoding), and a header wins over what is declared."""
    encoding = ENCODINGS.get(config.encoding, E.AUDIO_ENCODING_UNSPECIFIED)
    return audio_pb2.AudioConfig(encoding=encoding, sample_rate_hertz=config.sample_rate_hertz,
                                 audio_channel_count=config.audio_channel_count)


def recognize_request(request: rasr.RecognizeRequest) -> asr_pb.RecognizeRequest:
    """Riva's Recognize as ours; the audio goes on as it came (a WAV file header and all)."""
    return asr_pb.RecognizeRequest(config=recognition_config(request.config, audio_config(request.config), "config."),
                                   content=request.audio)


def recognize_response(ours: asr_pb.RecognizeResponse, request_id: str) -> rasr.RecognizeResponse:
    total = seconds(ours.audio_duration)
    answer = rasr.RecognizeResponse(results=[
        rasr.SpeechRecognitionResult(
            alternatives=[alternative(a, r.language_code) for a in r.alternatives], channel_tag=1,
            audio_processed=seconds(r.result_end_offset) if r.HasField("result_end_offset") else total)
        for r in ours.results])
    if request_id:
        answer.id.value = request_id
    return answer


def streaming_response(ours: asr_pb.StreamingRecognizeResponse, request_id: str
                       ) -> rasr.StreamingRecognizeResponse | None:
    """Our streaming answer as Riva's; None for one that carries no results (a speech event:
    Riva has none)."""
    if not ours.results:
        return None
    processed = seconds(ours.audio_processed)
    answer = rasr.StreamingRecognizeResponse(results=[
        rasr.StreamingRecognitionResult(
            alternatives=[alternative(a, r.language_code) for a in r.alternatives], is_final=r.is_final,
            stability=r.stability, channel_tag=1, audio_processed=processed)
        for r in ours.results])
    if request_id:
        answer.id.value = request_id
    return answer


class AudioStream:
    """The audio of a Riva StreamingRecognize, as chunks for ours (a WAV header included: our ASR
    reads it), cut to what our service takes. A bad message later in the stream ends the audio
    early and is kept in `failure` for the caller to raise once the downstream stream has ended
    (an exception inside a request iterator would reach the client as a cancelled call, not as
    the error)."""

    def __init__(self, chunks: AsyncIterator[bytes], max_chunk_bytes: int) -> None:
        self.chunks = chunks
        self.max_chunk_bytes = max_chunk_bytes
        self.failure: DomainError | None = None

    def _cut(self, data: bytes) -> list[bytes]:
        step = self.max_chunk_bytes
        return [data[i:i + step] for i in range(0, len(data), step)]

    async def requests(self, config: asr_pb.StreamingRecognitionConfig
                       ) -> AsyncIterator[asr_pb.StreamingRecognizeRequest]:
        yield asr_pb.StreamingRecognizeRequest(streaming_config=config)
        try:
            async for chunk in self.chunks:
                for piece in self._cut(chunk):
                    yield asr_pb.StreamingRecognizeRequest(audio=piece)
        except DomainError as exc:
            self.failure = exc


def model_configs(models: list[asr_pb.Model], name: str) -> rasr.RivaSpeechRecognitionConfigResponse:
    """ListModels as Riva's config listing: `type` "online" for streaming models, as Riva's
    clients filter on it."""
    chosen = [m for m in models if not name or m.name == name]
    if name and not chosen:
        raise InvalidArgument(f"model_name={name!r} is no ASR model here", reason=Reason.UNKNOWN_MODEL,
                              field="model_name")
    answer = rasr.RivaSpeechRecognitionConfigResponse()
    for m in chosen:
        entry = answer.model_config.add(model_name=m.name)
        entry.parameters.update({
            "language_code": ",".join(m.language_codes), "type": "online" if m.supports_streaming else "offline",
            "sample_rate": str(m.sample_rate_hertz), "backend": m.backend,
            "automatic_punctuation": str(m.supports_automatic_punctuation).lower(),
            "word_time_offsets": str(m.supports_word_time_offsets).lower(), "description": m.description})
    return answer


# --- TTS -------------------------------------------------------------------------------------

def voice_name(name: str) -> str:
    """A Riva voice name (`voice_name.subvoice`) as ours: a gender subvoice is dropped."""
    base, dot, sub = name.rpartition(".")
    return base if dot and sub in GENDERS.values() else name


def synthesis_audio(encoding: int, sample_rate_hz: int) -> tts_pb.AudioOutputConfig:
    """Riva's audio request as ours: LINEAR_PCM (and unspecified, Riva's default) is raw 16-bit PCM."""
    ours = ENCODINGS.get(encoding, E.AUDIO_ENCODING_LINEAR16)  # (the enum check passed: only UNSPECIFIED is missing)
    return tts_pb.AudioOutputConfig(encoding=ours, sample_rate_hertz=sample_rate_hz)


def _check_synthesis(request: rtts.SynthesizeSpeechRequest) -> None:
    if request.zero_shot_data.audio_prompt:
        raise InvalidArgument("zero_shot_data: voice cloning from an audio prompt is not offered here",
                              reason=Reason.UNSUPPORTED_FEATURE, field="zero_shot_data.audio_prompt")


def synthesize_request(request: rtts.SynthesizeSpeechRequest) -> tts_pb.SynthesizeRequest:
    _check_synthesis(request)
    return tts_pb.SynthesizeRequest(
        input=tts_pb.SynthesisInput(text=request.text),
        voice=tts_pb.VoiceSelectionParams(language_code=request.language_code or DEFAULT_LANGUAGE,
                                          name=voice_name(request.voice_name)),
        audio_config=synthesis_audio(request.encoding, request.sample_rate_hz))


def streaming_synthesize_request(request: rtts.SynthesizeSpeechRequest) -> tts_pb.StreamingSynthesizeRequest:
    whole = synthesize_request(request)
    return tts_pb.StreamingSynthesizeRequest(input=whole.input, voice=whole.voice, audio_config=whole.audio_config)


def synthesis_response(audio_content: bytes, request: rtts.SynthesizeSpeechRequest) -> rtts.SynthesizeSpeechResponse:
    answer = rtts.SynthesizeSpeechResponse(audio=audio_content)
    answer.meta.text = request.text
    answer.meta.processed_text = request.text
    if request.id.value:
        answer.id.value = request.id.value
    return answer


def voice_configs(voices: list[tts_pb.Voice], name: str) -> rtts.RivaSynthesisConfigResponse:
    """ListVoices as Riva's config listing: language_code, voice_name and subvoices (its gender,
    "Female:0") filled, as Riva's clients read them to list voices."""
    chosen = [v for v in voices if not name or v.name == voice_name(name)]
    if name and not chosen:
        raise InvalidArgument(f"model_name={name!r} is no voice here", reason=Reason.UNKNOWN_VOICE, field="model_name")
    answer = rtts.RivaSynthesisConfigResponse()
    for v in chosen:
        entry = answer.model_config.add(model_name=v.name)
        entry.parameters.update({
            "language_code": v.language_codes[0] if v.language_codes else "", "voice_name": v.name,
            "subvoices": f"{GENDERS.get(v.ssml_gender, 'Neutral')}:0",
            "sample_rate": str(v.natural_sample_rate_hertz), "backend": v.backend})
    return answer


# --- NMT -------------------------------------------------------------------------------------

def translate_request(request: rnmt.TranslateTextRequest) -> nmt_pb.TranslateTextRequest:
    return nmt_pb.TranslateTextRequest(contents=list(request.texts), source_language_code=request.source_language,
                                       target_language_code=request.target_language, model=request.model,
                                       do_not_translate=list(request.dnt_phrases))


def translate_response(ours: nmt_pb.TranslateTextResponse, request: rnmt.TranslateTextRequest
                       ) -> rnmt.TranslateTextResponse:
    answer = rnmt.TranslateTextResponse(translations=[
        rnmt.Translation(text=t.translated_text, language=request.target_language) for t in ours.translations])
    if request.id.value:
        answer.id.value = request.id.value
    return answer


def language_pairs(pairs: list[nmt_pb.LanguagePair], model: str) -> rnmt.AvailableLanguageResponse:
    """ListLanguagePairs as Riva's: per model, the languages it translates from and into."""
    answer = rnmt.AvailableLanguageResponse()
    for p in pairs:
        if model and p.model != model:
            continue
        entry = answer.languages[p.model]
        if p.source_language_code not in entry.src_lang:
            entry.src_lang.append(p.source_language_code)
        if p.target_language_code not in entry.tgt_lang:
            entry.tgt_lang.append(p.target_language_code)
    return answer


# --- the adapter -----------------------------------------------------------------------------

class RivaCore:
    def __init__(self, settings: RivaSettings, backends: Backends) -> None:
        self.settings = settings
        self.backends = backends

    async def recognize(self, request: rasr.RecognizeRequest, call: CallContext) -> rasr.RecognizeResponse:
        ours = await self.backends.unary("asr", "Recognize", recognize_request(request), call, RECOGNIZE_FIELDS)
        return recognize_response(ours, request.id.value)

    async def streaming_recognize(self, requests: AsyncIterator[rasr.StreamingRecognizeRequest], call: CallContext
                                  ) -> AsyncIterator[rasr.StreamingRecognizeResponse]:
        first = await first_config(requests, self.settings.stream_config_timeout_s)
        streaming = first.streaming_config
        request_id = first.id.value
        stream = AudioStream(payloads(requests, "audio_content"), self.settings.max_chunk_bytes)
        config = asr_pb.StreamingRecognitionConfig(
            config=recognition_config(streaming.config, audio_config(streaming.config), "streaming_config.config."),
            interim_results=streaming.interim_results)
        async for ours in self.backends.stream("asr", "StreamingRecognize", stream.requests(config), call,
                                               STREAMING_FIELDS):
            answer = streaming_response(ours, request_id)
            if answer is not None:
                yield answer
            if stream.failure is not None:
                raise stream.failure
        if stream.failure is not None:
            raise stream.failure

    async def recognition_config(self, request: rasr.RivaSpeechRecognitionConfigRequest, call: CallContext
                                 ) -> rasr.RivaSpeechRecognitionConfigResponse:
        async def fetch(token: str) -> tuple[list[asr_pb.Model], str]:
            page = await self.backends.unary("asr", "ListModels", asr_pb.ListModelsRequest(page_token=token),
                                             call, _no_field)
            return list(page.models), page.next_page_token

        return model_configs(await all_pages(fetch), request.model_name)

    async def synthesize(self, request: rtts.SynthesizeSpeechRequest, call: CallContext
                         ) -> rtts.SynthesizeSpeechResponse:
        ours = await self.backends.unary("tts", "Synthesize", synthesize_request(request), call, SYNTHESIZE_FIELDS)
        return synthesis_response(ours.audio_content, request)

    async def synthesize_online(self, requests: AsyncIterator[rtts.SynthesizeSpeechRequest], call: CallContext
                                ) -> AsyncIterator[rtts.SynthesizeSpeechResponse]:
        """Each text the client sends is spoken as our StreamingSynthesize speaks it: audio
        chunks as they are made, in the order the texts came."""
        async for request in requests:
            async for chunk in self.backends.stream("tts", "StreamingSynthesize",
                                                    streaming_synthesize_request(request), call, SYNTHESIZE_FIELDS):
                if chunk.audio_content:
                    yield synthesis_response(chunk.audio_content, request)

    async def synthesis_config(self, request: rtts.RivaSynthesisConfigRequest, call: CallContext
                               ) -> rtts.RivaSynthesisConfigResponse:
        async def fetch(token: str) -> tuple[list[tts_pb.Voice], str]:
            page = await self.backends.unary("tts", "ListVoices", tts_pb.ListVoicesRequest(page_token=token),
                                             call, _no_field)
            return list(page.voices), page.next_page_token

        return voice_configs(await all_pages(fetch), request.model_name)

    async def translate(self, request: rnmt.TranslateTextRequest, call: CallContext) -> rnmt.TranslateTextResponse:
        ours = await self.backends.unary("nmt", "TranslateText", translate_request(request), call, TRANSLATE_FIELDS)
        return translate_response(ours, request)

    async def language_pairs(self, request: rnmt.AvailableLanguageRequest, call: CallContext
                             ) -> rnmt.AvailableLanguageResponse:
        async def fetch(token: str) -> tuple[list[nmt_pb.LanguagePair], str]:
            page = await self.backends.unary("nmt", "ListLanguagePairs",
                                             nmt_pb.ListLanguagePairsRequest(page_token=token), call, _no_field)
            return list(page.language_pairs), page.next_page_token

        return language_pairs(await all_pages(fetch), request.model)
