"""The metrics service and Prometheus in the whole mesh: a TranslateText through Envoy shows up in
QueryUsage through Envoy (gRPC and REST) within seconds — NMT's record sink → outbox → relay →
Kafka → metrics → PostgreSQL — and Prometheus, started by the mesh, scrapes every target."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import urllib.request

import grpc
import pytest
from google.protobuf import timestamp_pb2

from ai4vc.metrics.v1 import metrics_service_pb2 as pb
from ai4vc.metrics.v1 import metrics_service_pb2_grpc as pb_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from deploy.local.prometheus_config import recorded_names
from tests.e2e.test_nmt_mesh import HINDI, rest

pytestmark = pytest.mark.e2e


def _ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _query(start: datetime.datetime) -> pb.QueryUsageRequest:
    return pb.QueryUsageRequest(start_time=_ts(start), end_time=_ts(start + datetime.timedelta(minutes=10)),
                                granularity=pb.USAGE_GRANULARITY_MINUTE, group_by=["service", "method"],
                                services=["nmt"], methods=["TranslateText"], language_codes=["hi"])


def _translations(answer: pb.QueryUsageResponse) -> tuple[int, int]:
    return (sum(r.totals.request_count for r in answer.rows), sum(r.totals.characters for r in answer.rows))


async def test_translate_is_reported_by_query_usage_within_5_s(mesh):
    """TranslateText through Envoy, then QueryUsage through Envoy (gRPC, then REST) counts it within 5 s."""
    metadata = (("x-api-key", mesh.admin_key()),)
    start = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0) - datetime.timedelta(minutes=2)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        metrics = pb_grpc.MetricsServiceStub(channel)
        before = _translations(await metrics.QueryUsage(_query(start), metadata=metadata, timeout=10))
        await nmt_grpc.NmtServiceStub(channel).TranslateText(
            nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur"),
            metadata=metadata, timeout=15)
        sent = time.monotonic()
        while True:
            now = _translations(await metrics.QueryUsage(_query(start), metadata=metadata, timeout=10))
            if now[0] > before[0]:
                break
            assert time.monotonic() - sent < 5, "TranslateText not in QueryUsage within 5 s"
            await asyncio.sleep(0.1)
    assert now == (before[0] + 1, before[1] + len(HINDI))
    status, body = rest(mesh, "POST", "/v1/usage:query", {
        "startTime": start.isoformat().replace("+00:00", "Z"),
        "endTime": (start + datetime.timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
        "granularity": "USAGE_GRANULARITY_MINUTE", "groupBy": ["service"], "services": ["nmt"]})
    assert status == 200, body
    assert sum(int(r["totals"].get("requestCount", 0)) for r in body["rows"]) >= now[0]
    status, body = rest(mesh, "GET", "/v1/usage:summary")
    assert status == 200 and int(body["today"]["totals"]["requestCount"]) >= 1, body
    status, body = rest(mesh, "POST", "/v1/usage:query", {"startTime": "2024-01-01T00:00:00Z",
                                                          "endTime": "2025-06-01T00:00:00Z",
                                                          "granularity": "USAGE_GRANULARITY_MINUTE"})
    assert status == 400 and body["details"][0]["reason"] == "FIELD_OUT_OF_RANGE", body


def _prometheus(mesh, path: str):  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"{mesh.prometheus.url}{path}", timeout=5) as answer:
        return json.loads(answer.read().decode())["data"]


def test_prometheus_scrapes_every_target(mesh):
    """Prometheus (started by the mesh) reports every service replica, Triton and Envoy up; the rules load."""
    expected = {f"127.0.0.1:{s.metrics_port}" for s in mesh.services}
    expected |= {f"127.0.0.1:{mesh.ports.triton_metrics}", f"127.0.0.1:{mesh.ports.envoy_admin}"}
    deadline = time.monotonic() + 60
    while True:
        targets = _prometheus(mesh, "/api/v1/targets?state=active")["activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in targets}
        if set(health) == expected and set(health.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"targets not all up within 60 s: {health}"
        time.sleep(0.5)
    assert {t["labels"]["job"] for t in targets} == {"ai4vc", "triton", "envoy"}
    rules = {r["name"]: r["health"] for g in _prometheus(mesh, "/api/v1/rules")["groups"] for r in g["rules"]}
    assert set(rules) == recorded_names() and set(rules.values()) <= {"ok", "unknown"}, rules
