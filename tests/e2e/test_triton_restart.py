"""Triton's lifecycle under the launcher: a crashed tritonserver gives callers UNAVAILABLE
(never INTERNAL), the supervisor brings it back, and the mesh serves again by itself."""

from __future__ import annotations

import asyncio
import glob
import os
import signal
import subprocess
import time

import grpc
import pytest

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from deploy.local.parts import pid_alive

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


@pytest.mark.timeout(420)  # up to 120 s for the first answer, then the whole mesh's health checks
async def test_killed_triton_is_unavailable_then_recovers(mesh):
    """SIGKILL tritonserver: calls answer UNAVAILABLE, then succeed again once the supervisor restarted it,
    and every upstream Envoy checks is healthy again."""
    supervisor = mesh.triton.proc.pid()
    [server] = [p for p in _children(supervisor) if "tritonserver" in "".join(_read(f"/proc/{p}/cmdline"))]
    stubs_before = {p for p in _children(server)}
    request = pb.TranslateTextRequest(contents=["भारत एक विशाल देश है।"], source_language_code="hi",
                                      target_language_code="ur")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        stub = pb_grpc.NmtServiceStub(channel)
        metadata = (("x-api-key", mesh.admin_key()),)
        await stub.TranslateText(request, timeout=15, metadata=metadata)
        os.kill(server, signal.SIGKILL)
        codes = []
        recovered_at = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                await stub.TranslateText(request, timeout=5, metadata=metadata)
                recovered_at = time.monotonic()
                break
            except grpc.aio.AioRpcError as err:
                codes.append(err.code())
            await asyncio.sleep(0.2)
    assert recovered_at is not None, f"mesh did not recover; codes seen: {set(codes)}"
    assert codes and set(codes) <= {grpc.StatusCode.UNAVAILABLE}, set(codes)
    # All of it serves again: every replica Envoy health-checks (those whose readiness follows their
    # models', and the facades and pipeline, whose readiness follows those services') is healthy —
    # and the tests after this one find the mesh as they would have.
    await asyncio.to_thread(mesh.envoy.wait_healthy, 180)
    assert mesh.envoy.unhealthy_hosts() == []
    # The old stubs went with their server, and no stale shared-memory region is left behind.
    assert not any(pid_alive(p) for p in stubs_before)
    live = {line.split()[-1] for maps in glob.glob("/proc/[0-9]*/maps")
            for line in _read(maps) if "triton_python_backend_shm_region" in line}
    assert set(glob.glob("/dev/shm/triton_python_backend_shm_region_*")) <= live


def _read(path: str) -> list[str]:
    try:
        with open(path) as handle:
            return handle.readlines()
    except OSError:
        return []
