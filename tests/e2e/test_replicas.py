"""Load balancing across replicas: two NMT replicas share the load through Envoy, and killing
one under load fails no unary request (Envoy retries UNAVAILABLE/reset on the other and its
health checks eject the dead one)."""

from __future__ import annotations

import asyncio
import os
import signal

import grpc
import pytest

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from deploy.local.mesh import Mesh, Ports
from tests.mesh_util import handled_ok

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicated_mesh(run_base):
    run_dir = run_base / "replicas"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    mesh = Mesh(run_dir, Ports.free(), replicas={"nmt": 2}, durable=False, free_metrics_ports=True)
    try:
        mesh.up()
        yield mesh
    finally:
        mesh.down()


async def test_two_replicas_share_load_and_one_can_die(replicated_mesh):
    """Both replicas serve; SIGKILL of one mid-load leaves every unary call successful."""
    mesh = replicated_mesh
    replicas = [s for s in mesh.services if s.name == "nmt"]
    assert len(replicas) == 2
    request = pb.TranslateTextRequest(contents=["भारत एक विशाल देश है।"], source_language_code="hi",
                                      target_language_code="ur")
    metadata = (("x-api-key", mesh.admin_key()),)
    failures: list[str] = []
    done = 0
    stop = asyncio.Event()

    async def worker(stub: pb_grpc.NmtServiceStub) -> None:
        nonlocal done
        while not stop.is_set():
            try:
                await stub.TranslateText(request, timeout=20, metadata=metadata)
                done += 1
            except grpc.aio.AioRpcError as err:
                failures.append(f"{err.code().name}: {err.details()}")

    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        stub = pb_grpc.NmtServiceStub(channel)
        workers = [asyncio.create_task(worker(stub)) for _ in range(4)]
        while done < 20:
            await asyncio.sleep(0.05)
        served = [await asyncio.to_thread(handled_ok, r.metrics_port, "NmtService/TranslateText") for r in replicas]
        victim = replicas[1]
        os.killpg(victim.proc.pid(), signal.SIGKILL)  # the replica and its supervisor: it stays dead
        before_kill = done
        while done < before_kill + 40:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
    assert all(count > 0 for count in served), f"load not shared: {served}"
    assert failures == []
