"""Auth domain core: users, sessions, API keys and the audit trail, over PostgreSQL.

Knows nothing of grpc, and returns domain types (`User`, `ApiKey`, `IssuedKey`, `KeyPage`,
`Tokens`), never database rows. Key revocations and rotations are published on Redis so that every
gateway instance drops its cached copy at once; logouts mark the session revoked in Redis for as
long as its access tokens live (the contract with the edge: `services.common.backends.keys`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from google.protobuf import struct_pb2

from ai4vc.events.v1 import events_pb2
from services.auth.settings import AuthSettings
from services.common import credentials as cred
from services.common.backends import keys, outbox
from services.common.callers import Caller
from services.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Reason,
    Unauthenticated,
)
from services.common.paging import encode_page_token, page_window

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50

_USERNAME = re.compile(r"^[a-z0-9._-]{3,64}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
MAX_QUOTA = {"requests_per_minute": 1_000_000, "audio_seconds_per_day": 10_000_000,
             "characters_per_day": 10_000_000_000}


@dataclasses.dataclass(frozen=True)
class Quota:
    requests_per_minute: int = 0
    audio_seconds_per_day: int = 0
    characters_per_day: int = 0


@dataclasses.dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expire: datetime.datetime
    refresh_token: str
    refresh_expire: datetime.datetime


@dataclasses.dataclass(frozen=True)
class User:
    username: str
    scopes: tuple[str, ...]
    create_time: datetime.datetime


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """An API key as its owner sees it: never the secret nor its hash."""

    key_id: str
    display_name: str
    owner: str
    scopes: tuple[str, ...]
    quota: Quota
    create_time: datetime.datetime
    rotate_time: datetime.datetime
    revoke_time: datetime.datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ApiKey:
        return cls(row["key_id"], row["display_name"], row["owner"], tuple(row["scopes"]),
                   Quota(row["requests_per_minute"], row["audio_seconds_per_day"], row["characters_per_day"]),
                   row["create_time"], row["rotate_time"], row["revoke_time"])


@dataclasses.dataclass(frozen=True)
class IssuedKey:
    """A key just created or rotated, with the full key string, shown this once."""

    api_key: ApiKey
    key: str


@dataclasses.dataclass(frozen=True)
class KeyPage:
    api_keys: tuple[ApiKey, ...]
    next_page_token: str


def _ts(unix: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix, datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def check_scopes(scopes: Sequence[str], field: str = "scopes", required: bool = True) -> list[str]:
    cleaned = sorted({s.strip().lower() for s in scopes if s.strip()})
    if required and not cleaned:
        raise InvalidArgument(f"{field} must name at least one scope", reason=Reason.FIELD_REQUIRED, field=field)
    unknown = [s for s in cleaned if s not in cred.SCOPES]
    if unknown:
        raise InvalidArgument(f"unknown scope {unknown[0]!r}; use {', '.join(sorted(cred.SCOPES))}",
                              reason=Reason.UNKNOWN_SCOPE, field=field)
    return cleaned


class AuthCore:
    def __init__(self, settings: AuthSettings, pool: asyncpg.Pool, redis: aioredis.Redis | None) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis

    # -- users ---------------------------------------------------------------------------

    async def create_user(self, caller: Caller, username: str, password: str, scopes: Sequence[str]) -> User:
        if not caller.require().is_admin:
            raise PermissionDenied("creating users needs the admin scope", reason=Reason.ADMIN_REQUIRED)
        return await self._insert_user(caller.principal, username, password, scopes)

    async def _insert_user(self, actor: str, username: str, password: str, scopes: Sequence[str],
                           conn: asyncpg.Connection | None = None) -> User:
        if not username:
            raise InvalidArgument("username is required", reason=Reason.FIELD_REQUIRED, field="username")
        if not _USERNAME.match(username):
            raise InvalidArgument("username must be 3 to 64 characters of [a-z0-9._-]",
                                  reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="username")
        if not 12 <= len(password) <= 256:
            raise InvalidArgument("password must be 12 to 256 characters", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="password")
        scope_list = check_scopes(scopes, required=False)
        password_hash = await asyncio.to_thread(cred.hash_password, password)

        async def run(c: asyncpg.Connection) -> User:
            async with c.transaction():
                row = await c.fetchrow(
                    "INSERT INTO users (username, password_hash, scopes) VALUES ($1, $2, $3)"
                    " ON CONFLICT (username) DO NOTHING RETURNING username, scopes, create_time",
                    username, password_hash, scope_list)
                if row is None:
                    raise FailedPrecondition(f"user {username!r} exists", reason=Reason.USER_EXISTS, field="username")
                await _audit(c, actor, "user.create", "user", username, {"scopes": scope_list})
                return User(row["username"], tuple(row["scopes"]), row["create_time"])

        if conn is not None:
            return await run(conn)
        async with self.pool.acquire() as c:
            return await run(c)

    # -- sessions ------------------------------------------------------------------------

    async def login(self, username: str, password: str, address: str = "") -> Tokens:
        """`address` is the client's, as the edge saw it (recorded with a refused login: the
        alerting service's failed-login rules count refusals per address)."""
        if not username or not password:
            field = "username" if not username else "password"
            raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
        if len(password) > 256:
            raise Unauthenticated("wrong username or password", reason=Reason.INVALID_CREDENTIALS)
        row = await self.pool.fetchrow("SELECT username, password_hash, scopes, disabled FROM users"
                                       " WHERE username = $1", username)
        stored = row["password_hash"] if row else cred.DUMMY_PASSWORD_HASH
        ok = await asyncio.to_thread(cred.password_matches, stored, password)
        if row is None or not ok or row["disabled"]:
            log.info("login refused", extra={"username": username[:64]})
            async with self.pool.acquire() as conn, conn.transaction():
                await _audit(conn, username[:64], "session.login_failed", "user", username[:64],
                             {"address": address[:64]})
            raise Unauthenticated("wrong username or password", reason=Reason.INVALID_CREDENTIALS)
        session_id = secrets.token_hex(16)
        secret = cred.new_secret()
        salt, digest = cred.new_salted_hash(self.settings.key_pepper, secret)
        expire = _now() + datetime.timedelta(seconds=self.settings.refresh_token_ttl_s)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sessions (session_id, username, secret_salt, secret_hash, expire_time)"
                " VALUES ($1, $2, $3, $4, $5)", session_id, username, salt, digest, expire)
            await _audit(conn, username, "session.login", "session", session_id, {})
        return self._tokens(username, list(row["scopes"]), session_id, secret, expire)

    def _tokens(self, username: str, scopes: list[str], session_id: str, secret: str,
                refresh_expire: datetime.datetime) -> Tokens:
        access, exp = cred.issue_jwt(self.settings.jwt_secret, username, scopes, session_id,
                                     self.settings.access_token_ttl_s)
        return Tokens(access, _ts(exp), cred.format_refresh(session_id, secret), refresh_expire)

    async def _session(self, conn: asyncpg.Connection, refresh_token: str) -> asyncpg.Record:
        if not refresh_token:
            raise InvalidArgument("refresh_token is required", reason=Reason.FIELD_REQUIRED, field="refresh_token")
        parsed = cred.parse(refresh_token, cred.REFRESH_PREFIX)
        refused = Unauthenticated("refresh token is not valid", reason=Reason.INVALID_REFRESH_TOKEN)
        if parsed is None:
            raise refused
        session_id, secret = parsed
        row = await conn.fetchrow(
            "SELECT s.*, u.scopes, u.disabled FROM sessions s JOIN users u USING (username)"
            " WHERE s.session_id = $1 FOR UPDATE OF s", session_id)
        if (row is None or row["revoke_time"] is not None or row["expire_time"] <= _now() or row["disabled"]
                or not cred.secret_matches(self.settings.key_pepper, row["secret_salt"], row["secret_hash"], secret)):
            raise refused
        return row

    async def refresh(self, refresh_token: str) -> Tokens:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._session(conn, refresh_token)
            secret = cred.new_secret()
            salt, digest = cred.new_salted_hash(self.settings.key_pepper, secret)
            await conn.execute("UPDATE sessions SET secret_salt = $2, secret_hash = $3, refresh_time = now()"
                               " WHERE session_id = $1", row["session_id"], salt, digest)
        return self._tokens(row["username"], list(row["scopes"]), row["session_id"], secret, row["expire_time"])

    async def logout(self, refresh_token: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._session(conn, refresh_token)
            await conn.execute("UPDATE sessions SET revoke_time = now() WHERE session_id = $1", row["session_id"])
            await _audit(conn, row["username"], "session.logout", "session", row["session_id"], {})
        if self.redis is not None:
            try:
                await keys.mark_session_revoked(self.redis, row["session_id"], self.settings.access_token_ttl_s)
            except (aioredis.RedisError, OSError):
                # The refresh token is dead; the access tokens live on until they expire (≤ 15 min).
                log.warning("cannot mark the session revoked in Redis", extra={"session_id": row["session_id"]})

    # -- API keys ------------------------------------------------------------------------

    def _owner(self, caller: Caller, owner: str) -> str:
        caller.require()
        owner = owner or caller.principal
        if owner != caller.principal and not caller.is_admin:
            raise PermissionDenied("acting on another user's keys needs the admin scope", reason=Reason.ADMIN_REQUIRED,
                                   field="owner")
        return owner

    async def create_key(self, caller: Caller, display_name: str, scopes: Sequence[str], quota: Quota,
                         owner: str = "", conn: asyncpg.Connection | None = None) -> IssuedKey:
        owner = self._owner(caller, owner)
        if not display_name.strip():
            raise InvalidArgument("display_name is required", reason=Reason.FIELD_REQUIRED, field="display_name")
        if len(display_name) > 128:
            raise InvalidArgument("display_name is longer than 128 characters", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="display_name")
        scope_list = check_scopes(scopes)
        if not caller.is_admin and not set(scope_list) <= caller.scopes:
            raise PermissionDenied("a key cannot grant scopes its creator does not hold", reason=Reason.SCOPE_NOT_HELD,
                                   field="scopes")
        for name, limit in MAX_QUOTA.items():
            value = getattr(quota, name)
            if not 0 <= value <= limit:
                raise InvalidArgument(f"quota.{name} must be 0 to {limit}", reason=Reason.FIELD_OUT_OF_RANGE,
                                      field=f"quota.{name}")
        key_id, secret = cred.new_key_id(), cred.new_secret()
        salt, digest = cred.new_salted_hash(self.settings.key_pepper, secret)
        edge = cred.edge_hash(secret)

        async def run(c: asyncpg.Connection) -> asyncpg.Record:
            async with c.transaction():
                if not await c.fetchval("SELECT 1 FROM users WHERE username = $1", owner):
                    raise NotFound(f"user {owner!r} not found", reason=Reason.USER_NOT_FOUND, field="owner")
                row = await c.fetchrow(
                    "INSERT INTO api_keys (key_id, display_name, owner, scopes, secret_salt, secret_hash,"
                    " requests_per_minute, audio_seconds_per_day, characters_per_day, edge_hash)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
                    key_id, display_name, owner, scope_list, salt, digest, quota.requests_per_minute,
                    quota.audio_seconds_per_day, quota.characters_per_day, edge)
                await _audit(c, caller.principal, "key.create", "api_key", key_id,
                             {"owner": owner, "scopes": scope_list, "display_name": display_name,
                              "quota": dataclasses.asdict(quota)})
                return row

        if conn is not None:
            row = await run(conn)
        else:
            async with self.pool.acquire() as c:
                row = await run(c)
            # The edge's control plane publishes the new key to Envoy on this (a key made inside a
            # caller's transaction — the bootstrap admin — is picked up by its start-up read).
            since_ms = int(time.time() * 1000)
            await self._invalidate(await keys.fetch_key_record(self.pool, key_id))
            await self._wait_for_edge(since_ms)
        log.info("api key created", extra={"key_id": key_id, "owner": owner, "actor": caller.principal})
        return IssuedKey(ApiKey.from_row(row), cred.format_key(key_id, secret))

    async def list_keys(self, caller: Caller, owner: str, page_size: int, page_token: str,
                        show_revoked: bool) -> KeyPage:
        if owner or not caller.require().is_admin:
            owner = self._owner(caller, owner)
        offset, size = page_window(page_size, page_token, default_size=DEFAULT_PAGE_SIZE)
        rows = await self.pool.fetch(
            "SELECT * FROM api_keys WHERE ($1 = '' OR owner = $1) AND ($2 OR revoke_time IS NULL)"
            " ORDER BY create_time DESC, key_id LIMIT $3 OFFSET $4", owner, show_revoked, size + 1, offset)
        next_token = encode_page_token(offset + size) if len(rows) > size else ""
        return KeyPage(tuple(ApiKey.from_row(r) for r in rows[:size]), next_token)

    async def _own_key(self, conn: asyncpg.Connection, caller: Caller, key_id: str) -> asyncpg.Record:
        caller.require()
        if not key_id:
            raise InvalidArgument("key_id is required", reason=Reason.FIELD_REQUIRED, field="key_id")
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE key_id = $1 FOR UPDATE", key_id) \
            if _KEY_ID.match(key_id) else None
        # Another owner's key reads as missing, so ids can't be probed.
        if row is None or (row["owner"] != caller.principal and not caller.is_admin):
            raise NotFound(f"api key {key_id!r} not found", reason=Reason.KEY_NOT_FOUND, field="key_id")
        return row

    async def revoke_key(self, caller: Caller, key_id: str) -> ApiKey:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._own_key(conn, caller, key_id)
            if row["revoke_time"] is None:
                row = await conn.fetchrow("UPDATE api_keys SET revoke_time = now() WHERE key_id = $1 RETURNING *",
                                          key_id)
                await _audit(conn, caller.principal, "key.revoke", "api_key", key_id, {"owner": row["owner"]})
            record = await keys.fetch_key_record(conn, key_id)
        await self._invalidate(record)
        log.info("api key revoked", extra={"key_id": key_id, "actor": caller.principal})
        return ApiKey.from_row(row)

    async def rotate_key(self, caller: Caller, key_id: str) -> IssuedKey:
        secret = cred.new_secret()
        salt, digest = cred.new_salted_hash(self.settings.key_pepper, secret)
        edge = cred.edge_hash(secret)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._own_key(conn, caller, key_id)
            if row["revoke_time"] is not None:
                raise FailedPrecondition(f"api key {key_id!r} is revoked", reason=Reason.KEY_REVOKED, field="key_id")
            row = await conn.fetchrow(
                "UPDATE api_keys SET secret_salt = $2, secret_hash = $3, edge_hash = $4, rotate_time = now()"
                " WHERE key_id = $1 RETURNING *", key_id, salt, digest, edge)
            await _audit(conn, caller.principal, "key.rotate", "api_key", key_id, {"owner": row["owner"]})
            record = await keys.fetch_key_record(conn, key_id)
        since_ms = int(time.time() * 1000)
        await self._invalidate(record)
        await self._wait_for_edge(since_ms)
        log.info("api key rotated", extra={"key_id": key_id, "actor": caller.principal})
        return IssuedKey(ApiKey.from_row(row), cred.format_key(key_id, secret))

    async def _wait_for_edge(self, since_ms: int) -> None:
        """Returns once Envoy has the state published at `since_ms` (a new or rotated key works the
        moment it is returned), or after `edge_wait_s` — then it works within about a second."""
        if self.redis is None or self.settings.edge_wait_s <= 0:
            return
        try:
            if not await keys.wait_edge_applied(self.redis, since_ms, self.settings.edge_wait_s):
                log.warning("the edge did not confirm the key change in time", extra={"since_ms": since_ms})
        except (aioredis.RedisError, OSError):
            pass

    async def _invalidate(self, record: keys.KeyRecord | None) -> None:
        """Overwrites the gateways' cached copy of the key and tells them to drop their in-process ones.
        `record` was read in the transaction that changed the key (the row lock keeps it from being None)."""
        if record is None:
            return
        if self.redis is None:
            log.warning("no redis_url: gateways see key changes only when their local cache expires")
            return
        try:
            await keys.publish_key_change(self.redis, record)
        except (aioredis.RedisError, OSError):
            log.error("cannot publish a key invalidation; gateways see it when their local cache expires",
                      extra={"key_id": record.key_id})

    # -- bootstrap -----------------------------------------------------------------------

    async def ensure_bootstrap_admin(self, key_file: str) -> bool:
        """Creates the admin user and an admin key once; False when an admin user already exists."""
        username = self.settings.bootstrap_admin_username
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ai4vc-auth-bootstrap'))")
            if await conn.fetchval("SELECT 1 FROM users WHERE 'admin' = ANY(scopes) LIMIT 1"):
                await self._rehash_bootstrap_key(conn, key_file)
                return False
            system = Caller("system", frozenset({"admin"}))
            await self._insert_user("system", username, secrets.token_urlsafe(24), ["admin"], conn=conn)
            issued = await self.create_key(system, "bootstrap admin", ["admin"], Quota(), owner=username,
                                           conn=conn)
            write_secret_file(key_file, issued.key)
        log.info("bootstrap admin created", extra={"username": username, "key_file": key_file})
        return True


    async def _rehash_bootstrap_key(self, conn: asyncpg.Connection, key_file: str) -> None:
        """A bootstrap admin key made before the edge hash existed gets one, from its key file (the
        one key whose secret we still hold), if the file's secret matches the stored HMAC."""
        try:
            text = await asyncio.to_thread(Path(key_file).read_text)
        except OSError:
            return
        parsed = cred.parse_key(text.strip())
        if parsed is None:
            return
        key_id, secret = parsed
        row = await conn.fetchrow("SELECT secret_salt, secret_hash, edge_hash FROM api_keys WHERE key_id = $1",
                                  key_id)
        if row is None or row["edge_hash"] or not cred.secret_matches(
                self.settings.key_pepper, row["secret_salt"], row["secret_hash"], secret):
            return
        await conn.execute("UPDATE api_keys SET edge_hash = $2 WHERE key_id = $1", key_id, cred.edge_hash(secret))
        log.info("bootstrap admin key given its edge hash", extra={"key_id": key_id})


def write_secret_file(path: str, content: str) -> None:
    """Writes `content` to a new file readable by its owner only (0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (content + "\n").encode())
    finally:
        os.close(fd)


# The audit log's actions as the `AuditEntry` events name them (events.proto).
_EVENT_ACTIONS = {"user.create": "user.created", "key.create": "key.created", "key.revoke": "key.revoked",
                  "key.rotate": "key.rotated", "session.login": "session.created",
                  "session.logout": "session.revoked", "session.login_failed": "session.login_failed"}


async def _audit(conn: asyncpg.Connection, actor: str, action: str, target_type: str, target_id: str,
                 details: dict[str, Any]) -> None:
    """One audit-log row and its `AuditEntry` event, in the caller's transaction: the change, its
    audit row and its event commit together. `details` never holds a secret or a hash."""
    await conn.execute(
        "INSERT INTO audit_logs (actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)",
        actor, action, target_type, target_id, json.dumps(details))
    struct = struct_pb2.Struct()
    struct.update({"target_type": target_type, **details})
    await outbox.append(conn, [outbox.new_event(
        outbox.AUDIT_TYPE, "auth", target_id, actor,
        audit=events_pb2.AuditEntry(action=_EVENT_ACTIONS.get(action, action), target=target_id, details=struct))])

