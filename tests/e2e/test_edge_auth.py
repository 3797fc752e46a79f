"""The edge through the real Envoy: authentication, scopes, revocation, rate limits and size
limits — each refusal is its own clear status, for gRPC and REST callers alike, and none of
them reaches a service."""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request

import grpc
import pytest
import requests
from grpc_status import rpc_status

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc

pytestmark = pytest.mark.e2e
REQUEST = pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")
BODY = {"contents": ["भारत"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}


def post(mesh, path: str, body: bytes | None, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}{path}", data=body, method="POST",
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


async def create_key(mesh, scopes: list[str], per_minute: int = 0, characters_per_day: int = 0) -> tuple[str, str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await auth_grpc.AuthServiceStub(channel).CreateApiKey(
            auth_pb.CreateApiKeyRequest(display_name="e2e", scopes=scopes,
                                        quota=auth_pb.Quota(requests_per_minute=per_minute,
                                                            characters_per_day=characters_per_day)),
            timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
    return answer.api_key.key_id, answer.key


async def translate(mesh, metadata) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        try:
            await pb_grpc.NmtServiceStub(channel).TranslateText(REQUEST, timeout=15, metadata=metadata)
        except grpc.aio.AioRpcError as err:
            return err.code()
    return grpc.StatusCode.OK


async def test_no_credentials_is_unauthenticated(mesh):
    """No key: gRPC UNAUTHENTICATED, REST 401."""
    assert await translate(mesh, ()) == grpc.StatusCode.UNAUTHENTICATED
    assert await asyncio.to_thread(post, mesh, "/v1/text:translate", json.dumps(BODY).encode(), {}) == 401


@pytest.mark.parametrize(("headers", "says"), [
    ({}, "no credential: send your API key in the x-api-key header"),
    ({"x-api-key": "not-a-key"}, "malformed API key"),
    ({"x-api-key": "ai4vc_0123456789abcdef_" + "0" * 64}, "invalid API key"),
])
async def test_api_key_refusals_say_what_is_wrong_in_our_words(mesh, headers, says):
    """The API-key check's refusals name the x-api-key header and the key, for REST (JSON body,
    a bearer challenge: "Basic" would make browsers prompt for a password) and gRPC (grpc-message)
    alike — not basic_auth's own words about usernames and passwords."""
    answer = await asyncio.to_thread(requests.post, f"http://127.0.0.1:{mesh.ports.envoy}/v1/text:translate",
                                     json=BODY, headers=headers, timeout=15)
    assert answer.status_code == 401, answer.text
    assert answer.json()["message"].startswith(says) and answer.json()["code"] == 16
    assert answer.headers["www-authenticate"].startswith("Bearer ")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await pb_grpc.NmtServiceStub(channel).TranslateText(REQUEST, timeout=15, metadata=tuple(headers.items()))
    assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (failed.value.details() or "").startswith(says)
    assert "password" not in (failed.value.details() or "") + answer.text


@pytest.mark.parametrize("credential", [
    ("x-api-key", "ai4vc_0123456789abcdef_" + "0" * 64),   # well-formed, never issued
    ("x-api-key", "not-a-key"),
    ("authorization", "Bearer not.a.jwt"),
    ("authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."),  # alg=none
])
async def test_bad_credentials_are_unauthenticated(mesh, credential):
    """Guessed keys, malformed keys and malformed or unsigned JWTs are refused with UNAUTHENTICATED."""
    assert await translate(mesh, (credential,)) == grpc.StatusCode.UNAUTHENTICATED


async def test_wrong_scope_is_permission_denied_for_grpc_and_rest(mesh):
    """A key scoped to tts may not call NMT: PERMISSION_DENIED over gRPC, 403 over REST — one policy."""
    _, key = await create_key(mesh, ["tts"])
    assert await translate(mesh, (("x-api-key", key),)) == grpc.StatusCode.PERMISSION_DENIED
    status = await asyncio.to_thread(post, mesh, "/v1/text:translate", json.dumps(BODY).encode(), {"x-api-key": key})
    assert status == 403
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        voices = await tts_grpc.TtsServiceStub(channel).ListVoices(
            tts_pb.ListVoicesRequest(), timeout=10, metadata=(("x-api-key", key),))
    assert voices.voices


async def test_revoked_key_stops_working_through_envoy(mesh):
    """A scoped key works until revoked; after RevokeApiKey Envoy refuses it (how soon is a figure:
    `python -m bench.revocation`)."""
    key_id, key = await create_key(mesh, ["nmt"])
    assert await translate(mesh, (("x-api-key", key),)) == grpc.StatusCode.OK
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        await auth_grpc.AuthServiceStub(channel).RevokeApiKey(
            auth_pb.RevokeApiKeyRequest(key_id=key_id), timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
    code = grpc.StatusCode.OK
    for _ in range(100):  # the gateways' local cache lives 10 s; pub/sub is expected to win well before
        code = await translate(mesh, (("x-api-key", key),))
        if code == grpc.StatusCode.UNAUTHENTICATED:
            break
        await asyncio.sleep(0.05)
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_rate_limit_is_resource_exhausted_and_429(mesh):
    """Past its requests-per-minute quota a key gets RESOURCE_EXHAUSTED with ErrorInfo and RetryInfo
    over gRPC, and 429 over REST."""
    _, key = await create_key(mesh, ["nmt"], per_minute=3)
    codes = [await translate(mesh, (("x-api-key", key),)) for _ in range(5)]
    assert codes[:3] == [grpc.StatusCode.OK] * 3
    assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.NmtServiceStub(channel).TranslateText(REQUEST, timeout=15, metadata=(("x-api-key", key),))
    status = rpc_status.from_call(refused.value)
    assert status is not None
    kinds = {detail.type_url.rsplit(".", 1)[-1] for detail in status.details}
    assert {"ErrorInfo", "RetryInfo"} <= kinds
    status = await asyncio.to_thread(post, mesh, "/v1/text:translate", json.dumps(BODY).encode(), {"x-api-key": key})
    assert status == 429


async def test_daily_character_quota_is_enforced_from_metered_usage(mesh):
    """The NMT service meters characters per key; once a key's daily quota is used up, the edge
    answers RESOURCE_EXHAUSTED."""
    _, key = await create_key(mesh, ["nmt"], characters_per_day=8)
    assert await translate(mesh, (("x-api-key", key),)) == grpc.StatusCode.OK  # 4 characters
    codes = []
    for _ in range(20):  # metering is off the hot path: allow it a moment to land
        codes.append(await translate(mesh, (("x-api-key", key),)))
        if codes[-1] != grpc.StatusCode.OK:
            break
        await asyncio.sleep(0.1)
    assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(codes) <= 3


def test_oversized_headers_and_body_are_refused_at_the_edge(mesh):
    """Headers over 64 KB get 431, a body over the 14 MiB edge limit gets 413."""
    key = mesh.admin_key()
    assert post(mesh, "/v1/text:translate", json.dumps(BODY).encode(), {"x-api-key": key, "x-pad": "a" * 70_000}) == 431
    # Only the headers are sent: the edge answers from the declared length, before reading the
    # body (a client still uploading would see its connection closed under it).
    conn = http.client.HTTPConnection("127.0.0.1", mesh.ports.envoy, timeout=15)
    try:
        conn.putrequest("POST", "/v1/text:translate")
        for name, value in (("content-type", "application/json"), ("x-api-key", key),
                            ("content-length", str(15 * 1024 * 1024))):
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["code"] == 3
    finally:
        conn.close()


async def test_unknown_path_or_method_is_not_found_for_an_authenticated_caller(mesh):
    """With a valid key (any scope), a path no route serves is a JSON 404 (NOT_FOUND) for REST and
    UNIMPLEMENTED for gRPC — not a 403 that sends the caller hunting for a scope. Without a key it
    stays 401 / UNAUTHENTICATED: the catch-all keeps every credential filter, because Envoy picks
    the filters on the route a REST path matches before the transcoder rewrites it."""
    _key_id, key = await create_key(mesh, ["tts"])
    for headers, expected in (({"x-api-key": key}, 404), ({}, 401)):
        status, body = await asyncio.to_thread(_rest, mesh, "/v1/text:nosuch", {}, headers)
        assert status == expected
        assert body["details"][0]["reason"] == ("NOT_FOUND" if status == 404 else "UNAUTHENTICATED")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        unknown = channel.unary_unary("/ai4vc.nmt.v1.NmtService2/Nope", request_serializer=lambda m: m,
                                      response_deserializer=lambda b: b)
        for metadata, code in (((("x-api-key", key),), grpc.StatusCode.UNIMPLEMENTED),
                               ((), grpc.StatusCode.UNAUTHENTICATED)):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await unknown(b"", timeout=10, metadata=metadata)
            assert failed.value.code() == code


def _rest(mesh, path: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_rest_login_refresh_logout_need_no_key(mesh):
    """The public auth methods work over REST without a key, as over gRPC: a wrong password is the
    auth service's own 401, a right one gives tokens, the access token calls a method, and refresh
    and logout take the refresh token alone."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        await auth_grpc.AuthServiceStub(channel).CreateUser(
            auth_pb.CreateUserRequest(username="rest-user", password="correct horse battery", scopes=["nmt"]),
            timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
    status, body = await asyncio.to_thread(_rest, mesh, "/v1/auth:login",
                                           {"username": "rest-user", "password": "not the password"})
    assert status == 401 and "Missing username" not in body["message"]
    status, body = await asyncio.to_thread(_rest, mesh, "/v1/auth:login",
                                           {"username": "rest-user", "password": "correct horse battery"})
    assert status == 200 and body["accessToken"] and body["refreshToken"]
    status, _ = await asyncio.to_thread(_rest, mesh, "/v1/text:detectLanguage", {"content": "भारत"},
                                        {"authorization": f"Bearer {body['accessToken']}"})
    assert status == 200
    status, refreshed = await asyncio.to_thread(_rest, mesh, "/v1/auth:refresh", {"refreshToken": body["refreshToken"]})
    assert status == 200 and refreshed["refreshToken"] != body["refreshToken"]
    status, _ = await asyncio.to_thread(_rest, mesh, "/v1/auth:logout", {"refreshToken": refreshed["refreshToken"]})
    assert status == 200


def test_browsers_may_call_rest_from_another_origin(mesh):
    """A REST preflight is answered by the edge's CORS policy (as gRPC-Web's are), and the REST
    answer itself carries access-control-allow-origin, so a page on another origin can call it."""
    base = f"http://127.0.0.1:{mesh.ports.envoy}"
    origin = "http://localhost:3000"
    preflight = requests.options(f"{base}/v1/text:detectLanguage", timeout=10, headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-api-key"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "x-api-key" in preflight.headers["access-control-allow-headers"]
    answer = requests.post(f"{base}/v1/text:detectLanguage", json={"content": "भारत"}, timeout=10,
                           headers={"origin": origin, "x-api-key": mesh.admin_key()})
    assert answer.status_code == 200 and answer.json()["languages"]
    assert answer.headers["access-control-allow-origin"] == origin
