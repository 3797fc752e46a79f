"""The dashboard core's pure parts: the single-flight cache (one computation per key and TTL,
shared by concurrent callers, kept for a caller who gives up), the top_key_count rule, the
replica-to-service health summary and the settings' target syntax."""

from __future__ import annotations

import asyncio

import pytest

from services.common.errors import InvalidArgument, Reason
from services.common.settings import SettingsError
from services.dashboard import core
from services.dashboard.settings import DashboardSettings, Target


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_computation():
    """Ten callers at once: one computation, one value for all."""
    cache: core.SingleFlight[str, int] = core.SingleFlight(5.0)
    release = asyncio.Event()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    waiting = [asyncio.create_task(cache.get("", compute)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 10
    assert calls == 1 and cache.computations == 1


async def test_value_is_kept_for_the_ttl_then_recomputed():
    """Within the TTL the kept value answers; after it, a new computation."""
    clock = Clock()
    cache: core.SingleFlight[str, float] = core.SingleFlight(5.0, clock=clock)

    async def compute() -> float:
        return clock.now

    assert await cache.get("", compute) == 100.0
    clock.now = 104.9
    assert await cache.get("", compute) == 100.0
    clock.now = 105.0
    assert await cache.get("", compute) == 105.0
    assert cache.computations == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_others():
    """A cancelled waiter leaves the shared computation running for the rest."""
    cache: core.SingleFlight[str, str] = core.SingleFlight(5.0)
    release = asyncio.Event()

    async def compute() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(cache.get("", compute))
    second = asyncio.create_task(cache.get("", compute))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "done"
    assert cache.computations == 1


async def test_a_failed_computation_is_not_kept():
    """An exception reaches the callers and the next call computes again."""
    cache: core.SingleFlight[str, int] = core.SingleFlight(5.0)

    async def fail() -> int:
        raise RuntimeError("boom")

    async def succeed() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await cache.get("", fail)
    assert await cache.get("", succeed) == 7


async def test_oldest_keys_go_past_max_entries():
    """At most max_entries keys are kept."""
    cache: core.SingleFlight[int, int] = core.SingleFlight(5.0, max_entries=2)
    for key in range(3):
        await cache.get(key, lambda key=key: asyncio.sleep(0, key))
    assert list(cache._values) == [1, 2]


def test_top_key_count_default_cap_and_negative():
    """0 means 10, over 100 is 100, negative is FIELD_OUT_OF_RANGE on top_key_count."""
    assert core.check_top_key_count(0) == 10
    assert core.check_top_key_count(3) == 3
    assert core.check_top_key_count(10_000) == 100
    with pytest.raises(InvalidArgument) as caught:
        core.check_top_key_count(-1)
    assert caught.value.reason == Reason.FIELD_OUT_OF_RANGE


@pytest.mark.parametrize(("states", "summary"), [
    ([core.SERVING, core.SERVING], core.SERVING),
    ([core.SERVING, core.UNREACHABLE], core.DEGRADED),
    ([core.NOT_SERVING, core.UNREACHABLE], core.NOT_SERVING),
    ([core.UNREACHABLE], core.UNREACHABLE),
    ([], core.UNKNOWN),
])
def test_service_state_from_its_replicas(states, summary):
    """A service serves when all its replicas do, is degraded when some do."""
    assert core._summarize(states) == summary


def test_targets_setting():
    """Targets parse as name|kind|check|host:port; anything else fails fast naming the variable."""
    settings = DashboardSettings(targets=("nmt|grpc|ai4vc.nmt.v1.NmtService|127.0.0.1:8089",
                                          "wsbridge|http|/healthz|127.0.0.1:8092", "events|grpc||127.0.0.1:8094"))
    assert settings.check().parsed_targets()[1] == Target("wsbridge", "http", "/healthz", "127.0.0.1:8092")
    for bad in ("nmt|grpc|x", "nmt|tcp|x|127.0.0.1:1", "|grpc|x|127.0.0.1:1", "w|http|healthz|127.0.0.1:1",
                "nmt|grpc|x|no-port"):
        with pytest.raises(SettingsError, match="AI4VC_DASHBOARD_TARGETS"):
            DashboardSettings(targets=(bad,)).check()
    with pytest.raises(SettingsError, match="CACHE_TTL_S"):
        DashboardSettings(cache_ttl_s=6).check()
    with pytest.raises(SettingsError, match="PROMETHEUS_URL"):
        DashboardSettings(prometheus_url="ftp://x").check()
