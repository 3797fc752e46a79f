"""Each dependency frozen (SIGSTOP) and killed (SIGKILL) under a load of NMT and TTS calls
through Envoy, then back (issue 16, "Faults"): every call is served or answers UNAVAILABLE with
RetryInfo (or, queued in a Triton that froze, its queue's RESOURCE_EXHAUSTED BACKEND_OVERLOADED
with RetryInfo), none waits past a bounded delay, every served call's record and event is complete
after recovery (counted by request id), and the supervisor brings a killed part back with no
restart by hand. One mesh for the module; each test leaves it as healthy as it found it."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import grpc
import pytest

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from deploy.local.mesh import Mesh
from tests.errors_util import retry_delay_s
from tests.fault_util import NMT_REQUEST, Load, frozen, kill, wait_back, wait_complete
from tests.mesh_util import private_mesh

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
FREEZE_S = 3.0
# The longest a call may take while a dependency hangs: the freeze plus a margin for a loaded
# machine. A call that waits on a hung dependency without bound runs into its deadline instead.
BOUND_S = FREEZE_S + 8.0


@pytest.fixture(scope="module")
def fault_mesh(run_base):
    with private_mesh(run_base, "faults") as mesh:
        yield mesh


async def _settle(mesh: Mesh) -> None:
    """The mesh as the next test expects it: every upstream healthy again."""
    await asyncio.to_thread(mesh.envoy.wait_healthy, 120)


@pytest.fixture(autouse=True)
async def _healthy_first(fault_mesh):
    """Each test starts on a healthy mesh (a failed test before it may have left it recovering)."""
    await _settle(fault_mesh)


def _assert_bounded(load: Load) -> None:
    assert load.unacceptable() == [], load.unacceptable()[:5]
    slowest = max(o.latency_s for o in load.outcomes)
    assert slowest < BOUND_S, f"a call took {slowest:.1f} s"


async def _freeze_under_load(mesh: Mesh, part: str) -> Load:
    async with Load(mesh, f"freeze-{part}") as load:
        await load.served(4)
        with frozen(mesh, part):
            await asyncio.sleep(FREEZE_S)
        await load.served(6)
    _assert_bounded(load)
    return load


async def _kill_under_load(mesh: Mesh, part: str) -> Load:
    async with Load(mesh, f"kill-{part}") as load:
        await load.served(4)
        old = kill(mesh, part)
        await wait_back(mesh, part, old)
        await load.served(6)
    _assert_bounded(load)
    return load


async def test_callers_request_id_is_kept_as_sent(fault_mesh):
    """A caller's 36-character x-request-id (UUID-sized) reaches the records unchanged, so calls count by it."""
    request_id = "faults-kept-as-sent-" + "x" * 16  # Envoy rewrote index 14 of such ids (trace reason)
    assert len(request_id) == 36
    metadata = (("x-api-key", fault_mesh.admin_key()), ("x-request-id", request_id))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{fault_mesh.ports.envoy}") as channel:
        await nmt_grpc.NmtServiceStub(channel).TranslateText(NMT_REQUEST, timeout=BOUND_S, metadata=metadata)
    await wait_complete(fault_mesh, {request_id: "nmt"}, timeout_s=30)


async def test_postgres_frozen(fault_mesh):
    """PostgreSQL frozen: calls are served on time (records wait in the sink), and all are recorded after."""
    load = await _freeze_under_load(fault_mesh, "postgres")
    await wait_complete(fault_mesh, load.ok_ids())


async def test_postgres_killed_comes_back_by_itself(fault_mesh):
    """PostgreSQL killed: the supervisor restarts it; calls keep being served; records and events complete."""
    load = await _kill_under_load(fault_mesh, "postgres")
    await wait_complete(fault_mesh, load.ok_ids())
    await _settle(fault_mesh)


async def _create_key(mesh: Mesh) -> str:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await auth_grpc.AuthServiceStub(channel).CreateApiKey(
            auth_pb.CreateApiKeyRequest(display_name="faults", scopes=["nmt"]), timeout=BOUND_S,
            metadata=(("x-api-key", mesh.admin_key()),))
    return str(answer.key)


async def _translate_with(mesh: Mesh, key: str, attempts: int, timeout_s: float = BOUND_S) -> list[str]:
    codes = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        stub = nmt_grpc.NmtServiceStub(channel)
        for _ in range(attempts):
            try:
                await stub.TranslateText(NMT_REQUEST, timeout=timeout_s, metadata=(("x-api-key", key),))
                codes.append("OK")
            except grpc.aio.AioRpcError as err:
                codes.append(err.code().name)
    return codes


async def test_redis_frozen_serves_keys_in_use_new_and_created_meanwhile(fault_mesh):
    """Redis frozen: a key in use, a valid key not used before, and a key created during the freeze all serve."""
    mesh = fault_mesh
    unused = await _create_key(mesh)
    async with Load(mesh, "freeze-redis") as load:
        await load.served(4)
        with frozen(mesh, "redis"):
            started = time.monotonic()
            fresh = await _translate_with(mesh, unused, 5)
            created = await _create_key(mesh)
            # PostgreSQL's NOTIFY carries the new key to the edge: it serves within a few seconds.
            deadline = time.monotonic() + 5
            while await _translate_with(mesh, created, 1) != ["OK"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            new = await _translate_with(mesh, created, 5)
            await asyncio.sleep(max(0.0, FREEZE_S - (time.monotonic() - started)))
            ended = time.monotonic()
        await load.served(6)
    # The load's key (in use before the freeze) kept being served, every call, while Redis was frozen.
    in_use = [o.code.name for o in load.outcomes if started <= o.start <= ended]
    assert fresh == ["OK"] * 5
    assert new == ["OK"] * 5
    assert in_use and set(in_use) == {"OK"}, in_use
    _assert_bounded(load)
    await wait_complete(mesh, load.ok_ids())


async def test_redis_killed_comes_back_by_itself(fault_mesh):
    """Redis killed: the supervisor restarts it (empty); calls keep being served; records and events complete."""
    load = await _kill_under_load(fault_mesh, "redis")
    await wait_complete(fault_mesh, load.ok_ids())


async def test_kafka_frozen_events_sent_after(fault_mesh):
    """Kafka frozen: calls are served on time; the outbox keeps their events and the relay sends them after."""
    load = await _freeze_under_load(fault_mesh, "kafka")
    await wait_complete(fault_mesh, load.ok_ids())


async def test_kafka_killed_events_sent_after_restart(fault_mesh):
    """Kafka killed: the supervisor restarts it; the relay reconnects (topics made again) and sends every event."""
    load = await _kill_under_load(fault_mesh, "kafka")
    await wait_complete(fault_mesh, load.ok_ids())


async def test_triton_frozen_costs_a_bounded_delay(fault_mesh):
    """Triton frozen: calls wait at most the freeze (or answer UNAVAILABLE with RetryInfo), then serve again."""
    load = await _freeze_under_load(fault_mesh, "triton")
    await wait_complete(fault_mesh, load.ok_ids())
    await _settle(fault_mesh)


@pytest.mark.parametrize("part", ["telemetry", "prometheus"])
async def test_telemetry_and_metrics_backends_frozen_then_killed(fault_mesh, part):
    """The telemetry service (OTLP) and Prometheus frozen, then killed: calls never notice; the part comes back."""
    frozen_load = await _freeze_under_load(fault_mesh, part)
    killed_load = await _kill_under_load(fault_mesh, part)
    await wait_complete(fault_mesh, {**frozen_load.ok_ids(), **killed_load.ok_ids()})
    await _settle(fault_mesh)


async def test_no_healthy_upstream_is_unavailable_with_retry_info(fault_mesh):
    """Every NMT replica hung: Envoy's health checks eject it and its local reply is UNAVAILABLE with RetryInfo."""
    mesh = fault_mesh
    [nmt] = [s for s in mesh.services if s.name == "nmt"]
    group = nmt.proc.pid()
    assert group is not None
    os.killpg(group, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 60
        while not any(h.startswith("nmt") for h in mesh.envoy.unhealthy_hosts()):
            assert time.monotonic() < deadline, "Envoy never ejected the hung NMT replica"
            await asyncio.sleep(0.2)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await nmt_grpc.NmtServiceStub(channel).TranslateText(
                    NMT_REQUEST, timeout=BOUND_S, metadata=(("x-api-key", mesh.admin_key()),))
    finally:
        os.killpg(group, signal.SIGCONT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value
    assert retry_delay_s(caught.value) == 1.0
    await _settle(mesh)
