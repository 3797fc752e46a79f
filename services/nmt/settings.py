"""NMT service settings (environment prefix `AI4VC_NMT_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings


@dataclasses.dataclass(frozen=True)
class NmtSettings(CommonSettings):
    service_name: str = "nmt"
    port: int = 8089
    model_name: str = "nmt"
    # Override of the model's own `language_pairs` parameter ("hi-ur,ur-hi"), for model
    # repositories (IndicTrans2's own) whose config does not declare what they serve.
    language_pairs: str = ""
    max_contents: int = 128
    max_content_chars: int = 5_000
    max_total_chars: int = 50_000
    max_do_not_translate: int = 100
    max_phrase_chars: int = 100
    catalog_refresh_s: float = 30.0
