"""Metrics domain core: usage queries over the rollups, scoped to what the caller may see.

Knows nothing of grpc. Every query is bounded before it runs: a time range is required and
capped per granularity (31 days of minutes, 3660 days of days), filters are capped in count
and size, grouping names only known dimensions, pages are at most 1000 rows, and PostgreSQL
cancels a statement after `query_timeout_s` as a backstop. Page tokens carry a hash of the
query they belong to, so a token from another query (or another caller) is refused instead of
paging into the wrong result.

A caller without the "admin" scope sees the rows of its own API keys (the auth service's
`api_keys.owner`, same database) and of its own bearer-token calls (`principal`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import asyncpg

from services.common.backends import db
from services.common.callers import Caller
from services.common.errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Reason,
)
from services.common.paging import checked_page_size, decode_page_token, encode_page_token, query_digest
from services.metrics.records import BUCKETS, MAX_VALUE_CHARS, OK
from services.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)

DIMENSIONS: tuple[str, ...] = ("key_id", "service", "method", "language_code", "model")
# Request field of each dimension's filter.
FILTER_FIELDS: dict[str, str] = {"key_id": "key_ids", "service": "services", "method": "methods",
                                 "language_code": "language_codes", "model": "models"}
MAX_FILTER_VALUES = 100
DEFAULT_PAGE_SIZE = 100
MAX_RANGE: dict[str, datetime.timedelta] = {"minute": datetime.timedelta(days=31),
                                            "day": datetime.timedelta(days=3660)}
SUMMARY_MAX_DAYS = 400
SUMMARY_DEFAULT_DAYS = 30
_DAY = datetime.timedelta(days=1)


@dataclasses.dataclass
class Totals:
    request_count: int = 0
    error_count: int = 0
    errors_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    characters: int = 0
    audio_seconds: float = 0.0
    metered_characters: int = 0
    metered_audio_seconds: float = 0.0
    latency_seconds: float = 0.0
    latency_buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * BUCKETS)

    def add(self, other: Totals) -> None:
        self.request_count += other.request_count
        self.error_count += other.error_count
        for reason, count in other.errors_by_reason.items():
            self.errors_by_reason[reason] = self.errors_by_reason.get(reason, 0) + count
        self.characters += other.characters
        self.audio_seconds += other.audio_seconds
        self.metered_characters += other.metered_characters
        self.metered_audio_seconds += other.metered_audio_seconds
        self.latency_seconds += other.latency_seconds
        self.latency_buckets = [a + b for a, b in zip(self.latency_buckets, other.latency_buckets, strict=True)]


@dataclasses.dataclass(frozen=True)
class Row:
    bucket_start: datetime.datetime
    dimensions: dict[str, str]
    totals: Totals


@dataclasses.dataclass(frozen=True)
class Summary:
    totals: Totals
    by_service: list[tuple[str, Totals]]
    by_language: list[tuple[str, Totals]]


@dataclasses.dataclass(frozen=True)
class UsageSummary:
    today: Summary
    range: Summary
    range_start: datetime.datetime
    range_end: datetime.datetime


@dataclasses.dataclass(frozen=True)
class UsageQuery:
    """A QueryUsage request, checked: times are aware (UTC), filters deduplicated and sorted."""

    start: datetime.datetime
    end: datetime.datetime
    granularity: str
    group_by: tuple[str, ...]
    filters: dict[str, tuple[str, ...]]

    def fingerprint(self, caller: Caller) -> str:
        """Stable hash of everything that decides the result (page size and token aside)."""
        return query_digest({"s": self.start.isoformat(), "e": self.end.isoformat(), "g": self.granularity,
                             "by": list(self.group_by), "f": {k: list(v) for k, v in sorted(self.filters.items())},
                             "p": caller.principal, "a": caller.is_admin})


def _check_values(field: str, values: Iterable[str]) -> tuple[str, ...]:
    found = sorted(set(values))
    if len(found) > MAX_FILTER_VALUES:
        raise InvalidArgument(f"{field} has {len(found)} values; at most {MAX_FILTER_VALUES}",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    for value in found:
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidArgument(f"a value of {field} is over {MAX_VALUE_CHARS} characters",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    return tuple(found)


def check_query(start: datetime.datetime | None, end: datetime.datetime | None, granularity: str,
                group_by: Sequence[str], filters: Mapping[str, Sequence[str]]) -> UsageQuery:
    """A `UsageQuery`, or INVALID_ARGUMENT naming the field at fault. `filters` is keyed by
    dimension; `granularity` is "minute", "day" or "" (missing)."""
    if start is None:
        raise InvalidArgument("start_time is required", reason=Reason.FIELD_REQUIRED, field="start_time")
    if end is None:
        raise InvalidArgument("end_time is required", reason=Reason.FIELD_REQUIRED, field="end_time")
    if not granularity:
        raise InvalidArgument("granularity is required (USAGE_GRANULARITY_MINUTE or _DAY)",
                              reason=Reason.FIELD_REQUIRED, field="granularity")
    if granularity not in MAX_RANGE:
        raise InvalidArgument("granularity is not a UsageGranularity value", reason=Reason.FIELD_OUT_OF_RANGE,
                              field="granularity")
    if end <= start:
        raise InvalidArgument("end_time must be after start_time", reason=Reason.FIELD_OUT_OF_RANGE, field="end_time")
    if end - start > MAX_RANGE[granularity]:
        raise InvalidArgument(f"at {granularity} granularity a query spans at most {MAX_RANGE[granularity].days} days;"
                              " narrow the range or use a coarser granularity", reason=Reason.FIELD_OUT_OF_RANGE,
                              field="end_time")
    seen: list[str] = []
    for name in group_by:
        if name not in DIMENSIONS or name in seen:
            shown = name[:64] if name.isprintable() else repr(name[:64])
            raise InvalidArgument(f"group_by {shown!r} is not a dimension (or is named twice); use "
                                  f"{', '.join(DIMENSIONS)}", reason=Reason.UNKNOWN_DIMENSION, field="group_by")
        seen.append(name)
    checked = {dim: _check_values(FILTER_FIELDS[dim], values) for dim, values in filters.items() if values}
    # Dimensions in their canonical order: the same grouping asked two ways is one query.
    return UsageQuery(start, end, granularity, tuple(d for d in DIMENSIONS if d in seen), checked)


P = ParamSpec("P")
R = TypeVar("R")
DB_ERRORS = db.DB_ERRORS


def _guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """PostgreSQL away → UNAVAILABLE (retryable); a statement past the timeout → DEADLINE_EXCEEDED."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:
            log.warning("usage query timed out")
            raise DeadlineExceeded("the usage query took too long; narrow the range or the grouping",
                                   reason=Reason.BACKEND_TIMEOUT, metadata={"service": "postgresql"}) from exc
        except DB_ERRORS as exc:
            raise db.unavailable("metrics", exc) from exc

    return wrapper


_SUMS = ("sum(request_count)::bigint AS request_count, sum(characters)::bigint AS characters,"
         " sum(audio_seconds) AS audio_seconds, sum(metered_characters)::bigint AS metered_characters,"
         " sum(metered_audio_seconds) AS metered_audio_seconds, sum(latency_seconds) AS latency_seconds, "
         + ", ".join(f"sum(latency_buckets[{i + 1}])::bigint AS b{i}" for i in range(BUCKETS)))
_RESUMS = ("sum(request_count)::bigint AS request_count, sum(characters)::bigint AS characters,"
           " sum(audio_seconds) AS audio_seconds, sum(metered_characters)::bigint AS metered_characters,"
           " sum(metered_audio_seconds) AS metered_audio_seconds, sum(latency_seconds) AS latency_seconds, "
           + ", ".join(f"sum(b{i})::bigint AS b{i}" for i in range(BUCKETS)))


def _totals(row: Mapping[str, Any], errors: Mapping[str, int] | None = None) -> Totals:
    errors = {k: int(v) for k, v in (errors or {}).items() if int(v) > 0}
    return Totals(int(row["request_count"] or 0), sum(errors.values()), errors, int(row["characters"] or 0),
                  float(row["audio_seconds"] or 0.0), int(row["metered_characters"] or 0),
                  float(row["metered_audio_seconds"] or 0.0), float(row["latency_seconds"] or 0.0),
                  [int(row[f"b{i}"] or 0) for i in range(BUCKETS)])


class _Where:
    """A WHERE clause built from trusted column names and numbered parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, sql: str) -> None:
        self.parts.append(sql)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts) or "true"


class MetricsCore:
    def __init__(self, settings: MetricsSettings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool

    async def owned_keys(self, owner: str) -> list[str]:
        """Key ids `owner` owns, from the auth service's table (none when this database has none)."""
        try:
            rows = await self.pool.fetch("SELECT key_id FROM api_keys WHERE owner = $1", owner)
        except asyncpg.UndefinedTableError:
            return []
        return [r["key_id"] for r in rows]

    async def _scope(self, where: _Where, caller: Caller) -> None:
        if caller.is_admin:
            return
        await self._scope_to_user(where, caller.principal)

    async def _scope_to_user(self, where: _Where, username: str) -> None:
        keys = await self.owned_keys(username)
        where.add(f"(principal = {where.arg(username)} OR key_id = ANY({where.arg(keys)}::text[]))")

    @_guarded
    async def query_usage(self, caller: Caller, query: UsageQuery, page_size: int, page_token: str
                          ) -> tuple[list[Row], str]:
        caller.require()
        size = checked_page_size(page_size, DEFAULT_PAGE_SIZE)
        fingerprint = query.fingerprint(caller)
        offset = decode_page_token(page_token, fingerprint)
        where = _Where()
        where.add(f"bucket_start >= {where.arg(query.start)}")
        where.add(f"bucket_start < {where.arg(query.end)}")
        for dim, values in query.filters.items():
            where.add(f"{dim} = ANY({where.arg(list(values))}::text[])")
        await self._scope(where, caller)
        dims = "".join(f", {d}" for d in query.group_by)
        table = f"usage_rollups_{query.granularity}"
        sql = (f"SELECT bucket_start{dims}, {_RESUMS},"
               " coalesce(jsonb_object_agg(status, request_count) FILTER (WHERE status <> 'OK' AND request_count > 0),"
               " '{}'::jsonb) AS errors"
               f" FROM (SELECT bucket_start{dims}, status, {_SUMS} FROM {table} WHERE {where.sql}"
               f"       GROUP BY bucket_start{dims}, status) AS g"
               f" GROUP BY bucket_start{dims} ORDER BY bucket_start{dims}"
               f" LIMIT {where.arg(size + 1)} OFFSET {where.arg(offset)}")
        rows = await self._fetch(sql, where.args)
        result = [Row(r["bucket_start"], {d: r[d] for d in query.group_by}, _totals(r, json.loads(r["errors"])))
                  for r in rows[:size]]
        return result, encode_page_token(offset + size, fingerprint) if len(rows) > size else ""

    async def _fetch(self, sql: str, args: Sequence[Any]) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            await conn.execute(f"SET LOCAL statement_timeout = {int(self.settings.query_timeout_s * 1000)}")
            return list(await asyncio.wait_for(conn.fetch(sql, *args), self.settings.query_timeout_s + 1))

    @_guarded
    async def usage_summary(self, caller: Caller, key_id: str, username: str, start: datetime.datetime | None,
                            end: datetime.datetime | None, now: datetime.datetime | None = None) -> UsageSummary:
        caller.require()
        if key_id and username:
            raise InvalidArgument("set key_id or username, not both", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="username")
        for field, value in (("key_id", key_id), ("username", username)):
            if len(value) > MAX_VALUE_CHARS:
                raise InvalidArgument(f"{field} is over {MAX_VALUE_CHARS} characters",
                                      reason=Reason.FIELD_OUT_OF_RANGE, field=field)
        now = now or datetime.datetime.now(datetime.UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        last_day = (end or now).astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first_day = (start.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0) if start
                     else last_day - (SUMMARY_DEFAULT_DAYS - 1) * _DAY)
        if last_day < first_day:
            raise InvalidArgument("end_time must not be before start_time", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="end_time")
        if (last_day - first_day).days + 1 > SUMMARY_MAX_DAYS:
            raise InvalidArgument(f"a summary spans at most {SUMMARY_MAX_DAYS} days", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="end_time")
        where = _Where()
        if key_id:
            await self._check_key(caller, key_id)
            where.add(f"key_id = {where.arg(key_id)}")
        else:
            user = username or caller.principal
            if user != caller.principal and not caller.is_admin:
                raise PermissionDenied("another user's usage needs the admin scope", reason=Reason.ADMIN_REQUIRED,
                                       field="username")
            await self._scope_to_user(where, user)
        range_end = last_day + _DAY
        return UsageSummary(await self._summary(where, today, today + _DAY),
                            await self._summary(where, first_day, range_end), first_day, range_end)

    async def _check_key(self, caller: Caller, key_id: str) -> None:
        if caller.is_admin:
            return
        if key_id not in await self.owned_keys(caller.principal):
            # Another owner's key reads as missing, so ids can't be probed.
            raise NotFound(f"no API key {key_id!r} of yours", reason=Reason.KEY_NOT_FOUND, field="key_id")

    async def _summary(self, scope: _Where, start: datetime.datetime, end: datetime.datetime) -> Summary:
        where = _Where()
        where.parts, where.args = list(scope.parts), list(scope.args)
        where.add(f"bucket_start >= {where.arg(start)}")
        where.add(f"bucket_start < {where.arg(end)}")
        rows = await self._fetch(f"SELECT service, language_code, status, {_SUMS} FROM usage_rollups_day"
                                 f" WHERE {where.sql} GROUP BY service, language_code, status", where.args)
        total = Totals()
        by_service: dict[str, Totals] = {}
        by_language: dict[str, Totals] = {}
        for r in rows:
            part = _totals(r, {r["status"]: r["request_count"]} if r["status"] != OK else None)
            total.add(part)
            by_service.setdefault(r["service"], Totals()).add(part)
            by_language.setdefault(r["language_code"], Totals()).add(part)
        return Summary(total, sorted(by_service.items()), sorted(by_language.items()))
