"""The WebSocket bridge's frame mapping, without sockets: control frames, audio splitting,
error frames and close codes, forwarded headers, and the edge policy for /v1/ws/*."""

from __future__ import annotations

import json

import grpc
import pytest
from websockets.datastructures import Headers

from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from gateway import policy
from gateway.ws import protocol as proto
from gateway.ws.bridge import forwarded_metadata
from services.common.errors import InvalidArgument, Reason, Unavailable

ASR, TTS, S2S = (proto.ROUTES[p] for p in ("/v1/ws/asr", "/v1/ws/tts", "/v1/ws/speech-to-speech"))


def test_data_frames_map_onto_the_stream_or_are_refused():
    """Binary is audio (32 KB at most), {"text"} is TTS text, {"event": "end"} half-closes; the rest is refused."""
    assert proto.parse_data(ASR, b"\x01\x02").audio == b"\x01\x02"
    assert proto.parse_data(TTS, json.dumps({"text": "नमस्ते"})).text == "नमस्ते"
    assert proto.parse_data(ASR, '{"event": "end"}') is proto.END
    for route, frame, reason in [(ASR, bytes(32_769), "AUDIO_CHUNK_TOO_LARGE"), (TTS, b"x", "UNEXPECTED_FRAME"),
                                 (ASR, '{"text": "x"}', "UNEXPECTED_FRAME"), (TTS, '{"config": {}}',
                                                                              "STREAM_CONFIG_REPEATED"),
                                 (TTS, "[1]", "INVALID_JSON")]:
        with pytest.raises(proto.FrameError) as caught:
            proto.parse_data(route, frame)
        assert caught.value.reason == reason


def test_audio_responses_become_a_metadata_frame_then_binary():
    """A TTS response's bytes go out as a binary frame after a JSON frame of its other fields."""
    response = tts_pb.BidiStreamingSynthesizeResponse(audio_content=b"\x01\x02", voice_name="hi-female")
    frames = proto.response_frames(TTS, response)
    assert json.loads(frames[0]) == {"voiceName": "hi-female"} and frames[1] == b"\x01\x02"
    assert response.audio_content == b"\x01\x02"  # the caller's message is untouched
    if S2S.request_cls is not None:
        from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipeline_pb

        chunk = pipeline_pb.StreamingSpeechToSpeechResponse(
            utterance_index=1, audio=pipeline_pb.SynthesizedAudioChunk(audio_content=b"\x03", voice_name="v"))
        frames = proto.response_frames(S2S, chunk)
        assert json.loads(frames[0]) == {"utteranceIndex": 1, "audio": {"voiceName": "v"}} and frames[1] == b"\x03"


def test_error_frames_and_close_codes():
    """Client errors close 1008, server errors 1011; the frame carries the code name and ErrorInfo."""
    bad = proto.status_of_domain(InvalidArgument("no", reason=Reason.INVALID_JSON), "rid")
    frame = json.loads(proto.error_frame(bad))["error"]
    assert frame["code"] == "INVALID_ARGUMENT" and frame["details"][0]["reason"] == "INVALID_JSON"
    assert frame["details"][0]["metadata"]["request_id"] == "rid"
    assert proto.close_code(bad) == 1008
    assert proto.close_code(proto.status_of_domain(Unavailable("down"), "")) == 1011
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in proto.CLIENT_CODES


def test_identity_and_trace_headers_are_forwarded_and_nothing_else():
    """Identity, request id and trace headers become metadata; other headers and non-ASCII values don't."""
    headers = Headers([("X-AI4VC-Principal", "user:1"), ("x-ai4vc-scopes", "asr"), ("traceparent", "00-ab"),
                       ("x-api-key", "secret"), ("x-request-id", "ré"), ("cookie", "c")])
    assert forwarded_metadata(headers) == [("x-ai4vc-principal", "user:1"), ("x-ai4vc-scopes", "asr"),
                                           ("traceparent", "00-ab")]


def test_websocket_paths_need_their_service_scope():
    """/v1/ws/asr needs asr, /v1/ws/tts tts, /v1/ws/speech-to-speech pipeline; other /v1/ws paths are denied."""
    assert policy.rule_for("/v1/ws/asr?x=1") == policy.Rule(policy.Access.SCOPE, "asr")
    assert policy.rule_for("/v1/ws/tts").allows(frozenset({"tts"}))
    assert not policy.rule_for("/v1/ws/speech-to-speech").allows(frozenset({"asr", "tts"}))
    assert policy.rule_for("/v1/ws/speech-to-speech").allows(frozenset({"pipeline"}))
    assert policy.rule_for("/v1/ws/other").access is policy.Access.DENY
