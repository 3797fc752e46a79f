"""Gateway settings (environment prefix `AI4VC_GATEWAY_`). `database_url`/`database_schema` name
where the auth service keeps its tables. The gateway holds no secret: Envoy checks API keys
against the hashes it publishes and access tokens against the JWKS the launcher writes."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class GatewaySettings(CommonSettings):
    service_name: str = "gateway"
    port: int = 8086
    failed_attempts_per_minute: int = 20  # per client address, then 429
    default_requests_per_minute: int = 600  # keys with quota 0, and bearer-token callers
    # The public gRPC services behind Envoy ("ai4vc.nmt.v1.NmtService,..."): the gateway
    # answers server reflection for all of them, so `grpcurl list` through Envoy shows the API.
    api_services: str = ""
    # The edge's control plane (gateway/edge/): where Envoy watches for its routes (RDS), the
    # route skeleton the launcher rendered, and Envoy's JSON access log (failed authentications).
    # Empty envoy_routes_dir: no control plane in this process.
    envoy_routes_dir: str = ""
    envoy_routes_base: str = ""
    envoy_access_log: str = ""
    quota_poll_s: float = 0.1
    # Full re-read of keys and sessions, a safety net behind the pub/sub notifications.
    edge_resync_s: float = 30.0
    envoy_admin: str = ""  # host:port of Envoy's admin API: confirms a publish is applied
    # local_ratelimit counts in each Envoy, so a key's requests_per_minute is divided across the
    # Envoys: 0 counts them (each control plane beats in Redis every `edge_peer_interval_s`), N fixes it.
    edge_replicas: int = 0
    edge_peer_interval_s: float = 2.0

    def check(self) -> GatewaySettings:
        if not self.database_url:
            raise SettingsError("AI4VC_GATEWAY_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        if self.edge_replicas < 0 or self.edge_peer_interval_s <= 0:
            raise SettingsError("AI4VC_GATEWAY_EDGE_REPLICAS must be 0 (count) or more, and "
                                "AI4VC_GATEWAY_EDGE_PEER_INTERVAL_S above 0")
        return self
