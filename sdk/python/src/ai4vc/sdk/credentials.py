"""Credentials the edge (Envoy) accepts: an API key in `x-api-key`, or a JWT access token in
`authorization: Bearer …` that the client refreshes with its refresh token before it expires."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

Metadata = tuple[tuple[str, str], ...]


class Credential(Protocol):
    def metadata(self) -> Metadata: ...


@dataclass(frozen=True)
class ApiKey:
    """An API key (`make key`, `ai4vc keys create`)."""

    key: str

    def metadata(self) -> Metadata:
        return (("x-api-key", self.key),)

    def __repr__(self) -> str:  # never print a secret
        return "ApiKey(***)"


@dataclass
class Jwt:
    """A JWT access token, with the refresh token that renews it (from `AuthService.Login`).

    `expire_time` is a Unix time; the client refreshes `refresh_margin` seconds before it, and once
    when the edge answers UNAUTHENTICATED (a token that expired early, or a clock skew)."""

    access_token: str
    refresh_token: str = ""
    expire_time: float | None = None
    refresh_margin: float = 30.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def metadata(self) -> Metadata:
        return (("authorization", f"Bearer {self.access_token}"),)

    @property
    def can_refresh(self) -> bool:
        return bool(self.refresh_token)

    def due(self, now: float | None = None) -> bool:
        """Whether the access token expires within the margin and can be refreshed."""
        if not self.refresh_token or self.expire_time is None:
            return False
        return (now if now is not None else time.time()) >= self.expire_time - self.refresh_margin

    def update(self, access_token: str, refresh_token: str, expire_time: float | None) -> None:
        self.access_token = access_token
        if refresh_token:
            self.refresh_token = refresh_token  # refresh tokens rotate: keep the newest
        self.expire_time = expire_time

    def __repr__(self) -> str:
        return f"Jwt(***, expire_time={self.expire_time})"
