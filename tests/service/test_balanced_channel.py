"""A downstream channel (services/common/rpc/balancing.py, through rpc/downstream.Channels) over two
real NMT servers in-process (production factory, the session's Triton): calls go to both, a
replica that is gone gets none and fails no call, and one that comes back on its port gets calls
again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.calls import CallContext
from services.common.rpc import downstream
from services.common.rpc.server import ServerHandle
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from tests.service.harness import running

REQUEST = pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")


def served(handle: ServerHandle) -> int:
    """TranslateText calls this replica answered OK (its own RPC metrics)."""
    return int(sum(sample.value for metric in handle.metrics.registry.collect()
                   for sample in metric.samples
                   if sample.name == "grpc_server_handled_total" and sample.labels.get("grpc_code") == "OK"
                   and sample.labels.get("grpc_method", "").endswith("TranslateText")))


async def eventually(condition: Callable[[], object], what: str, tries: int = 200) -> None:
    """Polls `condition` (an awaitable factory) until it holds; no wall-clock assertion, a bound on tries."""
    for _ in range(tries):
        if await condition():  # type: ignore[misc]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


@pytest.fixture
async def replicas(triton, tmp_path):
    """Two NMT servers; yields (settings maker, [handles], exit stacks) so a test can stop and restart one."""
    def settings(port: int = 0) -> NmtSettings:
        return NmtSettings(port=port, triton_url=triton.url, spool_dir=str(tmp_path / "spool"), log_json=False)

    stacks = [contextlib.AsyncExitStack() for _ in range(2)]
    handles = []
    for stack in stacks:
        _app, handle, _channel = await stack.enter_async_context(running(settings(), nmt_app.create))
        handles.append(handle)
    try:
        yield settings, handles, stacks
    finally:
        for stack in stacks:
            await stack.aclose()


async def test_calls_spread_and_skip_unhealthy_dead_and_return_to_restarted(replicas):
    """Calls go to both; a stopped replica gets none, no call fails; back on its port it serves again."""
    settings, handles, stacks = replicas
    target = ",".join(f"127.0.0.1:{h.port}" for h in handles)
    channels = downstream.Channels({"nmt": target}, max_message_bytes=1 << 20, health_timeout_s=2,
                                   env_prefix="AI4VC_TEST")
    stub = pb_grpc.NmtServiceStub(channels.get("nmt"))
    call = CallContext((), None)

    async def translate(count: int) -> None:
        for _ in range(count):
            answer = await downstream.unary("nmt", stub.TranslateText, REQUEST, call, lambda f: f,
                                            default_timeout_s=30)
            assert answer.translations

    try:
        assert await channels.ready()
        await translate(10)
        assert all(served(h) > 0 for h in handles), [served(h) for h in handles]

        # Gone: every call still succeeds (on replica 1), none waits for the dead one.
        port = handles[0].port
        await stacks[0].aclose()
        before = served(handles[1])
        await translate(10)
        assert served(handles[1]) == before + 10

        # Back on the same port: the channel reconnects and sends it calls again.
        _app, handle, _channel = await stacks[0].enter_async_context(running(settings(port), nmt_app.create))
        handles[0] = handle

        async def restarted_serves() -> bool:
            await translate(4)
            return served(handle) > 0
        await eventually(restarted_serves, "the restarted replica gets calls")
    finally:
        await channels.close()
