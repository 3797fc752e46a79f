"""No secret leaves the request it came with. Real API keys, access and refresh tokens, passwords
— good and bad, in headers and (refused) in the query string, over REST and gRPC, each call
traced — and then every place the mesh writes to is scanned for them: every log file of the run
(services, Envoy, its access log), every process's Prometheus metrics text and Envoy's stats, the
stored spans of each call's trace (Envoy's own included) and the stored log records of each
request, and the answers themselves."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import time
import urllib.request
import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import text_format

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.telemetry.v1 import telemetry_service_pb2 as tel_pb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as tel_grpc

pytestmark = pytest.mark.e2e
BODY = json.dumps({"contents": ["भारत"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}).encode()
TRANSLATE = nmt_pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")


class Traced:
    """The calls made, each with its own request id and sampled trace (a caller's sampled
    traceparent is always followed, by Envoy and the services), and everything they answered."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (what, request id, trace id)
        self.answers: list[str] = []

    def metadata(self, what: str) -> dict[str, str]:
        request_id, trace_id = f"leak-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
        self.calls.append((what, request_id, trace_id))
        return {"x-request-id": request_id, "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}

    def rest(self, mesh, what: str, method: str, path: str, headers: dict[str, str],
             body: bytes | None = BODY) -> tuple[int, dict[str, Any]]:
        # From an address of its own: the failures below must not count against 127.0.0.1.
        conn = http.client.HTTPConnection("127.0.0.1", mesh.ports.envoy, timeout=15, source_address=("127.78.0.1", 0))
        try:
            conn.request(method, path, body=body,
                         headers={"content-type": "application/json", **headers, **self.metadata(what)})
            answer = conn.getresponse()
            data = answer.read().decode(errors="replace")
        finally:
            conn.close()
        if what not in ("login", "refresh"):  # (their answers are where the tokens are meant to be)
            self.answers.append(f"{what}: {answer.status} {answer.getheaders()} {data}")
        return answer.status, json.loads(data) if data.startswith("{") else {}

    def grpc(self, mesh, what: str, metadata: dict[str, str]) -> grpc.StatusCode:
        with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
            try:
                nmt_grpc.NmtServiceStub(channel).TranslateText(
                    TRANSLATE, timeout=15, metadata=tuple({**metadata, **self.metadata(what)}.items()))
            except grpc.RpcError as err:
                self.answers.append(f"{what}: {err.code()} {err.details()} {err.trailing_metadata()}")  # type: ignore[attr-defined]
                return err.code()  # type: ignore[no-any-return,attr-defined]
        return grpc.StatusCode.OK


def _forged_signature(token: str) -> str:
    head, body, _ = token.split(".")
    return f"{head}.{body}.{base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b'=').decode()}"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode(errors="replace"))


def test_no_secret_reaches_a_log_a_metric_a_trace_or_an_error(mesh) -> None:
    """Credentials used (well and badly) in every way a client can send them appear in no log file,
    no metrics text, no stored span or log record, and no answer."""
    admin = mesh.admin_key()
    user = f"leak-{uuid.uuid4().hex[:8]}"
    password, wrong_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        auth = auth_grpc.AuthServiceStub(channel)
        auth.CreateUser(auth_pb.CreateUserRequest(username=user, password=password, scopes=["nmt"]),
                        timeout=15, metadata=(("x-api-key", admin),))
        issued = auth.CreateApiKey(auth_pb.CreateApiKeyRequest(display_name="leak", scopes=["nmt"], owner=user),
                                   timeout=15, metadata=(("x-api-key", admin),))
    key, key_id = issued.key, issued.api_key.key_id
    key_secret = key.rsplit("_", 1)[1]
    wrong_key = f"ai4vc_{key_id}_{secrets.token_hex(32)}"
    calls = Traced()

    status, tokens = calls.rest(mesh, "login", "POST", "/v1/auth:login", {},
                                json.dumps({"username": user, "password": password}).encode())
    assert status == 200
    access, refresh = tokens["accessToken"], tokens["refreshToken"]
    assert calls.rest(mesh, "bad login", "POST", "/v1/auth:login", {},
                      json.dumps({"username": user, "password": wrong_password}).encode())[0] == 401
    status, refreshed = calls.rest(mesh, "refresh", "POST", "/v1/auth:refresh", {},
                                   json.dumps({"refreshToken": refresh}).encode())
    assert status == 200
    forged = _forged_signature(access)
    good = [("rest key", {"x-api-key": key}), ("rest bearer", {"authorization": f"Bearer {access}"}),
            ("rest raw key", {"authorization": key})]
    for what, headers in good:
        assert calls.rest(mesh, what, "POST", "/v1/text:translate", headers)[0] == 200, what
    assert calls.grpc(mesh, "grpc key", {"x-api-key": key}) == grpc.StatusCode.OK
    assert calls.grpc(mesh, "grpc bearer", {"authorization": f"Bearer {access}"}) == grpc.StatusCode.OK
    bad = [("rest wrong secret", {"x-api-key": wrong_key}), ("rest forged jwt", {"authorization": f"Bearer {forged}"}),
           ("rest basic", {"authorization": "Basic " + base64.b64encode(f"{key_id}:{key_secret}".encode()).decode()})]
    for what, headers in bad:
        assert calls.rest(mesh, what, "POST", "/v1/text:translate", headers)[0] == 401, what
    assert calls.grpc(mesh, "grpc wrong secret", {"x-api-key": wrong_key}) == grpc.StatusCode.UNAUTHENTICATED
    # In the URL: refused (400), and the value must not be written anywhere on the way.
    for what, query in (("query key", f"key={key}"), ("query token", f"access_token={access}"),
                        ("query encoded name", f"api%5Fkey={key}"), ("query second", f"x=1&Token={refresh}")):
        assert calls.rest(mesh, what, "POST", f"/v1/text:translate?{query}", {})[0] == 400, what
    assert calls.rest(mesh, "logout", "POST", "/v1/auth:logout", {},
                      json.dumps({"refreshToken": refreshed["refreshToken"]}).encode())[0] == 200

    secret_values = {
        "api key secret": key_secret, "wrong key secret": wrong_key.rsplit("_", 1)[1],
        "access token": access, "access token signature": access.rsplit(".", 1)[1],
        "forged token signature": forged.rsplit(".", 1)[1], "refresh token": refresh,
        "second refresh token": refreshed["refreshToken"], "password": password, "wrong password": wrong_password,
        "admin key secret": admin.rsplit("_", 1)[1], **{name: value for name, value in mesh.secrets().items()},
    }
    places: dict[str, str] = {}
    # Stored spans: each call's trace, once Envoy's span of the last call (a refused one) is in.
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        telemetry = tel_grpc.TelemetryServiceStub(channel)
        admin_md = (("x-api-key", admin),)

        def trace(trace_id: str) -> tel_pb.GetTraceResponse | None:
            try:
                return telemetry.GetTrace(tel_pb.GetTraceRequest(trace_id=trace_id), timeout=10, metadata=admin_md)
            except grpc.RpcError:
                return None

        refused = [t for what, _, t in calls.calls if what.startswith("query")]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            held = [trace(t) for t in refused]
            if all(a is not None and any(s.service == "envoy" for s in a.spans) for a in held):
                break
            time.sleep(0.2)
        else:
            pytest.fail("Envoy's spans of the refused calls were not stored within 20 s")
        time.sleep(1.5)  # the services' batched spans and log records of the last calls
        spans = 0
        for what, request_id, trace_id in calls.calls:
            answer = trace(trace_id)
            if answer is not None:
                spans += len(answer.spans)
                places[f"trace of {what}"] = text_format.MessageToString(answer, as_utf8=True)
            logs = telemetry.SearchLogs(tel_pb.SearchLogsRequest(request_id=request_id), timeout=10, metadata=admin_md)
            places[f"log records of {what}"] = text_format.MessageToString(logs, as_utf8=True)
        assert spans > len(calls.calls)  # the scan read real spans (Envoy's at least, for every call)
    # Envoy writes its access log in batches: wait for the last call's line.
    last_request = calls.calls[-1][1]
    deadline = time.monotonic() + 15
    while last_request not in mesh.access_log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the access log did not get the last call within 15 s"
        time.sleep(0.2)
    files = sorted(p for p in (mesh.run_dir / "logs").rglob("*") if p.is_file())
    assert any(p.name == "envoy-access.log" for p in files)
    for path in files:
        places[str(path.relative_to(mesh.run_dir))] = path.read_text(errors="replace")
    places["envoy stats"] = _get(f"http://127.0.0.1:{mesh.ports.envoy_admin}/stats")
    places["envoy stats (prometheus)"] = _get(f"http://127.0.0.1:{mesh.ports.envoy_admin}/stats/prometheus")
    for service in mesh.services:
        places[f"metrics of {service.proc.name}"] = _get(f"http://127.0.0.1:{service.metrics_port}/metrics")
    places["answers"] = "\n".join(calls.answers)

    leaks = [(name, place) for place, text in places.items() for name, value in secret_values.items()
             if value in text]
    assert not leaks, leaks
    assert "REDACTED" in places["trace of query key"]  # the refused URL is in its span, redacted
