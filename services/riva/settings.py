"""Riva facade settings (environment prefix `AI4VC_RIVA_`)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.common.rpc.downstream import DownstreamSettings
from services.common.settings import SettingsError


@dataclasses.dataclass(frozen=True)
class RivaSettings(DownstreamSettings):
    # Targets, deadlines and retries of the calls to our asr, tts and nmt services: the base class.
    env_prefix: ClassVar[str] = "AI4VC_RIVA"
    service_name: str = "riva"
    port: int = 8098
    # Largest audio chunk our StreamingRecognize takes; bigger Riva chunks are split.
    max_chunk_bytes: int = 32_768

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_chunk_bytes < 2 or self.max_chunk_bytes % 2:
            raise SettingsError("max_chunk_bytes must be a positive even number")
