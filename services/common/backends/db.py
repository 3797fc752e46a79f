"""PostgreSQL through an asyncpg pool, with versioned SQL migrations.

Migrations are `NNNN_name.sql` files in a service's `migrations/` folder, applied in order
inside one transaction each, under an advisory lock so replicas starting together don't race.
`schema` puts a service (or a test) in its own PostgreSQL schema.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import asyncpg

from services.common.errors import Reason, Unavailable

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
# What asyncpg raises when PostgreSQL cannot be reached or the connection broke.
DB_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                                              asyncpg.CannotConnectNowError)


def unavailable(what: str, exc: BaseException) -> Unavailable:
    """UNAVAILABLE (retryable, RetryInfo 1 s) for a call whose database (`what`: "the <what> database") is away."""
    log.warning("database unavailable: %s", type(exc).__name__)
    return Unavailable(f"the {what} database is unavailable; try again", reason=Reason.BACKEND_UNAVAILABLE,
                       metadata={"service": "postgresql"}, retry_after_s=1.0)


def guarded(what: str, errors: tuple[type[BaseException], ...] = DB_ERRORS
            ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorates a core's async method: PostgreSQL away → `unavailable(what)`, not INTERNAL."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except errors as exc:
                raise unavailable(what, exc) from exc

        return wrapper

    return decorate
SCHEMA_LOCK_ID = zlib.crc32(b"ai4vc-create-schema")
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def create_pool(url: str, schema: str = "public", min_size: int = 1, max_size: int = 4) -> asyncpg.Pool:
    """A pool whose connections use `schema` first; created if missing."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"bad schema name {schema!r}")
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await ensure_schema(conn, schema)
    finally:
        await conn.close()
    return await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, timeout=5, command_timeout=10,
        server_settings={"search_path": schema, "application_name": "ai4vc"},
    )


async def open_pool(settings: Any, stack: contextlib.AsyncExitStack,
                    migrations: Sequence[tuple[Path, str]] = ()) -> asyncpg.Pool:
    """The pool of a service's settings (`database_url`, `database_schema`), closed by `stack`,
    with each (folder, component) migration applied in order."""
    pool = await create_pool(settings.database_url, settings.database_schema)
    stack.push_async_callback(pool.close)
    for folder, component in migrations:
        await migrate(pool, folder, component)
    return pool


async def answers(pool: asyncpg.Pool) -> bool:
    """Whether PostgreSQL answers a trivial query: the readiness of a service that needs it."""
    try:
        return bool(await pool.fetchval("SELECT 1") == 1)
    except (asyncpg.PostgresError, OSError):
        return False


async def ensure_schema(conn: asyncpg.Connection, schema: str) -> None:
    """Creates `schema` if missing. `CREATE SCHEMA IF NOT EXISTS` is not safe against itself (two
    sessions at once: one fails on pg_namespace's unique index), and processes sharing a schema
    (auth and the gateway, replicas) start together, so creation is serialized by a lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_ID)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


async def migrate(pool: asyncpg.Pool, folder: Path, component: str) -> list[int]:
    """Applies the pending migrations in `folder`; returns the versions applied now."""
    files = sorted(p for p in folder.iterdir() if _NAME.match(p.name))
    applied_now: list[int] = []
    lock_id = zlib.crc32(f"ai4vc-migrate-{component}".encode())
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        try:
            # Shared by every component of a schema: two of them starting on a fresh database
            # (compose starts them together) would race on creating it — IF NOT EXISTS does not
            # guard pg_type's unique index — so its creation takes the mesh-wide lock too.
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_ID)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " component text NOT NULL, version integer NOT NULL, name text NOT NULL,"
                    " applied_time timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"
                )
            done = {r["version"] for r in await conn.fetch(
                "SELECT version FROM schema_migrations WHERE component = $1", component)}
            for path in files:
                version = int(path.name[:4])
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                        component, version, path.name,
                    )
                applied_now.append(version)
                log.info("migration applied", extra={"component": component, "migration": path.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
    return applied_now
