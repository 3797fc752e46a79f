"""Pipeline service settings (environment prefix `AI4VC_PIPELINE_`)."""

from __future__ import annotations

import dataclasses

from services.common.rpc.balancing import check_targets
from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class PipelineSettings(CommonSettings):
    service_name: str = "pipeline"
    port: int = 8091
    # Where the downstream services answer: every replica of each, balanced round-robin over the
    # healthy ones (services/common/rpc/balancing.py): host:port (DNS, every address of the
    # name), IP:port,IP:port,… or a gRPC target URI (dns:///…). Empty: that kind of task is
    # unavailable and does not gate readiness.
    asr_target: str = "127.0.0.1:8087"
    nmt_target: str = "127.0.0.1:8089"
    tts_target: str = "127.0.0.1:8088"
    max_tasks: int = 8
    # Deadline of a downstream unary call when the caller set none, and of a streaming call.
    call_timeout_s: float = 60.0
    stream_timeout_s: float = 600.0
    # Unary calls that answer UNAVAILABLE are retried (never streams), with full-jitter
    # exponential backoff capped at retry_max_backoff_s, within the caller's deadline.
    retry_max_attempts: int = 3
    retry_initial_backoff_s: float = 0.05
    retry_max_backoff_s: float = 1.0
    # Final utterances waiting to be translated and spoken, and events waiting to be sent to
    # the client, before the stream stops reading from the recognizer.
    max_pending_utterances: int = 4
    max_pending_events: int = 64
    health_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        check_targets(self, "AI4VC_PIPELINE", ("asr", "nmt", "tts"))
        if self.retry_max_attempts < 1:
            raise SettingsError("retry_max_attempts must be at least 1")
        if self.max_pending_utterances < 1 or self.max_pending_events < 1:
            raise SettingsError("queue sizes must be at least 1")
