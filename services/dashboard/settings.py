"""Dashboard service settings (environment prefix `AI4VC_DASHBOARD_`).

`targets` names every replica to health-check, one `name|kind|check|host:port` entry each
(comma-separated): kind `grpc` with the gRPC service its health names as `check` ("" for the
server as a whole), or kind `http` with the path answering 200 when healthy. The launcher
(`deploy.local.mesh`) passes the replicas it runs. Empty URLs turn a source off: its section is
then NOT_CONFIGURED rather than unavailable.
"""

from __future__ import annotations

import dataclasses
import re

from services.common.settings import CommonSettings, SettingsError

_URL = re.compile(r"https?://[^/?#\s]+/?")
_ADDRESS = re.compile(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


@dataclasses.dataclass(frozen=True)
class Target:
    """One replica to health-check."""

    name: str
    kind: str  # "grpc" | "http"
    check: str  # the gRPC health service name, or the HTTP path
    address: str  # host:port


@dataclasses.dataclass(frozen=True)
class DashboardSettings(CommonSettings):
    service_name: str = "dashboard"
    port: int = 8095
    # The page's HTTP port (-1: no page; 0: ephemeral, tests).
    web_port: int = 8090
    targets: tuple[str, ...] = ()
    prometheus_url: str = "http://127.0.0.1:9090"
    # Alertmanager's API (http://host:port); empty: alerts come from Prometheus's ALERTS only.
    alertmanager_url: str = ""
    # host:port of the metrics service (top keys by usage); empty: no usage section.
    metrics_target: str = "127.0.0.1:8083"
    # Whether Triton's models are shown (through `triton_url`).
    triton: bool = True
    # An overview is computed at most this often and shared in between (the issue: ≤ 5 s).
    cache_ttl_s: float = 5.0
    # Longest wait for any one source; a slower one makes its section unavailable.
    source_timeout_s: float = 2.0
    # The edge ("http://127.0.0.1:8080"): the page's port relays GET /v1/dashboard:overview
    # there (with the browser's credential), for a page loaded straight from `web_port`; empty: no relay.
    edge_url: str = ""

    def parsed_targets(self) -> list[Target]:
        targets = []
        for entry in self.targets:
            parts = entry.split("|")
            if len(parts) != 4 or parts[1] not in ("grpc", "http") or not parts[0] \
                    or not _ADDRESS.fullmatch(parts[3]) or (parts[1] == "http" and not parts[2].startswith("/")):
                raise SettingsError(f"AI4VC_DASHBOARD_TARGETS entry {entry!r}: use name|grpc|service|host:port "
                                    "or name|http|/path|host:port")
            targets.append(Target(*parts))
        return targets

    def check(self) -> DashboardSettings:
        self.parsed_targets()
        for name in ("prometheus_url", "alertmanager_url", "edge_url"):
            value = getattr(self, name)
            if value and not _URL.fullmatch(value):
                raise SettingsError(f"AI4VC_DASHBOARD_{name.upper()}={value!r}: use http(s)://host:port")
        if self.metrics_target and not _ADDRESS.fullmatch(self.metrics_target):
            raise SettingsError(f"AI4VC_DASHBOARD_METRICS_TARGET={self.metrics_target!r}: use host:port")
        if not 0 < self.cache_ttl_s <= 5:
            raise SettingsError("AI4VC_DASHBOARD_CACHE_TTL_S must be above 0 and at most 5")
        if self.source_timeout_s <= 0:
            raise SettingsError("AI4VC_DASHBOARD_SOURCE_TIMEOUT_S must be above 0")
        return self
