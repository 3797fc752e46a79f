"""The OpenAPI document and the docs routes without Envoy: the document covers every REST binding
of proto/ and nothing else, and the docs' routes are exact, GET-only, public and answered by Envoy
itself — the rest of the edge's policy is unchanged by them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from deploy.local import envoy_config
from deploy.local.envoy_config import Upstream, render_routes
from gateway import policy
from gateway.edge import render

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((ROOT / "gen" / "openapi" / "openapi.json").read_text())
UPSTREAMS = [Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 1)]),
             Upstream("ai4vc.auth.v1.AuthService", "auth", [("127.0.0.1", 2)], idempotent=False)]


def _bindings() -> dict[str, tuple[str, str]]:
    """gRPC method → (HTTP verb, path template) for every google.api.http binding in the descriptor."""
    files = descriptor_pb2.FileDescriptorSet.FromString(envoy_config.DESCRIPTOR.read_bytes()).file
    out = {}
    for file in files:
        if not file.package.startswith("ai4vc."):
            continue
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                verb = rule.WhichOneof("pattern")
                if verb:
                    out[f"/{file.package}.{service.name}/{method.name}"] = (verb, getattr(rule, verb))
    return out


def test_document_has_exactly_the_rest_bindings():
    """One operation per google.api.http binding, at its verb and path; streaming methods have none."""
    documented = {op["x-grpc-method"]: (verb, path) for path, ops in DOCUMENT["paths"].items()
                  for verb, op in ops.items()}
    assert documented == _bindings()
    assert not any("Streaming" in method for method in documented)


def test_document_uses_the_json_names_envoy_prints():
    """Bodies and answers use lowerCamelCase (Envoy's default, preserve_proto_field_names off)."""
    request = DOCUMENT["components"]["schemas"]["v1TranslateTextRequest"]["properties"]
    assert {"sourceLanguageCode", "targetLanguageCode", "contents"} <= set(request)
    assert "source_language_code" not in request
    status = DOCUMENT["components"]["schemas"]["googleRpcStatus"]["properties"]
    assert set(status) == {"code", "message", "details"}
    assert DOCUMENT["components"]["schemas"]["protobufAny"]["required"] == ["@type"]


def test_docs_routes_are_exact_get_only_direct_responses():
    """Each docs path is an exact match on GET/HEAD answered from its file, ahead of the API routes."""
    [vhost] = render_routes(UPSTREAMS)["virtual_hosts"]
    docs = [r for r in vhost["routes"] if "direct_response" in r and r["match"].get("prefix") != "/"]
    assert [r["match"]["path"] for r in docs] == list(policy.DOCS_PATHS)
    for route in docs:
        assert "prefix" not in route["match"]
        [method] = route["match"]["headers"]
        assert method["name"] == ":method" and method["string_match"]["safe_regex"]["regex"] == "GET|HEAD"
        assert Path(route["direct_response"]["body"]["filename"]).is_file()
    assert render_routes(UPSTREAMS)["max_direct_response_body_size_bytes"] >= (
        envoy_config.SWAGGER_UI / "swagger-ui-bundle.js").stat().st_size


def test_a_missing_docs_file_is_a_404_not_a_broken_route_config(monkeypatch, tmp_path):
    """Before bootstrap installed Swagger UI its routes answer 404 with what to run (Envoy would
    refuse a whole route config naming a missing file)."""
    monkeypatch.setitem(envoy_config.DOCS_FILES, "/docs/swagger-ui.css",
                        (envoy_config.ROOT / "openapi" / "node_modules" / "nope.css", "text/css"))
    [vhost] = render_routes(UPSTREAMS)["virtual_hosts"]
    [route] = [r for r in vhost["routes"] if r["match"].get("path") == "/docs/swagger-ui.css"]
    assert route["direct_response"]["status"] == 404
    assert "bootstrap" in route["direct_response"]["body"]["inline_string"]


def test_control_plane_makes_the_docs_public_and_nothing_else():
    """The published routes skip the credential filters for the docs paths only, and RBAC allows
    exactly those paths to anyone; API routes still need their scopes."""
    [vhost] = render.routes(render_routes(UPSTREAMS), [], [], [], 600)["virtual_hosts"]
    public_rest = {rest for path, rule in policy.METHOD_RULES.items() if rule.access is policy.Access.PUBLIC
                   for _verb, rest in render.rest_bindings(path)}
    assert public_rest == {"/v1/auth:login", "/v1/auth:refresh", "/v1/auth:logout"}
    for route in vhost["routes"]:
        disabled = route.get("typed_per_filter_config", {}).get("ai4vc.basic_auth", {}).get("disabled", False)
        path = route["match"].get("path", "")
        if path in policy.DOCS_PATHS:
            assert disabled
        elif disabled and path:
            # Login, Refresh, Logout: their gRPC paths and their REST paths
            assert path in public_rest or policy.rule_for(path).access is policy.Access.PUBLIC
        elif disabled:
            assert route["match"]["prefix"] == "/grpc.reflection."
    policies = vhost["typed_per_filter_config"]["envoy.filters.http.rbac"]["rbac"]["rules"]["policies"]
    for path in policy.DOCS_PATHS:
        assert policies[path] == {"permissions": [{"url_path": {"path": {"exact": path}}}],
                                  "principals": [{"any": True}]}
    assert policy.rule_for("/docs/other.js").access is policy.Access.DENY
    assert policy.rule_for("/ai4vc.nmt.v1.NmtService/TranslateText").access is policy.Access.SCOPE


@pytest.mark.parametrize("operation_id", ["AuthService_Login", "AuthService_Refresh", "AuthService_Logout"])
def test_public_methods_need_no_security(operation_id):
    """The methods the edge lets through without a credential say so in the document."""
    [operation] = [op for ops in DOCUMENT["paths"].values() for op in ops.values() if op["operationId"] == operation_id]
    assert operation["security"] == []
