"""Pipeline logic without servers: chain checking, field renaming, downstream error mapping, retries."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from services.common.errors import InvalidArgument, Unavailable
from services.pipeline import plan
from services.pipeline.clients import GrpcBackends, downstream_error
from services.pipeline.core import CallContext, field_map
from services.pipeline.servicer import call_context
from services.pipeline.settings import PipelineSettings


def request(*tasks: pb.PipelineTask, text: str = "नमस्ते", language: str = "hi") -> pb.RunPipelineRequest:
    return pb.RunPipelineRequest(tasks=tasks, input=pb.PipelineInput(text=pb.TextInput(text=text,
                                                                                      language_code=language)))


def nmt(target: str, source: str = "") -> pb.PipelineTask:
    return pb.PipelineTask(translation=pb.TranslationConfig(source_language_code=source, target_language_code=target))


def tts(language: str) -> pb.PipelineTask:
    return pb.PipelineTask(tts=pb.SynthesisConfig(voice=tts_pb.VoiceSelectionParams(language_code=language)))


def test_region_subtags_are_ignored_but_scripts_count():
    """hi-IN and hi are one language; hi-Latn is not hi."""
    assert plan.same_language("hi-IN", "hi") and plan.same_language("EN_us", "en")
    assert not plan.same_language("hi-Latn", "hi") and plan.base_language("hi-Latn-IN") == "hi-latn"


def test_languages_flow_through_the_chain():
    """A translation inherits its source from the input; TTS after it receives the target language."""
    steps = plan.check(request(nmt("ur"), tts("ur-PK")), max_tasks=8)
    assert [(s.kind, s.language) for s in steps] == [("translation", "hi"), ("tts", "ur")]


def test_tts_then_asr_type_checks():
    """Text → TTS → audio → ASR is a valid chain (a round trip)."""
    chain = request(tts("en"), pb.PipelineTask(asr=asr_pb.RecognitionConfig(language_code="en")), text="hello",
                    language="en")
    steps = plan.check(chain, 8)
    assert [s.kind for s in steps] == ["tts", "asr"]


@pytest.mark.parametrize(("tasks", "reason", "field"), [
    ((nmt("ur"),) * 9, "INVALID_PIPELINE", "tasks"),
    ((tts("hi"), tts("hi")), "INVALID_PIPELINE", "tasks[1]"),
    ((nmt(""),), "FIELD_REQUIRED", "tasks[0].translation.target_language_code"),
    ((tts(""),), "FIELD_REQUIRED", "tasks[0].tts.voice.language_code"),
    ((nmt("ur"), nmt("hi"), tts("ur")), "LANGUAGE_MISMATCH", "tasks[2].tts.voice.language_code"),
])
def test_bad_chains(tasks, reason, field):
    """Each broken chain names its reason and the offending task's field."""
    with pytest.raises(InvalidArgument) as caught:
        plan.check(request(*tasks), max_tasks=8)
    assert caught.value.reason == reason and caught.value.field == field


def test_field_map_moves_known_fields_and_folds_others():
    """Config fields move under the task; fields of the text the pipeline passed on name the task."""
    rename = field_map({"voice": "tasks[1].tts.voice"}, "tasks[1]")
    assert rename("voice.name") == "tasks[1].tts.voice.name"
    assert rename("voice") == "tasks[1].tts.voice"
    assert rename("voices") == "tasks[1]" and rename("input.text") == "tasks[1]"


def rpc_error(code: grpc.StatusCode, reason: str = "", **metadata: str) -> grpc.aio.AioRpcError:
    trailing = grpc.aio.Metadata()
    if reason:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="ai4vc", metadata=metadata))
        status = status_pb2.Status(code=code.value[0], message="bad", details=[info])
        trailing.add("grpc-status-details-bin", status.SerializeToString())
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details="bad")


def test_downstream_error_keeps_code_and_reason_and_prefixes_field():
    """INVALID_ARGUMENT from NMT stays INVALID_ARGUMENT with its reason; the field names the task."""
    exc = rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "UNSUPPORTED_LANGUAGE_PAIR", field="target_language_code",
                    request_id="abc")
    err = downstream_error(exc, "nmt", field_map({"target_language_code": "tasks[1].translation.target_language_code"},
                                                 "tasks[1]"))
    assert isinstance(err, InvalidArgument) and err.reason == "UNSUPPORTED_LANGUAGE_PAIR"
    assert err.field == "tasks[1].translation.target_language_code"
    assert err.metadata["downstream_field"] == "target_language_code" and "request_id" not in err.metadata


def test_unreachable_service_is_backend_unavailable():
    """A bare UNAVAILABLE (no rich status: nothing answered) becomes BACKEND_UNAVAILABLE with a retry hint."""
    err = downstream_error(rpc_error(grpc.StatusCode.UNAVAILABLE), "tts", field_map({}, "tasks[0]"))
    assert isinstance(err, Unavailable) and err.reason == "BACKEND_UNAVAILABLE" and err.retry_after_s
    out_of_range = downstream_error(rpc_error(grpc.StatusCode.OUT_OF_RANGE, "STREAM_TOO_LONG"), "asr",
                                    field_map({}, "audio"))
    assert int(out_of_range.code) == grpc.StatusCode.OUT_OF_RANGE.value[0] and out_of_range.reason == "STREAM_TOO_LONG"


async def test_unary_calls_retry_unavailable_only():
    """UNAVAILABLE is retried up to retry_max_attempts; INVALID_ARGUMENT is not retried."""
    backends = GrpcBackends(PipelineSettings(retry_max_attempts=3, retry_initial_backoff_s=0.001, asr_target="",
                                             nmt_target="", tts_target=""))
    calls = []

    def failing(code: grpc.StatusCode, succeed_on: int):
        async def method(request, **kwargs):
            calls.append((kwargs["timeout"], kwargs["metadata"]))
            if len(calls) < succeed_on:
                raise rpc_error(code)
            return "ok"
        return method

    call = CallContext(metadata=(("x-request-id", "r1"),))
    assert await backends._unary("nmt", failing(grpc.StatusCode.UNAVAILABLE, 3), None, call, field_map({}, "")) == "ok"
    assert len(calls) == 3 and calls[0][1] == (("x-request-id", "r1"),)
    calls.clear()
    with pytest.raises(Unavailable):
        await backends._unary("nmt", failing(grpc.StatusCode.UNAVAILABLE, 99), None, call, field_map({}, ""))
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(InvalidArgument):
        await backends._unary("nmt", failing(grpc.StatusCode.INVALID_ARGUMENT, 99), None, call, field_map({}, ""))
    assert len(calls) == 1
    await backends.close()


class _Context:
    def invocation_metadata(self):
        return (("x-request-id", "ignored"), ("traceparent", "00-abc-def-01"), ("x-ai4vc-principal", "p1"),
                ("authorization", "Bearer secret"), ("x-ai4vc-scopes-bin", b"x"))

    def time_remaining(self):
        return 5.0


def test_call_context_forwards_trace_and_identity_only():
    """Downstream calls carry the settled request id, traceparent and identity, not other headers; deadline set."""
    from services.common.logs import request_id_var

    request_id_var.set("settled-id")
    call = call_context(_Context())  # type: ignore[arg-type]
    assert call.metadata == (("x-request-id", "settled-id"), ("traceparent", "00-abc-def-01"),
                             ("x-ai4vc-principal", "p1"))
    assert call.deadline is not None and call.timeout(60.0) <= 5.0
