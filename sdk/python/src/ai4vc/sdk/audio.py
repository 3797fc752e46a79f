"""Audio in and out for the streaming helpers: a WAV file as 16-bit PCM chunks (paced in real time
or as fast as possible), the microphone (`sounddevice`, the `mic` extra, imported only when used),
and a WAV file written chunk by chunk as synthesis streams in. Standard library only otherwise."""

from __future__ import annotations

import queue
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ai4vc.audio.v1 import audio_pb2

DEFAULT_CHUNK_MS = 100

# Files the CLI picks up from a folder. Recognize is sent no encoding for them: the server reads
# the container from the file's header (so a Vorbis .ogg or a misnamed file decodes as what it is).
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".webm", ".mp3"})


@dataclass(frozen=True)
class Pcm:
    """Little-endian 16-bit samples, interleaved when `channels` > 1."""

    data: bytes
    sample_rate_hertz: int
    channels: int = 1

    @property
    def seconds(self) -> float:
        return len(self.data) / (2 * self.channels * self.sample_rate_hertz)

    def audio_config(self) -> audio_pb2.AudioConfig:
        return audio_pb2.AudioConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16,
                                     sample_rate_hertz=self.sample_rate_hertz, audio_channel_count=self.channels)


def read_wav(path: str | Path) -> Pcm:
    """A 16-bit PCM WAV file's samples; ValueError for anything else (streams need raw PCM)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getcomptype() != "NONE":
                raise ValueError(f"{path}: streaming needs 16-bit PCM WAV (this one has "
                                 f"{8 * wav.getsampwidth()}-bit {wav.getcomptype()})")
            return Pcm(wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels())
    except wave.Error as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from None


def chunks(pcm: Pcm, *, chunk_ms: int = DEFAULT_CHUNK_MS, realtime: bool = False,
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Iterator[bytes]:
    """`pcm` in `chunk_ms` pieces; with `realtime`, each piece is released when a live source would
    have produced it (paced against the start, so the delays do not add up)."""
    step = max(1, pcm.sample_rate_hertz * chunk_ms // 1000) * 2 * pcm.channels
    start = clock()
    for offset in range(0, len(pcm.data), step):
        if realtime:
            due = start + offset / (2 * pcm.channels * pcm.sample_rate_hertz)
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        yield pcm.data[offset:offset + step]


class Microphone:
    """The default input device as 16-bit mono chunks (`pip install 'ai4vc[mic]'`).

    Iterate it for chunks; `close()` (or leaving the `with` block) stops the stream."""

    def __init__(self, sample_rate_hertz: int = 16000, chunk_ms: int = DEFAULT_CHUNK_MS,
                 device: int | str | None = None) -> None:
        try:
            import sounddevice  # optional extra: only a microphone user needs PortAudio
        except (ImportError, OSError) as exc:
            raise RuntimeError("microphone input needs the `mic` extra: pip install 'ai4vc[mic]' "
                               f"(and PortAudio) — {exc}") from None
        self.sample_rate_hertz = sample_rate_hertz
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        try:
            self._stream = sounddevice.RawInputStream(
                samplerate=sample_rate_hertz, channels=1, dtype="int16", device=device,
                blocksize=sample_rate_hertz * chunk_ms // 1000,
                callback=lambda data, _frames, _time, _status: self._queue.put(bytes(data)))
            self._stream.start()
        except Exception as exc:  # sounddevice.PortAudioError: no device, busy, unsupported rate
            raise RuntimeError(f"cannot open the microphone ({device or 'default input'}): {exc}") from None

    def audio_config(self) -> audio_pb2.AudioConfig:
        return audio_pb2.AudioConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16,
                                     sample_rate_hertz=self.sample_rate_hertz, audio_channel_count=1)

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._queue.get()) is not None:
            yield chunk

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
        self._queue.put(None)

    def __enter__(self) -> Microphone:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class WavWriter:
    """A 16-bit mono WAV file written as chunks arrive; the header is finished on close."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._wav: wave.Wave_write | None = None
        self.frames = 0

    def write(self, pcm: bytes, sample_rate_hertz: int) -> None:
        if self._wav is None:
            self._wav = wave.open(str(self.path), "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(sample_rate_hertz)
        self._wav.writeframes(pcm)
        self.frames += len(pcm) // 2

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
