"""The admission controller (services/common/rpc/admission.py): bounded running calls, a bounded
FIFO wait limited in time, slots handed straight to the oldest waiter, a stream cap, and the
RESOURCE_EXHAUSTED SERVER_OVERLOADED error with RetryInfo it refuses with."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from services.common import errors
from services.common.rpc.admission import AdmissionController, AdmissionMetrics, exempt


def controller(max_in_flight: int = 2, queue_size: int = 2, queue_timeout_s: float = 5.0,
               max_streams: int = 2) -> AdmissionController:
    metrics = AdmissionMetrics("svc", CollectorRegistry())
    return AdmissionController(max_in_flight, queue_size, queue_timeout_s, max_streams, metrics)


def shed(c: AdmissionController, kind: str, cause: str) -> float:
    assert c.metrics is not None
    return c.metrics.shed.labels("svc", kind, cause)._value.get()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_calls_up_to_the_limit_are_admitted_at_once() -> None:
    """Below the limit acquire does not wait; in_flight counts the running calls."""
    c = controller()
    await c.acquire()
    await c.acquire()
    assert (c.in_flight, c.queued) == (2, 0)


async def test_a_full_queue_refuses_at_once_with_server_overloaded_and_retry_info() -> None:
    """Past limit + queue the next call is refused without waiting: RESOURCE_EXHAUSTED
    SERVER_OVERLOADED, RetryInfo 1 s, cause queue_full, counted."""
    c = controller(max_in_flight=1, queue_size=1)
    await c.acquire()
    waiting = asyncio.create_task(c.acquire())
    await settle()
    with pytest.raises(errors.ResourceExhausted) as caught:
        await c.acquire()
    assert caught.value.code == errors.Code.RESOURCE_EXHAUSTED
    assert caught.value.reason == errors.Reason.SERVER_OVERLOADED
    assert caught.value.retry_after_s == 1.0
    assert caught.value.metadata["cause"] == "queue_full"
    assert shed(c, "unary", "queue_full") == 1
    c.release()
    await waiting


async def test_a_waiter_past_its_wait_is_refused_and_leaves_the_queue() -> None:
    """A queued call that gets no slot within the queue timeout is refused (queue_timeout) and no
    longer counts as waiting; the slot it never got is not lost."""
    c = controller(max_in_flight=1, queue_size=4, queue_timeout_s=0.01)
    await c.acquire()
    with pytest.raises(errors.ResourceExhausted) as caught:
        await c.acquire()
    assert caught.value.metadata["cause"] == "queue_timeout"
    assert (c.in_flight, c.queued) == (1, 0)
    c.release()
    assert c.in_flight == 0


async def test_the_callers_deadline_shortens_the_wait() -> None:
    """A call with less time left than the queue timeout waits only that long."""
    c = controller(max_in_flight=1, queue_timeout_s=60.0)
    await c.acquire()
    with pytest.raises(errors.ResourceExhausted):
        await asyncio.wait_for(c.acquire(timeout_s=0.01), timeout=30)


async def test_a_released_slot_goes_to_the_oldest_waiter() -> None:
    """Release hands the slot to the first waiter (FIFO), not to a newcomer; in_flight stays at the limit."""
    c = controller(max_in_flight=1, queue_size=3)
    await c.acquire()
    order: list[int] = []

    async def wait(i: int) -> None:
        await c.acquire()
        order.append(i)

    first = asyncio.create_task(wait(1))
    await settle()
    second = asyncio.create_task(wait(2))
    await settle()
    c.release()
    await first
    assert order == [1] and c.in_flight == 1 and c.queued == 1
    c.release()
    await second
    assert order == [1, 2]
    c.release()
    assert (c.in_flight, c.queued) == (0, 0)


async def test_a_waiter_cancelled_while_queued_gives_its_place_up() -> None:
    """A caller that goes away while waiting leaves the queue; the slot goes to the next one."""
    c = controller(max_in_flight=1, queue_size=3)
    await c.acquire()
    gone = asyncio.create_task(c.acquire())
    await settle()
    stays = asyncio.create_task(c.acquire())
    await settle()
    gone.cancel()
    await settle()
    assert c.queued == 1
    c.release()
    await stays
    assert c.in_flight == 1


async def test_the_call_context_releases_on_error() -> None:
    """`call()` gives its slot back when the body raises."""
    c = controller(max_in_flight=1)
    with pytest.raises(RuntimeError):
        async with c.call():
            raise RuntimeError("boom")
    assert c.in_flight == 0


async def test_streams_past_the_cap_are_refused_without_waiting() -> None:
    """Streams are counted, refused at the cap (streams_full) and counted out on close."""
    c = controller(max_streams=1)
    c.open_stream()
    with pytest.raises(errors.ResourceExhausted) as caught:
        c.open_stream()
    assert caught.value.metadata["cause"] == "streams_full"
    assert shed(c, "bidi_stream", "streams_full") == 1
    c.close_stream()
    c.open_stream()
    assert c.streams == 1


async def test_zero_means_no_limit() -> None:
    """A limit of 0 admits everything."""
    c = controller(max_in_flight=0, queue_size=0, max_streams=0)
    for _ in range(100):
        await c.acquire()
        c.open_stream()
    c.release()


def test_negative_limits_are_rejected() -> None:
    """A negative limit is a configuration mistake, not "no limit"."""
    with pytest.raises(ValueError):
        AdmissionController(-1, 1, 1.0, 1)


def test_health_and_reflection_are_exempt() -> None:
    """Health checks and reflection never wait for admission; service methods do."""
    assert exempt("/grpc.health.v1.Health/Check")
    assert exempt("/grpc.health.v1.Health/Watch")
    assert exempt("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not exempt("/ai4vc.nmt.v1.NmtService/TranslateText")


def test_settings_refuse_negative_admission_limits() -> None:
    """`AI4VC_<SVC>_MAX_IN_FLIGHT_CALLS=-1` fails fast at start, naming the variable."""
    from services.common.settings import CommonSettings, SettingsError, load

    with pytest.raises(SettingsError, match="AI4VC_NMT_MAX_IN_FLIGHT_CALLS"):
        load(CommonSettings, "AI4VC_NMT", {"AI4VC_NMT_MAX_IN_FLIGHT_CALLS": "-1"})
    assert load(CommonSettings, "AI4VC_NMT", {"AI4VC_NMT_MAX_OPEN_STREAMS": "0"}).max_open_streams == 0


async def test_a_call_that_would_wait_too_long_is_refused_at_once() -> None:
    """When its place in the queue × the mean slot time ÷ the limit exceeds the wait bound, a call is
    refused without waiting (wait_too_long); one that fits the bound still queues."""
    c = controller(max_in_flight=2, queue_size=10, queue_timeout_s=1.0)
    c.observe(1.5)  # calls hold their slot ~1.5 s
    await c.acquire()
    await c.acquire()
    first = asyncio.create_task(c.acquire())  # ~0.75 s expected: it waits
    await settle()
    assert c.queued == 1
    with pytest.raises(errors.ResourceExhausted) as caught:
        await c.acquire()  # ~1.5 s expected: refused now
    assert caught.value.metadata["cause"] == "wait_too_long"
    assert c.queued == 1
    c.release()
    await first


async def test_the_mean_slot_time_follows_the_calls() -> None:
    """`call()` feeds how long each call held its slot into the running mean."""
    c = controller(max_in_flight=4)
    async with c.call():
        await asyncio.sleep(0.01)
    assert c.mean_hold_s > 0
