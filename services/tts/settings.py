"""TTS service settings (environment prefix `AI4VC_TTS_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings


@dataclasses.dataclass(frozen=True)
class TtsSettings(CommonSettings):
    service_name: str = "tts"
    port: int = 8088
    # Admission (services/common/rpc/admission.py): espeak-ng speaks one text at a time per Triton
    # instance; an admitted call's latency is about running calls ÷ throughput (~15/s here, see
    # bench/README.md "Load and soak"), so 8 keeps it near half a second. Past 8, the next wait
    # (bounded) or are refused RESOURCE_EXHAUSTED SERVER_OVERLOADED.
    max_in_flight_calls: int = 8
    # The unary synthesis model whose readiness gates this service's health.
    model_name: str = "tts"
    # Input limits of the contract: per request (text or SSML, bytes) and, for the bidi
    # stream, per fragment and per stream.
    max_input_bytes: int = 5_000
    max_fragment_bytes: int = 5_000
    max_stream_bytes: int = 100_000
    # Longest piece sent to the model at once: sentences longer than this are cut at a space.
    max_sentence_chars: int = 400
    # SPEAKING_RATE range the streaming model accepts (the tts_streaming contract: 0.5-2.5).
    model_rate_min: float = 0.5
    model_rate_max: float = 2.5
    # Sentences a bidi stream may hold waiting to be spoken before it stops reading the client.
    max_pending_sentences: int = 8
    # Deadline of a streaming RPC's Triton calls when the client set none.
    stream_timeout_s: float = 300.0
    catalog_refresh_s: float = 30.0
    # Text normalization: the languages whose NeMo TN grammars are loaded (in the background
    # at start; until then, and for the other Indian languages, numbers and rupee amounts are
    # read by indic-numtowords / num2words), and whether a request that does not say gets it.
    tn_languages: tuple[str, ...] = ("en", "hi")
    tn_default: bool = True
