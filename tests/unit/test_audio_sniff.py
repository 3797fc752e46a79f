"""Unit tests of container sniffing and auto-decoding (services/common/audio.py: sniff,
container_encoding, wav_header, StreamDecoder): the header wins, contradictions and broken
headers are INVALID_ARGUMENT on the right field."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from services.common import audio
from services.common.audio import E
from services.common.errors import InvalidArgument
from tests.audio_util import container_files, webm_opus

RATE = 16000
ENC = "config.audio_config.encoding"
KINDS = {"wav": E.AUDIO_ENCODING_WAV, "flac": E.AUDIO_ENCODING_FLAC, "ogg_opus": E.AUDIO_ENCODING_OGG_OPUS,
         "ogg_vorbis": E.AUDIO_ENCODING_OGG_VORBIS, "mp3": E.AUDIO_ENCODING_MP3,
         "webm_opus": E.AUDIO_ENCODING_WEBM_OPUS}


def tone(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


FILES = container_files(tone())


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(samples, np.float64) ** 2)))


def wav_bytes(samples: np.ndarray, rate: int = RATE, channels: int = 1, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([samples] * channels, axis=1) if channels > 1 else samples, rate, format="WAV",
             subtype=subtype)
    return buffer.getvalue()


def fails(call, *args, **kwargs) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_container_is_sniffed_and_decoded_without_a_config(kind):
    """WAV/FLAC/Ogg Opus/Ogg Vorbis/MP3/WebM are told by their first bytes and decode with UNSPECIFIED."""
    data = FILES[kind]
    assert audio.sniff(data) == KINDS[kind]
    assert audio.container_encoding(data, E.AUDIO_ENCODING_UNSPECIFIED, field="content", encoding_field=ENC) == (
        KINDS[kind])
    samples, rate = audio.decode(data, E.AUDIO_ENCODING_UNSPECIFIED, field="content", encoding_field=ENC)
    assert abs(samples.size / rate - 1.0) < 0.1
    assert 0.3 < rms(samples) < 0.42  # a 0.5-amplitude sine has RMS 0.354


@pytest.mark.parametrize("kind", ["wav", "ogg_opus", "ogg_vorbis", "webm_opus"])
@pytest.mark.parametrize("cut", [3, 11, 30])
def test_a_truncated_header_is_undecodable_not_raw_audio(kind, cut):
    """A file cut inside its header is AUDIO_UNDECODABLE on the content field, whatever the config says."""
    data = FILES[kind][:cut]
    if cut < 4:  # too short to hold a magic string: headerless as far as anyone can tell
        assert audio.sniff(data) is None and audio.sniff(data, complete=False) == audio.NEED_MORE
        return
    err = fails(audio.decode, data, E.AUDIO_ENCODING_UNSPECIFIED, field="content", encoding_field=ENC)
    assert err.reason == "AUDIO_UNDECODABLE" and err.field == "content"


def test_headerless_or_garbage_without_encoding_is_field_required_on_the_encoding():
    """Raw PCM or noise with no encoding is FIELD_REQUIRED naming the encoding field (and only then)."""
    pcm = audio.to_pcm16(tone(0.1)).tobytes()
    for data in (pcm, b"\x00garbage" * 100, bytes(64)):
        assert audio.sniff(data) is None
        err = fails(audio.decode, data, E.AUDIO_ENCODING_UNSPECIFIED, field="content", encoding_field=ENC)
        assert err.reason == "FIELD_REQUIRED" and err.field == ENC
        assert str(err).startswith(f"{ENC} is required")


@pytest.mark.parametrize(("data", "what"), [
    (b"RIFF\x24\x00\x00\x00AVI LIST" + bytes(40), "AVI"),
    (b"OggS\x00\x02" + bytes(20) + b"\x01\x13" + b"\x7fFLAC\x01\x00" + bytes(40), "FLAC"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84abcd" + bytes(60), "EBML"),
])
def test_other_riff_ogg_and_ebml_files_are_refused_by_name(data, what):
    """An AVI, an Ogg FLAC or a non-WebM EBML file is AUDIO_UNDECODABLE saying what it is."""
    err = fails(audio.sniff, data, "content")
    assert err.reason == "AUDIO_UNDECODABLE" and err.field == "content" and what in str(err)


def test_raw_pcm_that_looks_like_an_mp3_frame_is_not_taken_for_mp3_when_declared_raw():
    """A bare MPEG sync in declared LINEAR16 stays PCM (weak sniff); undeclared, it is taken for MP3."""
    pcm = bytes([0xFF, 0xFB, 0x90, 0x44]) + bytes(3196)
    assert audio.sniff(pcm, weak=False) is None and audio.sniff(pcm) == E.AUDIO_ENCODING_MP3
    samples, rate = audio.decode(pcm, E.AUDIO_ENCODING_LINEAR16, RATE)
    assert rate == RATE and samples.size == 1600


@pytest.mark.parametrize(("kind", "declared"), [
    ("wav", E.AUDIO_ENCODING_FLAC), ("flac", E.AUDIO_ENCODING_WAV), ("ogg_opus", E.AUDIO_ENCODING_OGG_VORBIS),
    ("webm_opus", E.AUDIO_ENCODING_OGG_OPUS), ("mp3", E.AUDIO_ENCODING_WAV), ("ogg_vorbis", E.AUDIO_ENCODING_LINEAR16),
])
def test_a_declared_encoding_that_contradicts_the_header_is_encoding_mismatch(kind, declared):
    """The header wins: another container declared is ENCODING_MISMATCH on the encoding field."""
    err = fails(audio.decode, FILES[kind], declared, RATE, field="content", encoding_field=ENC)
    assert err.reason == "ENCODING_MISMATCH" and err.field == ENC
    assert err.metadata["header_encoding"] == audio.encoding_name(KINDS[kind])


def test_declared_rate_and_channels_must_agree_with_the_header():
    """A WAV's rate or channel count declared otherwise is SAMPLE_RATE_MISMATCH / CHANNEL_COUNT_MISMATCH."""
    stereo = wav_bytes(tone(0.2), channels=2)
    err = fails(audio.decode, stereo, E.AUDIO_ENCODING_UNSPECIFIED, 8000, rate_field="r", channels_field="c")
    assert err.reason == "SAMPLE_RATE_MISMATCH" and err.field == "r"
    err = fails(audio.decode, stereo, E.AUDIO_ENCODING_UNSPECIFIED, channels=1, rate_field="r", channels_field="c")
    assert err.reason == "CHANNEL_COUNT_MISMATCH" and err.field == "c" and err.metadata["header_channel_count"] == "2"
    mono, rate = audio.decode(stereo, E.AUDIO_ENCODING_UNSPECIFIED, RATE, channels=2)
    assert rate == RATE and mono.size == round(0.2 * RATE)


def test_declared_linear16_with_a_wav_header_is_read_by_the_header():
    """LINEAR16 + a PCM-16 WAV header (Riva clients) decodes the samples only; a mu-law claim is a mismatch."""
    samples = tone(0.2)
    data = wav_bytes(samples)
    decoded, rate = audio.decode(data, E.AUDIO_ENCODING_LINEAR16, RATE)
    assert rate == RATE and decoded.size == samples.size and np.max(np.abs(decoded - samples)) < 1e-3
    assert fails(audio.decode, data, E.AUDIO_ENCODING_MULAW, RATE).reason == "ENCODING_MISMATCH"
    assert fails(audio.decode, data, E.AUDIO_ENCODING_LINEAR16, 8000).reason == "SAMPLE_RATE_MISMATCH"


def test_wav_header_parser_skips_chunks_and_reads_extensible_formats():
    """A LIST chunk before the data and WAVE_FORMAT_EXTENSIBLE (24-bit) parse to the right offset and format."""
    plain = wav_bytes(tone(0.05))
    header = audio.wav_header(plain)
    assert header == audio.WavHeader(E.AUDIO_ENCODING_LINEAR16, RATE, 1, 44, len(plain) - 44)
    open_ended = plain[:40] + b"\xff\xff\xff\xff" + plain[44:]
    assert audio.wav_header(open_ended).data_bytes is None  # type: ignore[union-attr]
    info = b"INFOISFT\x04\x00\x00\x00test"
    listed = plain[:36] + b"LIST" + struct.pack("<I", len(info)) + info + plain[36:]
    assert audio.wav_header(listed).data_offset == 44 + 8 + len(info)  # type: ignore[union-attr]
    wide = audio.wav_header(wav_bytes(tone(0.05), channels=2, subtype="PCM_24"))
    assert wide is not None and wide.encoding is None and wide.channels == 2
    assert audio.wav_header(plain[:40], complete=False) is None
    assert fails(audio.wav_header, plain[:40]).reason == "AUDIO_UNDECODABLE"


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def stream(decoder: audio.StreamDecoder, pieces: list[bytes]) -> tuple[np.ndarray, int]:
    """(all samples, how many chunks gave samples before the end)."""
    out = [decoder(piece) for piece in pieces]
    rest = decoder.finish()
    decoder.close()
    return np.concatenate([*out, rest]), sum(1 for o in out if o.size)


@pytest.mark.parametrize("size", [1, 7, 44, 3200])
def test_streamed_wav_header_is_stripped_wherever_the_chunks_cut(size):
    """A WAV header in the first chunk(s), cut at any byte, is parsed and stripped: the samples equal the file's."""
    samples = tone(0.3)
    data = wav_bytes(samples)
    for declared, rate in ((E.AUDIO_ENCODING_UNSPECIFIED, 0), (E.AUDIO_ENCODING_LINEAR16, RATE)):
        decoder = audio.StreamDecoder(declared, rate)
        got, _ = stream(decoder, chunks(data, size))
        assert decoder.encoding == E.AUDIO_ENCODING_WAV and decoder.sample_rate == RATE
        assert got.size == samples.size and np.max(np.abs(got - samples)) < 1e-3


def test_streamed_wav_stops_at_its_data_size_and_open_sizes_run_to_the_end():
    """Bytes after the data chunk (a trailing LIST) are not samples; a streaming writer's 0xFFFFFFFF size runs on."""
    samples = tone(0.2)
    data = wav_bytes(samples)
    got, _ = stream(audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED), chunks(data + b"LIST\x04\x00\x00\x00abcd", 999))
    assert got.size == samples.size
    more = audio.to_pcm16(tone(0.1)).tobytes()
    open_ended = data[:40] + b"\xff\xff\xff\xff" + data[44:] + more
    got, _ = stream(audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED), chunks(open_ended, 999))
    assert got.size == samples.size + len(more) // 2


def test_streamed_raw_pcm_is_unchanged_and_needs_its_encoding():
    """Headerless chunks decode as declared; undeclared they are FIELD_REQUIRED on the encoding field."""
    pcm = audio.to_pcm16(tone(0.3)).tobytes()
    got, _ = stream(audio.StreamDecoder(E.AUDIO_ENCODING_LINEAR16, RATE), chunks(pcm, 3200))
    assert got.size == len(pcm) // 2
    err = fails(stream, audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED, encoding_field=ENC), chunks(pcm, 3200))
    assert err.reason == "FIELD_REQUIRED" and err.field == ENC


def test_streamed_wav_header_that_contradicts_the_config_is_refused():
    """The stream's WAV header against a declared 8 kHz, 2 channels or mu-law: the mismatch names the field."""
    data = wav_bytes(tone(0.1))
    cases = [((E.AUDIO_ENCODING_LINEAR16, 8000, 0), "SAMPLE_RATE_MISMATCH", "r"),
             ((E.AUDIO_ENCODING_UNSPECIFIED, 0, 2), "CHANNEL_COUNT_MISMATCH", "c"),
             ((E.AUDIO_ENCODING_MULAW, RATE, 0), "ENCODING_MISMATCH", "e"),
             ((E.AUDIO_ENCODING_OGG_OPUS, 0, 0), "ENCODING_MISMATCH", "e")]
    for (encoding, rate, channels), reason, field in cases:
        decoder = audio.StreamDecoder(encoding, rate, channels, encoding_field="e", rate_field="r", channels_field="c")
        err = fails(stream, decoder, [data])
        assert (err.reason, err.field) == (reason, field)


def test_stream_that_ends_inside_its_header_is_undecodable():
    """A stream of only "RIFF…" (or half an Ogg page) ends with AUDIO_UNDECODABLE on audio."""
    for head in (FILES["wav"][:20], FILES["ogg_opus"][:30]):
        err = fails(stream, audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED), [head])
        assert err.reason == "AUDIO_UNDECODABLE" and err.field == "audio"


@pytest.mark.parametrize("kind", ["ogg_opus", "ogg_vorbis", "webm_opus"])
def test_ogg_and_webm_streams_decode_as_they_arrive(kind):
    """Ogg and WebM chunks go through FFmpeg as they come: same audio as the whole file, FLAC/MP3 refused."""
    data = FILES[kind] if kind != "webm_opus" else webm_opus(tone(3.0))
    decoder = audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED)
    got, early = stream(decoder, chunks(data, 1000))
    whole, rate = audio.decode(data, E.AUDIO_ENCODING_UNSPECIFIED)
    assert decoder.encoding == KINDS[kind] and decoder.sample_rate is not None
    assert abs(got.size / decoder.sample_rate - whole.size / rate) < 0.05
    assert 0.3 < rms(got) < 0.42
    if kind == "webm_opus":  # clusters arrive every second: samples come out before the end
        assert early >= 2


@pytest.mark.parametrize("kind", ["flac", "mp3"])
def test_flac_and_mp3_streams_are_unsupported(kind):
    """FLAC and MP3 are for Recognize only: a stream starting with one is UNSUPPORTED_ENCODING."""
    err = fails(stream, audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED, encoding_field="e"), [FILES[kind][:4000]])
    assert err.reason == "UNSUPPORTED_ENCODING" and err.field == "e"


def test_corrupt_webm_after_its_header_is_undecodable_and_the_thread_ends():
    """A WebM whose body is garbage is AUDIO_UNDECODABLE, and FFmpeg's thread is gone afterwards."""
    data = webm_opus(tone(0.5))
    broken = data[:60] + bytes(range(256)) * 20
    decoder = audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED)
    with pytest.raises(InvalidArgument) as caught:
        stream(decoder, chunks(broken, 1000))
    assert caught.value.reason == "AUDIO_UNDECODABLE"
    decoder.close()
    assert decoder._ffmpeg is not None and not decoder._ffmpeg._thread.is_alive()


def test_a_cancelled_stream_closes_ffmpeg():
    """close() mid-stream (the client went away) ends FFmpeg's thread."""
    decoder = audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED)
    decoder(FILES["ogg_opus"][:2000])
    decoder.close()
    assert decoder._ffmpeg is not None and not decoder._ffmpeg._thread.is_alive()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_corrupted_files_are_invalid_argument_never_a_crash(kind):
    """A real file's header followed by noise, or cut anywhere, decodes or is InvalidArgument (never another error)."""
    rng = np.random.default_rng(18)
    data = FILES[kind]
    for _ in range(12):
        cut = int(rng.integers(1, min(len(data), 400)))
        for sample in (data[:cut], data[:cut] + rng.bytes(int(rng.integers(1, 3000)))):
            try:
                audio.decode(sample, E.AUDIO_ENCODING_UNSPECIFIED)
            except InvalidArgument:
                pass
            decoder = audio.StreamDecoder(E.AUDIO_ENCODING_UNSPECIFIED)
            try:
                stream(decoder, chunks(sample, 700))
            except InvalidArgument:
                pass
            finally:
                decoder.close()
