"""Hostile and broken credentials at the edge, through the real Envoy: each is refused with
401/403/400, a JSON error body for REST and a grpc-status for gRPC — never a 5xx, never a pass.
These pin the edge's behaviour whatever decides it (Envoy's own filters, configured by the gateway's
control plane)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import time
import uuid

import grpc
import pytest

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.credentials import JWT_AUDIENCE, JWT_ISSUER

pytestmark = pytest.mark.e2e
BODY = json.dumps({"contents": ["भारत"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}).encode()
REQUEST = pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret: str, *, alg: str = "HS256", exp_in_s: int = 600, audience: str | None = JWT_AUDIENCE,
          issuer: str = JWT_ISSUER, scope: str = "nmt", sign_with: str | None = None) -> str:
    """An access token shaped like the auth service's, with one thing changed at a time."""
    now = int(time.time())
    claims: dict[str, object] = {"iss": issuer, "sub": "mallory", "scope": scope, "sid": uuid.uuid4().hex,
                                 "iat": now, "exp": now + exp_in_s, "jti": uuid.uuid4().hex}
    if audience is not None:
        claims["aud"] = audience
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{head}.{body}."
    signature = hmac.new((sign_with or secret).encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


_SOURCES = itertools.count(2)


def rest(mesh, path: str, headers: dict[str, str], method: str = "POST") -> tuple[int, str, bytes]:
    """One call from its own loopback address (127.0.0.N): the edge limits failed authentications
    per client address, and these tests fail on purpose, side by side with the rest of the suite."""
    source = f"127.0.{next(_SOURCES) % 250}.{7}"
    conn = http.client.HTTPConnection("127.0.0.1", mesh.ports.envoy, timeout=15, source_address=(source, 0))
    try:
        conn.request(method, path, body=BODY if method == "POST" else None,
                     headers={"content-type": "application/json", **headers})
        answer = conn.getresponse()
        return answer.status, answer.getheader("content-type") or "", answer.read()
    finally:
        conn.close()


def grpc_code(mesh, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        try:
            pb_grpc.NmtServiceStub(channel).TranslateText(REQUEST, timeout=15, metadata=metadata)
        except grpc.RpcError as err:
            return err.code()  # type: ignore[no-any-return,attr-defined]
    return grpc.StatusCode.OK


def secret_of(mesh) -> str:
    return mesh.secrets()["AI4VC_JWT_SECRET"]


CASES = {
    "alg-none": lambda s: {"authorization": "Bearer " + token(s, alg="none")},
    "wrong-signature": lambda s: {"authorization": "Bearer " + token(s, sign_with="not-the-secret" * 4)},
    "expired": lambda s: {"authorization": "Bearer " + token(s, exp_in_s=-60)},
    "wrong-audience": lambda s: {"authorization": "Bearer " + token(s, audience="someone-else")},
    "no-audience": lambda s: {"authorization": "Bearer " + token(s, audience=None)},
    "wrong-issuer": lambda s: {"authorization": "Bearer " + token(s, issuer="evil")},
    "not-a-jwt": lambda s: {"authorization": "Bearer abc.def"},
    "basic-scheme": lambda s: {"authorization": "Basic " + base64.b64encode(b"a:b").decode()},
    "malformed-key": lambda s: {"x-api-key": "ai4vc_zz_notakey"},
    "unknown-key": lambda s: {"x-api-key": "ai4vc_0123456789abcdef_" + "0" * 64},
    "key-with-spaces": lambda s: {"x-api-key": "   "},
}


# gRPC calls come from 127.0.0.1 (grpc cannot pick its source address), which the rest of the suite
# shares: a few cases only, well under the per-address failure limit.
GRPC_CASES = ("alg-none", "expired", "wrong-audience", "malformed-key")


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_credential_is_401_with_json_and_unauthenticated(mesh, case: str) -> None:
    """A broken or forged credential: REST 401 with a JSON status body, gRPC UNAUTHENTICATED."""
    headers = CASES[case](secret_of(mesh))
    status, content_type, body = rest(mesh, "/v1/text:translate", headers)
    assert status == 401, (status, body)
    assert content_type.startswith("application/json") and json.loads(body)["code"] == 16
    if case in GRPC_CASES:
        assert grpc_code(mesh, tuple(headers.items())) == grpc.StatusCode.UNAUTHENTICATED


def test_valid_token_passes_and_missing_scope_is_403(mesh) -> None:
    """The forging helper is right (a correctly signed token works), and a valid token without the
    method's scope is 403 / PERMISSION_DENIED."""
    good = {"authorization": "Bearer " + token(secret_of(mesh))}
    assert rest(mesh, "/v1/text:translate", good)[0] == 200
    scoped = {"authorization": "Bearer " + token(secret_of(mesh), scope="tts")}
    status, content_type, body = rest(mesh, "/v1/text:translate", scoped)
    assert status == 403 and content_type.startswith("application/json") and json.loads(body)["code"] == 7
    assert grpc_code(mesh, tuple(scoped.items())) == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("param", ["key", "api_key", "apiKey", "x-api-key"])
def test_key_in_the_query_string_is_400(mesh, param: str) -> None:
    """An API key in the URL (it would land in access logs and browser history) is refused with 400,
    even a valid one, for REST and for the WebSocket upgrade."""
    key = mesh.admin_key()
    status, content_type, body = rest(mesh, f"/v1/text:translate?{param}={key}", {})
    assert status == 400 and content_type.startswith("application/json"), (status, body)
    answer = json.loads(body)
    assert answer["code"] == 3 and answer["details"][0]["reason"] == "CREDENTIAL_IN_QUERY"
    upgrade = {"connection": "upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
               "sec-websocket-key": base64.b64encode(b"0123456789abcdef").decode()}
    assert rest(mesh, f"/v1/ws/asr?{param}={key}", upgrade, method="GET")[0] == 400


def test_huge_authorization_header_is_431_not_5xx(mesh) -> None:
    """A credential header beyond the edge's header limit is 431, and the edge keeps serving."""
    status, _, _ = rest(mesh, "/v1/text:translate", {"authorization": "Bearer " + "a" * 70_000})
    assert status == 431
    assert rest(mesh, "/v1/text:translate", {"x-api-key": mesh.admin_key()})[0] == 200
