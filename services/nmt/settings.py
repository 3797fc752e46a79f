"""NMT service settings (environment prefix `AI4VC_NMT_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings


@dataclasses.dataclass(frozen=True)
class NmtSettings(CommonSettings):
    service_name: str = "nmt"
    port: int = 8089
    # Admission (services/common/rpc/admission.py): an admitted call's latency is about running
    # calls ÷ throughput (~14/s here, bench/README.md "Load and soak"): at 32 the admitted calls'
    # p50 was 4.4 s at 150 % load; 8 keeps it near half a second. Past 8, the next wait (bounded)
    # or are refused RESOURCE_EXHAUSTED SERVER_OVERLOADED.
    max_in_flight_calls: int = 8
    # The translation model whose readiness gates this service's health.
    model_name: str = "nmt"
    # Declares what `model_name` serves ("en-hi,hi-en"), for model repositories (IndicTrans2's
    # own) whose config does not declare it; our reference models declare it themselves.
    language_pairs: str = ""
    max_contents: int = 128
    max_content_chars: int = 5_000
    max_total_chars: int = 50_000
    max_do_not_translate: int = 100
    max_phrase_chars: int = 100
    catalog_refresh_s: float = 30.0
