"""Reference streaming TTS model for Triton's Python backend (decoupled): espeak-ng.

The Indic-TTS inputs plus an optional SPEAKING_RATE; audio goes out as OUTPUT_AUDIO_CHUNK
responses, the first `chunk_ms` long and each next one twice the one before up to
`max_chunk_ms` (the last may be shorter), then an empty response flagged COMPLETE_FINAL. The
first chunk is short so that audio starts at once; synthesis runs several times faster than
real time, so the client is ahead by then and later chunks can be long: a 5 s sentence is 9
responses instead of 53, and every layer between the model and the client (the stub's IPC,
Triton, the TTS service, Envoy) handles a sixth of the messages. A bad request gets one
error response (INVALID_ARG) and the final flag; a cancelled one stops being synthesised.

espeak-ng's state is global, so an instance speaks one text at a time. Speaking each request
whole, one after another, made the 32nd of 32 requests arriving together wait for 31 whole
sentences before its first audio. So `execute` validates and hands each request to the
instance's worker thread (a decoupled model may answer after execute returns; execute waits
only for the first chunk, see there), which serves its streams in turns: a new stream first
(its first piece synthesised, its first chunk sent as soon as it exists), then one chunk per
stream round the others, a stream's next piece synthesised when its audio runs out. A text
alone is cut only into pieces of at most `piece_words` words (24), at sentence ends where it
has them; one that arrives while others are served has a first piece of `first_piece_words`
(4), so the next new stream waits a few ms, not a whole sentence. Chunk sizes run on
across pieces (samples carry over); a cut between words costs espeak's clause-final
lengthening (~0.1 s per cut, measured).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import queue
import re
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils
from espeak_ng import RATE_DEFAULT_WPM, EspeakError
from espeak_ng import load as load_espeak

_RATE_MIN, _RATE_MAX = 0.5, 2.5


class _Cancelled(Exception):
    """The client cancelled the request; synthesis stops."""


def _parameters(config: dict) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def _first(request: object, name: str, required: bool = True) -> object:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        if required:
            raise ValueError(f"{name} is missing")
        return None
    values = tensor.as_numpy().reshape(-1)
    if values.size != 1:
        raise ValueError(f"{name} must hold exactly one value, got {values.size}")
    return values[0]


_SENTENCE_END = re.compile(r"[.!?।॥۔؟…]+[\"'”’)\]]*$")
FIRST_CHUNK_WAIT_S = 0.05
# How often a stream being synthesised asks whether it was cancelled. `is_cancelled()` is a
# round trip to the Triton process; asked at each of espeak's 50 ms blocks it was a third of the
# stub's samples under 32 streams (py-spy). Synthesis runs far faster than real time, so a
# cancelled stream still stops within a few ms of audio work.
CANCEL_CHECK_S = 0.02
MAX_STREAMS_DEFAULT = 256  # streams an instance holds at once; past them: "Exceeds maximum queue size"


def pieces(text: str, first_words: int, words: int) -> list[str]:
    """`text` cut for synthesis in turns: a first piece of at most `first_words` words, then
    pieces of at most `words`, each ending at the last sentence end inside it where there is one."""
    rest = text.split()
    out: list[str] = []
    while rest:
        window = rest[:first_words if not out else words]
        ends = [i for i, word in enumerate(window) if _SENTENCE_END.search(word)]
        cut = ends[-1] + 1 if ends and len(rest) > len(window) else len(window)
        out.append(" ".join(window[:cut]))
        rest = rest[cut:]
    return out


class _Stream:
    """One request being spoken: its pieces still to synthesise and its samples not yet sent."""

    def __init__(self, sender: object, text: str, voice: str, rate_wpm: int) -> None:
        self.sender = sender
        self.text = text  # cut into `texts` when first served (how depends on the load then)
        self.texts: collections.deque[str] = collections.deque()
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pending: collections.deque[np.ndarray] = collections.deque()  # whole chunks, in order
        self.partial: list[np.ndarray] = []  # samples short of a chunk
        self.partial_count = 0
        self.next_size = 0  # samples of the next chunk to cut (0: none cut yet)
        self.sent = 0
        self.started = threading.Event()
        self.checked_at = -math.inf  # time.monotonic() of the last cancellation check

    def cancelled(self, every_s: float = 0.0) -> bool:
        """Whether the client cancelled; asks Triton only if `every_s` passed since the last time."""
        now = time.monotonic()
        if now - self.checked_at < every_s:
            return False
        self.checked_at = now
        return bool(self.sender.is_cancelled())

    def add(self, block: np.ndarray, first_samples: int, max_samples: int) -> None:
        """Adds synthesised samples; cuts whole chunks off them: the first `first_samples` long,
        each next one twice the one before, up to `max_samples`."""
        self.partial.append(block)
        self.partial_count += block.size
        size = self.next_size or first_samples
        if self.partial_count < size:
            return
        samples = np.concatenate(self.partial)
        start = 0
        while samples.size - start >= size:
            self.pending.append(samples[start:start + size])
            start += size
            size = min(2 * size, max_samples)
        self.next_size = size
        rest = samples[start:]
        self.partial, self.partial_count = ([rest] if rest.size else []), rest.size

    def flush(self) -> None:
        if self.partial_count:
            self.pending.append(np.concatenate(self.partial))
        self.partial, self.partial_count = [], 0

    def send_chunk(self) -> None:
        audio = (self.pending.popleft().astype(np.float32) / 32768.0).reshape(-1)
        self.sender.send(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT_AUDIO_CHUNK", audio)]))
        self.sent += 1
        self.started.set()


def _error(sender: object, message: str, code: object = None) -> None:
    """One error response, then the final flag; never raises (the stream may be gone)."""
    with contextlib.suppress(Exception):
        error = pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)
        sender.send(pb_utils.InferenceResponse(output_tensors=[], error=error))
    _final(sender)


def _final(sender: object) -> None:
    with contextlib.suppress(Exception):
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        if not pb_utils.using_decoupled_model_transaction_policy(config):
            raise pb_utils.TritonModelException("tts_streaming must be configured decoupled")
        parameters = _parameters(config)
        try:
            self.espeak, self.table = load_espeak(parameters)
        except EspeakError as exc:
            raise pb_utils.TritonModelException(str(exc)) from exc
        chunk_ms = int(parameters.get("chunk_ms") or 100)
        self.chunk_samples = max(1, self.espeak.sample_rate_hertz * chunk_ms // 1000)
        max_chunk_ms = max(chunk_ms, int(parameters.get("max_chunk_ms") or chunk_ms))
        self.max_chunk_samples = max(self.chunk_samples, self.espeak.sample_rate_hertz * max_chunk_ms // 1000)
        self.first_words = max(1, int(parameters.get("first_piece_words") or 4))
        self.words = max(self.first_words, int(parameters.get("piece_words") or 24))
        self.max_streams = int(parameters.get("max_streams") or MAX_STREAMS_DEFAULT)
        self._arrivals: queue.SimpleQueue[_Stream | None] = queue.SimpleQueue()
        self._count = 0  # streams handed to the worker and not finished (execute and worker)
        self._count_lock = threading.Lock()
        self._worker = threading.Thread(target=self._serve, name="tts-streams", daemon=True)
        self._worker.start()

    def execute(self, requests: list) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                stream = self._stream(request, sender)
            except ValueError as exc:
                _error(sender, str(exc), pb_utils.TritonError.INVALID_ARG)
                continue
            except Exception as exc:  # noqa: BLE001 - never crash the stub
                _error(sender, f"synthesis failed: {exc}")
                continue
            with self._count_lock:
                full = self._count >= self.max_streams
                if not full:
                    self._count += 1
            if full:  # the services read this message as overload (RESOURCE_EXHAUSTED), not a dead model
                _error(sender, f"Exceeds maximum queue size ({self.max_streams} streams)",
                       pb_utils.TritonError.UNAVAILABLE)
                continue
            self._arrivals.put(stream)
            # A response sent while execute runs reaches the client at once; one sent after it
            # returned waited ~10 ms more (measured, tritonserver 2.51). The worker sends a new
            # stream's first chunk within a few ms, so execute waits for it, bounded.
            stream.started.wait(FIRST_CHUNK_WAIT_S)
        return None

    def finalize(self) -> None:
        self._arrivals.put(None)
        self._worker.join(timeout=5)

    def _stream(self, request: object, sender: object) -> _Stream:
        text, voice = self.table.resolve(_first(request, "INPUT_TEXT"), _first(request, "INPUT_SPEAKER_ID"),
                                         _first(request, "INPUT_LANGUAGE_ID"))
        rate = _first(request, "SPEAKING_RATE", required=False)
        speed = 1.0 if rate is None else float(rate)
        if not _RATE_MIN <= speed <= _RATE_MAX:  # also rejects NaN
            raise ValueError(f"SPEAKING_RATE {speed} is outside {_RATE_MIN}-{_RATE_MAX}")
        return _Stream(sender, text, voice, round(RATE_DEFAULT_WPM * speed))

    # -- the worker thread ---------------------------------------------------------------

    def _serve(self) -> None:
        """Serves every stream in turns until finalize: new streams first, one chunk each."""
        fresh: collections.deque[_Stream] = collections.deque()  # no audio sent yet
        going: collections.deque[_Stream] = collections.deque()  # round robin
        while True:
            try:
                while True:
                    arrived = self._arrivals.get(block=not (fresh or going))
                    if arrived is None:
                        return
                    fresh.append(arrived)
            except queue.Empty:
                pass
            if fresh:
                stream = fresh.popleft()
                # Alone, a text is spoken in long pieces (its prosody intact); with others
                # waiting, its first piece is short so that the next new stream starts soon.
                first = self.first_words if (fresh or going) else self.words
                stream.texts.extend(pieces(stream.text, first, self.words))
            else:
                stream = going.popleft()
            try:
                done = self._step(stream)
            except EspeakError as exc:
                _error(stream.sender, str(exc), pb_utils.TritonError.INTERNAL)
                done = True
            except _Cancelled:
                _final(stream.sender)
                done = True
            except Exception as exc:  # noqa: BLE001 - e.g. a send on a closed stream; never crash the stub
                _error(stream.sender, f"synthesis failed: {exc}")
                done = True
            if done:
                stream.started.set()
                with self._count_lock:
                    self._count -= 1
            else:
                going.append(stream)

    def _step(self, stream: _Stream) -> bool:
        """Sends the stream's next chunk, synthesising its next piece first when none is ready;
        True when the stream is finished (final flag sent)."""
        if stream.cancelled():
            raise _Cancelled()
        while not stream.pending and stream.texts:
            text = stream.texts.popleft()

            def sink(block: np.ndarray) -> None:
                if stream.cancelled(CANCEL_CHECK_S):
                    raise _Cancelled()
                stream.add(block, self.chunk_samples, self.max_chunk_samples)
                if not stream.sent and stream.pending:  # a stream's first audio goes out at once
                    stream.send_chunk()

            self.espeak.synthesize(text, stream.voice, sink, rate_wpm=stream.rate_wpm)
            if not stream.texts:
                stream.flush()
        if stream.pending:
            stream.send_chunk()
        if stream.pending or stream.texts:
            return False
        _final(stream.sender)
        return True
