"""Audio codecs shared by the speech services: encode, decode, resample.

grpc-free. Samples are float32 mono in [-1, 1]. Container and compressed formats go through
libsndfile (PyPI `soundfile`), G.711 too (libsndfile's RAW ULAW/ALAW), resampling through
libsoxr (PyPI `soxr`). Encodings are `ai4vc.audio.v1.AudioEncoding` values. Bad input is
INVALID_ARGUMENT with the reason the contract names; the caller passes the field to blame.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Iterable

import numpy as np
import soundfile as sf
import soxr

from ai4vc.audio.v1 import audio_pb2
from services.common.errors import InvalidArgument, Reason

Encoding = int
E = audio_pb2.AudioEncoding

MIN_SAMPLE_RATE_HERTZ = 8000
MAX_SAMPLE_RATE_HERTZ = 48000
# Rates the codecs accept; others are resampled to the nearest one at or above (see supported_rate).
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

# encoding → (libsndfile format, subtype) for encoding with soundfile.
_SNDFILE: dict[int, tuple[str, str]] = {
    E.AUDIO_ENCODING_WAV: ("WAV", "PCM_16"),
    E.AUDIO_ENCODING_FLAC: ("FLAC", "PCM_16"),
    E.AUDIO_ENCODING_OGG_OPUS: ("OGG", "OPUS"),
    E.AUDIO_ENCODING_OGG_VORBIS: ("OGG", "VORBIS"),
    E.AUDIO_ENCODING_MP3: ("MP3", "MPEG_LAYER_III"),
    E.AUDIO_ENCODING_MULAW: ("RAW", "ULAW"),
    E.AUDIO_ENCODING_ALAW: ("RAW", "ALAW"),
}
# Headerless encodings: each sample encodes on its own, so chunks encode independently.
RAW_ENCODINGS = frozenset({E.AUDIO_ENCODING_LINEAR16, E.AUDIO_ENCODING_MULAW, E.AUDIO_ENCODING_ALAW})
_BYTES_PER_SAMPLE: dict[int, int] = {E.AUDIO_ENCODING_LINEAR16: 2, E.AUDIO_ENCODING_MULAW: 1, E.AUDIO_ENCODING_ALAW: 1}


def _available() -> frozenset[int]:
    formats = sf.available_formats()
    found: set[int] = {E.AUDIO_ENCODING_LINEAR16}
    for encoding, (fmt, subtype) in _SNDFILE.items():
        if fmt in formats and subtype in sf.available_subtypes(fmt):
            found.add(encoding)
    return frozenset(found)


# What this build of libsndfile can write and read (WEBM_OPUS never: libsndfile has no WebM).
SUPPORTED_ENCODINGS = _available()


def encoding_name(encoding: Encoding) -> str:
    try:
        return E.Name(encoding).removeprefix("AUDIO_ENCODING_")
    except ValueError:
        return str(encoding)


def check_encoding(encoding: Encoding, field: str, allowed: Iterable[Encoding] | None = None) -> None:
    """FIELD_REQUIRED for unspecified; UNSUPPORTED_ENCODING for what this deployment cannot do."""
    if encoding == E.AUDIO_ENCODING_UNSPECIFIED:
        raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
    usable = SUPPORTED_ENCODINGS if allowed is None else SUPPORTED_ENCODINGS & frozenset(allowed)
    if encoding not in usable:
        names = ",".join(sorted(encoding_name(e) for e in usable))
        raise InvalidArgument(f"{field}={encoding_name(encoding)} is not supported here; supported: {names}",
                              reason=Reason.UNSUPPORTED_ENCODING, field=field,
                              metadata={"supported_encodings": names})


def supported_rate(encoding: Encoding, rate: int) -> int:
    """The rate `encoding` will really carry for a wanted `rate` (Opus and MP3 have fixed sets)."""
    tables: dict[int, tuple[int, ...]] = {E.AUDIO_ENCODING_OGG_OPUS: _OPUS_RATES, E.AUDIO_ENCODING_MP3: _MP3_RATES}
    table = tables.get(encoding)
    if table is None:
        return rate
    return next((r for r in table if r >= rate), table[-1])


def resample(samples: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality); a no-op for equal rates."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if from_rate == to_rate or samples.size == 0:
        return samples
    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


class StreamResampler:
    """Chunk-by-chunk resampling with state carried across chunks (no clicks at boundaries)."""

    def __init__(self, from_rate: float, to_rate: float) -> None:
        self._same = from_rate == to_rate
        self._stream = None if self._same else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32",
                                                                    quality="HQ")

    def __call__(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._stream is None:
            return samples
        return np.asarray(self._stream.resample_chunk(samples, last=last), dtype=np.float32)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return np.round(clipped * 32767.0).astype("<i2")


def encode(samples: np.ndarray, sample_rate: int, encoding: Encoding, field: str = "audio_config.encoding") -> bytes:
    """float32 mono samples → bytes in `encoding` (a whole file for container formats)."""
    check_encoding(encoding, field)
    samples = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if encoding == E.AUDIO_ENCODING_LINEAR16:
        return to_pcm16(samples).tobytes()
    fmt, subtype = _SNDFILE[encoding]
    if encoding in (E.AUDIO_ENCODING_OGG_OPUS, E.AUDIO_ENCODING_MP3) and supported_rate(encoding, sample_rate) != (
            sample_rate):
        raise InvalidArgument(f"{encoding_name(encoding)} cannot carry {sample_rate} Hz",
                              reason=Reason.FIELD_OUT_OF_RANGE,
                              field="audio_config.sample_rate_hertz")
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", samplerate=int(sample_rate), channels=1, format=fmt, subtype=subtype) as out:
        out.write(samples)
    return buffer.getvalue()


def bytes_per_sample(encoding: Encoding) -> int:
    """Size of one sample of a headerless encoding (0 for containers)."""
    return _BYTES_PER_SAMPLE.get(encoding, 0)


def decode(data: bytes, encoding: Encoding, declared_sample_rate: int = 0, *, channels: int = 0,
           field: str = "audio", encoding_field: str = "config.encoding",
           rate_field: str = "config.sample_rate_hertz") -> tuple[np.ndarray, int]:
    """bytes → (float32 mono samples, sample rate). Stereo (or more) is mixed down.

    Headerless encodings need `declared_sample_rate` (and `channels`, default 1); for
    self-describing ones a non-zero declared rate must agree with the header. Errors name
    `encoding_field` / `rate_field` (the caller's paths to them).
    """
    check_encoding(encoding, encoding_field)
    channels = channels or 0
    if encoding in RAW_ENCODINGS:
        if declared_sample_rate <= 0:
            raise InvalidArgument(f"{encoding_name(encoding)} audio needs a sample rate",
                                  reason=Reason.FIELD_REQUIRED, field=rate_field)
        count = channels or 1
        frame = bytes_per_sample(encoding) * count
        if len(data) % frame:
            raise InvalidArgument(f"{field} holds {len(data)} bytes, not whole {count}-channel "
                                  f"{encoding_name(encoding)} frames", reason=Reason.AUDIO_UNDECODABLE, field=field)
        if encoding == E.AUDIO_ENCODING_LINEAR16:
            pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            frames = pcm.reshape(-1, count)
        else:
            fmt, subtype = _SNDFILE[encoding]
            frames = _read(data, field, samplerate=declared_sample_rate, channels=count, format=fmt, subtype=subtype)[0]
        return _mono(frames), declared_sample_rate
    frames, rate = _read(data, field)
    if declared_sample_rate and declared_sample_rate != rate:
        raise InvalidArgument(f"{field} is {rate} Hz but {declared_sample_rate} Hz was declared",
                              reason=Reason.SAMPLE_RATE_MISMATCH, field=rate_field,
                              metadata={"header_sample_rate_hertz": str(rate)})
    return _mono(frames), rate


def _read(data: bytes, field: str, **kwargs: object) -> tuple[np.ndarray, int]:
    if not data:
        raise InvalidArgument(f"{field} is empty", reason=Reason.AUDIO_UNDECODABLE, field=field)
    try:
        frames, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True, **kwargs)  # type: ignore[arg-type]
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"{field} cannot be decoded: {exc}",
                              reason=Reason.AUDIO_UNDECODABLE, field=field) from exc
    return frames, int(rate)


def _mono(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 1:
        return frames
    if frames.shape[1] == 1:
        return np.ascontiguousarray(frames[:, 0])
    return frames.mean(axis=1, dtype=np.float32)


class ChunkDecoder:
    """Decodes consecutive chunks of one headerless stream (LINEAR16, MULAW, ALAW).

    A chunk may end inside a frame: the partial frame is kept and completes with the next
    chunk, so clients may cut the byte stream anywhere. Channels are mixed down.
    """

    def __init__(self, encoding: Encoding, sample_rate: int, channels: int = 1, field: str = "audio") -> None:
        if encoding not in RAW_ENCODINGS:
            raise ValueError(f"{encoding_name(encoding)} is not a headerless encoding")
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.channels = channels or 1
        self.field = field
        self._frame = bytes_per_sample(encoding) * self.channels
        self._pending = b""

    def __call__(self, data: bytes) -> np.ndarray:
        data = self._pending + data
        whole = len(data) - len(data) % self._frame
        self._pending = data[whole:]
        if not whole:
            return np.zeros(0, dtype=np.float32)
        samples, _ = decode(data[:whole], self.encoding, self.sample_rate, channels=self.channels, field=self.field)
        return samples


# WAV format tags (the fmt chunk's wFormatTag; WAVE_FORMAT_EXTENSIBLE carries one in its GUID).
_WAV_TAGS: dict[int, tuple[int, int]] = {1: (E.AUDIO_ENCODING_LINEAR16, 16), 6: (E.AUDIO_ENCODING_ALAW, 8),
                                         7: (E.AUDIO_ENCODING_MULAW, 8)}
_WAV_EXTENSIBLE = 0xFFFE
# A header larger than this (LIST/INFO chunks and all) is not a header we will wait for.
MAX_WAV_HEADER_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class WavHeader:
    """What a RIFF/WAVE header says of the samples after it: a headerless encoding, the rate,
    the channels, and where the sample bytes start."""

    encoding: Encoding
    sample_rate_hertz: int
    channels: int
    data_offset: int


def is_wav(data: bytes) -> bool:
    """Whether `data` starts like a RIFF/WAVE file (12 bytes decide; fewer: False)."""
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def wav_header(data: bytes, field: str = "audio") -> WavHeader | None:
    """Reads the header at the start of a WAV byte stream, for callers that get the file in
    chunks (a live stream whose first chunk carries the header): None while the `data` chunk's
    start has not arrived yet; INVALID_ARGUMENT for a header that is malformed, too long, or
    for samples that are not 16-bit PCM, mu-law or A-law."""
    if not is_wav(data):
        raise InvalidArgument(f"{field} does not start with a RIFF/WAVE header", reason=Reason.AUDIO_UNDECODABLE,
                              field=field)
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"data":
            if fmt is None:
                raise InvalidArgument(f"{field}: the WAV data chunk comes before its fmt chunk",
                                      reason=Reason.AUDIO_UNDECODABLE, field=field)
            encoding, rate, channels = fmt
            return WavHeader(encoding, rate, channels, body)
        if body + size > len(data):
            break
        if chunk_id == b"fmt ":
            fmt = _wav_format(data[body:body + size], field)
        offset = body + size + (size & 1)  # chunks are padded to an even length
    if len(data) > MAX_WAV_HEADER_BYTES:
        raise InvalidArgument(f"{field}: no WAV data chunk in the first {MAX_WAV_HEADER_BYTES} bytes",
                              reason=Reason.AUDIO_UNDECODABLE, field=field)
    return None


def _wav_format(body: bytes, field: str) -> tuple[Encoding, int, int]:
    if len(body) < 16:
        raise InvalidArgument(f"{field}: the WAV fmt chunk is {len(body)} bytes, not at least 16",
                              reason=Reason.AUDIO_UNDECODABLE, field=field)
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _WAV_EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]
    known = _WAV_TAGS.get(tag)
    if known is None or known[1] != bits:
        raise InvalidArgument(f"{field}: WAV format {tag} with {bits}-bit samples is not supported; "
                              "send 16-bit PCM, mu-law or A-law", reason=Reason.UNSUPPORTED_ENCODING, field=field)
    if not channels or not MIN_SAMPLE_RATE_HERTZ <= rate <= MAX_SAMPLE_RATE_HERTZ:
        raise InvalidArgument(f"{field}: the WAV header says {channels} channels at {rate} Hz",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    return known[0], rate, channels
