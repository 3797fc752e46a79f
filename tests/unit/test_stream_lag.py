"""Stream lag (services/common/rpc/admission.py): due times in real time per message, the worst lag
over a sliding window and of messages still in processing, and admission refusing NEW streams
(RESOURCE_EXHAUSTED SERVER_OVERLOADED, cause streams_behind, RetryInfo) only above the threshold."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from services.common import errors
from services.common.rpc.admission import AdmissionController, AdmissionMetrics, LagProbe
from services.common.settings import CommonSettings, SettingsError, load


class Clock:
    """A clock the test moves by hand (no wall-clock in unit tests)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def probe(window_s: float = 2.0) -> tuple[LagProbe, Clock]:
    clock = Clock()
    return LagProbe(window_s, clock), clock


def controller(p: LagProbe, shed_lag_s: float = 1.0, max_streams: int = 0) -> AdmissionController:
    return AdmissionController(0, 0, 0.0, max_streams, AdmissionMetrics("svc", CollectorRegistry()), p, shed_lag_s)


def test_real_time_messages_are_due_as_they_arrive():
    """A client pacing 100 ms messages every 100 ms: each is due when it arrives; processed 20 ms later, lag 20 ms."""
    p, clock = probe()
    s = p.open()
    for k in range(5):
        clock.now = 100.0 + 0.1 * k
        assert s.arrived(0.1) == pytest.approx(clock.now)
        clock.now += 0.02
        assert s.finished() == pytest.approx(0.02)
    assert p.lag() == pytest.approx(0.02)


def test_a_client_faster_than_real_time_does_not_lag():
    """All audio at once: message k is due k × its length after the first, so a server faster than real
    time finishes each after the first before its due time: the lag stays the first one's processing time."""
    p, clock = probe()
    s = p.open()
    dues = [s.arrived(0.1) for _ in range(10)]
    assert dues == pytest.approx([100.0 + 0.1 * k for k in range(10)])
    for _k in range(10):
        clock.now += 0.05  # twice real time
        assert s.finished() <= 0.05 + 1e-9
    assert p.lag() == pytest.approx(0.05)


def test_a_server_slower_than_real_time_falls_behind():
    """Real-time messages that take 0.3 s each to process: the lag grows by 0.2 s a message."""
    p, clock = probe(window_s=10.0)
    s = p.open()
    done = 100.0
    lags = []
    for k in range(5):
        clock.now = 100.0 + 0.1 * k
        due = s.arrived(0.1)
        done = max(done, due) + 0.3
        clock.now = done
        lags.append(s.finished())
    assert lags == pytest.approx([0.3, 0.5, 0.7, 0.9, 1.1])
    assert p.lag() == pytest.approx(1.1)


def test_a_pause_restarts_the_due_times_at_arrival():
    """A message arriving after a pause is due when it arrives, not early."""
    p, clock = probe()
    s = p.open()
    s.arrived(0.1)
    s.finished()
    clock.now = 105.0
    assert s.arrived(0.1) == 105.0


def test_a_message_still_in_processing_counts_before_it_finishes():
    """A stream stuck on a slow model call lags as soon as its message is past due, not once the call returns."""
    p, clock = probe()
    s = p.open()
    s.arrived(0.1)
    clock.now += 3.0
    assert p.lag() == pytest.approx(3.0)
    s.close()
    assert p.lag() == 0.0 and p.open_streams == 0


def test_the_worst_lag_expires_after_the_window():
    """The window keeps the worst lag for window_s after it was reported, then the next worst, then 0."""
    p, clock = probe(window_s=2.0)
    s = p.open()
    s.arrived(0.1)
    clock.now += 3.0
    s.finished()  # lag 3.0 at t=103
    clock.now = 103.5
    s.arrived(0.1)
    clock.now = 104.0
    s.finished()  # lag 0.5 at t=104
    assert p.lag() == pytest.approx(3.0)
    clock.now = 105.01
    assert p.lag() == pytest.approx(0.5)
    clock.now = 106.01
    assert p.lag() == 0.0


def test_an_ended_streams_lag_stays_for_the_window():
    """What a stream reported before it ended still counts until the window passes."""
    p, clock = probe(window_s=2.0)
    s = p.open()
    s.arrived(0.1)
    clock.now += 1.5
    s.finished()
    s.close()
    assert p.lag() == pytest.approx(1.5)
    clock.now += 2.1
    assert p.lag() == 0.0


def test_the_gauge_reads_the_probe():
    """grpc_server_stream_lag_seconds in the admission registry reads the probe's lag when scraped."""
    p, clock = probe()
    registry = CollectorRegistry()
    AdmissionController(0, 0, 0.0, 0, AdmissionMetrics("svc", registry), p, 1.0)
    s = p.open()
    s.arrived(0.1)
    clock.now += 1.25
    assert registry.get_sample_value("grpc_server_stream_lag_seconds", {"service": "svc"}) == pytest.approx(1.25)


def test_new_streams_are_refused_only_above_the_threshold():
    """At or below stream_shed_lag_s a new stream opens; above it RESOURCE_EXHAUSTED SERVER_OVERLOADED,
    cause streams_behind, RetryInfo 1 s, counted; the open stream stays counted (never cut)."""
    p, clock = probe()
    c = controller(p, shed_lag_s=1.0)
    c.open_stream()
    s = p.open()
    s.arrived(0.1)
    clock.now += 1.0
    c.open_stream()  # exactly at the threshold: admitted
    assert c.streams == 2
    clock.now += 0.2
    with pytest.raises(errors.ResourceExhausted) as caught:
        c.open_stream()
    assert caught.value.code == errors.Code.RESOURCE_EXHAUSTED
    assert caught.value.reason == errors.Reason.SERVER_OVERLOADED
    assert caught.value.retry_after_s == 1.0
    assert caught.value.metadata["cause"] == "streams_behind"
    assert c.metrics is not None
    assert c.metrics.shed.labels("svc", "bidi_stream", "streams_behind")._value.get() == 1
    assert c.streams == 2  # the open streams are untouched
    s.finished()
    clock.now += 2.1  # the window passes: new streams are admitted again
    c.open_stream()
    assert c.streams == 3


def test_zero_threshold_never_refuses_for_lag():
    """stream_shed_lag_s = 0 turns lag shedding off, however far behind the streams are."""
    p, clock = probe()
    c = controller(p, shed_lag_s=0.0)
    p.open().arrived(0.1)
    clock.now += 60.0
    c.open_stream()
    assert c.streams == 1


def test_no_probe_never_refuses_for_lag():
    """A process whose streams report no lag (every service but ASR) only has the stream cap."""
    c = AdmissionController(0, 0, 0.0, 1, AdmissionMetrics("svc", CollectorRegistry()), None, 1.0)
    c.open_stream()
    with pytest.raises(errors.ResourceExhausted) as caught:
        c.open_stream()
    assert caught.value.metadata["cause"] == "streams_full"


def test_a_window_must_be_positive():
    """LagProbe refuses an empty window."""
    with pytest.raises(ValueError):
        LagProbe(0.0)


@pytest.mark.parametrize(("name", "value"), [("STREAM_SHED_LAG_S", "-1"), ("STREAM_LAG_WINDOW_S", "0")])
def test_settings_reject_a_bad_lag_setting(name, value):
    """A negative shed lag or a window that is not positive fails at start, naming the variable."""
    with pytest.raises(SettingsError, match=f"X_{name}"):
        load(CommonSettings, "X", {f"X_{name}": value})


def test_settings_defaults():
    """1 s of lag over a 2 s window by default; 0 is accepted (off)."""
    s = load(CommonSettings, "X", {"X_STREAM_SHED_LAG_S": "0"})
    assert (s.stream_shed_lag_s, s.stream_lag_window_s) == (0.0, 2.0)
    assert CommonSettings().stream_shed_lag_s == 1.0
