"""Alerting service settings (environment prefix `AI4VC_ALERTING_`).

`rules_dir` is the directory Prometheus loads alerting-rule files from (`rule_files` in
`deploy/local/prometheus_config.py`); the service owns one file there. `prometheus_url` is
POSTed `/-/reload` after each change; `alertmanager_url` takes silences. Either may be empty
(tests of the API alone): the file is still written, nothing is reloaded, silences are
UNAVAILABLE.
"""

from __future__ import annotations

import dataclasses
import re

from services.common.settings import CommonSettings, SettingsError

_URL = re.compile(r"https?://[^/?#\s]+/?")


@dataclasses.dataclass(frozen=True)
class AlertingSettings(CommonSettings):
    service_name: str = "alerting"
    port: int = 8085
    rules_dir: str = ".run/prometheus/alerting"
    rules_file: str = "ai4vc-alerting.yml"
    prometheus_url: str = ""
    alertmanager_url: str = ""
    # The HTTP receiver Alertmanager's webhook posts to (POST /v1/alertmanager); -1: off, 0: free.
    webhook_port: int = 8097
    # Outgoing webhooks: per attempt timeout, backoff (doubling, full jitter) between first and cap.
    delivery_timeout_s: float = 5.0
    delivery_backoff_s: float = 1.0
    delivery_max_backoff_s: float = 300.0
    delivery_poll_s: float = 0.5
    delivery_batch: int = 50
    # Event rules (failed logins) read the audit topic here; empty: event rules are not evaluated.
    kafka_bootstrap: str = ""
    audit_topic: str = "ai4vc.audit"
    # How long Prometheus and Alertmanager get to answer a reload or a silence.
    upstream_timeout_s: float = 5.0

    def check(self) -> AlertingSettings:
        if not self.database_url:
            raise SettingsError("AI4VC_ALERTING_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        if not self.rules_dir:
            raise SettingsError("AI4VC_ALERTING_RULES_DIR is required")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+\.ya?ml", self.rules_file):
            raise SettingsError("AI4VC_ALERTING_RULES_FILE must be a file name ending .yml")
        for name in ("prometheus_url", "alertmanager_url"):
            value = getattr(self, name)
            if value and not _URL.fullmatch(value):
                raise SettingsError(f"AI4VC_ALERTING_{name.upper()}={value!r}: use http(s)://host:port")
        if min(self.delivery_timeout_s, self.delivery_backoff_s, self.delivery_poll_s) <= 0:
            raise SettingsError("AI4VC_ALERTING_DELIVERY_* durations must be positive")
        if self.delivery_max_backoff_s < self.delivery_backoff_s or self.delivery_batch < 1:
            raise SettingsError("AI4VC_ALERTING_DELIVERY_MAX_BACKOFF_S must be >= _BACKOFF_S, _BATCH >= 1")
        return self
