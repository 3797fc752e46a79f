"""libespeak-ng driven through ctypes, from the library and data the PyPI `espeakng-loader`
wheel ships: synthesis in the caller's thread (AUDIO_OUTPUT_SYNCHRONOUS), samples handed to a
Python sink as espeak produces them, so a caller can stream them out while synthesis runs.

espeak-ng keeps all its state in globals (voice, parameters, callback), so one process has one
`Espeak` and every synthesis holds its lock. The `tts` and `tts_streaming` models share this
module (the streaming model's copy is a symlink to this file).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_BUFFER_MS = 50  # espeak calls back at most every this many ms of audio
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
# espeak_PARAMETER
_RATE, _VOLUME, _PITCH = 1, 2, 3
RATE_DEFAULT_WPM = 175
RATE_MIN_WPM, RATE_MAX_WPM = 80, 450

# int callback(short *wav, int numsamples, espeak_EVENT *events); non-zero aborts synthesis.
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

Sink = Callable[[np.ndarray], None]
MAX_TEXT_CHARS_DEFAULT = 5000


class EspeakError(RuntimeError):
    """libespeak-ng could not be loaded, initialised, or failed a call."""


class Espeak:
    """One process's libespeak-ng. `synthesize` is thread-safe (serialised by a lock)."""

    _instance: Espeak | None = None
    _instance_lock = threading.Lock()

    @classmethod
    def shared(cls) -> Espeak:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise EspeakError("espeakng-loader is not installed (pip install espeakng-loader)") from exc
        self.library_path = espeakng_loader.get_library_path()
        self.data_path = espeakng_loader.get_data_path()
        try:
            lib = ctypes.CDLL(self.library_path)
        except OSError as exc:
            raise EspeakError(f"cannot load {self.library_path}: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        self._lib = lib
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._sink_error: BaseException | None = None
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, self.data_path.encode(), 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({rate}) with data at {self.data_path}")
        self.sample_rate_hertz = int(rate)
        # Keep the ctypes callback object alive for as long as the library may call it.
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(self, wav: ctypes._Pointer, count: int, _events: int) -> int:
        if count <= 0 or not wav or self._sink is None:
            return 0
        try:
            # Copy out: espeak reuses its buffer after the callback returns.
            self._sink(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        except BaseException as exc:  # noqa: BLE001 - must not unwind through C; re-raised by synthesize
            self._sink_error = exc
            return 1
        return 0

    def has_voice(self, name: str) -> bool:
        with self._lock:
            return self._lib.espeak_SetVoiceByName(name.encode()) == _EE_OK

    def synthesize(self, text: str, voice: str, sink: Sink, rate_wpm: int = RATE_DEFAULT_WPM) -> None:
        """Speaks `text` with espeak voice `voice` (e.g. "hi+f3"), calling `sink` with each
        block of int16 samples as espeak produces it. Exceptions from `sink` abort synthesis
        and are re-raised here."""
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise EspeakError(f"espeak voice {voice!r} is not available")
            # Parameters are global too: set every one of them on every call.
            self._lib.espeak_SetParameter(_RATE, max(RATE_MIN_WPM, min(RATE_MAX_WPM, int(rate_wpm))), 0)
            self._lib.espeak_SetParameter(_VOLUME, 100, 0)
            self._lib.espeak_SetParameter(_PITCH, 50, 0)
            buffer = ctypes.create_string_buffer(data, len(data))
            self._sink, self._sink_error = sink, None
            try:
                status = self._lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
                error = self._sink_error
            finally:
                self._sink, self._sink_error = None, None
            if error is not None:
                raise error
            if status != _EE_OK:
                raise EspeakError(f"espeak_Synth failed ({status})")


# Used when a config declares nothing (the published Indic-TTS config.pbtxt has no parameters).
DEFAULT_LANGUAGES = ("as", "bn", "bpy", "en", "gu", "hi", "kn", "kok", "ml", "mr", "ne", "or", "pa", "sd", "si",
                     "ta", "te", "ur")
DEFAULT_SPEAKER_VARIANTS = "male:m3,female:f3"


class VoiceTable:
    """The voices a model serves, from its config.pbtxt parameters: `voices` ("hi-male,
    hi-female,...", language id then speaker id as Indic-TTS names them), `speaker_variants`
    ("male:m3,female:f3", the espeak variant per speaker id) and `max_text_chars`. Without
    them (a published config), every default language with both speakers."""

    def __init__(self, parameters: dict[str, str]) -> None:
        spec = parameters.get("speaker_variants") or DEFAULT_SPEAKER_VARIANTS
        variants = dict(item.strip().split(":", 1) for item in spec.split(",") if item.strip())
        declared = parameters.get("voices") or ",".join(
            f"{language}-{speaker}" for language in DEFAULT_LANGUAGES for speaker in variants)
        self.voices: dict[tuple[str, str], str] = {}
        for item in declared.split(","):
            language, _, speaker = item.strip().rpartition("-")
            if not language or speaker not in variants:
                raise EspeakError(f"bad voice {item!r} in parameter voices (speakers: {sorted(variants)})")
            self.voices[(language, speaker)] = f"{language}+{variants[speaker]}"
        self.languages = sorted({language for language, _ in self.voices})
        self.max_text_chars = int(parameters.get("max_text_chars") or MAX_TEXT_CHARS_DEFAULT)

    def check_installed(self, espeak: Espeak) -> None:
        missing = [name for name in self.voices.values() if not espeak.has_voice(name)]
        if missing:
            raise EspeakError(f"espeak-ng data at {espeak.data_path} lacks voices {missing}")

    def resolve(self, text: object, speaker: object, language: object) -> tuple[str, str]:
        """(text, espeak voice name) for one request's raw inputs; ValueError says what is wrong."""
        language_id = _decode(language, "INPUT_LANGUAGE_ID").strip().lower()
        speaker_id = _decode(speaker, "INPUT_SPEAKER_ID").strip().lower()
        if language_id not in self.languages:
            raise ValueError(f"language {language_id!r} is not served (serves {','.join(self.languages)})")
        voice = self.voices.get((language_id, speaker_id))
        if voice is None:
            speakers = sorted(s for lang, s in self.voices if lang == language_id)
            raise ValueError(f"speaker {speaker_id!r} is not served for {language_id} (serves {','.join(speakers)})")
        value = _decode(text, "INPUT_TEXT").replace("\0", " ")
        if not value.strip():
            raise ValueError("INPUT_TEXT is empty")
        if len(value) > self.max_text_chars:
            raise ValueError(f"INPUT_TEXT has {len(value)} characters, more than {self.max_text_chars}")
        return value, voice


def _decode(value: object, name: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(value, str):
        return value
    raise ValueError(f"{name}: expected UTF-8 bytes, got {type(value).__name__}")


def load(parameters: dict[str, str]) -> tuple[Espeak, VoiceTable]:
    """The shared engine and the model's voice table, checked against each other and against a
    declared `sample_rate_hertz`; EspeakError says what does not fit (the model fails to load)."""
    espeak = Espeak.shared()
    table = VoiceTable(parameters)
    table.check_installed(espeak)
    declared = int(parameters.get("sample_rate_hertz") or 0)
    if declared and declared != espeak.sample_rate_hertz:  # 0: not declared (published config)
        raise EspeakError(f"sample_rate_hertz is {declared} but espeak-ng synthesises at {espeak.sample_rate_hertz}")
    return espeak, table
