"""ASR service settings (environment prefix `AI4VC_ASR_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings


@dataclasses.dataclass(frozen=True)
class AsrSettings(CommonSettings):
    service_name: str = "asr"
    port: int = 8087
    # Admission (services/common/rpc/admission.py): pocketsphinx decodes at RTF ~0.34 and the
    # ensemble decodes a batch's rows one after another on each of two Triton instances, so a
    # fifth running call would only wait there. Past 4, the next wait (bounded) or are refused
    # RESOURCE_EXHAUSTED SERVER_OVERLOADED.
    max_in_flight_calls: int = 4
    # The unary recognition model whose readiness gates this service's health.
    model_name: str = "asr_am_ensemble"
    # Recognize limits (the contract's: 10 MiB and 5 minutes).
    max_audio_bytes: int = 10_485_760
    max_audio_seconds: float = 300.0
    # StreamingRecognize limits: bytes per audio message, audio per stream (contract: 32 KB, 30 min).
    max_chunk_bytes: int = 32_768
    max_stream_seconds: float = 1800.0
    # Audio sent to the streaming model per request: at least this much, rounded down to whole
    # 30 ms VAD frames, checked after each client message (100 ms messages: a call each, 90-120 ms).
    stream_chunk_ms: int = 100
    # A stream that is behind (messages queued while the model or the process was busy) takes
    # the queued messages together, up to this much audio, into one model call.
    stream_coalesce_ms: int = 1000
    # Trailing silence after which a model that declares prepare_final is asked to prepare the
    # final (PREPARE_FINAL), so that it is ready when the endpointer decides; 0 = never. Only
    # used when shorter than the stream's end_of_utterance_silence.
    stream_prepare_final_ms: int = 300
    # Bounded queues of a stream: decoded audio waiting for the model, responses waiting for
    # the client. Full queues stop the stage before them, down to reading the client.
    stream_audio_queue: int = 16
    stream_response_queue: int = 16
    # No audio message for this long ends the stream like a half-close (finals flushed, OK).
    stream_idle_timeout_s: float = 10.0
    # Deadline of one streaming model call.
    stream_call_timeout_s: float = 10.0
    # webrtcvad aggressiveness 0 (least) to 3 (most eager to call audio non-speech).
    vad_aggressiveness: int = 2
    # Audio kept before detected speech onset, sent with the utterance's first chunk.
    vad_preroll_ms: int = 300
    # Most audio kept per request when the caller opts in with store_audio.
    max_stored_audio_bytes: int = 10_485_760
    # Words masked by profanity_filter (lower case).
    profane_words: tuple[str, ...] = ("damn", "hell", "shit", "fuck", "bastard", "bitch")
    catalog_refresh_s: float = 30.0
    # Inverse text normalization: the languages whose NeMo grammars are loaded (in the
    # background at start; those NeMo lacks are skipped), and whether a request that does not
    # say gets it (on, as in Riva).
    itn_languages: tuple[str, ...] = ("en", "hi", "mr")
    itn_default: bool = True
