"""Config domain core: schema-checked values per (namespace, key), versions, history, rollback,
optimistic concurrency, and watches, over PostgreSQL.

Knows nothing of grpc; values are JSON values (None, bool, int/float, str, list, dict) and the
core returns domain types (`Entry`, `Version`), never rows. Every change of a key runs under a
per-key transaction lock: it reads the current version, checks `expected_version` (ABORTED on a
mismatch), appends a version to the history, updates or removes the current value, and writes
the audit row, the outbox event and the change notice (`records.record_change`) in the same
transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.common.backends import db
from services.common.callers import Caller
from services.common.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Reason,
    Unavailable,
)
from services.common.paging import encode_page_token, page_window
from services.config import records, schemas
from services.config.settings import ConfigSettings
from services.config.watch import ChangeFeed, Subscription

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 100
VERSIONS_PAGE_SIZE = 50
_LOCK_CLASS = zlib.crc32(b"ai4vc-config-key") & 0x7FFFFFFF
# A value the request did not carry at all (distinct from JSON null).
MISSING: Any = object()


@dataclasses.dataclass(frozen=True)
class Entry:
    """The current value of a key."""

    namespace: str
    key: str
    value: Any
    version: int
    update_time: datetime.datetime
    update_principal: str


@dataclasses.dataclass(frozen=True)
class Version:
    """One version in a key's history; `value` is None for a deletion."""

    namespace: str
    key: str
    version: int
    action: str  # "set" | "deleted" | "rolled_back"
    value: Any
    create_time: datetime.datetime
    principal: str
    restored_version: int = 0

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Version:
        value = json.loads(row["value"]) if row["value"] is not None else None
        return cls(row["namespace"], row["key"], row["version"], row["action"], value, row["create_time"],
                   row["principal"], row["restored_version"])

    def entry(self) -> Entry:
        return Entry(self.namespace, self.key, self.value, self.version, self.create_time, self.principal)


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(row["namespace"], row["key"], json.loads(row["value"]), row["version"], row["update_time"],
                 row["update_principal"])


# What asyncpg raises when PostgreSQL cannot be reached or the connection broke.
DB_ERRORS: tuple[type[BaseException], ...] = (*db.DB_ERRORS, asyncio.TimeoutError)


def db_unavailable(exc: BaseException) -> Unavailable:
    return db.unavailable("configuration", exc)


_guarded = db.guarded("configuration", DB_ERRORS)


def _check_expected(expected: int | None) -> None:
    if expected is not None and expected < 0:
        raise InvalidArgument("expected_version must not be negative", reason=Reason.FIELD_OUT_OF_RANGE,
                              field="expected_version")


class ConfigCore:
    def __init__(self, settings: ConfigSettings, pool: asyncpg.Pool, feed: ChangeFeed) -> None:
        self.settings = settings
        self.pool = pool
        self.feed = feed

    # -- validation ----------------------------------------------------------------------

    def check_value(self, namespace: str, key: str, value: Any) -> Any:
        """The value normalized by the key's schema; FIELD_REQUIRED / INVALID_VALUE otherwise."""
        schema = schemas.schema_for(namespace, key)
        if value is MISSING:
            raise InvalidArgument("value is required", reason=Reason.FIELD_REQUIRED, field="value")
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > self.settings.max_value_bytes:
            raise InvalidArgument(f"value is {size} bytes as JSON; at most {self.settings.max_value_bytes}",
                                  reason=Reason.INVALID_VALUE, field="value")
        return schema.check(value, "value")

    # -- reads ---------------------------------------------------------------------------

    @_guarded
    async def get_config(self, caller: Caller, namespace: str, key: str) -> Entry:
        caller.require()
        schemas.schema_for(namespace, key)
        row = await self.pool.fetchrow("SELECT * FROM config_values WHERE namespace = $1 AND key = $2",
                                       namespace, key)
        if row is None:
            raise NotFound(f"{namespace}/{key} has no value", reason=Reason.CONFIG_NOT_FOUND, field="key")
        return _entry(row)

    @_guarded
    async def list_configs(self, caller: Caller, namespace: str, page_size: int, page_token: str
                   ) -> tuple[list[Entry], str]:
        caller.require()
        schemas.namespace(namespace)
        offset, size = page_window(page_size, page_token, default_size=LIST_PAGE_SIZE)
        rows = await self.pool.fetch("SELECT * FROM config_values WHERE namespace = $1 ORDER BY key"
                                     " LIMIT $2 OFFSET $3", namespace, size + 1, offset)
        next_token = encode_page_token(offset + size) if len(rows) > size else ""
        return [_entry(r) for r in rows[:size]], next_token

    @_guarded
    async def list_versions(self, caller: Caller, namespace: str, key: str, page_size: int, page_token: str
                       ) -> tuple[list[Version], str]:
        caller.require()
        schemas.schema_for(namespace, key)
        offset, size = page_window(page_size, page_token, default_size=VERSIONS_PAGE_SIZE)
        rows = await self.pool.fetch("SELECT * FROM config_versions WHERE namespace = $1 AND key = $2"
                                     " ORDER BY version DESC LIMIT $3 OFFSET $4", namespace, key, size + 1, offset)
        next_token = encode_page_token(offset + size) if len(rows) > size else ""
        return [Version.from_row(r) for r in rows[:size]], next_token

    # -- writes --------------------------------------------------------------------------

    @_guarded
    async def set_config(self, caller: Caller, namespace: str, key: str, value: Any, expected_version: int | None = None
                  ) -> Entry:
        caller.require_scope("config", "changing configuration needs the config or admin scope",
                             Reason.CONFIG_WRITE_REQUIRED)
        checked = self.check_value(namespace, key, value)
        _check_expected(expected_version)
        version = await self._write(caller, namespace, key, "set", checked, expected_version)
        return version.entry()

    @_guarded
    async def delete_config(self, caller: Caller, namespace: str, key: str, expected_version: int | None = None
                     ) -> Version:
        caller.require_scope("config", "changing configuration needs the config or admin scope",
                             Reason.CONFIG_WRITE_REQUIRED)
        schemas.schema_for(namespace, key)
        _check_expected(expected_version)
        return await self._write(caller, namespace, key, "deleted", None, expected_version)

    @_guarded
    async def rollback(self, caller: Caller, namespace: str, key: str, version: int,
                       expected_version: int | None = None) -> Entry:
        caller.require_scope("config", "changing configuration needs the config or admin scope",
                             Reason.CONFIG_WRITE_REQUIRED)
        schemas.schema_for(namespace, key)
        if version <= 0:
            raise InvalidArgument("version must be 1 or more", reason=Reason.FIELD_OUT_OF_RANGE, field="version")
        _check_expected(expected_version)
        row = await self.pool.fetchrow("SELECT * FROM config_versions WHERE namespace = $1 AND key = $2"
                                       " AND version = $3", namespace, key, version)
        if row is None:
            raise NotFound(f"{namespace}/{key} has no version {version}", reason=Reason.VERSION_NOT_FOUND,
                           field="version")
        old = Version.from_row(row)
        if old.action == "deleted":
            raise FailedPrecondition(f"version {version} of {namespace}/{key} is a deletion; it holds no value",
                                     reason=Reason.VERSION_NOT_RESTORABLE, field="version")
        # Schemas change between releases: an old value must still be valid today.
        checked = self.check_value(namespace, key, old.value)
        written = await self._write(caller, namespace, key, "rolled_back", checked, expected_version,
                                    restored_version=version)
        return written.entry()

    async def _write(self, caller: Caller, namespace: str, key: str, action: str, value: Any,
                     expected_version: int | None, restored_version: int = 0) -> Version:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, f"{namespace}/{key}")
            current = await conn.fetchval("SELECT version FROM config_values WHERE namespace = $1 AND key = $2",
                                          namespace, key)
            if action == "deleted" and current is None:
                raise NotFound(f"{namespace}/{key} has no value", reason=Reason.CONFIG_NOT_FOUND, field="key")
            if expected_version is not None and expected_version != (current or 0):
                raise Aborted(f"{namespace}/{key} is at version {current or 0}, not {expected_version}; read it again",
                              reason=Reason.VERSION_MISMATCH, field="expected_version",
                              metadata={"current_version": str(current or 0)})
            last = await conn.fetchval("SELECT coalesce(max(version), 0) FROM config_versions"
                                       " WHERE namespace = $1 AND key = $2", namespace, key)
            encoded = None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            row = await conn.fetchrow(
                "INSERT INTO config_versions (namespace, key, version, action, value, principal, restored_version)"
                " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING *",
                namespace, key, last + 1, action, encoded, caller.principal, restored_version)
            if action == "deleted":
                await conn.execute("DELETE FROM config_values WHERE namespace = $1 AND key = $2", namespace, key)
            else:
                await conn.execute(
                    "INSERT INTO config_values (namespace, key, value, version, update_time, update_principal)"
                    " VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (namespace, key) DO UPDATE SET"
                    " value = EXCLUDED.value, version = EXCLUDED.version, update_time = EXCLUDED.update_time,"
                    " update_principal = EXCLUDED.update_principal",
                    namespace, key, encoded, row["version"], row["create_time"], caller.principal)
            await records.record_change(conn, channel=self.feed.channel, namespace=namespace, key=key,
                                        version=row["version"], action=action, value=value,
                                        principal=caller.principal, restored_version=restored_version)
        log.info("config changed", extra={"namespace": namespace, "key": key, "version": row["version"],
                                          "action": action, "actor": caller.principal})
        return Version.from_row(row)

    # -- watch ---------------------------------------------------------------------------

    async def watch(self, caller: Caller, namespace: str, key: str = "") -> AsyncIterator[tuple[bool, list[Version]]]:
        """(True, the latest version of every key with a value) first, then (False, [change]) for
        every change committed after, by any replica. Ends with UNAVAILABLE when the feed is lost."""
        caller.require()
        if key:
            schemas.schema_for(namespace, key)
        else:
            schemas.namespace(namespace)
        # Subscribe before reading: a change committed in between is both notified and (maybe)
        # in the snapshot; `seen` drops the repeat.
        subscription = self.feed.subscribe(namespace, key)
        try:
            yield await self._snapshot(namespace, key, subscription)
            while True:
                notice = await subscription.next()
                if notice.version <= subscription.seen.get(notice.key, 0):
                    continue
                try:
                    row = await self.pool.fetchrow("SELECT * FROM config_versions WHERE namespace = $1"
                                                   " AND key = $2 AND version = $3",
                                                   notice.namespace, notice.key, notice.version)
                except DB_ERRORS as exc:
                    raise db_unavailable(exc) from exc
                if row is None:
                    continue
                subscription.seen[notice.key] = notice.version
                yield False, [Version.from_row(row)]
        finally:
            subscription.close()

    @_guarded
    async def _snapshot(self, namespace: str, key: str, subscription: Subscription) -> tuple[bool, list[Version]]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(
                "SELECT v.* FROM config_values c JOIN config_versions v USING (namespace, key, version)"
                " WHERE c.namespace = $1 AND ($2 = '' OR c.key = $2) ORDER BY c.key", namespace, key)
            subscription.seen = {r["key"]: r["last"] for r in await conn.fetch(
                "SELECT key, max(version) AS last FROM config_versions WHERE namespace = $1"
                " AND ($2 = '' OR key = $2) GROUP BY key", namespace, key)}
        return True, [Version.from_row(r) for r in rows]
