"""The optional OpenSearch store of spans and log records (`AI4VC_TELEMETRY_OPENSEARCH_URL`),
in place of PostgreSQL: one index for spans, one for logs, written with the bulk API, searched
with bool filters, `simple_query_string` on the message and `search_after` paging.

The `opensearch-py` client is synchronous; each call runs in a worker thread with a timeout, so
the event loop never waits on it. Span documents are keyed by trace and span id (an exporter's
retry overwrites, never duplicates). Retention deletes by age (`delete_by_query`) and the oldest
documents beyond the row bound, at most `DELETE_CHUNK` per index and round. Attributes are kept
as a JSON string, not indexed: arbitrary exporter keys must not grow the mapping.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout

from services.telemetry.core import Key, LogQuery, QueryTimeout, StoreUnavailable, TraceQuery, TraceSummary
from services.telemetry.records import LogRow, SpanRow

DELETE_CHUNK = 10_000
# A SearchTraces page reads at most this many matching spans to find its traces: a bounded answer.
MAX_SCAN = 20_000
SCAN_PAGE = 1000
_KEYWORD = {"type": "keyword"}
_LONG = {"type": "long"}
SPAN_MAPPING = {"properties": {
    "trace_id": _KEYWORD, "span_id": _KEYWORD, "parent_span_id": _KEYWORD, "service": _KEYWORD, "name": _KEYWORD,
    "kind": {"type": "integer"}, "start_us": _LONG, "end_us": _LONG, "duration_us": _LONG,
    "status": {"type": "integer"}, "status_message": {"type": "text"}, "request_id": _KEYWORD,
    "attributes_json": {"type": "keyword", "index": False}, "seq": _LONG}}
LOG_MAPPING = {"properties": {
    "time_us": _LONG, "service": _KEYWORD, "level": {"type": "integer"}, "logger": _KEYWORD,
    "message": {"type": "text"}, "request_id": _KEYWORD, "trace_id": _KEYWORD, "span_id": _KEYWORD,
    "attributes_json": {"type": "keyword", "index": False}, "seq": _LONG}}


def _seq() -> int:
    return secrets.randbits(62)


def _span_doc(span: SpanRow) -> dict[str, Any]:
    return {"trace_id": span.trace_id, "span_id": span.span_id, "parent_span_id": span.parent_span_id,
            "service": span.service, "name": span.name, "kind": span.kind, "start_us": span.start_ns // 1000,
            "end_us": span.end_ns // 1000, "duration_us": span.duration_us, "status": span.status,
            "status_message": span.status_message, "request_id": span.request_id,
            "attributes_json": json.dumps(span.attributes, default=str), "seq": _seq()}


def _span(doc: dict[str, Any]) -> SpanRow:
    return SpanRow(doc["trace_id"], doc["span_id"], doc["parent_span_id"], doc["service"], doc["name"], doc["kind"],
                   doc["start_us"] * 1000, doc["end_us"] * 1000, doc["status"], doc["status_message"],
                   doc["request_id"], json.loads(doc["attributes_json"]))


def _log(doc: dict[str, Any]) -> LogRow:
    return LogRow(doc["time_us"] * 1000, doc["service"], doc["level"], doc["logger"], doc["message"],
                  doc["request_id"], doc["trace_id"], doc["span_id"], json.loads(doc["attributes_json"]))


def _terms(pairs: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"term": {field: value}} for field, value in pairs if value]


class OpenSearchStore:
    def __init__(self, url: str, prefix: str, query_timeout_s: float) -> None:
        self.client = OpenSearch(hosts=[url], timeout=query_timeout_s, max_retries=0, pool_maxsize=8)
        self.spans_index = f"{prefix}-spans"
        self.logs_index = f"{prefix}-logs"
        self.timeout_s = query_timeout_s

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.wait_for(asyncio.to_thread(method, **kwargs), self.timeout_s + 1)
        except (ConnectionTimeout, TimeoutError) as exc:
            raise QueryTimeout() from exc
        except OpenSearchConnectionError as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def setup(self) -> None:
        for index, mapping in ((self.spans_index, SPAN_MAPPING), (self.logs_index, LOG_MAPPING)):
            if not await self._call(self.client.indices.exists, index=index):
                await self._call(self.client.indices.create, index=index, body={"mappings": mapping})

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)

    async def ready(self) -> bool:
        return bool(await self._call(self.client.ping))

    async def write(self, spans: Sequence[SpanRow], logs: Sequence[LogRow]) -> None:
        lines: list[str] = []
        for span in spans:
            lines += [json.dumps({"index": {"_index": self.spans_index, "_id": f"{span.trace_id}-{span.span_id}"}}),
                      json.dumps(_span_doc(span), ensure_ascii=False)]
        for row in logs:
            doc = {"time_us": row.time_ns // 1000, "service": row.service, "level": row.level, "logger": row.logger,
                   "message": row.message, "request_id": row.request_id, "trace_id": row.trace_id,
                   "span_id": row.span_id, "attributes_json": json.dumps(row.attributes, default=str), "seq": _seq()}
            lines += [json.dumps({"index": {"_index": self.logs_index}}), json.dumps(doc, ensure_ascii=False)]
        if not lines:
            return
        answer = await self._call(self.client.bulk, body="\n".join(lines) + "\n", refresh=True)
        if answer.get("errors"):
            failed = [item for item in answer.get("items", []) if next(iter(item.values())).get("error")]
            raise RuntimeError(f"opensearch bulk: {len(failed)} of {len(lines) // 2} documents failed")

    async def _search(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        answer = await self._call(self.client.search, index=index, body=body)
        return list(answer["hits"]["hits"])

    async def get_trace(self, trace_id: str, limit: int) -> list[SpanRow]:
        hits = await self._search(self.spans_index, {"query": {"term": {"trace_id": trace_id}},
                                                     "size": min(limit, 10_000),  # OpenSearch's result window
                                                     "sort": [{"start_us": "asc"}, {"span_id": "asc"}]})
        return [_span(h["_source"]) for h in hits]

    def _span_filters(self, query: TraceQuery) -> list[dict[str, Any]]:
        filters = [{"range": {"start_us": {"gte": query.start_ns // 1000, "lt": query.end_ns // 1000}}}]
        filters += _terms([("service", query.service), ("name", query.span_name), ("request_id", query.request_id),
                           ("status", query.status)])
        if query.min_duration_us:
            filters.append({"range": {"duration_us": {"gte": query.min_duration_us}}})
        return filters

    async def search_traces(self, query: TraceQuery) -> tuple[list[TraceSummary], Key | None]:
        """Traces by their latest matching span, newest first: matching spans are read in that
        order (at most MAX_SCAN) and each trace is taken at its first appearance."""
        filters = self._span_filters(query)
        sort = [{"start_us": "desc"}, {"trace_id": "desc"}]
        order: list[tuple[str, int]] = []
        seen: set[str] = set()
        after: list[Any] | None = list(query.after) if query.after is not None else None
        scanned = 0
        while len(order) <= query.limit and scanned < MAX_SCAN:
            body: dict[str, Any] = {"query": {"bool": {"filter": filters}}, "size": SCAN_PAGE, "sort": sort,
                                    "_source": ["trace_id", "start_us"]}
            if after is not None:
                body["search_after"] = after
            hits = await self._search(self.spans_index, body)
            if not hits:
                break
            for hit in hits:
                trace_id = hit["_source"]["trace_id"]
                if trace_id not in seen:
                    seen.add(trace_id)
                    order.append((trace_id, hit["_source"]["start_us"]))
            after = hits[-1]["sort"]
            scanned += len(hits)
        if query.after is not None and order:
            # A trace with a matching span after the page's start was listed on an earlier page.
            # (Sort order is (start_us, trace_id) descending: a tie on start_us goes by trace id.)
            earlier = await self._search(self.spans_index, {
                "query": {"bool": {"filter": [*filters, {"terms": {"trace_id": [t for t, _ in order]}},
                                              {"range": {"start_us": {"gte": query.after[0]}}}]}},
                "size": min(10_000, SCAN_PAGE * 10), "_source": ["trace_id", "start_us"]})
            listed = {h["_source"]["trace_id"] for h in earlier
                      if h["_source"]["start_us"] > query.after[0] or h["_source"]["trace_id"] >= query.after[1]}
            order = [(t, s) for t, s in order if t not in listed]
        page = order[:query.limit]
        spans = await self._search(self.spans_index, {"query": {"terms": {"trace_id": [t for t, _ in page]}},
                                                      "size": 10_000}) if page else []
        by_trace: dict[str, list[SpanRow]] = {}
        for hit in spans:
            span = _span(hit["_source"])
            by_trace.setdefault(span.trace_id, []).append(span)
        found = []
        for trace_id, _ in page:
            members = sorted(by_trace.get(trace_id, []), key=lambda s: (s.parent_span_id != "", s.start_ns))
            if not members:
                continue
            root = members[0]
            found.append(TraceSummary(trace_id, root.service, root.name, min(s.start_ns for s in members),
                                      max(s.end_ns for s in members), len(members),
                                      sum(s.status == 3 for s in members), root.request_id,
                                      sorted({s.service for s in members})))
        more = len(order) > query.limit or (scanned >= MAX_SCAN and bool(page))
        key = [page[-1][1], page[-1][0]] if more and page else None
        return found, key

    async def search_logs(self, query: LogQuery) -> tuple[list[LogRow], Key | None]:
        filters: list[dict[str, Any]] = [{"range": {"time_us": {"gte": query.start_ns // 1000,
                                                                "lt": query.end_ns // 1000}}}]
        filters += _terms([("service", query.service), ("request_id", query.request_id),
                           ("trace_id", query.trace_id)])
        if query.min_level:
            filters.append({"range": {"level": {"gte": query.min_level}}})
        must = [{"simple_query_string": {"query": query.text, "fields": ["message"], "default_operator": "and"}}] \
            if query.text else []
        body: dict[str, Any] = {"query": {"bool": {"filter": filters, "must": must}}, "size": query.limit + 1,
                                "sort": [{"time_us": "desc"}, {"seq": "desc"}]}
        if query.after is not None:
            body["search_after"] = list(query.after)
        hits = await self._search(self.logs_index, body)
        key = list(hits[query.limit - 1]["sort"]) if len(hits) > query.limit else None
        return [_log(h["_source"]) for h in hits[:query.limit]], key

    async def retain(self, max_rows: int, max_age_s: float) -> tuple[int, int]:
        cutoff_us = int((time.time() - max_age_s) * 1e6)
        deleted = []
        for index, field in ((self.spans_index, "start_us"), (self.logs_index, "time_us")):
            answer = await self._call(self.client.delete_by_query, index=index, refresh=True,
                                      body={"query": {"range": {field: {"lt": cutoff_us}}}})
            count = int(answer.get("deleted", 0))
            total = int((await self._call(self.client.count, index=index))["count"])
            if total > max_rows:
                oldest = await self._search(index, {"query": {"match_all": {}}, "_source": False,
                                                    "size": min(total - max_rows, DELETE_CHUNK),
                                                    "sort": [{field: "asc"}, {"seq": "asc"}]})
                if oldest:
                    body = "\n".join(json.dumps({"delete": {"_index": index, "_id": h["_id"]}}) for h in oldest)
                    await self._call(self.client.bulk, body=body + "\n", refresh=True)
                    count += len(oldest)
            deleted.append(count)
        return deleted[0], deleted[1]
