"""Audio codecs shared by the speech services: sniff, encode, decode, resample.

grpc-free. Samples are float32 mono in [-1, 1]. Container and compressed formats go through
libsndfile (PyPI `soundfile`), G.711 too (libsndfile's RAW ULAW/ALAW), resampling through
libsoxr (PyPI `soxr`). WebM (which libsndfile cannot read) and streamed Ogg/WebM go through
FFmpeg's demuxers and decoders (PyPI `av`), decode only. Encodings are
`ai4vc.audio.v1.AudioEncoding` values. `sniff` is the one place that tells a container from
its first bytes (for AUDIO_ENCODING_UNSPECIFIED, and to check a declared encoding against
the header, which wins). Bad input is INVALID_ARGUMENT with the reason the contract names;
the caller passes the field to blame.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import threading
from collections.abc import Iterable

import av
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
# Containers FFmpeg (PyPI `av`) demuxes as they arrive, for streams; WebM for unary decoding too.
_FFMPEG_FORMATS: dict[int, str] = {E.AUDIO_ENCODING_OGG_OPUS: "ogg", E.AUDIO_ENCODING_OGG_VORBIS: "ogg",
                                   E.AUDIO_ENCODING_WEBM_OPUS: "webm"}


def _ffmpeg_can(encoding: int) -> bool:
    """This FFmpeg build has the container's demuxer and a decoder of its codec."""
    codecs = {"vorbis", "libvorbis"} if encoding == E.AUDIO_ENCODING_OGG_VORBIS else {"opus", "libopus"}
    return _FFMPEG_FORMATS[encoding] in av.formats_available and bool(codecs & set(av.codecs_available))


_FFMPEG_ENCODINGS = frozenset(e for e in _FFMPEG_FORMATS if _ffmpeg_can(e))
# What can be decoded (a superset of what can be encoded: WebM is read-only here).
DECODABLE_ENCODINGS = SUPPORTED_ENCODINGS | _FFMPEG_ENCODINGS
# What a stream may carry: headerless samples, a WAV header first, or a streamable container.
STREAMABLE_ENCODINGS = RAW_ENCODINGS | {E.AUDIO_ENCODING_WAV} | _FFMPEG_ENCODINGS


def encoding_name(encoding: Encoding) -> str:
    try:
        return E.Name(encoding).removeprefix("AUDIO_ENCODING_")
    except ValueError:
        return str(encoding)


def check_encoding(encoding: Encoding, field: str, allowed: Iterable[Encoding] | None = None, *,
                   auto: bool = False) -> None:
    """FIELD_REQUIRED for unspecified (unless `auto`: the caller sniffs the header);
    UNSUPPORTED_ENCODING for what this deployment cannot do (`allowed` defaults to what it can write)."""
    if encoding == E.AUDIO_ENCODING_UNSPECIFIED:
        if auto:
            return
        raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
    usable = SUPPORTED_ENCODINGS if allowed is None else (SUPPORTED_ENCODINGS | DECODABLE_ENCODINGS) & frozenset(
        allowed)
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
    return _pcm16(np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0))


def _pcm16(clipped: np.ndarray) -> np.ndarray:
    """Samples already in [-1, 1] → 16-bit PCM (rounded, one temporary array)."""
    scaled = clipped * np.float32(32767.0)
    return np.rint(scaled, out=scaled).astype("<i2")


def encode(samples: np.ndarray, sample_rate: int, encoding: Encoding, field: str = "audio_config.encoding") -> bytes:
    """float32 mono samples → bytes in `encoding` (a whole file for container formats)."""
    check_encoding(encoding, field)
    samples = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    if encoding == E.AUDIO_ENCODING_LINEAR16:
        return _pcm16(samples).tobytes()
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


# -- sniffing: which container the bytes are, from their first bytes -----------------------

NEED_MORE = -1  # sniff(complete=False): the bytes so far start like a container but stop too soon
# Longest prefix a stream may take to show what it is (Ogg's first page, an EBML header, an ID3 tag).
MAX_SNIFF_BYTES = 64 * 1024
_CONTAINERS = "WAV, FLAC, Ogg (Opus, Vorbis), MP3 or WebM"


def _mp3_frame(data: bytes, at: int = 0) -> bool:
    """An MPEG audio Layer III frame header at `at` (11-bit sync, a valid version, bitrate and rate)."""
    if len(data) < at + 3:
        return False
    b1, b2 = data[at + 1], data[at + 2]
    return (data[at] == 0xFF and b1 & 0xE0 == 0xE0 and (b1 >> 3) & 3 != 1 and (b1 >> 1) & 3 == 1
            and (b2 >> 4) not in (0, 15) and (b2 >> 2) & 3 != 3)


def sniff(data: bytes, field: str = "content", *, weak: bool = True, complete: bool = True) -> int | None:
    """The container encoding `data` starts with (WAV, FLAC, OGG_OPUS, OGG_VORBIS, MP3, WEBM_OPUS),
    or None when it starts with no header this knows (headerless samples, or noise).

    `weak` also takes a bare MP3 frame header (two bytes of sync, which raw PCM can hold by
    chance) as MP3; without it only magic strings count (RIFF/WAVE, fLaC, OggS, EBML, ID3).
    A start that is a known container's but ends before saying which (or what it carries) is
    AUDIO_UNDECODABLE when `complete`, NEED_MORE otherwise (a stream's first chunks).
    """
    def short(what: str) -> int:
        if not complete:
            return NEED_MORE
        raise InvalidArgument(f"{field} starts like {what} but ends after {len(data)} bytes, before its header does",
                              reason=Reason.AUDIO_UNDECODABLE, field=field)

    def other(what: str) -> InvalidArgument:
        return InvalidArgument(f"{field} is {what}, not audio this service decodes ({_CONTAINERS})",
                               reason=Reason.AUDIO_UNDECODABLE, field=field)

    magic = data[:4]
    if magic in (b"RIFF", b"RIFX", b"RF64"):
        if len(data) < 12:
            return short("a RIFF file")
        if data[8:12] != b"WAVE":
            raise other(f"a RIFF file of type {data[8:12]!r}")
        return E.AUDIO_ENCODING_WAV
    if magic == b"fLaC":
        return E.AUDIO_ENCODING_FLAC
    if magic == b"OggS":
        # The first page (27-byte header, segment table) holds the codec's identification packet.
        if len(data) < 27:
            return short("an Ogg stream")
        body = 27 + data[26]
        if len(data) < body + 8:
            return short("an Ogg stream")
        if data[body:body + 8] == b"OpusHead":
            return E.AUDIO_ENCODING_OGG_OPUS
        if data[body:body + 7] == b"\x01vorbis":
            return E.AUDIO_ENCODING_OGG_VORBIS
        raise other(f"an Ogg stream of codec {data[body:body + 8]!r} (neither Opus nor Vorbis)")
    if magic == b"\x1a\x45\xdf\xa3":
        head = data[:64]
        if b"webm" in head or b"matroska" in head:
            return E.AUDIO_ENCODING_WEBM_OPUS
        if len(data) < 64:
            return short("an EBML (WebM) file")
        raise other("an EBML file that is neither WebM nor Matroska")
    if data[:3] == b"ID3":
        # An ID3v2 tag (10-byte header, syncsafe size) is followed by MPEG frames (or FLAC, rarely).
        if len(data) < 10:
            return short("an ID3-tagged file")
        end = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
        if len(data) < end + 4 and not complete:
            return NEED_MORE
        return E.AUDIO_ENCODING_FLAC if data[end:end + 4] == b"fLaC" else E.AUDIO_ENCODING_MP3
    if weak and _mp3_frame(data):
        return E.AUDIO_ENCODING_MP3
    if not complete and len(data) < 4 and any(m.startswith(data) for m in (
            b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3", b"ID3", b"\xff")):
        return NEED_MORE
    return None


def container_encoding(data: bytes, declared: Encoding, *, field: str, encoding_field: str) -> Encoding:
    """The encoding to decode `data` with: its header's when it has one (the header wins), else
    the declared one. UNSPECIFIED with no header is FIELD_REQUIRED on `encoding_field`; a
    declared encoding that contradicts the header is ENCODING_MISMATCH. A WAV header is
    accepted under a declared LINEAR16/MULAW/ALAW (Riva clients send one) when it carries
    those samples."""
    # A bare MPEG sync is two bytes raw PCM may hold by chance: trusted unless samples were declared.
    found = sniff(data, field, weak=declared not in RAW_ENCODINGS)
    if found is None:
        if declared == E.AUDIO_ENCODING_UNSPECIFIED:
            raise InvalidArgument(f"{encoding_field} is required ({field} starts with no {_CONTAINERS} header, "
                                  "so it is taken for headerless samples)", reason=Reason.FIELD_REQUIRED,
                                  field=encoding_field)
        return declared
    if declared in (E.AUDIO_ENCODING_UNSPECIFIED, found) or (declared in RAW_ENCODINGS
                                                             and found == E.AUDIO_ENCODING_WAV):
        return found
    raise encoding_mismatch(found, declared, field=field, encoding_field=encoding_field)


def encoding_mismatch(found: Encoding, declared: Encoding, *, field: str, encoding_field: str) -> InvalidArgument:
    return InvalidArgument(f"{field} is {encoding_name(found)} (by its header) but {encoding_field} says "
                           f"{encoding_name(declared)}", reason=Reason.ENCODING_MISMATCH, field=encoding_field,
                           metadata={"header_encoding": encoding_name(found)})


@dataclasses.dataclass(frozen=True)
class WavHeader:
    """What a RIFF/WAVE header says. `encoding` is LINEAR16, MULAW or ALAW for the sample formats
    a stream can carry, None for others (float, 24-bit: whole files only)."""

    encoding: Encoding | None
    sample_rate: int
    channels: int
    data_offset: int  # where the samples start
    data_bytes: int | None = None  # the data chunk's size; None when a streaming writer left it open (0 or ~0)


_WAV_FORMATS = {(1, 16): E.AUDIO_ENCODING_LINEAR16, (7, 8): E.AUDIO_ENCODING_MULAW, (6, 8): E.AUDIO_ENCODING_ALAW}


def wav_header(data: bytes, field: str = "audio", *, complete: bool = True) -> WavHeader | None:
    """Parses the RIFF/WAVE header at the start of `data` up to its `data` chunk. None when more
    bytes are needed (and not `complete`); AUDIO_UNDECODABLE when it is broken."""
    def broken(why: str) -> InvalidArgument:
        return InvalidArgument(f"{field} has a broken WAV header: {why}", reason=Reason.AUDIO_UNDECODABLE,
                               field=field)

    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise broken("it does not start with RIFF....WAVE (RIFX and RF64 are not streamed)")
    at, fmt = 12, None
    while True:
        if len(data) < at + 8:
            break
        chunk, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        if chunk == b"data":
            if fmt is None:
                raise broken("the data chunk comes before the fmt chunk")
            tag, channels, rate, bits = fmt
            if not channels or not rate:
                raise broken(f"{channels} channels at {rate} Hz")
            # Streaming writers leave the size 0 or all ones ("until the end"); a real size ends the samples
            # (a LIST chunk after them is not audio).
            return WavHeader(_WAV_FORMATS.get((tag, bits)), rate, channels, at + 8,
                             size if 0 < size < 0x7FFFFFFF else None)
        if chunk == b"fmt ":
            if size < 16:
                raise broken(f"its fmt chunk is {size} bytes")
            if len(data) < at + 8 + size:
                break
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", data, at + 8)
            if tag == 0xFFFE and size >= 40:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                tag = struct.unpack_from("<H", data, at + 8 + 24)[0]
            fmt = (tag, channels, rate, bits)
        at += 8 + size + (size & 1)
        if at > MAX_SNIFF_BYTES:
            raise broken(f"no data chunk in its first {MAX_SNIFF_BYTES} bytes")
    if complete:
        raise broken(f"it ends after {len(data)} bytes, before its data chunk")
    return None


def _opus_input_rate(extradata: bytes | None) -> int:
    """The encoder's input rate an OpusHead records (Opus itself always decodes at 48 kHz); 0 if none."""
    if extradata and extradata[:8] == b"OpusHead" and len(extradata) >= 16:
        return int(struct.unpack_from("<I", extradata, 12)[0])
    return 0


def check_header(*, rate: int, channels: int, declared_rate: int, declared_channels: int, field: str,
                 rate_field: str, channels_field: str, also_rate: int = 0) -> None:
    """A non-zero declared rate or channel count must agree with the header's (`also_rate`:
    another rate the header states, e.g. Opus's input rate beside its 48 kHz)."""
    if declared_rate and declared_rate not in (rate, also_rate):
        raise InvalidArgument(f"{field} is {also_rate or rate} Hz but {declared_rate} Hz was declared",
                              reason=Reason.SAMPLE_RATE_MISMATCH, field=rate_field,
                              metadata={"header_sample_rate_hertz": str(also_rate or rate)})
    if declared_channels and declared_channels != channels:
        raise InvalidArgument(f"{field} has {channels} channel(s) but {declared_channels} were declared",
                              reason=Reason.CHANNEL_COUNT_MISMATCH, field=channels_field,
                              metadata={"header_channel_count": str(channels)})


def bytes_per_sample(encoding: Encoding) -> int:
    """Size of one sample of a headerless encoding (0 for containers)."""
    return _BYTES_PER_SAMPLE.get(encoding, 0)


def decode(data: bytes, encoding: Encoding, declared_sample_rate: int = 0, *, channels: int = 0,
           field: str = "audio", encoding_field: str = "config.encoding",
           rate_field: str = "config.sample_rate_hertz",
           channels_field: str = "config.audio_channel_count") -> tuple[np.ndarray, int]:
    """bytes → (float32 mono samples, sample rate). Stereo (or more) is mixed down.

    AUDIO_ENCODING_UNSPECIFIED means "read it from the header" (see `container_encoding`: the
    header wins over a declared encoding, and contradicting it is INVALID_ARGUMENT).
    Headerless encodings need `declared_sample_rate` (and `channels`, default 1); for
    self-describing ones a non-zero declared rate or channel count must agree with the
    header. Errors name `encoding_field` / `rate_field` / `channels_field` (the caller's paths).
    """
    check_encoding(encoding, encoding_field, DECODABLE_ENCODINGS, auto=True)
    if data:
        declared = encoding
        encoding = container_encoding(data, encoding, field=field, encoding_field=encoding_field)
        if declared in RAW_ENCODINGS and encoding == E.AUDIO_ENCODING_WAV:
            header = wav_header(data, field)
            if header is not None and header.encoding != declared:
                raise encoding_mismatch(header.encoding or E.AUDIO_ENCODING_WAV, declared, field=field,
                                        encoding_field=encoding_field)
        check_encoding(encoding, encoding_field, DECODABLE_ENCODINGS)
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
    also = 0
    if encoding == E.AUDIO_ENCODING_WEBM_OPUS:
        frames, rate, also = _read_ffmpeg(data, field, "webm")
    else:
        frames, rate = _read(data, field)
    check_header(rate=rate, channels=frames.shape[1], declared_rate=declared_sample_rate, declared_channels=channels,
                 field=field, rate_field=rate_field, channels_field=channels_field, also_rate=also)
    return _mono(frames), rate


def _read_ffmpeg(data: bytes, field: str, fmt: str) -> tuple[np.ndarray, int, int]:
    """A whole WebM (or other FFmpeg-demuxed) file: (frames × channels, decoded rate, Opus input rate)."""
    if not data:
        raise InvalidArgument(f"{field} is empty", reason=Reason.AUDIO_UNDECODABLE, field=field)
    decoder = FfmpegStream(fmt, field)
    try:
        samples = [decoder.feed(data), decoder.finish()]
    finally:
        decoder.close()
    assert decoder.sample_rate is not None  # finish() raised otherwise
    frames = np.concatenate([s for s in samples if s.size] or [np.zeros((0, decoder.channels), np.float32)])
    return frames, decoder.sample_rate, decoder.input_rate


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


class _Pipe(io.RawIOBase):
    """The bytes of a stream as they arrive, read by FFmpeg in its thread; a read that finds
    nothing waits, and says so (`starved`), so the feeder knows FFmpeg has used all it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.buffer = bytearray()
        self.eof = False
        self.starved = False
        self.done = False  # the FFmpeg thread has returned

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        with self.cond:
            while not self.buffer and not self.eof:
                self.starved = True
                self.cond.notify_all()
                self.cond.wait()
            n = min(len(target), len(self.buffer))
            target[:n] = self.buffer[:n]
            del self.buffer[:n]
            return n


class FfmpegStream:
    """Demuxes and decodes one Ogg or WebM stream as its bytes arrive (FFmpeg, in a thread).

    `feed(data)` returns the samples (frames × channels) FFmpeg could decode from everything fed
    so far, waiting only until it asks for more bytes; nothing is re-read or re-sent.
    """

    def __init__(self, fmt: str, field: str = "audio") -> None:
        self.fmt = fmt
        self.field = field
        self.sample_rate: int | None = None
        self.channels = 0
        self.input_rate = 0  # Opus's recorded input rate (it decodes at 48 kHz whatever it was)
        self._pipe = _Pipe()
        self._out: list[np.ndarray] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"ffmpeg-{fmt}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            # A small probe: FFmpeg would otherwise wait for megabytes before the first frame.
            with av.open(self._pipe, "r", format=self.fmt, buffer_size=4096,
                         options={"probesize": "4096", "analyzeduration": "0"}) as container:
                if not container.streams.audio:
                    raise ValueError("it holds no audio track")
                stream = container.streams.audio[0]
                for frame in container.decode(stream):
                    samples = frame.to_ndarray().astype(np.float32, copy=False)
                    # Planar formats are channels × samples; packed ones one row of interleaved samples.
                    count = len(frame.layout.channels)
                    frames = samples.T if frame.format.is_planar else samples.reshape(-1, count)
                    with self._pipe.cond:
                        if self.sample_rate is None:
                            self.sample_rate, self.channels = int(frame.sample_rate), count
                            self.input_rate = _opus_input_rate(stream.codec_context.extradata)
                        self._out.append(np.ascontiguousarray(frames))
        except (av.FFmpegError, ValueError, OSError, EOFError) as exc:  # malformed input, told to the caller
            self._error = exc
        finally:
            with self._pipe.cond:
                self._pipe.done = True
                self._pipe.cond.notify_all()

    def _collect(self) -> np.ndarray:
        if self._error is not None:
            raise InvalidArgument(f"{self.field} cannot be decoded as {self.fmt}: {self._error}",
                                  reason=Reason.AUDIO_UNDECODABLE, field=self.field)
        out, self._out = self._out, []
        if not out:
            return np.zeros((0, self.channels or 1), np.float32)
        return np.concatenate(out)

    def feed(self, data: bytes) -> np.ndarray:
        pipe = self._pipe
        with pipe.cond:
            pipe.buffer += data
            pipe.starved = False
            pipe.cond.notify_all()
            while not (pipe.done or (pipe.starved and not pipe.buffer)):
                pipe.cond.wait()
            return self._collect()

    def finish(self) -> np.ndarray:
        """The rest, once the stream has ended; AUDIO_UNDECODABLE if it never gave a frame."""
        pipe = self._pipe
        with pipe.cond:
            pipe.eof = True
            pipe.cond.notify_all()
            while not pipe.done:
                pipe.cond.wait()
            rest = self._collect()
            if self.sample_rate is None:
                raise InvalidArgument(f"{self.field} ends before its first {self.fmt} audio frame",
                                      reason=Reason.AUDIO_UNDECODABLE, field=self.field)
            return rest

    def close(self) -> None:
        """Ends the thread (a stream that was cancelled or failed)."""
        with self._pipe.cond:
            self._pipe.eof = True
            self._pipe.buffer.clear()
            self._pipe.cond.notify_all()
        self._thread.join(timeout=5)


class StreamDecoder:
    """Decodes one stream's chunks, whatever its first bytes say it is.

    Until it knows, it holds the first bytes (at most MAX_SNIFF_BYTES). Then: a WAV header is
    parsed and stripped, and the samples after it go through a ChunkDecoder with the header's
    format (the header is authoritative; a declared encoding, rate or channel count that
    contradicts it is INVALID_ARGUMENT); Ogg and WebM go to FFmpeg as they arrive; anything
    else is headerless samples as declared (UNSPECIFIED then is FIELD_REQUIRED). `sample_rate`
    is None until the first samples come out. Returns mono float32.
    """

    def __init__(self, encoding: Encoding, sample_rate: int = 0, channels: int = 0, *, field: str = "audio",
                 encoding_field: str = "config.encoding", rate_field: str = "config.sample_rate_hertz",
                 channels_field: str = "config.audio_channel_count") -> None:
        self.declared = encoding
        self.declared_rate = sample_rate
        self.declared_channels = channels
        self.field = field
        self.encoding_field = encoding_field
        self.rate_field = rate_field
        self.channels_field = channels_field
        self.encoding: Encoding | None = None  # what the stream turned out to be
        self.sample_rate: int | None = None
        self._head = b""
        self._raw: ChunkDecoder | None = None
        self._left: int | None = None  # bytes of samples a WAV header says are left
        self._ffmpeg: FfmpegStream | None = None

    def __call__(self, data: bytes) -> np.ndarray:
        if self._raw is not None:
            return self._samples(data)
        if self._ffmpeg is not None:
            return self._from_ffmpeg(self._ffmpeg.feed(data))
        self._head += data
        return self._start(complete=False)

    def finish(self) -> np.ndarray:
        """Samples still held when the stream ends (a short stream, FFmpeg's last frames)."""
        if self._ffmpeg is not None:
            return self._from_ffmpeg(self._ffmpeg.finish())
        if self._raw is None and self._head:
            return self._start(complete=True)
        return np.zeros(0, np.float32)

    def close(self) -> None:
        if self._ffmpeg is not None:
            self._ffmpeg.close()

    def _start(self, *, complete: bool) -> np.ndarray:
        head = self._head
        # A raw stream is told from a container only when a whole magic string could be there.
        if len(head) < 12 and not complete:
            return np.zeros(0, np.float32)
        weak = self.declared not in RAW_ENCODINGS
        found = sniff(head, self.field, weak=weak, complete=complete or len(head) >= MAX_SNIFF_BYTES)
        if found == NEED_MORE:
            return np.zeros(0, np.float32)
        if found is None:
            if self.declared == E.AUDIO_ENCODING_UNSPECIFIED:
                raise InvalidArgument(f"{self.encoding_field} is required (the stream starts with no WAV, Ogg or "
                                      "WebM header, so it is taken for headerless samples)",
                                      reason=Reason.FIELD_REQUIRED, field=self.encoding_field)
            if self.declared not in RAW_ENCODINGS:
                raise InvalidArgument(f"{self.field} does not start with a {encoding_name(self.declared)} header",
                                      reason=Reason.AUDIO_UNDECODABLE, field=self.field)
            self.encoding, self.sample_rate = self.declared, self.declared_rate
            self._raw = ChunkDecoder(self.declared, self.declared_rate, self.declared_channels, field=self.field)
            self._head = b""
            return self._raw(head)
        mismatch = not (self.declared in (E.AUDIO_ENCODING_UNSPECIFIED, found)
                        or (self.declared in RAW_ENCODINGS and found == E.AUDIO_ENCODING_WAV))
        if mismatch:
            raise encoding_mismatch(found, self.declared, field=self.field, encoding_field=self.encoding_field)
        if found not in STREAMABLE_ENCODINGS:
            names = ",".join(sorted(encoding_name(e) for e in STREAMABLE_ENCODINGS))
            raise InvalidArgument(f"a stream cannot carry {encoding_name(found)} (send it to Recognize); streams carry "
                                  f"{names}", reason=Reason.UNSUPPORTED_ENCODING, field=self.encoding_field,
                                  metadata={"supported_encodings": names, "header_encoding": encoding_name(found)})
        self.encoding = found
        if found == E.AUDIO_ENCODING_WAV:
            header = wav_header(head, self.field, complete=complete or len(head) >= MAX_SNIFF_BYTES)
            if header is None:
                return np.zeros(0, np.float32)
            if header.encoding is None:
                raise InvalidArgument(f"{self.field} is a WAV stream of a sample format other than 16-bit PCM, mu-law "
                                      "or A-law, which cannot be streamed", reason=Reason.UNSUPPORTED_ENCODING,
                                      field=self.encoding_field)
            if self.declared in RAW_ENCODINGS and header.encoding != self.declared:
                raise encoding_mismatch(header.encoding, self.declared, field=self.field,
                                        encoding_field=self.encoding_field)
            check_header(rate=header.sample_rate, channels=header.channels, declared_rate=self.declared_rate,
                         declared_channels=self.declared_channels, field=self.field, rate_field=self.rate_field,
                         channels_field=self.channels_field)
            if not MIN_SAMPLE_RATE_HERTZ <= header.sample_rate <= MAX_SAMPLE_RATE_HERTZ:
                raise InvalidArgument(f"{self.field} is {header.sample_rate} Hz, outside 8000-48000",
                                      reason=Reason.FIELD_OUT_OF_RANGE, field=self.field)
            self.sample_rate = header.sample_rate
            self._raw = ChunkDecoder(header.encoding, header.sample_rate, header.channels, field=self.field)
            self._left = header.data_bytes
            self._head = b""
            return self._samples(head[header.data_offset:])
        self._ffmpeg = FfmpegStream(_FFMPEG_FORMATS[found], self.field)
        self._head = b""
        samples = self._from_ffmpeg(self._ffmpeg.feed(head))
        return np.concatenate([samples, self._from_ffmpeg(self._ffmpeg.finish())]) if complete else samples

    def _samples(self, data: bytes) -> np.ndarray:
        assert self._raw is not None
        if self._left is not None:
            data, self._left = data[:self._left], max(0, self._left - len(data))
        return self._raw(data)

    def _from_ffmpeg(self, frames: np.ndarray) -> np.ndarray:
        stream = self._ffmpeg
        assert stream is not None
        if self.sample_rate is None and stream.sample_rate is not None:
            check_header(rate=stream.sample_rate, channels=stream.channels, declared_rate=self.declared_rate,
                         declared_channels=self.declared_channels, field=self.field, rate_field=self.rate_field,
                         channels_field=self.channels_field, also_rate=stream.input_rate)
            self.sample_rate = stream.sample_rate
        return _mono(frames)
