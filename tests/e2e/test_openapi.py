"""The REST surface against its OpenAPI document (gen/openapi/openapi.json), through the real Envoy:
the edge serves the document and its docs page without a credential, and schemathesis calls every
documented operation with generated inputs — no answer is a 5xx and every answer matches the
document (its schema, content type and the google.rpc.Status error body)."""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from deploy.local.envoy_config import DHRUVA_PREFIXES
from gateway import policy

pytestmark = pytest.mark.e2e
DOCUMENT = Path(__file__).resolve().parents[2] / "gen" / "openapi" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(str(DOCUMENT))
# Each operation gets this many generated inputs (derandomized: the same every run), enough to
# reach each field's edge cases while the 29 operations finish in minutes on two cores.
EXAMPLES = 30
SCOPES = ["admin", "asr", "config", "nmt", "pipeline", "telemetry", "tts"]


def get(mesh, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.fixture(scope="module")
def every_scope_key(mesh) -> str:
    """A real API key holding every scope, made through the edge with the admin key."""
    async def create() -> str:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
            answer = await auth_grpc.AuthServiceStub(channel).CreateApiKey(
                auth_pb.CreateApiKeyRequest(display_name="schemathesis", scopes=SCOPES,
                                            quota=auth_pb.Quota(requests_per_minute=100_000)),
                timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
        return str(answer.key)
    return asyncio.run(create())


def test_edge_serves_the_generated_document_without_a_key(mesh):
    """GET /openapi.json needs no credential and is byte for byte the committed, generated document."""
    status, headers, body = get(mesh, "/openapi.json")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert body == DOCUMENT.read_bytes()
    assert json.loads(body)["openapi"].startswith("3.")


def test_docs_page_and_its_assets_come_from_the_edge(mesh):
    """/docs is Swagger UI over /openapi.json, its script and style served by Envoy (no CDN), no key needed."""
    status, headers, page = get(mesh, "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'url: "/openapi.json"' in page and b"https://" not in page
    status, headers, script = get(mesh, "/docs/swagger-ui-bundle.js")
    assert status == 200 and headers["content-type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script
    status, headers, _ = get(mesh, "/docs/swagger-ui.css")
    assert status == 200 and headers["content-type"].startswith("text/css")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no Chromium here (apt-get install chromium)")
def test_docs_page_renders_in_a_browser_without_internet(mesh, tmp_path):
    """Headless Chromium (no network but the edge) renders Swagger UI at /docs with the operations."""
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=15000", "--dump-dom", f"http://127.0.0.1:{mesh.ports.envoy}/docs"],
        capture_output=True, timeout=120, check=False)
    dom = done.stdout.decode()
    assert "AI4V-C REST API" in dom
    assert 'data-path="/v1/text:translate"' in dom
    assert "Authorize" in dom


@pytest.mark.parametrize("path", ["/docs/", "/docs/index.html", "/docs/swagger-ui-bundle.js.map",
                                  "/docs/../v1/voices", "/openapi.yaml", "/v1/voices"])
def test_docs_open_no_other_path(mesh, path):
    """Only the docs' exact paths are public: anything near them, and the API itself, still needs a key."""
    status, _, _ = get(mesh, path)
    assert status in (401, 403, 404)


def test_docs_are_get_only(mesh):
    """A POST to a docs path is not answered with the document."""
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}/openapi.json", data=b"{}",
                                     method="POST", headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=15)
    assert refused.value.code in (401, 403, 404)


def test_document_lists_every_rest_binding_with_the_edge_access_rule():
    """Every operation names its gRPC method; public methods (gateway.policy) need no security, the
    others an API key or a bearer token; every operation documents the google.rpc.Status error, the
    Bhashini / Dhruva facade's (DHRUVA_PREFIXES) Dhruva's error shape."""
    doc = json.loads(DOCUMENT.read_text())
    assert set(doc["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    for path, operations in doc["paths"].items():
        error = "DhruvaError" if path.startswith(DHRUVA_PREFIXES) else "Error"
        for operation in operations.values():
            rule = policy.rule_for(operation["x-grpc-method"])
            assert rule.access is not policy.Access.DENY
            public = rule.access is policy.Access.PUBLIC
            assert (operation.get("security") == []) == public, operation["operationId"]
            assert operation["responses"]["default"] == {"$ref": f"#/components/responses/{error}"}


def test_transcoder_refusals_are_json_status(mesh, every_scope_key):
    """Regression (found by schemathesis): an unknown query parameter or a value of the wrong type is
    refused by the transcoder before any service; that 400 was text/plain, it is google.rpc.Status."""
    for path in ("/v1/voices?no_such_field=1", "/v1/traces?min_duration=forever"):
        status, headers, body = get(mesh, path, {"x-api-key": every_scope_key})
        assert status == 400
        assert headers["content-type"].startswith("application/json")
        error = json.loads(body)
        assert error["code"] == 3
        assert error["details"][0]["reason"] == "MALFORMED_MESSAGE"


def test_headers_grpc_cannot_carry_are_dropped_not_a_500(mesh, every_scope_key):
    """Regression (found by schemathesis): a header name HTTP allows but gRPC does not ("#"), or a
    non-ASCII value, made the service's gRPC server fail the call — a 500. The edge drops them."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}/v1/text:translate", method="POST",
        data=json.dumps({"contents": ["भारत"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}).encode(),
        headers={"content-type": "application/json", "x-api-key": every_scope_key,
                 "tc#o4": "x", "x-note": "bh\u00e4rat".encode().decode("unicode_escape")})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
        assert json.loads(answer.read())["translations"][0]["translatedText"]


@pytest.mark.parametrize("bad_header", [b"host: I)a~dF}bh\tYE>X", b"bad header: x"],
                         ids=["tab in host", "space in name"])
def test_requests_the_http_codec_refuses_get_a_json_status(mesh, every_scope_key, bad_header):
    """Regression (found by schemathesis): a request Envoy's HTTP/1 codec refuses before any filter
    (a Host with a tab, a header name with a space) got text/plain "Bad Request"; it is the same
    google.rpc.Status JSON as every other refusal."""
    import socket

    with socket.create_connection(("127.0.0.1", mesh.ports.envoy), timeout=10) as sock:
        sock.sendall(b"POST /v1/alertRules HTTP/1.1\r\n" + bad_header + b"\r\nx-api-key: " + every_scope_key.encode()
                     + b"\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    status = json.loads(body)
    assert status["code"] == 3 and status["details"][0]["reason"] == "MALFORMED_MESSAGE"


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_against_the_live_mesh(case, mesh, every_scope_key):
    """Generated inputs for each documented operation: no 5xx, answers match the document."""
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{mesh.ports.envoy}",
        headers={"x-api-key": every_scope_key},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=60,
    )


def test_schema_check_catches_a_wrong_answer():
    """The conformance check is live: an answer that breaks the document (a string where the
    document has an array) fails it."""
    operation = SCHEMA["/v1/text:translate"]["POST"]
    case = operation.Case(body={"contents": ["x"], "targetLanguageCode": "ur"})
    response = requests.Response()
    response.status_code = 200
    response.headers["content-type"] = "application/json"
    response._content = b'{"translations": "not a list"}'
    response.request = requests.Request("POST", "http://127.0.0.1:1/v1/text:translate").prepare()
    response.url = response.request.url or ""
    response.elapsed = datetime.timedelta(0)
    with pytest.raises(BaseExceptionGroup) as failed:
        case.validate_response(response, checks=[response_schema_conformance])
    assert any(isinstance(error, JsonSchemaError) for error in failed.value.exceptions)
