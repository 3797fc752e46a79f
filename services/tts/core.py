"""TTS domain core: validation, voice selection, SSML and sentence planning, synthesis, and
post-processing (gain, pitch, resampling, encoding).

Knows nothing of grpc. Voices come from the model registry (the Triton models' own
`voices` parameter). Text is spoken sentence by sentence: the unary `tts` model when the
voice's normal rate and pitch are wanted, the decoupled streaming model (which takes
SPEAKING_RATE) otherwise and for every streaming RPC.

Pitch is shifted by resampling: audio synthesised at rate r/f and played back f times faster
(f = 2^(semitones/12)) has its pitch raised by f and its duration back at rate r. Formants
move with it (a simple shift, not a formant-preserving one), and r/f must lie in the model's
SPEAKING_RATE range, else UNSUPPORTED_FEATURE.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import re
from collections.abc import AsyncIterator, Sequence

import numpy as np

from services.common import audio, textnorm
from services.common.audio import E
from services.common.backends.registry import ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.errors import InvalidArgument, Reason
from services.common.languages import normalize_language
from services.common.paging import page
from services.tts import ssml
from services.tts.settings import TtsSettings

MAX_VOICE_NAME_CHARS = 128
MAX_CHUNK_BYTES = 65_536
DEFAULT_PAGE_SIZE = 50
STREAMABLE = (E.AUDIO_ENCODING_LINEAR16, E.AUDIO_ENCODING_MULAW, E.AUDIO_ENCODING_ALAW)
GENDERS = ("", "male", "female", "neutral")  # index = SsmlVoiceGender value
# A sentence ends at terminal punctuation (Latin, Devanagari danda / double danda, Urdu full
# stop, question mark) plus closing quotes/brackets, followed by whitespace; or at a newline.
_TERMINATOR = r"[.!?।॥۔؟]+[\"'”’)\]]*"
_BOUNDARY = re.compile(_TERMINATOR + r"\s+|\n+")
# In a stream of fragments, a danda at the very end already ends a sentence (it is never a
# decimal point or an abbreviation).
_STREAM_END = re.compile(r"[।॥]+[\"'”’)\]]*$")


@dataclasses.dataclass(frozen=True)
class VoiceEntry:
    name: str
    language: str
    gender: str
    natural_sample_rate_hertz: int
    backend: str
    unary_model: str = ""
    streaming_model: str = ""

    @property
    def supports_streaming(self) -> bool:
        return bool(self.streaming_model)


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """The audio settings actually used, defaults resolved."""

    encoding: int
    sample_rate_hertz: int
    speaking_rate: float
    pitch_semitones: float
    volume_gain_db: float


@dataclasses.dataclass(frozen=True)
class Piece:
    """One model call: a sentence with its effective prosody, or a pause."""

    text: str = ""
    pause_s: float = 0.0
    model_rate: float = 1.0
    pitch_factor: float = 1.0
    gain_db: float = 0.0
    # The text as written, to be normalized just before it is spoken (a streamed text: its
    # first sentence's audio does not wait for the others' normalization).
    raw: bool = False


@dataclasses.dataclass
class Plan:
    voice: VoiceEntry
    output: OutputConfig
    pieces: list[Piece]
    characters: int
    normalize: bool = True  # text normalization of what is spoken (bidi: of each sentence)

    @property
    def normalized_text(self) -> str:
        """What the voice is given, sentence by sentence."""
        return " ".join(p.text for p in self.pieces if p.text)


@dataclasses.dataclass(frozen=True)
class Chunk:
    audio_content: bytes
    offset_s: float
    sentence_text: str = ""


def split_sentences(text: str, max_chars: int) -> list[str]:
    """Sentences of `text`, none longer than `max_chars` (cut at a space, else hard)."""
    out: list[str] = []
    for sentence in _split_keep(text):
        out.extend(_cap(sentence, max_chars))
    return [s for s in out if s.strip()]


def _split_keep(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        pieces.append(text[start:match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _cap(sentence: str, max_chars: int) -> list[str]:
    out = []
    while len(sentence) > max_chars:
        cut = sentence.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        out.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    out.append(sentence)
    return out


class SentenceBuffer:
    """Collects streamed text fragments; hands out each sentence once it is complete.

    Holds at most `max_chars` of an unfinished sentence: beyond that it speaks up to the last
    space, so a client that never sends punctuation still hears speech and memory stays bounded.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.pending = ""

    def feed(self, fragment: str) -> list[str]:
        self.pending += fragment
        done: list[str] = []
        last_end = 0
        for match in _BOUNDARY.finditer(self.pending):
            last_end = match.end()
        if not last_end and (end := _STREAM_END.search(self.pending)):
            last_end = end.end()
        elif last_end and (end := _STREAM_END.search(self.pending, last_end)):
            last_end = end.end()
        if last_end:
            done.extend(split_sentences(self.pending[:last_end], self.max_chars))
            self.pending = self.pending[last_end:]
        while len(self.pending) > self.max_chars:
            cut = self.pending.rfind(" ", 0, self.max_chars + 1)
            if cut <= 0:
                cut = self.max_chars
            done.append(self.pending[:cut].strip())
            self.pending = self.pending[cut:].lstrip()
        return [s for s in done if s.strip()]

    def flush(self) -> list[str]:
        rest, self.pending = self.pending, ""
        return split_sentences(rest, self.max_chars)


def _column(value: str) -> np.ndarray:
    return np.array([value.encode("utf-8")], dtype=np.object_)


class _Post:
    """Per-piece post-processing: gain, then pitch shift and resampling in one soxr pass."""

    def __init__(self, piece: Piece, natural_rate: int, out_rate: int) -> None:
        self.gain = float(10 ** (piece.gain_db / 20))
        self.resample = audio.StreamResampler(natural_rate * piece.pitch_factor, out_rate)

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        out = self.resample(samples, last=last)
        if self.gain != 1.0:
            out = out * np.float32(self.gain)
        return out  # audio.encode clips to [-1, 1]


class TtsCore:
    def __init__(self, settings: TtsSettings, triton: TritonAdapter, registry: ModelRegistry,
                 normalizer: textnorm.SpeechNormalizer | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.registry = registry
        self._voices: tuple[tuple[object, ...], list[VoiceEntry]] | None = None
        self.normalizer = normalizer or textnorm.SpeechNormalizer(None)
        self._rate_inputs: dict[str, bool] = {}

    # -- text normalization --------------------------------------------------------------

    def text_normalization(self, language: str) -> str:
        """"grammar", "numbers" or "none": how `language` is normalized now."""
        return self.normalizer.kind(language)

    async def normalize_segments(self, segments: Sequence[ssml.Segment], language: str, *, enabled: bool
                                 ) -> list[ssml.Segment]:
        """<say-as> read out in `language` (always), the other text normalized (when `enabled`),
        in a worker thread (grammar passes are CPU work); then neighbours joined again."""
        def work() -> list[ssml.Segment]:
            out: list[ssml.Segment] = []
            for segment in segments:
                if isinstance(segment, ssml.Text) and segment.interpret_as:
                    segment = ssml.Text(self.normalizer.say_as(segment.interpret_as, segment.text, language),
                                        segment.prosody)
                elif isinstance(segment, ssml.Text) and enabled:
                    segment = ssml.Text(self.normalizer.normalize(language, segment.text), segment.prosody)
                out.append(segment)
            return ssml.merge(out)
        return await asyncio.to_thread(work)

    async def normalize_text(self, text: str, language: str) -> str:
        if self.normalizer.unchanged(language, text):  # plain text: no worker thread round trip
            return text
        return await asyncio.to_thread(self.normalizer.normalize, language, text)

    # -- voices --------------------------------------------------------------------------

    async def voices(self) -> list[VoiceEntry]:
        """Every voice the deployment serves, by name, with the models that speak it."""
        models = await self.registry.models("tts")
        cached = self._voices
        if cached is not None and len(cached[0]) == len(models) and all(
                a is b for a, b in zip(cached[0], models, strict=True)):
            return cached[1]  # the registry's snapshot is unchanged (it replaces its entries on a change)
        entries: dict[str, VoiceEntry] = {}
        for model in sorted(models, key=lambda m: m.name):
            for v in model.voices:
                entry = entries.get(v.name) or VoiceEntry(v.name, v.language, v.gender, model.sample_rate_hertz,
                                                          model.backend)
                if model.streaming and not entry.streaming_model:
                    entry = dataclasses.replace(entry, streaming_model=model.name)
                elif not model.streaming and not entry.unary_model:
                    entry = dataclasses.replace(entry, unary_model=model.name)
                entries[v.name] = entry
        voices = [entries[name] for name in sorted(entries)]
        self._voices = (tuple(models), voices)
        return voices

    async def list_voices(self, page_size: int, page_token: str, language_code: str) -> tuple[list[VoiceEntry], str]:
        language = normalize_language(language_code, "language_code")
        voices = [v for v in await self.voices() if not language or v.language == language]
        return page(voices, page_size, page_token, default_size=DEFAULT_PAGE_SIZE)

    async def select_voice(self, language_code: str, name: str, gender: int, *, streaming: bool) -> VoiceEntry:
        language = normalize_language(language_code, "voice.language_code")
        if len(name) > MAX_VOICE_NAME_CHARS:
            raise InvalidArgument("voice.name is longer than 128 characters", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="voice.name")
        voices = await self.voices()
        if streaming:
            voices = [v for v in voices if v.supports_streaming]
        if name:
            named = [v for v in voices if v.name == name]
            if not named:
                available = ",".join(v.name for v in voices)
                raise InvalidArgument(f"no voice {name!r}; available: {available or 'none'}",
                                      reason=Reason.UNKNOWN_VOICE,
                                      field="voice.name", metadata={"available_voices": available})
            if language and named[0].language != language:
                raise InvalidArgument(f"voice {name!r} speaks {named[0].language}, not {language_code!r}",
                                      reason=Reason.UNSUPPORTED_LANGUAGE, field="voice.language_code")
            return named[0]
        if not language:
            raise InvalidArgument("voice.language_code or voice.name is required", reason=Reason.FIELD_REQUIRED,
                                  field="voice.language_code")
        of_language = [v for v in voices if v.language == language]
        if not of_language:
            available = ",".join(sorted({v.language for v in voices}))
            raise InvalidArgument(f"no voice speaks {language_code!r}; available: {available or 'none'}",
                                  reason=Reason.UNSUPPORTED_LANGUAGE, field="voice.language_code",
                                  metadata={"available_languages": available})
        wanted = GENDERS[gender] if 0 <= gender < len(GENDERS) else "?"
        matching = [v for v in of_language if not wanted or v.gender == wanted]
        if not matching:
            available = ",".join(v.name for v in of_language)
            raise InvalidArgument(f"no {wanted} voice speaks {language}; available: {available}",
                                  reason=Reason.NO_MATCHING_VOICE, field="voice.ssml_gender",
                                  metadata={"available_voices": available})
        return matching[0]

    # -- planning ------------------------------------------------------------------------

    def _output(self, voice: VoiceEntry, encoding: int, sample_rate: int, rate: float, pitch: float,
                gain: float, *, streaming: bool) -> OutputConfig:
        audio.check_encoding(encoding, "audio_config.encoding", STREAMABLE if streaming else None)
        if sample_rate and not audio.MIN_SAMPLE_RATE_HERTZ <= sample_rate <= audio.MAX_SAMPLE_RATE_HERTZ:
            raise InvalidArgument("audio_config.sample_rate_hertz must be 0 or 8000 to 48000",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field="audio_config.sample_rate_hertz")
        rate = rate or 1.0
        for value, low, high, field in ((rate, 0.25, 4.0, "speaking_rate"), (pitch, -20.0, 20.0, "pitch_semitones"),
                                        (gain, -96.0, 16.0, "volume_gain_db")):
            if not low <= value <= high:  # also rejects NaN
                raise InvalidArgument(f"audio_config.{field} must be {low:g} to {high:g}",
                                      reason=Reason.FIELD_OUT_OF_RANGE, field=f"audio_config.{field}")
        out_rate = audio.supported_rate(encoding, sample_rate or voice.natural_sample_rate_hertz)
        return OutputConfig(encoding, out_rate, rate, pitch, gain)

    async def _model_takes_rate(self, model: str) -> bool:
        if model not in self._rate_inputs:
            config = await self.triton.model_config(model)
            self._rate_inputs[model] = any(i.get("name") == "SPEAKING_RATE" for i in config.get("input", []))
        return self._rate_inputs[model]

    async def _pieces(self, segments: Sequence[ssml.Segment], voice: VoiceEntry, output: OutputConfig,
                      field: str) -> list[Piece]:
        s = self.settings
        pieces: list[Piece] = []
        for segment in segments:
            if isinstance(segment, ssml.Pause):
                if segment.seconds > 0:
                    pieces.append(Piece(pause_s=segment.seconds))
                continue
            prosody = segment.prosody
            rate = output.speaking_rate * prosody.rate
            semitones = output.pitch_semitones + prosody.pitch_semitones
            factor = float(2 ** (semitones / 12))
            model_rate = rate / factor
            if abs(model_rate - 1.0) > 1e-6:
                takes_rate = bool(voice.streaming_model) and await self._model_takes_rate(voice.streaming_model)
                if not takes_rate or not s.model_rate_min <= model_rate <= s.model_rate_max:
                    which = "speaking_rate" if semitones == 0 else "pitch_semitones"
                    raise InvalidArgument(
                        f"speaking rate {rate:g} with a pitch shift of {semitones:g} semitones needs the model to "
                        f"speak at {model_rate:.3g}x, but voice {voice.name!r} speaks at "
                        + (f"{s.model_rate_min:g}x to {s.model_rate_max:g}x" if takes_rate else "its normal rate only"),
                        reason=Reason.UNSUPPORTED_FEATURE, field=f"audio_config.{which}")
            gain = output.volume_gain_db + prosody.volume_gain_db
            for sentence in split_sentences(segment.text, s.max_sentence_chars):
                pieces.append(Piece(sentence, 0.0, model_rate, factor, gain))
        if not any(p.text for p in pieces):
            raise InvalidArgument("the input has nothing to speak", reason=Reason.FIELD_REQUIRED, field=field)
        return pieces

    async def plan(self, *, text: str | None, ssml_text: str | None, language_code: str, name: str, gender: int,
                   encoding: int, sample_rate: int, speaking_rate: float, pitch: float, gain: float,
                   streaming: bool, normalize: bool | None = None) -> Plan:
        """Validates a whole request and turns it into model calls, before any audio is made."""
        if text is None and ssml_text is None:
            raise InvalidArgument("input.text or input.ssml is required", reason=Reason.FIELD_REQUIRED, field="input")
        field = "input.text" if text is not None else "input.ssml"
        raw = text if text is not None else ssml_text or ""
        size = len(raw.encode("utf-8"))
        if size > self.settings.max_input_bytes:
            raise InvalidArgument(f"{field} has {size} bytes; at most {self.settings.max_input_bytes} are allowed",
                                  reason=Reason.INPUT_TOO_LONG, field=field)
        if not raw.strip():
            raise InvalidArgument(f"{field} is empty", reason=Reason.FIELD_REQUIRED, field=field)
        segments: list[ssml.Segment] = [ssml.Text(raw)] if text is not None else ssml.parse(raw)
        voice = await self.select_voice(language_code, name, gender, streaming=streaming)
        output = self._output(voice, encoding, sample_rate, speaking_rate, pitch, gain, streaming=streaming)
        enabled = self.settings.tn_default if normalize is None else normalize
        # Characters are metered as the client wrote them, not as normalization spelled them out.
        characters = sum(len(sentence) for seg in ssml.merge(segments) if isinstance(seg, ssml.Text)
                         for sentence in split_sentences(seg.text, self.settings.max_sentence_chars))
        if streaming and text is not None and enabled:
            # Plain streamed text: each sentence is normalized as its turn comes (stream()).
            pieces = [dataclasses.replace(p, raw=bool(p.text)) for p in
                      await self._pieces(ssml.merge(segments), voice, output, field)]
        else:
            segments = await self.normalize_segments(segments, voice.language, enabled=enabled)
            pieces = await self._pieces(segments, voice, output, field)
        return Plan(voice, output, pieces, characters, enabled)

    async def stream_plan(self, language_code: str, name: str, gender: int, encoding: int, sample_rate: int,
                          speaking_rate: float, pitch: float, gain: float, normalize: bool | None = None) -> Plan:
        """The plan of a bidi stream: voice and output now, pieces as text arrives."""
        voice = await self.select_voice(language_code, name, gender, streaming=True)
        output = self._output(voice, encoding, sample_rate, speaking_rate, pitch, gain, streaming=True)
        await self._pieces([ssml.Text("x")], voice, output, "text")  # rate/pitch checks up front
        return Plan(voice, output, [], 0, self.settings.tn_default if normalize is None else normalize)

    # -- synthesis -----------------------------------------------------------------------

    async def _model_audio(self, voice: VoiceEntry, piece: Piece, *, stream: bool, timeout_s: float | None,
                           request_id: str) -> AsyncIterator[np.ndarray]:
        """The natural-rate samples of one sentence, as the model produces them."""
        inputs = {
            "INPUT_TEXT": _column(piece.text),
            "INPUT_SPEAKER_ID": _column(voice.gender),
            "INPUT_LANGUAGE_ID": _column(voice.language),
        }
        if not stream and voice.unary_model and abs(piece.model_rate - 1.0) <= 1e-6:
            out = await self.triton.infer(voice.unary_model, inputs, ["OUTPUT_GENERATED_AUDIO"], timeout_s=timeout_s,
                                          request_id=request_id)
            yield out["OUTPUT_GENERATED_AUDIO"].reshape(-1).astype(np.float32, copy=False)
            return
        if abs(piece.model_rate - 1.0) > 1e-6:
            inputs["SPEAKING_RATE"] = np.array([piece.model_rate], dtype=np.float32)
        # A streamed synthesis lasts as long as the client allows (stream_timeout_s when it set no
        # deadline), not the unary calls' ceiling: hence no cap.
        async for chunk in self.triton.stream(voice.streaming_model, inputs, "OUTPUT_AUDIO_CHUNK",
                                              timeout_s=timeout_s or self.settings.stream_timeout_s, cap_s=math.inf,
                                              request_id=request_id):
            yield chunk.reshape(-1).astype(np.float32, copy=False)

    async def _piece_audio(self, plan: Plan, piece: Piece, *, stream: bool, timeout_s: float | None,
                           request_id: str) -> AsyncIterator[np.ndarray]:
        """Output-rate, post-processed samples of one piece (silence for a pause)."""
        out_rate = plan.output.sample_rate_hertz
        if not piece.text:
            yield np.zeros(round(piece.pause_s * out_rate), dtype=np.float32)
            return
        post = _Post(piece, plan.voice.natural_sample_rate_hertz, out_rate)
        async for samples in self._model_audio(plan.voice, piece, stream=stream, timeout_s=timeout_s,
                                               request_id=request_id):
            out = post(samples)
            if out.size:
                yield out
        tail = post(np.zeros(0, dtype=np.float32), last=True)
        if tail.size:
            yield tail

    async def synthesize(self, plan: Plan, *, timeout_s: float | None = None, request_id: str = ""
                         ) -> tuple[bytes, float]:
        """The whole audio, encoded, and its duration in seconds."""
        parts: list[np.ndarray] = []
        for piece in plan.pieces:
            async for samples in self._piece_audio(plan, piece, stream=False, timeout_s=timeout_s,
                                                   request_id=request_id):
                parts.append(samples)
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        rate = plan.output.sample_rate_hertz
        return audio.encode(samples, rate, plan.output.encoding), samples.size / rate

    async def stream(self, plan: Plan, pieces: AsyncIterator[Piece] | Sequence[Piece], *,
                     timeout_s: float | None = None, request_id: str = "", start_s: float = 0.0
                     ) -> AsyncIterator[Chunk]:
        """Encoded chunks (at most 64 KB each) as the model produces them, piece after piece."""
        rate = plan.output.sample_rate_hertz
        per_sample = audio.bytes_per_sample(plan.output.encoding)
        max_samples = MAX_CHUNK_BYTES // per_sample
        emitted = round(start_s * rate)
        async for piece in self._spoken(plan, pieces):
            first = True
            async for samples in self._piece_audio(plan, piece, stream=True, timeout_s=timeout_s,
                                                   request_id=request_id):
                for start in range(0, samples.size, max_samples):
                    part = samples[start:start + max_samples]
                    yield Chunk(audio.encode(part, rate, plan.output.encoding), emitted / rate,
                                piece.text if first else "")
                    first = False
                    emitted += part.size

    async def _spoken(self, plan: Plan, pieces: AsyncIterator[Piece] | Sequence[Piece]) -> AsyncIterator[Piece]:
        """The pieces as spoken: a raw one normalized when its turn comes, the next one's
        normalization started while this one is spoken (a worker thread: it overlaps the audio)."""
        if not isinstance(pieces, Sequence) or not any(p.raw for p in pieces):
            async for piece in _aiter(pieces):
                yield piece
            return
        language = plan.voice.language
        tasks: dict[int, asyncio.Future[str]] = {}

        def start(index: int) -> None:
            if index < len(pieces) and pieces[index].raw and index not in tasks:
                tasks[index] = asyncio.ensure_future(self.normalize_text(pieces[index].text, language))

        try:
            for index, piece in enumerate(pieces):
                start(index)
                start(index + 1)
                if not piece.raw:
                    yield piece
                    continue
                spoken = await tasks.pop(index)
                # Normalization may spell a sentence out past the model's piece size.
                for sentence in split_sentences(spoken, self.settings.max_sentence_chars):
                    yield dataclasses.replace(piece, text=sentence, raw=False)
        finally:
            for task in tasks.values():
                task.cancel()

    async def bidi(self, plan: Plan, fragments: AsyncIterator[str], *, timeout_s: float | None = None,
                   request_id: str = "") -> AsyncIterator[Chunk]:
        """Speaks each sentence of the incoming text as soon as it is complete.

        A reader task moves fragments into a bounded queue of sentences; when the queue is
        full it stops reading, so gRPC flow control pushes back on the client. An error from
        the fragments (a repeated config, too much text) ends the stream in order.
        """
        s = self.settings
        queue: asyncio.Queue[Piece | BaseException | None] = asyncio.Queue(maxsize=s.max_pending_sentences)
        template = (await self._pieces([ssml.Text("x")], plan.voice, plan.output, "text"))[0]

        async def spoken(sentence: str) -> str:
            return await self.normalize_text(sentence, plan.voice.language) if plan.normalize else sentence

        async def read() -> None:
            buffer = SentenceBuffer(s.max_sentence_chars)
            total = 0
            try:
                async for index, fragment in _enumerate(fragments):
                    size = len(fragment.encode("utf-8"))
                    total += size
                    if size > s.max_fragment_bytes or total > s.max_stream_bytes:
                        limit = s.max_fragment_bytes if size > s.max_fragment_bytes else s.max_stream_bytes
                        what = "a text fragment" if size > s.max_fragment_bytes else "the stream's text"
                        raise InvalidArgument(f"{what} is longer than {limit} bytes (message {index + 1})",
                                              reason=Reason.INPUT_TOO_LONG, field="text")
                    for sentence in buffer.feed(fragment):
                        await queue.put(dataclasses.replace(template, text=await spoken(sentence)))
                for sentence in buffer.flush():
                    await queue.put(dataclasses.replace(template, text=await spoken(sentence)))
                await queue.put(None)
            except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it in order
                await queue.put(exc)

        async def pieces() -> AsyncIterator[Piece]:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                plan.characters += len(item.text)
                yield item

        reader = asyncio.create_task(read(), name="tts-bidi-reader")
        try:
            async for chunk in self.stream(plan, pieces(), timeout_s=timeout_s, request_id=request_id):
                yield chunk
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _aiter(items: AsyncIterator[Piece] | Sequence[Piece]) -> AsyncIterator[Piece]:
    if isinstance(items, Sequence):
        for item in items:
            yield item
    else:
        async for item in items:
            yield item


async def _enumerate(items: AsyncIterator[str]) -> AsyncIterator[tuple[int, str]]:
    index = 0
    async for item in items:
        yield index, item
        index += 1

