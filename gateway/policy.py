"""Which scope each gRPC method needs. Envoy's grpc_json_transcoder runs before the rbac filter
rendered from this table (gateway/edge/render.py), so a REST call is checked by its gRPC path too,
and one table covers both kinds of caller."""

from __future__ import annotations

import dataclasses
import enum


class Access(enum.Enum):
    PUBLIC = "public"  # no credentials needed
    AUTHENTICATED = "authenticated"  # any valid credential; the service checks the rest
    SCOPE = "scope"  # a valid credential holding `scope` (or "admin")
    DENY = "deny"  # not exposed through the edge


@dataclasses.dataclass(frozen=True)
class Rule:
    access: Access
    scope: str = ""

    def allows(self, scopes: frozenset[str]) -> bool:
        if self.access in (Access.PUBLIC, Access.AUTHENTICATED):
            return True
        if self.access is Access.DENY:
            return False
        return self.scope in scopes or "admin" in scopes


# Whole services, by gRPC service name.
SERVICE_RULES: dict[str, Rule] = {
    "ai4vc.nmt.v1.NmtService": Rule(Access.SCOPE, "nmt"),
    "ai4vc.asr.v1.AsrService": Rule(Access.SCOPE, "asr"),
    "ai4vc.tts.v1.TtsService": Rule(Access.SCOPE, "tts"),
    "ai4vc.pipeline.v1.PipelineService": Rule(Access.SCOPE, "pipeline"),
    # Every method has its own rule (METHOD_RULES); one added without one is refused.
    "ai4vc.ulca.v1.UlcaService": Rule(Access.DENY),
    # NVIDIA Riva's APIs (services/riva): the scope of the service each is served by.
    "nvidia.riva.asr.RivaSpeechRecognition": Rule(Access.SCOPE, "asr"),
    "nvidia.riva.tts.RivaSpeechSynthesis": Rule(Access.SCOPE, "tts"),
    "nvidia.riva.nmt.RivaTranslation": Rule(Access.SCOPE, "nmt"),
    "ai4vc.auth.v1.AuthService": Rule(Access.AUTHENTICATED),
    # Reads: any valid credential; writes: the "config" scope (METHOD_RULES below).
    "ai4vc.config.v1.ConfigService": Rule(Access.AUTHENTICATED),
    # Any valid credential: the service answers with the caller's own usage (admins: everyone's).
    "ai4vc.metrics.v1.MetricsService": Rule(Access.AUTHENTICATED),
    # Traces and logs name principals, request ids and errors: operators only.
    "ai4vc.telemetry.v1.TelemetryService": Rule(Access.SCOPE, "telemetry"),
    # Rules, alerts and silences: operators only.
    "ai4vc.alerting.v1.AlertingService": Rule(Access.SCOPE, "alerting"),
    # Every service's health, traffic and the top keys: operators only.
    "ai4vc.dashboard.v1.DashboardService": Rule(Access.SCOPE, "dashboard"),
    # The OTLP collector services (opentelemetry.proto.collector.*) on the telemetry port are
    # for the services themselves and have no rule: the edge refuses them (DEFAULT_RULE).
    "grpc.health.v1.Health": Rule(Access.PUBLIC),
    "grpc.reflection.v1alpha.ServerReflection": Rule(Access.PUBLIC),
    "grpc.reflection.v1.ServerReflection": Rule(Access.PUBLIC),
}

# Single methods that differ from their service's rule.
METHOD_RULES: dict[str, Rule] = {
    "/ai4vc.auth.v1.AuthService/Login": Rule(Access.PUBLIC),
    "/ai4vc.auth.v1.AuthService/Refresh": Rule(Access.PUBLIC),
    "/ai4vc.auth.v1.AuthService/Logout": Rule(Access.PUBLIC),  # the refresh token is the credential
    "/ai4vc.auth.v1.AuthService/CreateUser": Rule(Access.SCOPE, "admin"),
    "/ai4vc.config.v1.ConfigService/SetConfig": Rule(Access.SCOPE, "config"),
    "/ai4vc.config.v1.ConfigService/DeleteConfig": Rule(Access.SCOPE, "config"),
    "/ai4vc.config.v1.ConfigService/RollbackConfig": Rule(Access.SCOPE, "config"),
    # The Bhashini / Dhruva facade: each method needs the scope of the service it calls; a
    # pipeline, "pipeline" (its tasks call the others as this caller, and they check nothing
    # more: the adapter forwards the identity); the config call, any valid credential.
    "/ai4vc.ulca.v1.UlcaService/ComputeAsr": Rule(Access.SCOPE, "asr"),
    "/ai4vc.ulca.v1.UlcaService/ComputeTranslation": Rule(Access.SCOPE, "nmt"),
    "/ai4vc.ulca.v1.UlcaService/ComputeTransliteration": Rule(Access.SCOPE, "nmt"),
    "/ai4vc.ulca.v1.UlcaService/ComputeTts": Rule(Access.SCOPE, "tts"),
    "/ai4vc.ulca.v1.UlcaService/ComputePipeline": Rule(Access.SCOPE, "pipeline"),
    "/ai4vc.ulca.v1.UlcaService/GetModelsPipeline": Rule(Access.AUTHENTICATED),
}

# HTTP paths that are not gRPC methods: the WebSocket bridge's endpoints (checked on the
# upgrade request), each needing the scope of the stream it opens.
PATH_RULES: dict[str, Rule] = {
    "/v1/ws/asr": Rule(Access.SCOPE, "asr"),
    "/v1/ws/tts": Rule(Access.SCOPE, "tts"),
    "/v1/ws/speech-to-speech": Rule(Access.SCOPE, "pipeline"),
}

# The REST API's OpenAPI document and its Swagger UI page, which Envoy answers itself
# (deploy/local/envoy_config.DOCS_FILES): public, like the discovery they describe. Exact paths
# only — nothing under /docs/ but these files.
DOCS_PATHS = ("/openapi.json", "/docs", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js")
PATH_RULES.update({path: Rule(Access.PUBLIC) for path in DOCS_PATHS})
# The root: Envoy's redirect to the web console (envoy/routes.yaml.j2), exactly "/" and nothing below.
PATH_RULES["/"] = Rule(Access.PUBLIC)

# HTTP path prefixes that are not gRPC services: the dashboard's static page (its script and
# style). It holds no figures: it reads GetOverview through the edge with the user's key.
# And the web console (web/, a static export under /ui/): it calls the API with the key the
# user keeps in the browser. Each a prefix of its own that no REST path starts with — never
# "/" or "/v1/": Envoy picks a route's filters before the transcoder rewrites a REST path.
PREFIX_RULES: dict[str, Rule] = {
    "/dashboard/": Rule(Access.PUBLIC),
    "/ui/": Rule(Access.PUBLIC),
}

DEFAULT_RULE = Rule(Access.DENY)


def rule_for(path: str) -> Rule:
    """The rule for an HTTP path as Envoy sends it ("/pkg.Service/Method", query dropped)."""
    path = path.split("?", 1)[0]
    if path in METHOD_RULES:
        return METHOD_RULES[path]
    if path in PATH_RULES:
        return PATH_RULES[path]
    for prefix, rule in PREFIX_RULES.items():
        if path.startswith(prefix):
            return rule
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "" and parts[1] and parts[2]:
        return SERVICE_RULES.get(parts[1], DEFAULT_RULE)
    return DEFAULT_RULE
