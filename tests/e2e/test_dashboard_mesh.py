"""The dashboard in the whole mesh: after traffic through Envoy, GetOverview (gRPC and REST,
through the edge) shows every replica serving, the traffic Prometheus scraped, Triton's models
and the caller's key with its requests today; the page is served at /dashboard/ on the edge
(and straight from its own port), and a real browser (Debian chromium, playwright-core) renders
the same numbers — screenshots in .run/dashboard-{edge,page-port}/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from ai4vc.dashboard.v1 import dashboard_service_pb2 as pb
from ai4vc.dashboard.v1 import dashboard_service_pb2_grpc as pb_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from deploy.local.mesh import SERVICES
from tests.e2e.test_edge_auth import create_key
from tests.e2e.test_nmt_mesh import HINDI, rest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CALLS = 5
STATES = {pb.SERVING_STATE_SERVING: "serving", pb.SERVING_STATE_DEGRADED: "degraded",
          pb.SERVING_STATE_NOT_SERVING: "not_serving", pb.SERVING_STATE_UNREACHABLE: "unreachable",
          pb.SERVING_STATE_UNKNOWN: "unknown"}


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


async def _overview(mesh, key: str) -> pb.GetOverviewResponse:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        return await pb_grpc.DashboardServiceStub(channel).GetOverview(
            pb.GetOverviewRequest(), metadata=(("x-api-key", key),), timeout=10)


async def _translate(mesh, key: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        await nmt_grpc.NmtServiceStub(channel).TranslateText(
            nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur"),
            metadata=(("x-api-key", key),), timeout=15)


async def _keep_translating(mesh, stop: asyncio.Event) -> None:
    """Steady traffic with the admin's key (the operator's own count stays CALLS): a counter's
    first scrape already holds its first calls, so a rate needs calls after it too."""
    while not stop.is_set():
        await _translate(mesh, mesh.admin_key())
        await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
async def operator(mesh) -> AsyncIterator[tuple[str, str]]:
    """A key with the nmt and dashboard scopes that has made CALLS translations today, steady
    traffic beside it, and an overview (through the edge) that already shows both."""
    key_id, key = await create_key(mesh, ["nmt", "dashboard"])
    for _ in range(CALLS):
        await _translate(mesh, key)
    stop = asyncio.Event()
    load = asyncio.create_task(_keep_translating(mesh, stop))
    deadline = time.monotonic() + 120
    while True:
        answer = await _overview(mesh, key)
        counted = {k.key_id: k.request_count for k in answer.top_keys}.get(key_id, 0)
        nmt = {s.service: s for s in answer.services}["nmt"]
        if counted == CALLS and nmt.request_rate > 0 and all(
                s.state == pb.SERVING_STATE_SERVING for s in answer.services):
            break
        assert time.monotonic() < deadline, f"overview never settled: {answer}"
        await asyncio.sleep(1)
    yield key_id, key
    stop.set()
    await load


async def test_overview_through_the_edge(mesh, operator):
    """gRPC: every service of the mesh with every replica serving, nmt's traffic, Triton ready, the key's calls."""
    key_id, key = operator
    answer = await _overview(mesh, key)
    assert [s.service for s in answer.services] == list(SERVICES)
    assert all(len(s.replicas) == mesh.replicas[s.service] for s in answer.services)
    for section in (answer.health_status, answer.traffic_status, answer.triton_status, answer.usage_status,
                    answer.alerts_status):
        assert section.state == pb.SECTION_STATE_AVAILABLE, answer
    nmt = {s.service: s for s in answer.services}["nmt"]
    # A ratio, not 0: other tests on the same session mesh send NMT calls it refuses (schemathesis, hostile input).
    assert nmt.request_rate > 0 and nmt.HasField("p99_latency") and 0.0 <= nmt.error_ratio <= 1.0
    assert answer.total_request_rate >= nmt.request_rate
    assert {m.name: m.ready for m in answer.triton_models}["nmt"] is True
    # The caller's key among the top keys (the owner's: the admin made it, so the admin's keys
    # with their traffic are there too), most requests first.
    assert {k.key_id: k.request_count for k in answer.top_keys}[key_id] == CALLS
    counts = [k.request_count for k in answer.top_keys]
    assert counts == sorted(counts, reverse=True)


async def test_overview_over_rest_and_its_refusals(mesh, operator):
    """REST GET /v1/dashboard:overview: 200 with the key; 401 without one; 403 for a key without the scope."""
    key_id, key = operator
    status, body = rest(mesh, "GET", "/v1/dashboard:overview", headers={"x-api-key": key})
    assert status == 200, body
    assert {k["keyId"]: int(k["requestCount"]) for k in body["topKeys"]}[key_id] == CALLS
    assert body["healthStatus"]["state"] == "SECTION_STATE_AVAILABLE"
    status, _ = _get(f"http://127.0.0.1:{mesh.ports.envoy}/v1/dashboard:overview")
    assert status == 401
    _other, nmt_only = await create_key(mesh, ["nmt"])
    status, _ = _get(f"http://127.0.0.1:{mesh.ports.envoy}/v1/dashboard:overview", {"x-api-key": nmt_only})
    assert status == 403
    status, body = rest(mesh, "GET", "/v1/dashboard:overview?topKeyCount=-1", headers={"x-api-key": key})
    assert status == 400 and body["details"][0]["reason"] == "FIELD_OUT_OF_RANGE", body


def test_page_is_served_by_the_edge_and_its_own_port(mesh):
    """/dashboard/ through Envoy (no credential: the page holds no figures) and :<web port>/ straight."""
    for url in (f"http://127.0.0.1:{mesh.ports.envoy}/dashboard/", f"http://127.0.0.1:{mesh.ports.dashboard_web}/"):
        status, body = _get(url)
        assert status == 200 and "AI4V-C dashboard" in body, (url, status)
    status, _ = _get(f"http://127.0.0.1:{mesh.ports.envoy}/dashboard/app.js")
    assert status == 200


async def test_page_port_relays_the_overview_to_the_edge(mesh, operator):
    """Straight from the page's port, GET /v1/dashboard:overview is the edge's answer: 200 with the key, 401 without."""
    key_id, key = operator
    url = f"http://127.0.0.1:{mesh.ports.dashboard_web}/v1/dashboard:overview"
    status, body = await asyncio.to_thread(_get, url, {"x-api-key": key})
    assert status == 200 and {k["keyId"]: int(k["requestCount"]) for k in json.loads(body)["topKeys"]}[key_id] == CALLS
    status, _ = await asyncio.to_thread(_get, url)
    assert status == 401
    status, _ = _get(f"http://127.0.0.1:{mesh.ports.envoy}/dashboardx")
    assert status in (401, 403, 404)  # not the page: the edge asks for a credential


@pytest.mark.parametrize("via", ["edge", "page-port"])
async def test_browser_renders_the_overview(mesh, operator, via: str):
    """Chromium loads the page (/dashboard/ through Envoy, or its own port), signs in with the key
    and shows what GetOverview says."""
    if not Path(CHROMIUM).exists() or not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("needs Debian chromium and tests/browser/node_modules (deploy/local/bootstrap.sh installs both)")
    key_id, key = operator
    shots = ROOT / ".run" / f"dashboard-{via}"
    shots.mkdir(parents=True, exist_ok=True)
    url = (f"http://127.0.0.1:{mesh.ports.envoy}/dashboard/" if via == "edge"
           else f"http://127.0.0.1:{mesh.ports.dashboard_web}/")
    run = await asyncio.to_thread(
        subprocess.run, [shutil.which("node") or "node", "dashboard.mjs", url,
                         key, str(shots), key_id, str(CALLS)],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=150, env={**os.environ, "CHROMIUM": CHROMIUM})
    assert run.returncode == 0, run.stderr[-3000:]
    page = json.loads(run.stdout.strip().splitlines()[-1])
    answer = await _overview(mesh, key)
    assert page["errors"] == []
    assert page["keys"][key_id] == CALLS == {k.key_id: k.request_count for k in answer.top_keys}[key_id]
    assert set(page["keys"]) == {k.key_id for k in answer.top_keys}
    assert {name: s["state"] for name, s in page["services"].items()} == {
        s.service: STATES[s.state] for s in answer.services}
    assert {name: s["replicas"] for name, s in page["services"].items()} == {
        s.service: len(s.replicas) for s in answer.services}
    assert page["serving"] == len(SERVICES)
    assert page["services"]["nmt"]["rate"] > 0 and page["totalRate"] > 0
    assert page["models"] == {m.name: m.ready for m in answer.triton_models}
    assert page["chartPoints"] >= 2
    assert page["phoneOverflow"] is False
    assert (shots / "dashboard-desktop.png").stat().st_size > 0
