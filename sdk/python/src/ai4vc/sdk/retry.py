"""Retries of UNAVAILABLE with capped, jittered exponential backoff — for idempotent calls only
(never a call that may have written, never a stream that has started sending)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import grpc

# Methods whose effect is not safe to repeat: each writes, rotates or issues something.
# Every other unary method of the platform is a read or an inference (same input, same answer).
NON_IDEMPOTENT = frozenset({
    "/ai4vc.auth.v1.AuthService/CreateUser",
    "/ai4vc.auth.v1.AuthService/Login",
    "/ai4vc.auth.v1.AuthService/Refresh",
    "/ai4vc.auth.v1.AuthService/Logout",
    "/ai4vc.auth.v1.AuthService/CreateApiKey",
    "/ai4vc.auth.v1.AuthService/RevokeApiKey",
    "/ai4vc.auth.v1.AuthService/RotateApiKey",
    "/ai4vc.config.v1.ConfigService/SetConfig",
    "/ai4vc.config.v1.ConfigService/DeleteConfig",
    "/ai4vc.config.v1.ConfigService/RollbackConfig",
})


def idempotent(method: str) -> bool:
    """Whether a unary `method` ("/pkg.Service/Method") may be sent again after UNAVAILABLE."""
    return method not in NON_IDEMPOTENT


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: attempt n waits uniform(0, min(max_backoff, initial·multiplier^n)),
    at least the server's RetryInfo delay when it sent one; the call's deadline bounds all attempts."""

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0
    retry_codes: frozenset[grpc.StatusCode] = field(default_factory=lambda: frozenset({grpc.StatusCode.UNAVAILABLE}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoff must be >= 0 and multiplier >= 1")

    def should_retry(self, method: str, code: grpc.StatusCode, attempt: int) -> bool:
        """After failed attempt number `attempt` (0-based) of `method` with `code`, try again?"""
        return attempt + 1 < self.max_attempts and code in self.retry_codes and idempotent(method)

    def backoff(self, attempt: int, rng: random.Random | None = None, server_delay: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (0-based)."""
        cap = min(self.max_backoff, self.initial_backoff * self.multiplier ** attempt)
        delay = (rng or random).uniform(0, cap)
        if server_delay is not None:
            delay = max(delay, min(server_delay, self.max_backoff))
        return delay


NO_RETRY = RetryPolicy(max_attempts=1)
