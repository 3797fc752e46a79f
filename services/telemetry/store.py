"""The PostgreSQL store of spans and log records (the default): batched inserts (one statement
per table per batch, over arrays), keyset-paged searches that every index bounds by time, a
full-text search over a generated tsvector column (GIN index), and retention by age and count.
Every read runs under a statement timeout, so a search too broad for the store ends as
`QueryTimeout` rather than holding a connection."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.common.backends import db
from services.telemetry.core import Key, LogQuery, QueryTimeout, StoreUnavailable, TraceQuery, TraceSummary
from services.telemetry.records import LogRow, SpanRow, to_datetime, to_ns

# At most this many rows deleted per table per retention round, so one round never holds
# long locks; the next round continues.
DELETE_CHUNK = 50_000
# What asyncpg raises when PostgreSQL cannot be reached or the connection broke.
DB_ERRORS = db.DB_ERRORS


def _us(value: datetime.datetime) -> int:
    return to_ns(value) // 1000


def _from_us(value: Any) -> datetime.datetime:
    return to_datetime(int(value) * 1000)


def span_of(row: asyncpg.Record) -> SpanRow:
    return SpanRow(row["trace_id"], row["span_id"], row["parent_span_id"], row["service"], row["name"], row["kind"],
                   to_ns(row["start_time"]), to_ns(row["end_time"]), row["status"], row["status_message"],
                   row["request_id"], json.loads(row["attributes"]))


def log_of(row: asyncpg.Record) -> LogRow:
    return LogRow(to_ns(row["time"]), row["service"], row["level"], row["logger"], row["message"], row["request_id"],
                  row["trace_id"], row["span_id"], json.loads(row["attributes"]))


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool, query_timeout_s: float) -> None:
        self.pool = pool
        self.query_timeout_ms = max(1, int(query_timeout_s * 1000))

    async def ready(self) -> bool:
        return await self.pool.fetchval("SELECT 1") == 1

    async def write(self, spans: Sequence[SpanRow], logs: Sequence[LogRow]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if spans:
                await conn.execute(
                    "INSERT INTO telemetry_spans (trace_id, span_id, parent_span_id, service, name, kind, start_time,"
                    " end_time, duration_us, status, status_message, request_id, attributes)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[],"
                    " $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::smallint[], $11::text[], $12::text[],"
                    " $13::jsonb[]) ON CONFLICT (trace_id, span_id) DO NOTHING",
                    [s.trace_id for s in spans], [s.span_id for s in spans], [s.parent_span_id for s in spans],
                    [s.service for s in spans], [s.name for s in spans], [s.kind for s in spans],
                    [to_datetime(s.start_ns) for s in spans], [to_datetime(s.end_ns) for s in spans],
                    [s.duration_us for s in spans], [s.status for s in spans], [s.status_message for s in spans],
                    [s.request_id for s in spans], [json.dumps(s.attributes, default=str) for s in spans])
            if logs:
                await conn.execute(
                    "INSERT INTO telemetry_logs (time, service, level, logger, message, request_id, trace_id, span_id,"
                    " attributes) SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::smallint[], $4::text[],"
                    " $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])",
                    [to_datetime(r.time_ns) for r in logs], [r.service for r in logs], [r.level for r in logs],
                    [r.logger for r in logs], [r.message for r in logs], [r.request_id for r in logs],
                    [r.trace_id for r in logs], [r.span_id for r in logs],
                    [json.dumps(r.attributes, default=str) for r in logs])

    async def _read(self, query: str, *args: Any) -> list[asyncpg.Record]:
        try:
            async with self.pool.acquire() as conn, conn.transaction(readonly=True):
                await conn.execute(f"SET LOCAL statement_timeout = {self.query_timeout_ms}")
                return list(await conn.fetch(query, *args))
        except asyncpg.QueryCanceledError as exc:
            raise QueryTimeout() from exc
        except DB_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def get_trace(self, trace_id: str, limit: int) -> list[SpanRow]:
        rows = await self._read("SELECT * FROM telemetry_spans WHERE trace_id = $1 ORDER BY start_time, span_id"
                                " LIMIT $2", trace_id, limit)
        return [span_of(r) for r in rows]

    async def search_traces(self, query: TraceQuery) -> tuple[list[TraceSummary], Key | None]:
        args: list[Any] = [to_datetime(query.start_ns), to_datetime(query.end_ns)]
        where = ["start_time >= $1", "start_time < $2"]
        for column, value in (("service", query.service), ("name", query.span_name),
                              ("request_id", query.request_id)):
            if value:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if query.min_duration_us:
            args.append(query.min_duration_us)
            where.append(f"duration_us >= ${len(args)}")
        if query.status:
            args.append(query.status)
            where.append(f"status = ${len(args)}")
        having = ""
        if query.after is not None:
            args += [_from_us(query.after[0]), str(query.after[1])]
            having = f" HAVING (max(start_time), trace_id) < (${len(args) - 1}, ${len(args)})"
        args.append(query.limit + 1)
        rows = await self._read(
            "WITH matched AS (SELECT trace_id, max(start_time) AS last FROM telemetry_spans WHERE "
            + " AND ".join(where) + " GROUP BY trace_id" + having
            + f" ORDER BY last DESC, trace_id DESC LIMIT ${len(args)})"
            " SELECT m.trace_id, m.last, min(s.start_time) AS first, max(s.end_time) AS finish, count(*) AS spans,"
            " count(*) FILTER (WHERE s.status = 3) AS errors, array_agg(DISTINCT s.service) AS services,"
            " (array_agg(s.service ORDER BY s.parent_span_id <> '', s.start_time))[1] AS root_service,"
            " (array_agg(s.name ORDER BY s.parent_span_id <> '', s.start_time))[1] AS root_name,"
            " (array_agg(s.request_id ORDER BY s.parent_span_id <> '', s.start_time))[1] AS request_id"
            " FROM matched m JOIN telemetry_spans s USING (trace_id)"
            " GROUP BY m.trace_id, m.last ORDER BY m.last DESC, m.trace_id DESC", *args)
        found = [TraceSummary(r["trace_id"], r["root_service"], r["root_name"], to_ns(r["first"]), to_ns(r["finish"]),
                              r["spans"], r["errors"], r["request_id"], sorted(r["services"]))
                 for r in rows[:query.limit]]
        key = [_us(rows[query.limit - 1]["last"]), rows[query.limit - 1]["trace_id"]] if len(rows) > query.limit \
            else None
        return found, key

    async def search_logs(self, query: LogQuery) -> tuple[list[LogRow], Key | None]:
        args: list[Any] = [to_datetime(query.start_ns), to_datetime(query.end_ns)]
        where = ["time >= $1", "time < $2"]
        if query.text:
            args.append(query.text)
            where.append(f"search @@ websearch_to_tsquery('simple', ${len(args)})")
        for column, value in (("service", query.service), ("request_id", query.request_id),
                              ("trace_id", query.trace_id)):
            if value:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if query.min_level:
            args.append(query.min_level)
            where.append(f"level >= ${len(args)}")
        if query.after is not None:
            args += [_from_us(query.after[0]), max(-(2**63), min(int(query.after[1]), 2**63 - 1))]
            where.append(f"(time, id) < (${len(args) - 1}, ${len(args)})")
        args.append(query.limit + 1)
        rows = await self._read("SELECT * FROM telemetry_logs WHERE " + " AND ".join(where)
                                + f" ORDER BY time DESC, id DESC LIMIT ${len(args)}", *args)
        key = [_us(rows[query.limit - 1]["time"]), rows[query.limit - 1]["id"]] if len(rows) > query.limit else None
        return [log_of(r) for r in rows[:query.limit]], key

    async def retain(self, max_rows: int, max_age_s: float) -> tuple[int, int]:
        """Deletes rows older than `max_age_s` and beyond the newest `max_rows` of each table."""
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=max_age_s)
        deleted = []
        for table, column in (("telemetry_spans", "start_time"), ("telemetry_logs", "time")):
            count = 0
            async with self.pool.acquire() as conn:
                # Past the newest max_rows (by arrival): the id of the max_rows-th newest row.
                boundary = await conn.fetchval(f"SELECT id FROM {table} ORDER BY id DESC OFFSET $1 LIMIT 1", max_rows)
                if boundary is not None:
                    status = await conn.execute(
                        f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE id <= $1 ORDER BY id"
                        " LIMIT $2)", boundary, DELETE_CHUNK)
                    count += int(status.split()[-1])
                status = await conn.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < $1 LIMIT $2)",
                    cutoff, DELETE_CHUNK)
                count += int(status.split()[-1])
            deleted.append(count)
        return deleted[0], deleted[1]
