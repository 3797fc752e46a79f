"""Config service settings (environment prefix `AI4VC_CONFIG_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class ConfigSettings(CommonSettings):
    service_name: str = "config"
    port: int = 8082
    # Largest value accepted, as compact JSON.
    max_value_bytes: int = 65_536
    # Changes a watcher may fall behind by before its stream is ended (it watches again and
    # gets a fresh snapshot).
    watch_queue: int = 1000
    # Longest wait between attempts to re-open the change feed (LISTEN) after losing it.
    feed_reconnect_max_s: float = 5.0

    def check(self) -> ConfigSettings:
        if not self.database_url:
            raise SettingsError("AI4VC_CONFIG_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        return self
