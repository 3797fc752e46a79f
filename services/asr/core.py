"""ASR domain core: validation, model choice, decoding and resampling, unary recognition,
subtitles, and the live-stream pipeline (stream.py).

Knows nothing of grpc. What the deployment can recognize comes from the model registry (the
Triton models' own `task`/`languages`/`sample_rate_hertz`/`streaming` parameters); the
reference models serve English only (PocketSphinx en-US), and the errors say so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
from collections.abc import Coroutine

import numpy as np

from services.asr import subtitles
from services.asr.sequence import text_of, words_of
from services.asr.settings import AsrSettings
from services.common import audio, textnorm
from services.common.backends.registry import ModelInfo, ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.errors import InvalidArgument, Reason
from services.common.languages import normalize_language
from services.common.paging import page

MAX_MODEL_CHARS = 128
MAX_ALTERNATIVES = 10
SUBTITLE_FORMATS = ("srt", "webvtt")
DEFAULT_PAGE_SIZE = 50
log = logging.getLogger(__name__)
# speech_contexts limits (the contract's).
MAX_SPEECH_CONTEXTS = 10
MAX_PHRASES = 100
MAX_PHRASE_CHARS = 100
MAX_PHRASE_WORDS = 5
MAX_BOOST = 20.0


@dataclasses.dataclass(frozen=True)
class SpeechContext:
    phrases: tuple[str, ...]
    boost: float = 0.0


@dataclasses.dataclass(frozen=True)
class RecognitionWarning:
    reason: str
    field: str
    message: str


@dataclasses.dataclass(frozen=True)
class Options:
    """A RecognitionConfig, as plain values. `prefix` is the field path to it in the request."""

    language_code: str
    encoding: int
    model: str = ""
    sample_rate_hertz: int = 0
    channels: int = 0
    max_alternatives: int = 0
    word_time_offsets: bool = False
    word_confidence: bool = False
    profanity_filter: bool = False
    subtitle_formats: tuple[str, ...] = ()  # "srt" | "webvtt" | "" (unspecified)
    store_audio: bool = False
    # None: the deployment's default (AsrSettings.itn_default).
    inverse_text_normalization: bool | None = None
    interim_inverse_text_normalization: bool = False
    speech_contexts: tuple[SpeechContext, ...] = ()
    prefix: str = "config."


@dataclasses.dataclass(frozen=True)
class Word:
    word: str
    start_s: float
    end_s: float
    confidence: float
    spoken: str = ""  # the spoken words a written word stands for, when ITN changed it


@dataclasses.dataclass(frozen=True)
class Utterance:
    index: int
    transcript: str
    confidence: float
    words: tuple[Word, ...]
    end_s: float
    spoken: str = ""  # the transcript as spoken, when `normalized`
    normalized: bool = False  # transcript (and words) are the written form


@dataclasses.dataclass(frozen=True)
class Written:
    """A hypothesis after inverse text normalization (unchanged when `applied` is False)."""

    text: str
    words: tuple[Word, ...]
    spoken: str
    applied: bool


@dataclasses.dataclass(frozen=True)
class Recognition:
    utterances: list[Utterance]
    duration_s: float
    model: str
    language: str
    sample_rate_hertz: int  # of the audio as sent
    subtitles: list[tuple[str, str]]
    encoding: int = 0  # of the audio as sent: the header's when it had one
    warnings: list[RecognitionWarning] = dataclasses.field(default_factory=list)


def words_from(raw: list[dict], offset_s: float = 0.0) -> tuple[Word, ...]:
    out = []
    for w in raw:
        try:
            out.append(Word(str(w["word"]), float(w.get("start_s", 0.0)) + offset_s,
                            float(w.get("end_s", 0.0)) + offset_s, float(w.get("confidence", 0.0))))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def confidence_of(words: tuple[Word, ...]) -> float:
    """The utterance's confidence: the mean of its words' posteriors (0.0 when the model gives none)."""
    return float(np.mean([w.confidence for w in words])) if words else 0.0


def written_words(words: tuple[Word, ...], spans: list[textnorm.Span]) -> tuple[Word, ...]:
    """The written tokens with the timings of the spoken words they came from: a token made of
    several spoken words starts with the first and ends with the last (confidence: their mean)."""
    out = []
    for span in spans:
        group = words[span.first:span.last + 1]
        if not span.written or not group:
            continue
        spoken = " ".join(w.word for w in group)
        out.append(Word(span.written, group[0].start_s, group[-1].end_s, confidence_of(group),
                        "" if spoken == span.written else spoken))
    return tuple(out)
def check_speech_contexts(contexts: tuple[SpeechContext, ...], prefix: str) -> None:
    """The contract's limits on speech_contexts; INVALID_ARGUMENT naming the first bad field."""
    field = prefix + "speech_contexts"
    if len(contexts) > MAX_SPEECH_CONTEXTS:
        raise InvalidArgument(f"{field} holds {len(contexts)} contexts, more than {MAX_SPEECH_CONTEXTS}",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    total = sum(len(c.phrases) for c in contexts)
    if total > MAX_PHRASES:
        raise InvalidArgument(f"{field} holds {total} phrases, more than {MAX_PHRASES}",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    for i, context in enumerate(contexts):
        here = f"{field}[{i}]"
        if not context.phrases:
            raise InvalidArgument(f"{here}.phrases is required", reason=Reason.FIELD_REQUIRED, field=here + ".phrases")
        if not (math.isfinite(context.boost) and 0.0 <= context.boost <= MAX_BOOST):
            raise InvalidArgument(f"{here}.boost must be 0 to {MAX_BOOST:g}", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field=here + ".boost")
        for j, phrase in enumerate(context.phrases):
            name = f"{here}.phrases[{j}]"
            if not phrase.strip():
                raise InvalidArgument(f"{name} is empty", reason=Reason.FIELD_REQUIRED, field=name)
            if len(phrase) > MAX_PHRASE_CHARS or len(phrase.split()) > MAX_PHRASE_WORDS:
                raise InvalidArgument(f"{name} is longer than {MAX_PHRASE_CHARS} characters or {MAX_PHRASE_WORDS} "
                                      "words", reason=Reason.FIELD_OUT_OF_RANGE, field=name)


def supports_boosting(info: ModelInfo) -> bool:
    """The model declares it takes BOOST_PHRASES / BOOST_SCORES (config parameter word_boosting)."""
    return info.parameters.get("word_boosting", "").lower() == "true"


def boost_tensors(contexts: tuple[SpeechContext, ...]) -> dict[str, np.ndarray]:
    """BOOST_PHRASES (BYTES [1, P]) and BOOST_SCORES (FP32 [1, P]), one entry per phrase."""
    pairs = [(phrase.strip(), c.boost) for c in contexts for phrase in c.phrases]
    return {"BOOST_PHRASES": np.array([[p.encode() for p, _ in pairs]], dtype=np.object_),
            "BOOST_SCORES": np.array([[b for _, b in pairs]], dtype=np.float32)}


def boost_warnings(info: ModelInfo, options: Options, ignored: list[str] | None = None) -> list[RecognitionWarning]:
    """What the response says about speech_contexts: unsupported by the model, or phrases the
    model could not boost (`ignored`, as it reported them)."""
    if not options.speech_contexts:
        return []
    field = options.prefix + "speech_contexts"
    if not supports_boosting(info):
        return [RecognitionWarning("WORD_BOOSTING_UNSUPPORTED", field,
                        f"model {info.name!r} cannot boost phrases; speech_contexts were ignored")]
    out = []
    left = list(ignored or [])
    for i, context in enumerate(options.speech_contexts):
        for j, phrase in enumerate(context.phrases):
            if phrase.strip() in left:
                left.remove(phrase.strip())
                out.append(RecognitionWarning("PHRASE_IGNORED", f"{field}[{i}].phrases[{j}]",
                                   f"model {info.name!r} does not know a word of {phrase.strip()!r}; not boosted"))
    return out


def ignored_of(value: object) -> list[str]:
    """The BOOST_IGNORED output (a JSON list of phrases) as a list."""
    raw = (value.decode("utf-8") if isinstance(value, bytes) else str(value)).strip()
    parsed = json.loads(raw) if raw else []
    return [str(p) for p in parsed] if isinstance(parsed, list) else []


def mask_profanity(text: str, profane: frozenset[str]) -> str:
    def mask(match: re.Match[str]) -> str:
        word = match.group(0)
        return word[0] + "*" * (len(word) - 1) if word.lower() in profane else word
    return re.sub(r"\w+", mask, text)


class AsrCore:
    def __init__(self, settings: AsrSettings, triton: TritonAdapter, registry: ModelRegistry,
                 itn: textnorm.Grammars | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.registry = registry
        self.itn = itn
        self.profane = frozenset(w.lower() for w in settings.profane_words)
        # Live streams (for introspection and tests) and fire-and-forget clean-ups.
        self.sessions: set[object] = set()
        self._background: set[asyncio.Task[None]] = set()

    def background(self, coro: Coroutine[object, object, None]) -> None:
        """Runs a clean-up that must outlive a cancelled call (e.g. ending a Triton sequence)."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain_background(self) -> None:
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- models --------------------------------------------------------------------------

    async def list_models(self, page_size: int, page_token: str, language_code: str) -> tuple[list[ModelInfo], str]:
        language = normalize_language(language_code, "language_code")
        models = sorted(await self.registry.models("asr"), key=lambda m: m.name)
        return page([m for m in models if not language or language in m.languages], page_size, page_token,
                    default_size=DEFAULT_PAGE_SIZE)

    async def resolve(self, options: Options, *, streaming: bool) -> tuple[ModelInfo, str]:
        """Validates the config (everything but the audio bytes); the model and language to use."""
        p = options.prefix
        language = normalize_language(options.language_code, p + "language_code", required=True)
        if len(options.model) > MAX_MODEL_CHARS:
            raise InvalidArgument(f"{p}model is longer than {MAX_MODEL_CHARS} characters",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=p + "model")
        # UNSPECIFIED: the audio's header says (sniffed when the bytes come; none there is FIELD_REQUIRED).
        audio.check_encoding(options.encoding, p + "audio_config.encoding",
                             audio.STREAMABLE_ENCODINGS if streaming else audio.DECODABLE_ENCODINGS, auto=True)
        rate = options.sample_rate_hertz
        if rate and not audio.MIN_SAMPLE_RATE_HERTZ <= rate <= audio.MAX_SAMPLE_RATE_HERTZ:
            raise InvalidArgument(f"{p}audio_config.sample_rate_hertz={rate} is outside 8000-48000",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=p + "audio_config.sample_rate_hertz")
        if options.encoding in audio.RAW_ENCODINGS and not rate:
            raise InvalidArgument(f"{audio.encoding_name(options.encoding)} audio needs a sample rate",
                                  reason=Reason.FIELD_REQUIRED, field=p + "audio_config.sample_rate_hertz")
        if not 0 <= options.channels <= 2:
            raise InvalidArgument(f"{p}audio_config.audio_channel_count must be 0, 1 or 2",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=p + "audio_config.audio_channel_count")
        if not 0 <= options.max_alternatives <= MAX_ALTERNATIVES:
            raise InvalidArgument(f"{p}max_alternatives must be 0 to {MAX_ALTERNATIVES}",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=p + "max_alternatives")
        formats = options.subtitle_formats
        if formats and streaming:
            raise InvalidArgument("subtitle_formats is for Recognize only", reason=Reason.UNSUPPORTED_FEATURE,
                                  field=p + "subtitle_formats")
        if "" in formats:
            raise InvalidArgument(f"{p}subtitle_formats holds SUBTITLE_FORMAT_UNSPECIFIED",
                                  reason=Reason.FIELD_REQUIRED,
                                  field=p + "subtitle_formats")
        if len(formats) > len(SUBTITLE_FORMATS) or len(set(formats)) != len(formats):
            raise InvalidArgument(f"{p}subtitle_formats names each format at most once",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=p + "subtitle_formats")
        check_speech_contexts(options.speech_contexts, p)
        if streaming and options.model:
            unary = {m.name for m in await self.registry.models("asr") if not m.streaming}
            if options.model in unary:
                raise InvalidArgument(f"model {options.model!r} does not stream", reason=Reason.UNSUPPORTED_FEATURE,
                                      field=p + "model")
        info = await self.registry.find("asr", language=language, model=options.model, streaming=streaming,
                                        field=p + "language_code")
        if options.model and not info.serves(language):
            raise InvalidArgument(f"model {options.model!r} does not serve {language!r}", reason=Reason.UNKNOWN_MODEL,
                                  field=p + "model")
        return info, language

    # -- inverse text normalization ------------------------------------------------------

    def itn_languages(self, languages: tuple[str, ...]) -> list[str]:
        """Those of `languages` whose ITN grammar is loaded now."""
        return [lang for lang in languages if self.itn is not None and self.itn.ready(lang)]

    def itn_wanted(self, options: Options) -> bool:
        flag = options.inverse_text_normalization
        return self.settings.itn_default if flag is None else flag

    async def inverse_normalize(self, language: str, text: str, words: tuple[Word, ...] = ()) -> Written:
        """The written form of a hypothesis, its words re-timed to match; unchanged (applied
        False) when the language has no loaded grammar. Runs the grammar in a worker thread."""
        unchanged = Written(text, words, "", False)
        if self.itn is None or not self.itn.ready(language) or not text.strip():
            return unchanged
        try:
            written = await asyncio.to_thread(self.itn.convert, language, text)
        except Exception:  # noqa: BLE001 - a grammar failure must not lose the recognition
            log.exception("inverse text normalization failed for %s", language)
            return unchanged
        if written is None:
            return unchanged
        written = " ".join(written.split())
        if words:
            spoken = [w.word for w in words]
            # The words are re-timed only when they are the transcript's tokens (the models'
            # WORD_TIMES are), else they are left as recognized.
            if spoken == text.split():
                words = written_words(words, textnorm.align(spoken, written))
        return Written(written, words, text, True)

    # -- unary ---------------------------------------------------------------------------

    def _check_size(self, content: bytes, field: str) -> None:
        if not content:
            raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
        if len(content) > self.settings.max_audio_bytes:
            raise InvalidArgument(f"{field} holds {len(content)} bytes, more than {self.settings.max_audio_bytes}",
                                  reason=Reason.AUDIO_TOO_LARGE, field=field)

    def decode(self, options: Options, content: bytes, model_rate: int, field: str = "content"
               ) -> tuple[np.ndarray, int, float]:
        """(samples at the model's rate, rate of the audio as sent, duration in seconds). A
        container's header wins over options.encoding (see audio.container_encoding)."""
        self._check_size(content, field)
        p = options.prefix
        limit = self.settings.max_audio_seconds
        per_sample = audio.bytes_per_sample(options.encoding)
        if per_sample and options.sample_rate_hertz and audio.sniff(content, field, weak=False) is None:
            seconds = len(content) / per_sample / (options.channels or 1) / options.sample_rate_hertz
            if seconds > limit:
                raise InvalidArgument(f"{field} holds {seconds:.1f} s of audio, more than {limit:g} s",
                                      reason=Reason.AUDIO_TOO_LONG, field=field)
        samples, rate = audio.decode(content, options.encoding, options.sample_rate_hertz, channels=options.channels,
                                     field=field, encoding_field=p + "audio_config.encoding",
                                     rate_field=p + "audio_config.sample_rate_hertz",
                                     channels_field=p + "audio_config.audio_channel_count")
        if not audio.MIN_SAMPLE_RATE_HERTZ <= rate <= audio.MAX_SAMPLE_RATE_HERTZ:
            raise InvalidArgument(f"{field} is {rate} Hz, outside 8000-48000", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field=field)
        seconds = samples.size / rate
        if seconds > limit:
            raise InvalidArgument(f"{field} holds {seconds:.1f} s of audio, more than {limit:g} s",
                                  reason=Reason.AUDIO_TOO_LONG, field=field)
        if samples.size == 0:
            raise InvalidArgument(f"{field} holds no samples", reason=Reason.AUDIO_UNDECODABLE, field=field)
        if not np.all(np.isfinite(samples)):
            raise InvalidArgument(f"{field} holds samples that are not finite", reason=Reason.AUDIO_UNDECODABLE,
                                  field=field)
        return audio.resample(np.clip(samples, -1.0, 1.0), rate, model_rate), rate, seconds

    async def recognize(self, options: Options, content: bytes, *, timeout_s: float | None = None,
                        request_id: str = "") -> Recognition:
        info, language = await self.resolve(options, streaming=False)
        samples, rate, seconds = self.decode(options, content, info.sample_rate_hertz or 16000)
        encoding = audio.container_encoding(content, options.encoding, field="content",
                                            encoding_field=options.prefix + "audio_config.encoding")
        want_words = info.parameters.get("word_times", "true").lower() != "false"
        boosting = bool(options.speech_contexts) and supports_boosting(info)
        outputs = ["TRANSCRIPTS", *(["WORD_TIMES"] if want_words else []), *(["BOOST_IGNORED"] if boosting else [])]
        inputs = {
            "AUDIO_SIGNAL": samples.reshape(1, -1).astype(np.float32),
            "NUM_SAMPLES": np.array([[samples.size]], dtype=np.int32),
            "LANG_ID": np.array([[language.encode()]], dtype=np.object_),
            **(boost_tensors(options.speech_contexts) if boosting else {}),
        }
        result = await self.triton.infer(info.name, inputs, outputs, timeout_s=timeout_s, request_id=request_id)
        warnings = boost_warnings(info, options, ignored_of(result["BOOST_IGNORED"].reshape(-1)[0]) if boosting
                                  else None)
        text = text_of(result["TRANSCRIPTS"].reshape(-1)[0]).strip()
        words = words_from(words_of(result["WORD_TIMES"].reshape(-1)[0])) if want_words else ()
        utterances = []
        if text:
            form = await self.inverse_normalize(language, text, words) if self.itn_wanted(options) else None
            utterances.append(self.utterance(0, text, words, seconds, profanity_filter=options.profanity_filter,
                                             written=form))
        rendered = []
        if options.subtitle_formats:
            timed = [subtitles.TimedWord(w.word, w.start_s, w.end_s) for u in utterances for w in u.words]
            cues = subtitles.cues(timed)
            for fmt in options.subtitle_formats:
                rendered.append((fmt, subtitles.srt(cues) if fmt == "srt" else subtitles.webvtt(cues)))
        return Recognition(utterances, seconds, info.name, language, rate, rendered, encoding, warnings)

    def utterance(self, index: int, text: str, words: tuple[Word, ...], end_s: float, *,
                  profanity_filter: bool = False, written: Written | None = None) -> Utterance:
        """One result; `written` (from inverse_normalize) replaces the text and words when applied.
        The confidence stays the recognizer's: the mean over the spoken words."""
        confidence = confidence_of(words)
        spoken = ""
        if written is not None and written.applied:
            spoken, text, words = written.spoken, written.text, written.words
        if profanity_filter:
            text = mask_profanity(text, self.profane)
            spoken = mask_profanity(spoken, self.profane)
            words = tuple(dataclasses.replace(w, word=mask_profanity(w.word, self.profane),
                                              spoken=mask_profanity(w.spoken, self.profane)) for w in words)
        return Utterance(index, text, confidence, words, end_s, spoken, written is not None and written.applied)

