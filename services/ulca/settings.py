"""ULCA facade settings (environment prefix `AI4VC_ULCA_`)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from services.common.rpc.downstream import DownstreamSettings
from services.common.settings import SettingsError

TASKS = ("asr", "translation", "transliteration", "tts")

# Service ids Dhruva and Bhashini publish, as clients have them in their code: each maps onto
# this deployment's model for the task and language ("=<task>"), or onto one model
# ("=<task>:<model>"). Anything else that is not one of our own ids is UNKNOWN_SERVICE_ID.
DHRUVA_SERVICE_IDS = (
    "ai4bharat/indictrans-v2-all-gpu--t4=translation",
    "ai4bharat/indictrans-fairseq-all-gpu--t4=translation",
    "ai4bharat/conformer-hi-gpu--t4=asr",
    "ai4bharat/conformer-en-gpu--t4=asr",
    "ai4bharat/conformer-multilingual-indo_aryan-gpu--t4=asr",
    "ai4bharat/conformer-multilingual-dravidian-gpu--t4=asr",
    "ai4bharat/whisper-medium-en--gpu--t4=asr",
    "ai4bharat/indic-tts-coqui-indo_aryan-gpu--t4=tts",
    "ai4bharat/indic-tts-coqui-dravidian-gpu--t4=tts",
    "ai4bharat/indic-tts-coqui-misc-gpu--t4=tts",
    "ai4bharat/indicxlit--cpu-fsv2=transliteration",
    "ai4bharat/indicxlit--gpu-t4=transliteration",
)


@dataclasses.dataclass(frozen=True)
class UlcaSettings(DownstreamSettings):
    # Targets, deadlines and retries of the calls to the services behind the facade: the base class.
    env_prefix: ClassVar[str] = "AI4VC_ULCA"
    service_name: str = "ulca"
    port: int = 8099
    # The edge's URL as clients reach it: getModelsPipeline's callbackUrl is this plus the
    # compute path. Empty: the callbackUrl is the path alone.
    public_url: str = ""
    # Dhruva / Bhashini ids accepted as serviceId ("<id>=<task>[:<model>]").
    service_aliases: tuple[str, ...] = DHRUVA_SERVICE_IDS
    # ASR audio longer than this is segmented by the ASR service's VAD (StreamingRecognize)
    # instead of being sent to the model whole: Dhruva's models fail or truncate past ~30 s.
    segment_above_s: float = 30.0
    max_audio_items: int = 8
    max_text_items: int = 128
    max_tasks: int = 8
    # How long the catalogue of serviceIds (from the services' discovery RPCs) is kept.
    catalog_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.segment_above_s <= 0:
            raise SettingsError("segment_above_s must be positive")
        for alias in self.service_aliases:
            _, _, target = alias.partition("=")
            if target.partition(":")[0] not in TASKS:
                raise SettingsError(f"service alias {alias!r}: the task after '=' must be one of {', '.join(TASKS)}")

    def aliases(self) -> dict[str, tuple[str, str]]:
        """service id → (task, model or "" for the deployment's default)."""
        out = {}
        for alias in self.service_aliases:
            service_id, _, target = alias.partition("=")
            task, _, model = target.partition(":")
            out[service_id.strip()] = (task, model.strip())
        return out
