"""Credential formats and their hashes: API keys, refresh tokens, passwords, HS256 JWTs.

API keys and refresh tokens carry 256 random bits, so a keyed fast hash is enough and keeps the
edge's per-request check cheap: HMAC-SHA256(pepper, salt || secret), compared in constant time.
Passwords are low-entropy and get scrypt. The auth service issues these; the gateway verifies
them with the same code.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

KEY_PREFIX = "ai4vc"
REFRESH_PREFIX = "ai4vcr"
JWT_ISSUER = "ai4vc-auth"
# Tokens name the platform's API as their audience; a token minted for anything else is refused.
JWT_AUDIENCE = "ai4vc"
SCOPES = frozenset({"asr", "tts", "nmt", "pipeline", "config", "telemetry", "alerting", "dashboard", "admin"})
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def new_key_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    # Hex: no "_" (the separator) and one word for shells and double-click copying.
    return secrets.token_hex(32)


def format_key(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def format_refresh(session_id: str, secret: str) -> str:
    return f"{REFRESH_PREFIX}_{session_id}_{secret}"


def parse(token: str, prefix: str) -> tuple[str, str] | None:
    """(id, secret) of "<prefix>_<id>_<secret>", or None when malformed."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    if not all(c in "0123456789abcdef" for c in parts[1]) or len(parts[1]) > 64 or len(parts[2]) > 256:
        return None
    return parts[1], parts[2]


def hash_secret(pepper: str, salt: str, secret: str) -> str:
    return hmac.new(pepper.encode(), (salt + ":" + secret).encode(), hashlib.sha256).hexdigest()


def edge_hash(secret: str) -> str:
    """The key's hash as Envoy's basic_auth checks it: htpasswd `{SHA}` + base64(SHA-1(secret)).

    Unsalted SHA-1 would be wrong for passwords; an API-key secret is 256 random bits, so neither
    a dictionary nor a precomputed table can reach it, and no SHA-1 weakness (collisions) helps
    find a preimage. It is stored beside the salted HMAC (which the auth service's own checks
    keep using) so that the edge can decide a call with no Python on its path."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(secret.encode()).digest()).decode()  # noqa: S324


def new_salted_hash(pepper: str, secret: str) -> tuple[str, str]:
    salt = secrets.token_hex(16)
    return salt, hash_secret(pepper, salt, secret)


def secret_matches(pepper: str, salt: str, expected_hash: str, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(pepper, salt, secret), expected_hash)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + base64.b64encode(salt).decode() + "$" + base64.b64encode(
        digest).decode()


def password_matches(stored: str, password: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# A password check for an unknown user still costs one scrypt, so timing doesn't reveal usernames.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_hex(16))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_jwt(secret: str, subject: str, scopes: list[str], session_id: str, ttl_s: int,
              now: float | None = None) -> tuple[str, int]:
    """An HS256 access token and its expiry (unix seconds)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": subject, "scope": " ".join(sorted(scopes)), "sid": session_id,
        "iat": issued, "exp": issued + ttl_s, "jti": uuid.uuid4().hex,
    }
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}", claims["exp"]


def parse_key(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of an API key, or None when `token` is not shaped like one."""
    return parse(token, KEY_PREFIX)


@dataclasses.dataclass(frozen=True)
class Claims:
    subject: str
    scopes: frozenset[str]
    session_id: str
    expire: int


def _unb64(part: str) -> bytes:  # noqa: D103
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(secret: str, token: str, now: float | None = None) -> Claims | None:
    """The claims of a valid, unexpired HS256 token from our issuer; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        # Only HS256: "none" and asymmetric algorithms (key-confusion attacks) are refused.
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        claims = json.loads(_unb64(parts[1]))
        exp = claims["exp"]
        if claims.get("iss") != JWT_ISSUER or not isinstance(exp, int) or exp <= (now or time.time()):
            return None
        audience = claims.get("aud")
        if audience != JWT_AUDIENCE and not (isinstance(audience, list) and JWT_AUDIENCE in audience):
            return None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            return None
        return Claims(subject, frozenset(str(claims.get("scope", "")).split()), str(claims.get("sid", "")), exp)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
