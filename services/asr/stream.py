"""One live recognition stream: client audio → decode → resample → VAD → model → results.

Three stages joined by bounded queues, so a slow model or a slow client pushes back to
reading the client instead of growing memory:

    reader (decode + resample)  --audio queue-->  worker (VAD, model calls)  --response queue-->  caller

Each utterance the VAD finds is one model sequence (START … END) with its own correlation
id; audio goes to the model in chunks of at least `stream_chunk_ms` (in whole VAD frames) as it
arrives (a stream that is behind takes its queued messages together, up to
`stream_coalesce_ms`), never re-sent. A
sequence left open when the stream ends for any reason (error, cancellation) is closed with
an END request in the background, so Triton frees its decoder at once.

Finals without waiting on the model: once an utterance's trailing silence reaches
`stream_prepare_final_ms` (when shorter than its end_of_utterance_silence), the chunk sent then
carries PREPARE_FINAL, and the rest of the silence is held back. When the endpointer decides,
the END is empty and the model answers the final it has prepared; if speech resumes first,
the held audio goes on as usual and the model drops what it prepared. A prepare runs the
second pass over the whole utterance so far, so within one utterance the next prepare waits
until the utterance is twice as long as at the last one: a speaker pausing often in a long
utterance costs at most about two passes over it in all, not one per pause (which grew with
the square of its length and put a 40 s stream 15 s behind real time).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import logging
import secrets
from collections.abc import AsyncIterator

import numpy as np
import webrtcvad

from services.asr.core import (
    AsrCore,
    Options,
    RecognitionWarning,
    Utterance,
    boost_tensors,
    boost_warnings,
    supports_boosting,
    words_from,
)
from services.asr.sequence import SequenceClient, supports_prepare
from services.common import audio
from services.common.backends.registry import ModelInfo
from services.common.errors import InvalidArgument, OutOfRange, Reason
from services.common.rpc.admission import StreamLag

log = logging.getLogger(__name__)
_VAD_RATES = (8000, 16000, 32000, 48000)
_FRAME_MS = 30
# Speech begins when this many of the last `_ONSET_WINDOW` VAD frames are voiced.
_ONSET_VOICED, _ONSET_WINDOW = 3, 5
# Correlation ids: a random base per process, then consecutive (unique among open streams).
_CORRIDS = itertools.count((secrets.randbits(40) << 16) | 1)


@dataclasses.dataclass(frozen=True)
class Endpointing:
    interim_results: bool = False
    single_utterance: bool = False
    voice_activity_events: bool = False
    speech_start_timeout_s: float = 0.0
    end_of_utterance_silence_s: float = 0.8
    max_utterance_s: float = 60.0


@dataclasses.dataclass(frozen=True)
class Interim:
    utterance_index: int
    transcript: str
    stability: float
    end_s: float
    processed_s: float
    spoken: str = ""  # the spoken form, when `normalized`
    normalized: bool = False


@dataclasses.dataclass(frozen=True)
class Final:
    utterance: Utterance
    processed_s: float


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str  # "begin" | "end" | "single_end" | "timeout"
    offset_s: float
    processed_s: float


StreamItem = Interim | Final | Event
_EOF = object()


def stability(previous: str, current: str) -> float:
    """Share of the current hypothesis's words that the previous one already had, in place."""
    old, new = previous.split(), current.split()
    if not new:
        return 0.0
    same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    return round(same / len(new), 3)


class StreamSession:
    def __init__(self, core: AsrCore, sequences: SequenceClient, info: ModelInfo, language: str, options: Options,
                 endpointing: Endpointing, request_id: str = "", lag: StreamLag | None = None) -> None:
        s = core.settings
        self.core = core
        self.sequences = sequences
        self.info = info
        self.language = language
        self.options = options
        self.ep = endpointing
        self.request_id = request_id
        # Each block of audio the reader queues is due in real time, and done once the worker has
        # taken it through VAD and the model: how far behind the stream is (admission's signal).
        self.lag = lag
        self.rate = info.sample_rate_hertz or 16000
        if self.rate not in _VAD_RATES:
            raise InvalidArgument(f"model {info.name!r} runs at {self.rate} Hz, which the VAD cannot segment",
                                  reason=Reason.UNSUPPORTED_FEATURE, field=options.prefix + "model")
        self.audio_q: asyncio.Queue[object] = asyncio.Queue(maxsize=s.stream_audio_queue)
        self.out_q: asyncio.Queue[object] = asyncio.Queue(maxsize=s.stream_response_queue)
        self.high_water = {"audio": 0, "responses": 0}
        self.bytes_in = 0
        self.received_s = 0.0
        self.utterances: list[Utterance] = []
        self.stored = bytearray()
        self.stored_truncated = False
        self.open_corrid: int | None = None
        self.idle_timed_out = False
        self._frame = self.rate * _FRAME_MS // 1000
        # stream_chunk_ms in whole VAD frames, rounded down: a 100 ms client message is three
        # 30 ms frames (and a remainder the next message completes), so it goes at once as one
        # call of 90-120 ms, not held for the next message (which made calls of 120/180 ms and
        # put a longer decode on every other interim).
        self._chunk = max(self._frame, self.rate * s.stream_chunk_ms // 1000 // self._frame * self._frame)
        # Prepared at stream_prepare_final_ms into the silence, when that comes before the
        # endpoint. Not sooner for a shorter end_of_utterance_silence: pocketsphinx's second pass
        # needs ~300 ms of trailing silence to be accurate (bench/README.md, streaming).
        prepare_ms = s.stream_prepare_final_ms
        self._prepare_n = round(prepare_ms * self.rate / 1000) if (
            supports_prepare(info) and 0 < prepare_ms < endpointing.end_of_utterance_silence_s * 1000) else 0
        self.prepared = False  # PREPARE_FINAL sent for the current utterance's trailing silence
        self.prepared_len = 0  # samples of the current utterance when it last prepared (0: not yet)
        self._vad = webrtcvad.Vad(s.vad_aggressiveness)
        p = options.prefix + "audio_config."
        self.decoder = audio.StreamDecoder(options.encoding, options.sample_rate_hertz, options.channels,
                                           field="audio", encoding_field=p + "encoding",
                                           rate_field=p + "sample_rate_hertz", channels_field=p + "audio_channel_count")
        # Boosting goes with every utterance's START; what the stream ignored, for the caller.
        self.boost = boost_tensors(options.speech_contexts) if options.speech_contexts and supports_boosting(info) \
            else None
        self.warnings: list[RecognitionWarning] = [] if self.boost else boost_warnings(info, options)
        self._boost_checked = False

    # -- the caller's side ---------------------------------------------------------------

    async def run(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[StreamItem]:
        """Yields interim results, finals and events until the stream is done."""
        reader = asyncio.create_task(self._read(chunks), name="asr-stream-reader")
        worker = asyncio.create_task(self._work(), name="asr-stream-worker")
        try:
            while True:
                item = await self.out_q.get()
                if item is _EOF:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            for task in (reader, worker):
                task.cancel()
            for task in (reader, worker):
                with contextlib.suppress(BaseException):
                    await task
            if self.open_corrid is not None:
                self.core.background(self._end_sequence(self.open_corrid))
                self.open_corrid = None

    # -- reader: client bytes → model-rate samples ---------------------------------------

    async def _read(self, chunks: AsyncIterator[bytes]) -> None:
        s = self.core.settings
        o = self.options
        p = o.prefix + "audio_config."
        # The first bytes decide what the stream is: a WAV header (parsed, stripped), Ogg or WebM
        # (FFmpeg), or headerless samples as configured. The rate is known once samples come out.
        decoder = self.decoder
        resampler: audio.StreamResampler | None = None
        try:
            index = 0
            async for data in chunks:
                index += 1
                if len(data) > s.max_chunk_bytes:
                    raise InvalidArgument(f"audio message {index} holds {len(data)} bytes, more than "
                                          f"{s.max_chunk_bytes}", reason=Reason.AUDIO_CHUNK_TOO_LARGE, field="audio")
                self.bytes_in += len(data)
                self._store(data)
                resampler = await self._forward(decoder(data), resampler)
            resampler = await self._forward(decoder.finish(), resampler)
            if resampler is None and decoder.sample_rate is None and self.bytes_in:
                raise InvalidArgument(f"audio ended before its header did (is {p}encoding right?)",
                                      reason=Reason.AUDIO_UNDECODABLE, field="audio")
            if resampler is not None:
                await self._put_audio(resampler(np.zeros(0, np.float32), last=True), 0.0)
            await self._put(self.audio_q, "audio", _EOF)
        except Exception as exc:  # noqa: BLE001 - handed to the worker, which raises it in order
            await self._put(self.audio_q, "audio", exc)
        finally:
            decoder.close()

    async def _forward(self, samples: np.ndarray, resampler: audio.StreamResampler | None
                       ) -> audio.StreamResampler | None:
        """Decoded samples → the model's rate → the worker's queue."""
        rate = self.decoder.sample_rate
        if rate is None or samples.size == 0:
            return resampler
        if resampler is None:
            resampler = audio.StreamResampler(rate, self.rate)
        if not np.all(np.isfinite(samples)):
            raise InvalidArgument("audio holds samples that are not finite", reason=Reason.AUDIO_UNDECODABLE,
                                  field="audio")
        self.received_s += samples.size / rate
        if self.received_s > self.core.settings.max_stream_seconds:
            raise OutOfRange(f"the stream is longer than {self.core.settings.max_stream_seconds:g} s of audio",
                             reason=Reason.STREAM_TOO_LONG, field="audio")
        await self._put_audio(resampler(samples), samples.size / rate)
        return resampler

    def _store(self, data: bytes) -> None:
        if not self.options.store_audio or self.stored_truncated:
            return
        room = self.core.settings.max_stored_audio_bytes - len(self.stored)
        self.stored += data[:room]
        self.stored_truncated = len(data) > room

    async def _put_audio(self, samples: np.ndarray, audio_s: float) -> None:
        """Model-rate samples (`audio_s` seconds of the client's audio) to the worker."""
        if self.lag is not None:
            self.lag.arrived(audio_s)
        await self._put(self.audio_q, "audio", samples)

    async def _put(self, queue: asyncio.Queue[object], name: str, item: object) -> None:
        await queue.put(item)
        self.high_water[name] = max(self.high_water[name], queue.qsize())

    async def _emit(self, item: object) -> None:
        await self._put(self.out_q, "responses", item)

    # -- worker: VAD and the model -------------------------------------------------------

    async def _work(self) -> None:
        try:
            await self._segment()
        except Exception as exc:  # noqa: BLE001 - raised by the caller's side, in order
            await self._emit(exc)
            return
        await self._emit(_EOF)

    async def _segment(self) -> None:
        s = self.core.settings
        ep = self.ep
        rate = self.rate
        frame_n = self._frame
        pending = np.zeros(0, np.float32)
        preroll: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, s.vad_preroll_ms // _FRAME_MS))
        window: collections.deque[bool] = collections.deque(maxlen=_ONSET_WINDOW)
        self.pos = 0  # samples classified so far
        self.in_speech = False
        self.spoke = False
        self.buffer: list[np.ndarray] = []
        self.sent = 0  # samples of the current utterance sent to the model
        self.utt_start = 0
        self.silence = 0
        eou = round(ep.end_of_utterance_silence_s * rate)
        max_utt = round(ep.max_utterance_s * rate)
        coalesce_n = round(s.stream_coalesce_ms * rate / 1000)
        while True:
            if self.audio_q.empty():
                try:
                    async with asyncio.timeout(s.stream_idle_timeout_s):
                        item = await self.audio_q.get()
                except TimeoutError:
                    self.idle_timed_out = True
                    log.info("stream idle for %s s: ending it", s.stream_idle_timeout_s)
                    break
            else:
                item = self.audio_q.get_nowait()
            if item is _EOF:
                break
            if isinstance(item, BaseException):
                raise item
            # Messages already queued behind this one (the stream is behind: the model or the
            # process was busy) are taken with it, up to stream_coalesce_ms, and go to the model
            # in one call: under load a stream makes fewer, longer calls instead of falling
            # further behind at one call per chunk.
            batch = [np.asarray(item, np.float32)]
            queued = batch[0].size
            held: object = None  # the end of the audio, or the reader's error, taken while coalescing
            while queued < coalesce_n and not self.audio_q.empty():
                more = self.audio_q.get_nowait()
                if more is _EOF or isinstance(more, BaseException):
                    held = more
                    break
                batch.append(np.asarray(more, np.float32))
                queued += batch[-1].size
            pending = np.concatenate([pending, *batch])
            count = pending.size // frame_n
            # One conversion per message for all its whole VAD frames, not one per frame (the
            # per-frame numpy calls were most of a stream's Python work).
            frames = pending[:count * frame_n].reshape(count, frame_n)
            pcm = audio.to_pcm16(frames).tobytes()
            pending = pending[count * frame_n:]
            frame_bytes = frame_n * 2
            for index in range(count):
                frame = frames[index]
                self.pos += frame_n
                voiced = self._vad.is_speech(pcm[index * frame_bytes:(index + 1) * frame_bytes], rate)
                if not self.in_speech:
                    preroll.append(frame)
                    window.append(voiced)
                    if sum(window) >= _ONSET_VOICED:
                        self._begin(list(preroll))
                        preroll.clear()
                        window.clear()
                        if ep.voice_activity_events:
                            await self._emit(Event("begin", self.utt_start / rate, self.pos / rate))
                    elif ep.speech_start_timeout_s and not self.spoke and self.pos / rate >= ep.speech_start_timeout_s:
                        await self._emit(Event("timeout", self.pos / rate, self.pos / rate))
                        return
                    continue
                self.buffer.append(frame)
                self.silence = 0 if voiced else self.silence + frame_n
                if voiced:
                    self.prepared = False  # speech again: what the model prepared is stale
                if self.silence >= eou:
                    if ep.voice_activity_events:
                        await self._emit(Event("end", (self.pos - self.silence) / rate, self.pos / rate))
                    if await self._finish() and ep.single_utterance:
                        return
                    continue
                if self.pos - self.utt_start >= max_utt:
                    if await self._finish() and ep.single_utterance:
                        return
                    self._begin([])
                    continue
                if self.prepared:
                    continue  # trailing silence after the prepare is held back (see the module docstring)
                if self._prepare_n and self.silence >= self._prepare_n and (
                        self.pos - self.utt_start >= 2 * self.prepared_len):
                    await self._send(end=False, prepare=True)
                    self.prepared = True
                    self.prepared_len = self.pos - self.utt_start
                    continue
            # A chunk goes to the model once a message (or a coalesced batch) has been
            # classified, when at least stream_chunk_ms is buffered: its last sample is the
            # newest the client sent, so an interim result covers all of it.
            if self.in_speech and not self.prepared and sum(f.size for f in self.buffer) >= self._chunk:
                await self._send(end=False)
            if self.lag is not None:
                for _ in batch:
                    self.lag.finished()
            if held is _EOF:
                break
            if isinstance(held, BaseException):
                raise held
        if pending.size and self.in_speech:
            self.buffer.append(pending)
            self.pos += pending.size
        if self.in_speech:
            await self._finish()

    def _begin(self, frames: list[np.ndarray]) -> None:
        self.in_speech = True
        self.spoke = True
        self.buffer = frames
        self.utt_start = self.pos - sum(f.size for f in frames)
        self.sent = 0
        self.silence = 0
        self.last_text = ""
        self.prepared = False
        self.prepared_len = 0

    async def _send(self, *, end: bool, prepare: bool = False) -> tuple[str, bool, list[dict]]:
        if end and self.prepared:
            self.buffer = []  # trailing silence only: the END is empty, so the prepared final answers it
        samples = np.concatenate(self.buffer) if self.buffer else np.zeros(0, np.float32)
        self.buffer = []
        start = self.sent == 0 and self.open_corrid is None
        if start:
            self.open_corrid = next(_CORRIDS)
        corrid = self.open_corrid
        assert corrid is not None
        ignored: list[str] = []
        boost = self.boost if start else None
        text, final, words = await self.sequences.send(
            self.info.name, corrid, samples, self.language, start=start, end=end,
            cap_s=self.core.settings.stream_call_timeout_s, request_id=self.request_id,
            boost=boost, ignored=ignored, prepare=prepare)
        if boost is not None and not self._boost_checked:
            self._boost_checked = True
            self.warnings.extend(boost_warnings(self.info, self.options, ignored))
        self.sent += samples.size
        if end:
            self.open_corrid = None
            self.prepared = False
        elif self.ep.interim_results and text.strip() and text != self.last_text:
            form = await self.core.inverse_normalize(self.language, text.strip()) if (
                self.options.interim_inverse_text_normalization and self.core.itn_wanted(self.options)) else None
            # Stability compares spoken forms: ITN may rewrite earlier words as later ones arrive.
            await self._emit(Interim(len(self.utterances), form.text if form else text.strip(),
                                     stability(self.last_text, text), self.pos / self.rate, self.pos / self.rate,
                                     form.spoken if form else "", bool(form and form.applied)))
            self.last_text = text
        return text, final, words

    async def _finish(self) -> bool:
        """Ends the utterance's sequence; True when it gave a (non-empty) final result."""
        self.in_speech = False
        text, _final, words = await self._send(end=True)
        text = text.strip()
        if not text:
            return False
        timed = words_from(words, self.utt_start / self.rate)
        written = (await self.core.inverse_normalize(self.language, text, timed)
                   if self.core.itn_wanted(self.options) else None)
        utterance = self.core.utterance(len(self.utterances), text, timed, self.pos / self.rate,
                                        profanity_filter=self.options.profanity_filter, written=written)
        self.utterances.append(utterance)
        if self.ep.single_utterance:
            await self._emit(Event("single_end", self.pos / self.rate, self.pos / self.rate))
        await self._emit(Final(utterance, self.pos / self.rate))
        return True

    async def _end_sequence(self, corrid: int) -> None:
        """Closes a sequence the stream left open (the client went away, or an error)."""
        try:
            await self.sequences.send(self.info.name, corrid, np.zeros(0, np.float32), self.language, start=False,
                                      end=True, cap_s=self.core.settings.stream_call_timeout_s)
        except Exception:  # noqa: BLE001 - Triton drops idle sequences itself after its timeout
            log.warning("could not end sequence %s of %s", corrid, self.info.name, exc_info=True)


def make_endpointing(*, interim_results: bool, single_utterance: bool, voice_activity_events: bool,
                     speech_start_timeout_s: float | None, end_of_utterance_silence_s: float | None,
                     max_utterance_s: float | None, prefix: str = "streaming_config.endpointing.") -> Endpointing:
    """Endpointing with the contract's defaults and ranges (None = unset)."""
    def check(value: float | None, low: float, high: float, default: float, name: str) -> float:
        if value is None:
            return default
        if not low <= value <= high:
            raise InvalidArgument(f"{prefix}{name} must be {low:g} s to {high:g} s", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field=prefix + name)
        return value

    return Endpointing(
        interim_results=interim_results, single_utterance=single_utterance,
        voice_activity_events=voice_activity_events,
        speech_start_timeout_s=check(speech_start_timeout_s, 0.0, 60.0, 0.0, "speech_start_timeout"),
        end_of_utterance_silence_s=check(end_of_utterance_silence_s, 0.1, 5.0, 0.8, "end_of_utterance_silence"),
        max_utterance_s=check(max_utterance_s, 1.0, 300.0, 60.0, "max_utterance_duration"))
