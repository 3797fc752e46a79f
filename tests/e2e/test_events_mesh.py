"""Events in the whole mesh: a call through Envoy reaches Kafka (record sink → outbox → relay →
tansu) as an `ai4vc.inference` event that says what was asked, never the text."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from ai4vc.events.v1 import events_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends.events import EventConsumer

pytestmark = pytest.mark.e2e
HINDI = "भारत एक विशाल देश है।"


async def first_event(bootstrap: str, topic: str, subject: str, timeout_s: float = 30) -> events_pb2.Event:
    async with EventConsumer(bootstrap) as consumer:
        await consumer.assign([topic], timeout_s=timeout_s)

        async def find() -> events_pb2.Event:
            async for event in consumer.events():
                if event.subject == subject:
                    return event
            raise AssertionError("unreachable")

        return await asyncio.wait_for(find(), timeout_s)


async def test_translate_through_envoy_publishes_an_inference_event(mesh):
    """One TranslateText through Envoy gives an ai4vc.inference event with its languages and sizes, and no text."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await pb_grpc.NmtServiceStub(channel).TranslateText(
            pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur"),
            timeout=15, metadata=(("x-api-key", mesh.admin_key()), ("x-request-id", "e2e-events-1")))
    event = await first_event(mesh.kafka.bootstrap, "ai4vc.inference", "e2e-events-1")
    request = event.inference_request
    assert (event.type, event.source, request.service, request.method) == (
        "ai4vc.inference.request.v1", "nmt", "nmt", "TranslateText")
    assert (request.language_code, request.target_language_code, request.status) == ("hi", "ur", "OK")
    assert request.characters == len(HINDI) and request.key_id
    wire = event.SerializeToString()
    assert HINDI.encode() not in wire and answer.translations[0].translated_text.encode() not in wire
