"""Unit tests of the shared audio codecs (services/common/audio.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from services.common import audio
from services.common.audio import E
from services.common.errors import InvalidArgument

RATE = 16000


def tone(seconds: float = 0.5, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(("encoding", "tolerance"), [
    (E.AUDIO_ENCODING_LINEAR16, 1e-4), (E.AUDIO_ENCODING_WAV, 1e-4), (E.AUDIO_ENCODING_FLAC, 1e-4),
    (E.AUDIO_ENCODING_MULAW, 0.02), (E.AUDIO_ENCODING_ALAW, 0.02),
])
def test_lossless_and_g711_round_trip(encoding, tolerance):
    """PCM, WAV, FLAC and G.711 decode back to the samples that were encoded, at the same rate."""
    samples = tone()
    data = audio.encode(samples, RATE, encoding)
    decoded, rate = audio.decode(data, encoding, RATE)
    assert rate == RATE and decoded.dtype == np.float32 and decoded.size == samples.size
    assert np.max(np.abs(decoded - samples)) < tolerance


@pytest.mark.parametrize("encoding", [E.AUDIO_ENCODING_OGG_OPUS, E.AUDIO_ENCODING_OGG_VORBIS, E.AUDIO_ENCODING_MP3])
def test_lossy_round_trip_keeps_energy_and_length(encoding):
    """Opus, Vorbis and MP3 decode to audio of about the same length and loudness."""
    rate = audio.supported_rate(encoding, RATE)
    samples = tone(1.0, rate)
    decoded, got_rate = audio.decode(audio.encode(samples, rate, encoding), encoding)
    assert got_rate == rate
    assert abs(decoded.size - samples.size) < 0.1 * rate
    rms = float(np.sqrt(np.mean(decoded**2)))
    assert 0.25 < rms < 0.45  # a 0.5-amplitude sine has RMS 0.354


def test_g711_is_one_byte_per_sample_and_pcm_two():
    """MULAW/ALAW give one byte per sample; LINEAR16 two, little-endian."""
    samples = tone(0.1)
    assert len(audio.encode(samples, RATE, E.AUDIO_ENCODING_MULAW)) == samples.size
    assert len(audio.encode(samples, RATE, E.AUDIO_ENCODING_ALAW)) == samples.size
    pcm = audio.encode(np.array([0.5, -1.0], np.float32), RATE, E.AUDIO_ENCODING_LINEAR16)
    assert np.frombuffer(pcm, "<i2").tolist() == [16384, -32767]


def test_stereo_is_mixed_down_and_header_rate_checked():
    """Stereo WAV decodes to the mean of its channels; a declared rate that disagrees is SAMPLE_RATE_MISMATCH."""
    left, right = tone(0.1), np.zeros(1600, np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, right], axis=1), RATE, format="WAV", subtype="FLOAT")
    mono, rate = audio.decode(buffer.getvalue(), E.AUDIO_ENCODING_WAV)
    assert rate == RATE and np.allclose(mono, left / 2, atol=1e-6)
    pcm = np.stack([left, right], axis=1).reshape(-1)
    mono2, _ = audio.decode(audio.to_pcm16(pcm).tobytes(), E.AUDIO_ENCODING_LINEAR16, RATE, channels=2)
    assert np.allclose(mono2, left / 2, atol=1e-3)
    with pytest.raises(InvalidArgument) as caught:
        audio.decode(buffer.getvalue(), E.AUDIO_ENCODING_WAV, 8000)
    assert caught.value.reason == "SAMPLE_RATE_MISMATCH"


@pytest.mark.parametrize(("data", "encoding"), [
    (b"RIFF\x00\x00", E.AUDIO_ENCODING_WAV), (b"not flac at all", E.AUDIO_ENCODING_FLAC),
    (b"", E.AUDIO_ENCODING_OGG_OPUS), (b"\x01\x02\x03", E.AUDIO_ENCODING_LINEAR16),
])
def test_undecodable_audio_names_the_callers_field(data, encoding):
    """Garbage, truncated or odd-length audio is AUDIO_UNDECODABLE on the field the caller names."""
    with pytest.raises(InvalidArgument) as caught:
        audio.decode(data, encoding, RATE, field="content")
    assert caught.value.reason == "AUDIO_UNDECODABLE" and caught.value.field == "content"


def test_unspecified_and_unsupported_encodings():
    """UNSPECIFIED is FIELD_REQUIRED; WEBM_OPUS (no libsndfile muxer) is UNSUPPORTED_ENCODING."""
    with pytest.raises(InvalidArgument) as caught:
        audio.encode(tone(0.1), RATE, E.AUDIO_ENCODING_UNSPECIFIED)
    assert caught.value.reason == "FIELD_REQUIRED"
    with pytest.raises(InvalidArgument) as caught:
        audio.encode(tone(0.1), RATE, E.AUDIO_ENCODING_WEBM_OPUS)
    assert caught.value.reason == "UNSUPPORTED_ENCODING"


def test_resample_changes_length_and_keeps_the_tone():
    """Resampling 16 kHz → 8 kHz halves the samples and keeps a 440 Hz tone at 440 Hz."""
    out = audio.resample(tone(1.0), RATE, 8000)
    assert out.size == 8000
    peak = np.argmax(np.abs(np.fft.rfft(out))) * 8000 / out.size
    assert abs(peak - 440) < 2


def test_stream_resampler_matches_one_shot():
    """Chunk-wise resampling gives the same number of samples as resampling the whole signal."""
    samples = tone(1.0)
    stream = audio.StreamResampler(RATE, 22050)
    parts = [stream(samples[i:i + 1600]) for i in range(0, samples.size, 1600)]
    parts.append(stream(np.zeros(0, np.float32), last=True))
    assert abs(sum(p.size for p in parts) - 22050) <= 2
