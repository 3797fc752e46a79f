"""Pipeline service settings (environment prefix `AI4VC_PIPELINE_`)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.common.rpc.downstream import DownstreamSettings
from services.common.settings import SettingsError


@dataclasses.dataclass(frozen=True)
class PipelineSettings(DownstreamSettings):
    env_prefix: ClassVar[str] = "AI4VC_PIPELINE"
    service_name: str = "pipeline"
    port: int = 8091
    max_tasks: int = 8
    # Final utterances waiting to be translated and spoken, and events waiting to be sent to
    # the client, before the stream stops reading from the recognizer.
    max_pending_utterances: int = 4
    max_pending_events: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_pending_utterances < 1 or self.max_pending_events < 1:
            raise SettingsError("queue sizes must be at least 1")
