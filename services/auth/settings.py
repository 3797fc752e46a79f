"""Auth service settings (environment prefix `AI4VC_AUTH_`).

`jwt_secret` and `key_pepper` fall back to `AI4VC_JWT_SECRET` / `AI4VC_KEY_PEPPER`, which the
gateway reads too: it verifies the tokens and keys this service issues.
"""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class AuthSettings(CommonSettings):
    service_name: str = "auth"
    port: int = 8081
    jwt_secret: str = ""  # HS256 key for access tokens, at least 32 characters
    key_pepper: str = ""  # server-side secret mixed into every API-key and refresh-token hash
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 86400
    # If set, an admin user and an admin API key are created on first start, the key written here (0600).
    bootstrap_key_file: str = ""
    bootstrap_admin_username: str = "admin"
    # How long CreateApiKey/RotateApiKey wait for the edge's control plane to say Envoy has the
    # key (`services.common.backends.keys.EDGE_APPLIED`), so a key works as soon as it is returned.
    # 0: don't wait (no edge, as in the service tests).
    edge_wait_s: float = 0.0

    def check(self) -> AuthSettings:
        """Fails fast on secrets too short to be secrets."""
        if len(self.jwt_secret) < 32:
            raise SettingsError("AI4VC_AUTH_JWT_SECRET (or AI4VC_JWT_SECRET) must be at least 32 characters")
        if len(self.key_pepper) < 16:
            raise SettingsError("AI4VC_AUTH_KEY_PEPPER (or AI4VC_KEY_PEPPER) must be at least 16 characters")
        if not self.database_url:
            raise SettingsError("AI4VC_AUTH_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        return self
