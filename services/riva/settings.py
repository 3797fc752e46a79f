"""Riva facade settings (environment prefix `AI4VC_RIVA_`)."""

from __future__ import annotations

import dataclasses

from services.common.rpc.balancing import check_targets
from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class RivaSettings(CommonSettings):
    service_name: str = "riva"
    port: int = 8098
    # Where our asr, tts and nmt services answer, every replica (host:port, IP:port,IP:port,… or
    # a gRPC target URI: services/common/rpc/balancing.py). Empty: that Riva service answers
    # UNAVAILABLE and does not gate readiness.
    asr_target: str = "127.0.0.1:8087"
    tts_target: str = "127.0.0.1:8088"
    nmt_target: str = "127.0.0.1:8089"
    # Deadline of a downstream unary call when the caller set none, and of a streaming call.
    call_timeout_s: float = 60.0
    stream_timeout_s: float = 600.0
    # Unary calls that answer UNAVAILABLE are retried (never streams), full-jitter backoff.
    retry_max_attempts: int = 3
    retry_initial_backoff_s: float = 0.05
    retry_max_backoff_s: float = 1.0
    health_timeout_s: float = 1.0
    # Largest audio chunk our StreamingRecognize takes; bigger Riva chunks are split.
    max_chunk_bytes: int = 32_768

    def __post_init__(self) -> None:
        check_targets(self, "AI4VC_RIVA", ("asr", "tts", "nmt"))
        if self.retry_max_attempts < 1:
            raise SettingsError("retry_max_attempts must be at least 1")
        if self.max_chunk_bytes < 2 or self.max_chunk_bytes % 2:
            raise SettingsError("max_chunk_bytes must be a positive even number")
