"""The dashboard service in-process (production factory and interceptors): GetOverview checks
every target replica's health (a real gRPC server serving, one not serving a name, a closed
port), lists the real Triton's models, answers a partial overview — never an error — when
Prometheus does not answer in time or the metrics service is away, shares one computation
between concurrent callers, needs the dashboard scope and names a bad field; its page serves
the static files (root and /dashboard/) and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ai4vc.dashboard.v1 import dashboard_service_pb2 as pb
from ai4vc.dashboard.v1 import dashboard_service_pb2_grpc as pb_grpc
from deploy.local.parts import Triton, free_port
from services.dashboard import app as dashboard_app
from services.dashboard.settings import DashboardSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running

ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))
OPERATOR = (("x-ai4vc-principal", "ops"), ("x-ai4vc-scopes", "dashboard"))
NMT_USER = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))


@pytest.fixture
async def healthy() -> AsyncIterator[int]:
    """A real gRPC server whose health says SERVING for "ai4vc.nmt.v1.NmtService" only."""
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    await servicer.set("ai4vc.nmt.v1.NmtService", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port
    await server.stop(0)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung Prometheus)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


def settings_for(triton: Triton | None, targets: tuple[str, ...], **overrides: object) -> DashboardSettings:
    values: dict[str, object] = dict(
        port=0, web_port=0, targets=targets, prometheus_url=f"http://127.0.0.1:{free_port()}",
        metrics_target=f"127.0.0.1:{free_port()}", triton=triton is not None,
        triton_url=triton.url if triton else "127.0.0.1:1", source_timeout_s=0.5, tracing=False,
        edge_url="http://127.0.0.1:8080")
    values.update(overrides)
    return DashboardSettings(**values)  # type: ignore[arg-type]


async def overview(channel: grpc.aio.Channel, metadata=ADMIN, **fields: int) -> pb.GetOverviewResponse:
    return await pb_grpc.DashboardServiceStub(channel).GetOverview(
        pb.GetOverviewRequest(**fields), metadata=metadata, timeout=10)


async def test_health_of_every_replica_and_triton_models(triton, healthy):
    """Replicas: SERVING, NOT_SERVING (unknown name), UNREACHABLE (closed port); Triton's models ready."""
    closed = free_port()
    targets = (f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{healthy}",
               f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{closed}",
               f"tts|grpc|ai4vc.tts.v1.TtsService|127.0.0.1:{healthy}")
    async with running(settings_for(triton, targets), dashboard_app.create) as (_app, _handle, channel):
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        answer = await overview(channel)
    assert [s.service for s in answer.services] == ["nmt", "tts"]
    nmt, tts = answer.services
    assert nmt.grpc_service == "ai4vc.nmt.v1.NmtService"
    assert [(r.address, r.state) for r in nmt.replicas] == [
        (f"127.0.0.1:{healthy}", pb.SERVING_STATE_SERVING), (f"127.0.0.1:{closed}", pb.SERVING_STATE_UNREACHABLE)]
    assert nmt.state == pb.SERVING_STATE_DEGRADED
    assert tts.state == pb.SERVING_STATE_NOT_SERVING  # the server answers, but not for that name
    assert answer.health_status.state == pb.SECTION_STATE_AVAILABLE
    assert answer.triton_status.state == pb.SECTION_STATE_AVAILABLE
    models = {m.name: m for m in answer.triton_models}
    assert {"nmt", "tts"} <= set(models) and models["nmt"].ready and models["nmt"].state == "READY"


async def test_dead_or_hung_sources_give_a_partial_overview(healthy, black_hole):
    """Prometheus hung, metrics service and Triton away: those sections UNAVAILABLE, health still answered."""
    targets = (f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{healthy}",)
    settings = dataclasses.replace(settings_for(None, targets, prometheus_url=f"http://127.0.0.1:{black_hole}"),
                                   triton=True, triton_url=f"127.0.0.1:{free_port()}")
    async with running(settings, dashboard_app.create) as (_app, _handle, channel):
        answer = await overview(channel)
    assert answer.services[0].state == pb.SERVING_STATE_SERVING
    assert answer.traffic_status.state == pb.SECTION_STATE_UNAVAILABLE
    assert answer.traffic_status.detail.startswith("prometheus")
    assert answer.alerts_status.state == pb.SECTION_STATE_UNAVAILABLE
    assert answer.usage_status.state == pb.SECTION_STATE_UNAVAILABLE and not answer.top_keys
    assert answer.triton_status.state == pb.SECTION_STATE_UNAVAILABLE
    assert answer.services[0].request_rate == 0 and not answer.services[0].HasField("p99_latency")


async def test_sources_turned_off_are_not_configured(healthy):
    """No Prometheus, metrics service or Triton configured: NOT_CONFIGURED, not unavailable."""
    settings = settings_for(None, (f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{healthy}",),
                            prometheus_url="", metrics_target="")
    async with running(settings, dashboard_app.create) as (_app, _handle, channel):
        answer = await overview(channel, OPERATOR)
    for section in (answer.traffic_status, answer.alerts_status, answer.usage_status, answer.triton_status):
        assert section.state == pb.SECTION_STATE_NOT_CONFIGURED


async def test_concurrent_callers_share_one_computation(healthy):
    """Twenty GetOverview calls at once: one computation, one compute_time."""
    settings = settings_for(None, (f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{healthy}",))
    async with running(settings, dashboard_app.create) as (app, _handle, channel):
        answers = await asyncio.gather(*(overview(channel) for _ in range(20)))
        assert app.core.shared.computations == 1  # type: ignore[attr-defined]
    assert len({a.compute_time.ToNanoseconds() for a in answers}) == 1


async def test_scope_and_bad_input(healthy):
    """No caller: UNAUTHENTICATED; no dashboard scope: PERMISSION_DENIED; negative count: the field named."""
    settings = settings_for(None, (f"nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:{healthy}",))
    async with running(settings, dashboard_app.create) as (_app, _handle, channel):
        for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED), (NMT_USER, grpc.StatusCode.PERMISSION_DENIED)):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await overview(channel, metadata)
            assert caught.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await overview(channel, top_key_count=-1)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info, fields = error_info(caught.value)
        assert info is not None and info.reason == "FIELD_OUT_OF_RANGE" and fields == ["top_key_count"]
        assert (await overview(channel)).services  # still serving


async def test_page_serves_its_files_only(healthy):
    """/ and /dashboard/ give the page, its script and style; the overview path is relayed to the
    edge (502 while the edge is away); others 404/405."""
    settings = settings_for(None, (), edge_url=f"http://127.0.0.1:{free_port()}")
    async with running(settings, dashboard_app.create) as (app, _handle, _channel):
        base = f"http://127.0.0.1:{app.page.port}"  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=base) as http:
            for path in ("/", "/dashboard/", "/index.html"):
                answer = await http.get(path)
                assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
                assert "default-src 'self'" in answer.headers["content-security-policy"]
            for path in ("/app.js", "/dashboard/app.js", "/style.css", "/dashboard/style.css"):
                assert (await http.get(path)).status_code == 200
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/dashboard")).headers.get("location") == "/dashboard/"
            for path in ("/../settings.py", "/dashboard/../app.py", "/web/app.js", "/v1/usage:summary"):
                assert (await http.get(path)).status_code == 404
            assert (await http.get("/v1/dashboard:overview", headers={"x-api-key": "k"})).status_code == 502
            assert (await http.post("/", content=b"x")).status_code == 405
            head = await http.head("/app.js")
            assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0


async def test_page_without_an_edge_relays_nothing(healthy):
    """No edge_url: the overview path is not served by the page's port."""
    settings = settings_for(None, (), edge_url="")
    async with running(settings, dashboard_app.create) as (app, _handle, _channel):
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{app.page.port}/v1/dashboard:overview")  # type: ignore[attr-defined]
        assert answer.status_code == 404


async def test_page_survives_garbage(healthy):
    """A malformed request line gets 400 and the server keeps serving."""
    settings = settings_for(None, ())
    async with running(settings, dashboard_app.create) as (app, _handle, _channel):
        port = app.page.port  # type: ignore[attr-defined]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x00\xff garbage\r\n\r\n")
        await writer.drain()
        assert (await reader.read()).startswith(b"HTTP/1.1 400")
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200


def test_settings_are_frozen():
    """Settings are immutable (one object built in __main__)."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        DashboardSettings().port = 1  # type: ignore[misc]
