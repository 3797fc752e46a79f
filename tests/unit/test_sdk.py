"""The Python SDK's own logic: backoff and which calls retry, error details as the servers encode
them (services/common/rpc/interceptors.status_for), SRT/WebVTT, every RPC declared for both clients,
and the client's retries, refresh and metadata against a stand-in server (a real gRPC server on a
free port whose NmtService/AuthService handlers fail on purpose — named a stand-in, not the service)."""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent import futures

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from grpc_status import rpc_status

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.sdk import AsyncClient, Client, Jwt, RetryPolicy, errors, services, subtitles
from ai4vc.sdk.retry import NON_IDEMPOTENT, idempotent
from services.common.errors import InvalidArgument, Reason, ResourceExhausted
from services.common.rpc.interceptors import status_for

# --- retry policy ---------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling():
    """Attempt n waits within [0, min(max, initial·2^n)], and the ceiling stops at max_backoff."""
    policy = RetryPolicy(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0)
    rng = random.Random(7)
    for attempt, cap in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # jitter spans the range, not a fixed delay
    assert policy.backoff(0, rng, server_delay=0.7) >= 0.7  # RetryInfo is honoured…
    assert policy.backoff(0, rng, server_delay=60) <= 1.0  # …but never beyond max_backoff


def test_only_unavailable_on_idempotent_methods_is_retried_within_the_attempt_budget():
    """UNAVAILABLE on a read or inference retries; on a write, or any other code, it does not."""
    policy = RetryPolicy(max_attempts=3)
    read = "/ai4vc.nmt.v1.NmtService/TranslateText"
    assert policy.should_retry(read, grpc.StatusCode.UNAVAILABLE, 0)
    assert policy.should_retry(read, grpc.StatusCode.UNAVAILABLE, 1)
    assert not policy.should_retry(read, grpc.StatusCode.UNAVAILABLE, 2)
    assert not policy.should_retry(read, grpc.StatusCode.INTERNAL, 0)
    assert not policy.should_retry(read, grpc.StatusCode.DEADLINE_EXCEEDED, 0)
    assert not policy.should_retry("/ai4vc.auth.v1.AuthService/CreateApiKey", grpc.StatusCode.UNAVAILABLE, 0)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_non_idempotent_set_names_real_methods_and_every_write():
    """Every name in NON_IDEMPOTENT is a declared RPC; every auth and config write is in it."""
    paths = {m.path for cls in services.ALL for m in vars(cls).values() if isinstance(m, services.Method)}
    assert NON_IDEMPOTENT <= paths
    for path in paths:
        writes = any(w in path for w in ("/Create", "/Revoke", "/Rotate", "/Set", "/Delete", "/Rollback"))
        if writes:
            assert not idempotent(path), path


# --- errors ---------------------------------------------------------------------------------------


def _trailers(status) -> tuple:
    return tuple(rpc_status.to_status(status).trailing_metadata)


def test_invalid_argument_carries_reason_and_field_violation_as_the_server_sends_them():
    """A server InvalidArgument becomes sdk.InvalidArgument with its ErrorInfo and BadRequest field."""
    sent = InvalidArgument("bad language code", field="source_language_code", reason=Reason.UNSUPPORTED_LANGUAGE)
    error = errors.from_status(grpc.StatusCode.INVALID_ARGUMENT, "ignored", _trailers(status_for(sent, "rid-1")))
    assert isinstance(error, errors.InvalidArgument)
    assert error.reason == "UNSUPPORTED_LANGUAGE" and error.domain and error.metadata["request_id"] == "rid-1"
    assert error.field_violations == [errors.FieldViolation("source_language_code", "bad language code", "")]
    assert "source_language_code" in str(error) and error.message == "bad language code"


def test_resource_exhausted_carries_retry_info():
    """RetryInfo's delay reaches the exception as seconds."""
    sent = ResourceExhausted("slow down", reason=Reason.RATE_LIMITED, retry_after_s=1.5)
    error = errors.from_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "", _trailers(status_for(sent, "")))
    assert isinstance(error, errors.ResourceExhausted) and error.retry_delay == pytest.approx(1.5)
    assert error.reason == "RATE_LIMITED"


def test_error_without_or_with_broken_details_keeps_code_and_message():
    """No trailer, or a malformed one, still gives the typed error with the transport's message."""
    plain = errors.from_status(grpc.StatusCode.UNAUTHENTICATED, "Jwt is missing", ())
    assert isinstance(plain, errors.Unauthenticated) and plain.reason == "" and plain.message == "Jwt is missing"
    broken = errors.from_status(grpc.StatusCode.UNAVAILABLE, "down", ((errors.STATUS_DETAILS_KEY, b"\xff\x00"),))
    assert isinstance(broken, errors.Unavailable) and broken.message == "down"
    assert errors.error_class(grpc.StatusCode.DATA_LOSS) is errors.Ai4vcError


# --- subtitles ------------------------------------------------------------------------------------


def _d(seconds: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def _result(text: str, end: float, words: list[tuple[str, float, float]] = ()) -> asr_pb.SpeechRecognitionResult:
    return asr_pb.SpeechRecognitionResult(result_end_offset=_d(end), alternatives=[
        asr_pb.SpeechRecognitionAlternative(transcript=text, words=[
            asr_pb.WordInfo(word=w, start_offset=_d(s), end_offset=_d(e)) for w, s, e in words])])


def test_timestamps_in_srt_and_vtt_forms():
    """SRT uses a comma before milliseconds, WebVTT a dot; hours roll over."""
    assert subtitles.timestamp(3723.456) == "01:02:03,456"
    assert subtitles.timestamp(59.9996, ".") == "00:01:00.000"
    assert subtitles.timestamp(-1) == "00:00:00,000"


def test_srt_and_vtt_from_results_with_and_without_word_offsets():
    """A result without words is one cue from the previous end; word offsets give exact cue times."""
    results = [_result("good morning", 1.5), _result("how are you", 3.0, [("how", 1.8, 2.0), ("are", 2.0, 2.3),
                                                                          ("you", 2.3, 2.9)])]
    assert subtitles.srt(subtitles.cues_from_results(results)) == (
        "1\n00:00:00,000 --> 00:00:01,500\ngood morning\n\n"
        "2\n00:00:01,800 --> 00:00:02,900\nhow are you\n")
    assert subtitles.webvtt(subtitles.cues_from_results(results)) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\ngood morning\n\n00:00:01.800 --> 00:00:02.900\nhow are you\n")


def test_long_results_split_into_readable_cues():
    """More than MAX_CUE_WORDS words (or seconds) split into several cues, in order, none empty."""
    words = [(f"w{i}", i * 0.4, i * 0.4 + 0.3) for i in range(30)]
    cues = subtitles.cues_from_results([_result(" ".join(w for w, _, _ in words), 12.0, words)])
    assert len(cues) >= 3 and all(c.text for c in cues)
    assert all(len(c.text.split()) <= subtitles.MAX_CUE_WORDS for c in cues)
    assert [c.start for c in cues] == sorted(c.start for c in cues)


# --- every RPC is declared ------------------------------------------------------------------------


def test_every_rpc_of_every_public_service_is_declared_with_its_types_for_both_clients():
    """Each method in the protos' descriptors has a typed declaration, bound for sync and async."""
    from google.protobuf import descriptor_pool

    kinds = {(False, False): "unary", (False, True): "server_stream", (True, True): "bidi_stream"}
    for cls in services.ALL:
        descriptor = descriptor_pool.Default().FindServiceByName(cls.SERVICE)
        declared = {m.name: m for m in vars(cls).values() if isinstance(m, services.Method)}
        assert set(declared) == {m.name for m in descriptor.methods}, cls.SERVICE
        for method in descriptor.methods:
            ours = declared[method.name]
            assert ours.request.DESCRIPTOR.full_name == method.input_type.full_name
            assert ours.response.DESCRIPTOR.full_name == method.output_type.full_name
            assert ours.kind == kinds[(method.client_streaming, method.server_streaming)]
    client = Client("127.0.0.1:9", api_key="k")
    assert isinstance(client.nmt.translate_text, services.SyncUnaryCall)
    assert isinstance(client.tts.streaming_synthesize, services.SyncServerStreamCall)
    client.close()


# --- the client against a stand-in server ---------------------------------------------------------


class StandIn:
    """A real gRPC server on a free port: TranslateText fails UNAVAILABLE `fail` times, CreateApiKey
    always fails UNAVAILABLE, ListApiKeys wants a fresh bearer token, Refresh issues one."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.calls: dict[str, int] = {}
        self.metadata: list[dict[str, str]] = []
        self.lock = threading.Lock()
        handlers = {
            "TranslateText": self._translate, "CreateApiKey": self._create_key,
            "ListApiKeys": self._list_keys, "Refresh": self._refresh,
        }
        types = {"TranslateText": nmt_pb.TranslateTextRequest, "CreateApiKey": auth_pb.CreateApiKeyRequest,
                 "ListApiKeys": auth_pb.ListApiKeysRequest, "Refresh": auth_pb.RefreshRequest}
        nmt = grpc.method_handlers_generic_handler("ai4vc.nmt.v1.NmtService", {
            "TranslateText": grpc.unary_unary_rpc_method_handler(
                handlers["TranslateText"], request_deserializer=types["TranslateText"].FromString,
                response_serializer=lambda m: m.SerializeToString())})
        auth = grpc.method_handlers_generic_handler("ai4vc.auth.v1.AuthService", {
            name: grpc.unary_unary_rpc_method_handler(handlers[name], request_deserializer=types[name].FromString,
                                                      response_serializer=lambda m: m.SerializeToString())
            for name in ("CreateApiKey", "ListApiKeys", "Refresh")})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[nmt, auth])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _count(self, name: str, context: grpc.ServicerContext) -> int:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            self.metadata.append(dict(context.invocation_metadata()))
            return self.calls[name]

    def _translate(self, request, context):
        if self._count("TranslateText", context) <= self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "no healthy upstream")
        reversed_text = request.contents[0][::-1]
        return nmt_pb.TranslateTextResponse(translations=[nmt_pb.Translation(translated_text=reversed_text)])

    def _create_key(self, request, context):
        self._count("CreateApiKey", context)
        context.abort(grpc.StatusCode.UNAVAILABLE, "down")

    def _list_keys(self, request, context):
        self._count("ListApiKeys", context)
        if dict(context.invocation_metadata()).get("authorization") != "Bearer fresh":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Jwt is expired")
        return auth_pb.ListApiKeysResponse()

    def _refresh(self, request, context):
        self._count("Refresh", context)
        if request.refresh_token != "r1":
            context.abort_with_status(rpc_status.to_status(status_for(
                InvalidArgument("bad token", reason=Reason.INVALID_REFRESH_TOKEN), "")))
        expire = timestamp_pb2.Timestamp(seconds=4_000_000_000)
        return auth_pb.RefreshResponse(access_token="fresh", refresh_token="r2", access_token_expire_time=expire)

    def stop(self) -> None:
        self.server.stop(0)


@pytest.fixture
def stand_in():
    servers: list[StandIn] = []

    def make(fail: int = 0) -> StandIn:
        servers.append(StandIn(fail))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def test_sync_client_retries_unavailable_on_an_idempotent_call_and_sends_the_key(stand_in):
    """TranslateText failing UNAVAILABLE twice succeeds on the third attempt, x-api-key on each."""
    server = stand_in(fail=2)
    slept: list[float] = []
    with Client(f"127.0.0.1:{server.port}", api_key="k-123", sleep=slept.append) as client:
        assert client.translate("abc", source="hi", target="ur") == "cba"
    assert server.calls["TranslateText"] == 3 and len(slept) == 2
    assert all(m["x-api-key"] == "k-123" for m in server.metadata)


def test_sync_client_gives_up_after_max_attempts_and_never_retries_a_write(stand_in):
    """Four UNAVAILABLEs exhaust the default budget; CreateApiKey is sent once only."""
    server = stand_in(fail=100)
    with Client(f"127.0.0.1:{server.port}", api_key="k", sleep=lambda _: None) as client:
        with pytest.raises(errors.Unavailable) as caught:
            client.translate("abc", source="hi", target="ur")
        assert caught.value.method == "/ai4vc.nmt.v1.NmtService/TranslateText"
        with pytest.raises(errors.Unavailable):
            client.auth.create_api_key(auth_pb.CreateApiKeyRequest(display_name="x", scopes=["nmt"]))
    assert server.calls["TranslateText"] == 4 and server.calls["CreateApiKey"] == 1


def test_sync_client_refreshes_a_refused_jwt_once_and_keeps_the_rotated_refresh_token(stand_in):
    """UNAUTHENTICATED with a refreshable JWT → Refresh → the call again with the new token."""
    server = stand_in()
    jwt = Jwt("stale", refresh_token="r1")
    with Client(f"127.0.0.1:{server.port}", credential=jwt) as client:
        client.auth.list_api_keys(auth_pb.ListApiKeysRequest())
    assert server.calls == {"ListApiKeys": 2, "Refresh": 1}
    assert jwt.access_token == "fresh" and jwt.refresh_token == "r2" and jwt.expire_time == 4_000_000_000


def test_jwt_due_for_refresh_is_refreshed_before_the_call_and_a_bad_refresh_is_typed(stand_in):
    """A JWT inside its margin is refreshed first; a refused refresh token raises with its reason."""
    server = stand_in()
    with Client(f"127.0.0.1:{server.port}", credential=Jwt("stale", "r1", expire_time=1.0)) as client:
        client.auth.list_api_keys(auth_pb.ListApiKeysRequest())
    assert server.calls == {"Refresh": 1, "ListApiKeys": 1}
    with Client(f"127.0.0.1:{server.port}", credential=Jwt("stale", "wrong", expire_time=1.0)) as client:
        with pytest.raises(errors.InvalidArgument) as caught:
            client.auth.list_api_keys(auth_pb.ListApiKeysRequest())
    assert caught.value.reason == "INVALID_REFRESH_TOKEN"


def test_async_client_retries_like_the_sync_one(stand_in):
    """AsyncClient: two UNAVAILABLEs then success; a write is sent once."""
    server = stand_in(fail=2)

    async def run() -> str:
        async def no_sleep(_: float) -> None:
            return None

        async with AsyncClient(f"127.0.0.1:{server.port}", api_key="k", sleep=no_sleep) as client:
            with pytest.raises(errors.Unavailable):
                await client.auth.create_api_key(auth_pb.CreateApiKeyRequest(display_name="x"))
            return await client.translate("xyz", source="hi", target="ur")

    assert asyncio.run(run()) == "zyx"
    assert server.calls["TranslateText"] == 3 and server.calls["CreateApiKey"] == 1


def test_settings_from_environment_and_scheme(monkeypatch):
    """AI4VC_ENDPOINT / AI4VC_API_KEY fill what is not given; https:// turns TLS on."""
    from ai4vc.sdk._core import Settings

    monkeypatch.setenv("AI4VC_ENDPOINT", "edge.example:443")
    monkeypatch.setenv("AI4VC_API_KEY", "env-key")
    s = Settings.resolve()
    assert s.endpoint == "edge.example:443" and not s.tls and s.credential.metadata() == (("x-api-key", "env-key"),)
    s = Settings.resolve("https://api.example:8443/", api_key="arg")
    assert s.endpoint == "api.example:8443" and s.tls and s.credential.metadata() == (("x-api-key", "arg"),)
    assert "arg" not in repr(s.credential)
    with pytest.raises(ValueError):
        Settings.resolve(timeout=0)


# --- CLI without a server ---------------------------------------------------------------------------


def test_cli_usage_errors_and_unreachable_endpoint_exit_codes():
    """A missing option exits 2; an endpoint nobody listens on exits 6 with an actionable message."""
    from typer.testing import CliRunner

    from ai4vc.cli.app import app

    runner = CliRunner()
    missing = runner.invoke(app, ["translate", "नमस्ते", "--to", "ur"])
    assert missing.exit_code == 2 and "--from" in missing.output
    down = runner.invoke(app, ["--endpoint", "127.0.0.1:9", "--timeout", "3", "translate", "--from", "hi",
                               "--to", "ur", "नमस्ते"], env={"AI4VC_API_KEY": "k"})
    assert down.exit_code == 6, down.output
    assert "cannot reach AI4V-C at 127.0.0.1:9 (UNAVAILABLE)" in down.output and "Traceback" not in down.output


def test_cli_microphone_without_portaudio_or_device_is_a_message_not_a_traceback():
    """`ai4vc stream --mic` where no microphone can be opened exits 1 naming the cause."""
    from typer.testing import CliRunner

    from ai4vc.cli.app import app
    from ai4vc.sdk.audio import Microphone

    try:
        Microphone().close()
        pytest.skip("this machine has a working microphone")
    except RuntimeError:
        pass
    result = CliRunner().invoke(app, ["--endpoint", "127.0.0.1:9", "stream", "--mic", "-l", "en"])
    assert result.exit_code == 1, result.output
    assert "microphone" in result.output and "Traceback" not in result.output


def test_cli_tls_follows_the_flag_or_an_https_endpoint():
    """--tls, or an https:// endpoint, connects with TLS; a plain host:port does not."""
    from ai4vc.cli.app import Options

    for endpoint, flag, expected in (("https://edge.example", False, True), ("edge.example:8080", True, True),
                                     ("edge.example:8080", False, False)):
        options = Options(endpoint, "k", "", flag, None, 5.0)
        assert options.client().settings.tls is expected, (endpoint, flag)
        options.close()
