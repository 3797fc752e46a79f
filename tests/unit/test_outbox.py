"""The event envelope: building events, their topics, and ids that a replay reproduces."""

from __future__ import annotations

import datetime
import uuid

import pytest

from ai4vc.events.v1 import events_pb2
from services.common.backends import outbox
from services.common.backends.records import call_events

RECORD = {
    "id": "0b6f1f5e-6a43-4d3e-8a55-0f4d1c6ad001", "request_id": "req-1",
    "created_time": "2026-01-02T03:04:05+00:00", "principal": "alice", "method": "TranslateText",
    "model": "nmt", "source_language_code": "hi", "target_language_code": "ur", "status": "OK",
    "results": [{"source_text": "भारत एक विशाल देश है।", "translated_text": "بھارت"}],
    "key_id": "0123456789abcdef", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "metered": {"characters": 21, "audio_seconds": 0.0}, "latency_ms": 12.5,
}


def nmt_events(record: dict) -> list[events_pb2.Event]:
    return call_events("nmt", record, model=record["model"], language_code=record["source_language_code"],
                       target_language_code=record["target_language_code"],
                       characters=sum(len(x["source_text"]) for x in record["results"]))


def test_new_event_fills_the_envelope():
    """new_event sets every envelope attribute and the one payload; id and time get defaults."""
    when = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    event = outbox.new_event(outbox.USAGE_TYPE, "tts", "req-9", "bob", time=when, traceparent="tp",
                             usage=events_pb2.Usage(key_id="k", characters=3))
    assert (event.type, event.source, event.subject, event.principal, event.traceparent) == (
        "ai4vc.usage.v1", "tts", "req-9", "bob", "tp")
    assert event.time.ToDatetime(datetime.UTC) == when
    assert event.WhichOneof("payload") == "usage" and event.usage.characters == 3
    uuid.UUID(event.id)
    assert outbox.new_event("t", "s", "x", usage=events_pb2.Usage()).id != event.id


@pytest.mark.parametrize("payload", [{}, {"usage": events_pb2.Usage(), "alert": events_pb2.Alert()},
                                     {"nonsense": events_pb2.Usage()}])
def test_new_event_takes_exactly_one_known_payload(payload):
    """No payload, two payloads or an unknown payload name is refused."""
    with pytest.raises(ValueError):
        outbox.new_event("t", "s", "x", **payload)


@pytest.mark.parametrize(("field", "message", "topic"), [
    ("inference_request", events_pb2.InferenceRequest(), "ai4vc.inference"),
    ("usage", events_pb2.Usage(), "ai4vc.usage"),
    ("config_change", events_pb2.ConfigChange(), "ai4vc.config"),
    ("audit", events_pb2.AuditEntry(), "ai4vc.audit"),
    ("alert", events_pb2.Alert(), "ai4vc.alerts"),
])
def test_topic_of_follows_the_payload(field, message, topic):
    """Each payload goes to its EventKind's topic."""
    assert outbox.topic_of(outbox.new_event("t", "s", "x", **{field: message})) == topic


def test_topics_match_event_kinds():
    """The topics by payload and by EventKind are the same five."""
    assert set(outbox.TOPICS) == set(outbox.TOPIC_OF_KIND.values())
    assert len(outbox.TOPIC_OF_KIND) == len(events_pb2.EventKind.values()) - 1


def test_event_ids_are_deterministic():
    """The same parts give the same UUID; other parts another one."""
    assert outbox.event_id("r1", "a") == outbox.event_id("r1", "a")
    assert outbox.event_id("r1", "a") != outbox.event_id("r1", "b") != outbox.event_id("r2", "a")
    assert outbox.event_id("ab", "c") != outbox.event_id("a", "bc")


def test_call_events_rebuild_identically_and_carry_no_text():
    """A record gives the same InferenceRequest and Usage events every time, with sizes but never its text."""
    first, again = nmt_events(RECORD), nmt_events(dict(RECORD))
    assert [e.SerializeToString(deterministic=True) for e in first] == [
        e.SerializeToString(deterministic=True) for e in again]
    inference, usage = first
    assert outbox.topic_of(inference) == "ai4vc.inference" and outbox.topic_of(usage) == "ai4vc.usage"
    request = inference.inference_request
    assert (request.service, request.method, request.language_code, request.target_language_code,
            request.characters, request.status, request.key_id) == ("nmt", "TranslateText", "hi", "ur", 21, "OK",
                                                                    "0123456789abcdef")
    assert request.latency.ToMilliseconds() == 12
    assert inference.subject == "req-1" and inference.principal == "alice"
    assert inference.traceparent == RECORD["traceparent"]
    assert usage.usage.characters == 21 and usage.usage.key_id == "0123456789abcdef"
    wire = b"".join(e.SerializeToString() for e in first)
    assert "भारत".encode() not in wire and "بھارت".encode() not in wire


def test_call_events_without_metering_have_no_usage():
    """A call that metered nothing (or a record spooled before metering was recorded) gives no Usage event."""
    old = {k: v for k, v in RECORD.items() if k not in ("metered", "key_id", "traceparent")}
    assert [outbox.topic_of(e) for e in nmt_events(old)] == ["ai4vc.inference"]
