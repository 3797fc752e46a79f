"""Property: no request a client can send makes any RPC of any service answer INTERNAL or
UNKNOWN, and every server keeps serving afterwards.

Requests are built by hypothesis from the services' own descriptors — every method of every
service the mesh runs, unary and streamed — with hostile values mixed in: NUL and other
control characters, strings that are not UTF-8 on the wire, undefined enum numbers, NaN and
±inf, extreme integers, long and deeply nested text (SSML), long repeated fields, random bytes
as audio, and with or without the identity headers the edge would set. Calls go straight to
each service's port, past Envoy, so the services' own checks are what is tested.

The examples are derandomized (the same ones every run, so CI is repeatable); set
AI4VC_HOSTILE_RANDOM=1 (and AI4VC_HOSTILE_EXAMPLES=N) to explore new ones.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile
from google.protobuf import message_factory, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ai4vc.alerting.v1 import alerting_service_pb2
from ai4vc.asr.v1 import asr_service_pb2
from ai4vc.auth.v1 import auth_service_pb2
from ai4vc.config.v1 import config_service_pb2
from ai4vc.dashboard.v1 import dashboard_service_pb2
from ai4vc.metrics.v1 import metrics_service_pb2
from ai4vc.nmt.v1 import nmt_service_pb2
from ai4vc.pipeline.v1 import pipeline_service_pb2
from ai4vc.telemetry.v1 import telemetry_service_pb2
from ai4vc.tts.v1 import tts_service_pb2
from riva.proto import riva_asr_pb2, riva_nmt_pb2, riva_tts_pb2
from services.common.rpc.identity import KEY_ID_HEADER, PRINCIPAL_HEADER, SCOPES_HEADER

pytestmark = pytest.mark.e2e

# mesh service name → the gRPC services it serves
SERVED = {
    "asr": [asr_service_pb2.DESCRIPTOR.services_by_name["AsrService"]],
    "tts": [tts_service_pb2.DESCRIPTOR.services_by_name["TtsService"]],
    "nmt": [nmt_service_pb2.DESCRIPTOR.services_by_name["NmtService"]],
    "pipeline": [pipeline_service_pb2.DESCRIPTOR.services_by_name["PipelineService"]],
    "riva": [riva_asr_pb2.DESCRIPTOR.services_by_name["RivaSpeechRecognition"],
             riva_tts_pb2.DESCRIPTOR.services_by_name["RivaSpeechSynthesis"],
             riva_nmt_pb2.DESCRIPTOR.services_by_name["RivaTranslation"]],
    "auth": [auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"]],
    "config": [config_service_pb2.DESCRIPTOR.services_by_name["ConfigService"]],
    "metrics": [metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"]],
    "alerting": [alerting_service_pb2.DESCRIPTOR.services_by_name["AlertingService"]],
    "dashboard": [dashboard_service_pb2.DESCRIPTOR.services_by_name["DashboardService"]],
    "telemetry": [telemetry_service_pb2.DESCRIPTOR.services_by_name["TelemetryService"],
                  trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"],
                  logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"]],
}
METHODS = [(name, method) for name, services in SERVED.items() for service in services for method in service.methods]
EXAMPLES = int(os.environ.get("AI4VC_HOSTILE_EXAMPLES", "30"))
RANDOM = os.environ.get("AI4VC_HOSTILE_RANDOM") == "1"
MAX_DEPTH = 4
FORBIDDEN = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def _wav() -> bytes:
    buffer = io.BytesIO()
    noise = (np.random.default_rng(7).standard_normal(4000) * 0.1).astype(np.float32)
    soundfile.write(buffer, noise, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# Values that reach past the first checks (real codes, real audio) beside hostile ones.
TEXT = st.one_of(
    st.sampled_from(["", "hi", "en", "ur", "ta", "hi-IN", "hi-Latn", "en-US", "und", "nmt", "tts", "asr", "admin",
                     "भारत एक विशाल देश है।", "یہ کتاب ہے", "namaste", "a\x00b", "\x00", "\u202e\u200b",
                     "x" * 5000, "<speak>नमस्ते <break time=\"99999s\"/></speak>",
                     "<speak>" + "<prosody rate=\"fast\">" * 300 + "hi" + "</prosody>" * 300 + "</speak>",
                     "<speak><!DOCTYPE x [<!ENTITY a \"aaaa\">]>&a;&a;</speak>", "ai4vc_0123456789abcdef_00",
                     "Bearer x.y.z", "-1", "1e309", "../../etc/passwd", "%s%n", "\ufeff", "\U0001f600" * 50]),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1f), max_size=8),
)
BYTES = st.one_of(st.binary(max_size=512), st.sampled_from([b"", _wav(), b"RIFF" + b"\xff" * 60, b"\x00" * 64000]))
INT32 = st.one_of(st.integers(-3, 50), st.sampled_from([8000, 16000, 22050, 48000, 96000, 2**31 - 1, -(2**31)]),
                  st.integers(-(2**31), 2**31 - 1))
INT64 = st.one_of(INT32, st.sampled_from([2**63 - 1, -(2**63)]))
UINT32 = st.one_of(st.integers(0, 50), st.sampled_from([2**32 - 1]))
UINT64 = st.one_of(UINT32, st.sampled_from([2**64 - 1]))
FLOAT = st.one_of(st.floats(-5, 5), st.floats(allow_nan=True, allow_infinity=True, width=32))
DOUBLE = st.one_of(st.floats(-5, 5), st.floats(allow_nan=True, allow_infinity=True))
T = FieldDescriptor
SCALARS: dict[int, st.SearchStrategy[Any]] = {
    T.TYPE_STRING: TEXT, T.TYPE_BYTES: BYTES, T.TYPE_BOOL: st.booleans(),
    T.TYPE_INT32: INT32, T.TYPE_SINT32: INT32, T.TYPE_SFIXED32: INT32,
    T.TYPE_INT64: INT64, T.TYPE_SINT64: INT64, T.TYPE_SFIXED64: INT64,
    T.TYPE_UINT32: UINT32, T.TYPE_FIXED32: UINT32, T.TYPE_UINT64: UINT64, T.TYPE_FIXED64: UINT64,
    T.TYPE_FLOAT: FLOAT, T.TYPE_DOUBLE: DOUBLE,
}


def _enum(field: FieldDescriptor) -> st.SearchStrategy[int]:
    defined = [v.number for v in field.enum_type.values]
    return st.one_of(st.sampled_from(defined), st.integers(-5, 2**31 - 1))


def _value(draw: st.DrawFn, field: FieldDescriptor, depth: int) -> Any:
    if field.type == T.TYPE_MESSAGE:
        return draw(messages(field.message_type, depth + 1))
    if field.type == T.TYPE_ENUM:
        return draw(_enum(field))
    return draw(SCALARS[field.type])


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Any:
    """A message of `descriptor` with a random subset of its fields set to random values."""
    message = message_factory.GetMessageClass(descriptor)()
    if depth > MAX_DEPTH:
        return message
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        target = getattr(message, field.name)
        if field.type == T.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name
            key_field, value_field = entry["key"], entry["value"]
            for _ in range(draw(st.integers(0, 3))):
                key = _value(draw, key_field, depth)
                if value_field.type == T.TYPE_MESSAGE:
                    target[key].CopyFrom(_value(draw, value_field, depth))
                else:
                    target[key] = _value(draw, value_field, depth)
        elif field.label == T.LABEL_REPEATED:
            count = draw(st.sampled_from([0, 1, 2, 3, 300]))
            count = min(count, 3) if depth else count  # long lists only at the top
            items = [_value(draw, field, depth) for _ in range(count if count < 300 else 1)]
            if count == 300:
                items *= 300
            if field.type == T.TYPE_MESSAGE:
                for item in items:
                    target.add().CopyFrom(item)
            else:
                target.extend(items)
        elif field.type == T.TYPE_MESSAGE:
            target.CopyFrom(_value(draw, field, depth))
        else:
            setattr(message, field.name, _value(draw, field, depth))
    return message


def _wire_string_field(descriptor: Descriptor) -> bytes:
    """A string field of `descriptor` holding bytes that are not UTF-8, encoded by hand (the
    protobuf library refuses to write such a message)."""
    for field in descriptor.fields:
        if field.type == T.TYPE_STRING:
            return _varint((field.number << 3) | 2) + b"\x03\xed\xa0\x80"  # a lone surrogate, CESU-style
    return b"\xff\xff\xff"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@st.composite
def wire_messages(draw: st.DrawFn, descriptor: Descriptor) -> bytes:
    raw = draw(messages(descriptor)).SerializeToString()
    tail = draw(st.sampled_from(["", "", "", "not-utf8", "garbage"]))
    if tail == "not-utf8":
        raw += _wire_string_field(descriptor)
    elif tail == "garbage":
        raw += draw(st.binary(min_size=1, max_size=16))
    return raw


IDENTITY = st.sampled_from([
    (),
    ((PRINCIPAL_HEADER, "admin"), (SCOPES_HEADER, "admin"), (KEY_ID_HEADER, "0123456789abcdef")),
    ((PRINCIPAL_HEADER, "someone"), (SCOPES_HEADER, "nmt tts asr pipeline")),
])


def _describe(method: MethodDescriptor, raw: bytes) -> str:
    try:
        decoded = message_factory.GetMessageClass(method.input_type).FromString(raw)
        return text_format.MessageToString(decoded, as_utf8=True)[:2000]
    except Exception:  # noqa: BLE001 - the point of some examples is that they do not parse
        return f"(undecodable) {raw[:200]!r}"


@pytest.fixture(scope="module")
def channels(mesh) -> Iterator[dict[str, grpc.Channel]]:  # type: ignore[no-untyped-def]
    opened = {name: grpc.insecure_channel(f"127.0.0.1:{mesh.ports.services[name]}") for name in SERVED}
    yield opened
    for channel in opened.values():
        channel.close()


def _call(channel: grpc.Channel, method: MethodDescriptor, requests: list[bytes],
          metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming and method.server_streaming:
            for _ in channel.stream_stream(path)(iter(requests), timeout=30, metadata=metadata):
                pass
        elif method.client_streaming:
            channel.stream_unary(path)(iter(requests), timeout=30, metadata=metadata)
        elif method.server_streaming:
            for _ in channel.unary_stream(path)(requests[0], timeout=30, metadata=metadata):
                pass
        else:
            channel.unary_unary(path)(requests[0], timeout=30, metadata=metadata)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return,attr-defined]
    return grpc.StatusCode.OK


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("service", "method"), METHODS,
                         ids=[f"{m.containing_service.name}.{m.name}" for _, m in METHODS])
def test_no_request_is_an_internal_error(channels, service: str, method: MethodDescriptor) -> None:  # type: ignore[no-untyped-def]
    """Random and hostile requests get a status other than INTERNAL/UNKNOWN, and the service
    stays SERVING."""
    channel = channels[service]
    count = st.integers(1, 4) if method.client_streaming else st.just(1)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(requests=count.flatmap(lambda n: st.lists(wire_messages(method.input_type), min_size=n, max_size=n)),
           metadata=IDENTITY)
    def check(requests: list[bytes], metadata: tuple[tuple[str, str], ...]) -> None:
        code = _call(channel, method, requests, metadata)
        assert code not in FORBIDDEN, (
            f"{method.full_name} answered {code.name} to:\n" + "\n---\n".join(_describe(method, r) for r in requests))

    check()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("body", [
    b'{"contents": ["\xff\xfe"], "targetLanguageCode": "hi"}',             # not UTF-8
    b'{"contents": ["a\\u0000b"], "targetLanguageCode": "hi"}',            # NUL, escaped
    b'{"contents": ["\\ud800"], "targetLanguageCode": "hi"}',              # a lone surrogate
    b'{"contents": "not a list", "targetLanguageCode": "hi"}',             # wrong JSON type
    b'{"contents": [' + b'[' * 200 + b']' * 200 + b']}',                   # deeply nested
    b'{"targetLanguageCode": "hi", "model": 1e999}',                       # out-of-range number
], ids=["not-utf8", "nul", "lone-surrogate", "wrong-type", "nested", "huge-number"])
def test_rest_bodies_that_are_not_valid_requests_get_400(mesh, body: bytes) -> None:
    """Through Envoy's transcoder, JSON that cannot be the request is 400 with a JSON status body,
    never a 5xx: from the transcoder itself (reason MALFORMED_MESSAGE, what it could not parse) or
    from the service (the service's reason)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}/v1/text:translate", method="POST", data=body,
        headers={"content-type": "application/json", "x-api-key": mesh.admin_key()})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    text = refused.value.read()
    assert refused.value.code == 400, text
    assert refused.value.headers.get("content-type", "").startswith("application/json"), text
    answer = json.loads(text)
    assert answer["code"] == 3 and answer["message"] and answer["details"][0]["reason"]
