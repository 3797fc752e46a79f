"""Test audio: English speech synthesised by eSpeak NG (the `espeakng-loader` wheel) at 16 kHz,
the same samples in every container ASR sniffs (WebM muxed by FFmpeg through PyPI `av`), and
word error counting, shared by the ASR model and service tests."""

from __future__ import annotations

import ctypes
import functools
import io
import threading
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

RATE = 16000


# --- test audio: eSpeak NG through ctypes ---------------------------------------------------

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1


class _Espeak:
    """libespeak-ng in synchronous mode; its state is global, so one synthesis at a time."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = Path(espeakng_loader.get_data_path())
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data.parent).encode(), 0)
        if self.rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.rate})")
        self.chunks: list[np.ndarray] = []
        self.callback = _SYNTH_CALLBACK(self._collect)  # kept referenced: C holds the pointer
        self.lib.espeak_SetSynthCallback(self.callback)
        if self.lib.espeak_SetVoiceByName(b"en-us") != 0:
            raise RuntimeError("eSpeak NG has no en-us voice")
        self.lock = threading.Lock()

    def _collect(self, wav: object, count: int, _events: object) -> int:
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def synth(self, text: str) -> np.ndarray:
        """`text` spoken at eSpeak's native rate, as float samples in [-1, 1]."""
        with self.lock:
            self.chunks = []
            encoded = text.encode("utf-8")
            self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            return np.concatenate(self.chunks).astype(np.float32) / 32768.0


@functools.cache
def _espeak() -> _Espeak:
    return _Espeak()


@functools.cache
def speech(text: str) -> np.ndarray:
    """`text` as 16 kHz mono float32, with 200 ms of lead-in and tail and a little noise
    (PocketSphinx mis-estimates its noise floor on exact digital silence)."""
    engine = _espeak()
    voiced = soxr.resample(engine.synth(text), engine.rate, RATE)
    pad = np.zeros(RATE // 5, dtype=np.float32)
    audio = np.concatenate([pad, voiced.astype(np.float32), pad])
    noise = np.random.default_rng(len(text)).normal(0.0, 3e-3, audio.shape)
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def webm_opus(samples: np.ndarray, rate: int = RATE, channels: int = 1) -> bytes:
    """`samples` (mono float32 at `rate`) as a WebM Opus file, as browsers' MediaRecorder write it."""
    layout = "mono" if channels == 1 else "stereo"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48000)
        stream.layout = layout  # type: ignore[union-attr]
        planes = np.stack([np.asarray(samples, np.float32)] * channels)
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout,  # type: ignore[union-attr]
                                      rate=48000)
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(piece))  # type: ignore[union-attr]
        container.mux(stream.encode(None))  # type: ignore[union-attr]
    return buffer.getvalue()


def container_files(samples: np.ndarray, rate: int = RATE) -> dict[str, bytes]:
    """`samples` in each container ASR reads without an audio_config: name → file bytes."""
    files: dict[str, bytes] = {}
    for name, fmt, subtype in (("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"), ("ogg_opus", "OGG", "OPUS"),
                               ("ogg_vorbis", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III")):
        buffer = io.BytesIO()
        sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
        files[name] = buffer.getvalue()
    files["webm_opus"] = webm_opus(samples, rate)
    return files


def word_errors(reference: str, hypothesis: str) -> int:
    """Levenshtein distance in words (substitutions + deletions + insertions)."""
    ref, hyp = reference.split(), hypothesis.split()
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != other))
    return row[-1]
