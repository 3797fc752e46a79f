"""The WebSocket bridge's message protocol, without sockets or channels: which gRPC stream each
`/v1/ws/*` path maps to, how client frames become request messages, how response messages
become frames, and how a `google.rpc.Status` becomes the closing error frame.

Client → bridge: a first text frame `{"config": {...}}` (the RPC's streaming config in proto3
JSON), then binary audio frames (asr, speech-to-speech) or `{"text": "..."}` frames (tts), and
`{"event": "end"}` to half-close. Bridge → client: responses as JSON text frames, audio bytes as
binary frames (each preceded by a JSON frame of the response's other fields when it has any),
then `{"event": "done"}` and close 1000, or `{"error": {...}}` and close 1008 / 1011.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format, message
from google.rpc import error_details_pb2, status_pb2  # noqa: F401 - registers the detail types for JSON

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.errors import DomainError, InvalidArgument, Reason
from services.common.rpc.interceptors import status_for

try:  # the pipeline service is newer than the bridge; without it its route answers UNIMPLEMENTED
    from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipeline_pb
    from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pipeline_grpc
except ImportError:  # pragma: no cover - depends on the generated code present
    pipeline_pb = None  # type: ignore[assignment]
    pipeline_grpc = None  # type: ignore[assignment]

# Per-message audio limit of StreamingRecognizeRequest.audio and
# StreamingSpeechToSpeechRequest.audio ("at most 32 KB (32,768 bytes)").
# The sub-protocol browsers offer (beside their credential, see gateway/edge/guard.lua) and we select.
WS_PROTOCOL = "ai4vc.v1"
MAX_AUDIO_CHUNK_BYTES = 32_768

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # the client's fault: bad frames, bad config, auth, quota
CLOSE_SERVER_ERROR = 1011  # ours or a backend's

# gRPC codes that mean the caller must change something before trying again.
CLIENT_CODES = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED,
})
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class FrameError(InvalidArgument):
    """A client frame the protocol does not allow; ends the session with 1008."""


@dataclasses.dataclass(frozen=True)
class Route:
    """One WebSocket path and the bidirectional gRPC stream behind it."""

    name: str  # also the settings field prefix: `<name>_target`
    path: str
    method: Callable[[grpc.aio.Channel], Any] | None  # channel -> stream-stream multicallable
    request_cls: type[message.Message] | None
    config_cls: type[message.Message] | None
    client_sends: str  # "audio": binary frames; "text": {"text": ...} frames
    audio_field: tuple[str, ...] = ()  # path to the response's audio bytes, sent as binary frames

    def config_request(self, config: message.Message) -> message.Message:
        assert self.request_cls is not None
        return self.request_cls(streaming_config=config)

    def data_request(self, data: bytes | str) -> message.Message:
        assert self.request_cls is not None
        if self.client_sends == "audio":
            return self.request_cls(audio=data)
        return self.request_cls(text=data)


ROUTES: dict[str, Route] = {
    "/v1/ws/asr": Route(
        "asr", "/v1/ws/asr", lambda ch: asr_grpc.AsrServiceStub(ch).StreamingRecognize,
        asr_pb.StreamingRecognizeRequest, asr_pb.StreamingRecognitionConfig, "audio"),
    "/v1/ws/tts": Route(
        "tts", "/v1/ws/tts", lambda ch: tts_grpc.TtsServiceStub(ch).BidiStreamingSynthesize,
        tts_pb.BidiStreamingSynthesizeRequest, tts_pb.StreamingSynthesisConfig, "text", ("audio_content",)),
    "/v1/ws/speech-to-speech": Route(
        "pipeline", "/v1/ws/speech-to-speech",
        (lambda ch: pipeline_grpc.PipelineServiceStub(ch).StreamingSpeechToSpeech) if pipeline_grpc else None,
        pipeline_pb.StreamingSpeechToSpeechRequest if pipeline_pb else None,
        pipeline_pb.StreamingSpeechToSpeechConfig if pipeline_pb else None,
        "audio", ("audio", "audio_content")),
}


def route_for(path: str) -> Route | None:
    return ROUTES.get(path.split("?", 1)[0])


def _control(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes):
        raise FrameError("expected a JSON text frame, got a binary frame", reason=Reason.STREAM_CONFIG_MISSING)
    try:
        value = json.loads(frame)
    except ValueError as exc:
        raise FrameError(f"text frame is not JSON: {exc}", reason=Reason.INVALID_JSON) from None
    if not isinstance(value, dict):
        raise FrameError("a control frame must be a JSON object", reason=Reason.INVALID_JSON)
    return value


def parse_config(route: Route, frame: str | bytes) -> message.Message:
    """The first frame, `{"config": {...}}`, as the route's streaming config message."""
    value = _control(frame)
    if set(value) != {"config"} or not isinstance(value["config"], dict):
        raise FrameError('the first frame must be {"config": {...}} and nothing else',
                         reason=Reason.STREAM_CONFIG_MISSING, field="config")
    assert route.config_cls is not None
    try:
        return json_format.ParseDict(value["config"], route.config_cls())
    except json_format.ParseError as exc:
        raise FrameError(f"config: {exc}", reason=Reason.INVALID_CONFIG, field="config") from None


END = object()  # the client half-closed


def parse_data(route: Route, frame: str | bytes) -> message.Message | object:
    """A frame after the config: a request message, or `END` for `{"event": "end"}`."""
    if isinstance(frame, bytes):
        if route.client_sends != "audio":
            raise FrameError('this endpoint takes {"text": "..."} text frames, not binary frames',
                             reason=Reason.UNEXPECTED_FRAME)
        if len(frame) > MAX_AUDIO_CHUNK_BYTES:
            raise FrameError(f"audio frame of {len(frame)} bytes is above {MAX_AUDIO_CHUNK_BYTES}",
                             reason=Reason.AUDIO_CHUNK_TOO_LARGE, field="audio")
        return route.data_request(frame)
    value = _control(frame)
    if value == {"event": "end"}:
        return END
    if "config" in value:
        raise FrameError("config was already sent", reason=Reason.STREAM_CONFIG_REPEATED, field="config")
    if route.client_sends == "text" and set(value) == {"text"} and isinstance(value["text"], str):
        return route.data_request(value["text"])
    allowed = '{"text": "..."} or {"event": "end"}' if route.client_sends == "text" else '{"event": "end"}'
    raise FrameError(f"unknown control frame: expected {allowed}", reason=Reason.UNEXPECTED_FRAME)


def response_frames(route: Route, response: message.Message) -> list[str | bytes]:
    """What one response message is sent as: its non-audio fields as a JSON text frame (if
    any are set), then its audio bytes as a binary frame (if any)."""
    audio = b""
    if route.audio_field:
        *parents, leaf = route.audio_field
        holder = response
        for name in parents:
            holder = getattr(holder, name) if holder.HasField(name) else None  # type: ignore[assignment]
            if holder is None:
                break
        if holder is not None and getattr(holder, leaf):
            response = type(response).FromString(response.SerializeToString())  # don't mutate the caller's
            holder = response
            for name in parents:
                holder = getattr(holder, name)
            audio = getattr(holder, leaf)
            holder.ClearField(leaf)
    frames: list[str | bytes] = []
    if response.ListFields() or not audio:
        frames.append(json_format.MessageToJson(response, indent=None, ensure_ascii=False))
    if audio:
        frames.append(audio)
    return frames


def error_frame(status: status_pb2.Status) -> str:
    """`{"error": {"code": "INVALID_ARGUMENT", "message": ..., "details": [...]}}`."""
    details = [json_format.MessageToDict(detail) for detail in status.details]
    return json.dumps({"error": {"code": error_code_name(status), "message": status.message, "details": details}},
                      ensure_ascii=False)


def error_code_name(status: status_pb2.Status) -> str:
    return _BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN).name


def close_code(status: status_pb2.Status) -> int:
    return CLOSE_POLICY if _BY_NUMBER.get(status.code) in CLIENT_CODES else CLOSE_SERVER_ERROR


def status_of_domain(err: DomainError, request_id: str) -> status_pb2.Status:
    return status_for(err, request_id)


def status_of_call(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status a failed call carries, or a plain one built from its code and details."""
    from grpc_status import rpc_status

    try:
        rich = rpc_status.from_call(err)  # type: ignore[arg-type]
    except ValueError:  # code/message disagree with the details: trust the call
        rich = None
    if rich is not None:
        return rich
    return status_pb2.Status(code=err.code().value[0], message=err.details() or "")
