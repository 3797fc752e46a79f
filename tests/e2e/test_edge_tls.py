"""TLS at the edge and mesh mTLS, on a mesh of its own started as `make up TLS=1 MTLS=1` starts it:
grpcurl, Python gRPC, the SDK, REST, gRPC-Web and WebSocket all speak TLS to Envoy with the local
CA; plaintext and a wrong CA are refused at the edge; a service under mTLS refuses every caller
without a certificate of the mesh CA while calls through Envoy reach it."""

from __future__ import annotations

import asyncio
import json
import ssl
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ai4vc.audio.v1 import audio_pb2
from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.dashboard.v1 import dashboard_service_pb2 as dashboard_pb
from ai4vc.dashboard.v1 import dashboard_service_pb2_grpc as dashboard_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipe_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pipe_grpc
from ai4vc.sdk import Client
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from deploy.local.mesh import MTLS_PLAINTEXT, Mesh
from deploy.local.tls import LocalCa, names_of
from tests.mesh_util import private_mesh, ws_tts

pytestmark = pytest.mark.e2e

GRPCURL = Path(sys.executable).parent / "grpcurl"
HINDI = "भारत एक विशाल देश है।"
TRANSLATE = json.dumps({"contents": [HINDI], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}).encode()


def urdu(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


@pytest.fixture(scope="module")
def tls_mesh(run_base: Path):
    with private_mesh(run_base, "tls", edge_tls=True, mesh_mtls=True) as mesh:
        yield mesh


@pytest.fixture(scope="module")
def ca(tls_mesh: Mesh) -> bytes:
    return tls_mesh.ca.cert_path.read_bytes()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCa:
    """A CA the mesh never heard of, with a client certificate of its own."""
    return LocalCa(tmp_path_factory.mktemp("other-ca"))


def _admin(mesh: Mesh, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}{path}", timeout=5) as answer:
        return str(answer.read().decode())


def _stat(stats: str, suffix: str = "") -> int:
    """The sum of the admin /stats lines whose name ends with `suffix` (any line when empty)."""
    return sum(int(line.rsplit(" ", 1)[1]) for line in stats.splitlines()
               if ": " in line and line.split(":", 1)[0].endswith(suffix))


def edge(mesh: Mesh) -> str:
    return f"localhost:{mesh.ports.envoy}"


def test_grpcurl_lists_services_over_tls_with_the_ca(tls_mesh: Mesh) -> None:
    """`grpcurl -cacert <ca> localhost:<port> list` (what `make up TLS=1` prints) answers through TLS."""
    result = subprocess.run([str(GRPCURL), "-cacert", str(tls_mesh.ca.cert_path), edge(tls_mesh), "list"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ai4vc.nmt.v1.NmtService" in result.stdout.split()


def test_grpcurl_without_the_ca_is_refused(tls_mesh: Mesh) -> None:
    """Without -cacert the edge's certificate does not verify (it comes from the local CA): grpcurl fails."""
    result = subprocess.run([str(GRPCURL), edge(tls_mesh), "list"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "certificate" in result.stderr.lower()


async def test_python_grpc_translates_over_tls(tls_mesh: Mesh, ca: bytes) -> None:
    """grpc.aio.secure_channel(ssl_channel_credentials(ca)) → TranslateText hi→ur through the TLS edge."""
    async with grpc.aio.secure_channel(edge(tls_mesh), grpc.ssl_channel_credentials(ca)) as channel:
        reply = await nmt_grpc.NmtServiceStub(channel).TranslateText(
            nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur"),
            metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=30)
    assert urdu(reply.translations[0].translated_text)


def test_sdk_client_with_the_ca_translates(tls_mesh: Mesh) -> None:
    """The Python SDK with root_certificates=<ca file> (AI4VC_CA_CERT) turns TLS on and translates."""
    with Client(edge(tls_mesh), api_key=tls_mesh.admin_key(), root_certificates=tls_mesh.ca.cert_path) as client:
        assert client.settings.tls
        assert urdu(client.translate(HINDI, source="hi", target="ur"))


def test_rest_over_https_with_the_ca(tls_mesh: Mesh) -> None:
    """POST https://localhost:<port>/v1/text:translate verified with the CA file (curl --cacert) is answered."""
    context = ssl.create_default_context(cafile=str(tls_mesh.ca.cert_path))
    request = urllib.request.Request(f"https://{edge(tls_mesh)}/v1/text:translate", data=TRANSLATE, method="POST",
                                     headers={"content-type": "application/json", "x-api-key": tls_mesh.admin_key()})
    with urllib.request.urlopen(request, timeout=30, context=context) as answer:
        body = json.loads(answer.read())
    assert urdu(body["translations"][0]["translatedText"])


def test_grpc_web_over_https(tls_mesh: Mesh) -> None:
    """A browser-style gRPC-Web call (HTTP/1.1 over TLS, ALPN http/1.1) is answered through the edge."""
    message = nmt_pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi",
                                          target_language_code="ur").SerializeToString()
    request = urllib.request.Request(
        f"https://{edge(tls_mesh)}/ai4vc.nmt.v1.NmtService/TranslateText",
        data=b"\x00" + struct.pack(">I", len(message)) + message, method="POST",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-api-key": tls_mesh.admin_key()})
    context = ssl.create_default_context(cafile=str(tls_mesh.ca.cert_path))
    with urllib.request.urlopen(request, timeout=30, context=context) as answer:
        payload = answer.read()
    length = struct.unpack(">I", payload[1:5])[0]
    assert urdu(nmt_pb.TranslateTextResponse.FromString(payload[5:5 + length]).translations[0].translated_text)


async def test_websocket_over_wss(tls_mesh: Mesh) -> None:
    """wss:// to the edge upgrades over TLS to the WebSocket bridge and speaks text."""
    context = ssl.create_default_context(cafile=str(tls_mesh.ca.cert_path))
    audio = await ws_tts(f"wss://{edge(tls_mesh)}/v1/ws/tts", f"ai4vc-key.{tls_mesh.admin_key()}", "नमस्ते",
                         context=context)
    assert len(audio) > 4000


async def test_pipeline_calls_its_services_over_mtls(tls_mesh: Mesh, ca: bytes) -> None:
    """Under mTLS the pipeline's balanced channels present its certificate to nmt and tts (whose
    ports take mTLS only): text → Urdu translation → speech through the TLS edge."""
    request = pipe_pb.RunPipelineRequest(
        tasks=[pipe_pb.PipelineTask(translation=pipe_pb.TranslationConfig(source_language_code="hi",
                                                                             target_language_code="ur")),
               pipe_pb.PipelineTask(tts=pipe_pb.SynthesisConfig(
                   voice=tts_pb.VoiceSelectionParams(language_code="ur", name="ur-male"),
                   audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_WAV)))],
        input=pipe_pb.PipelineInput(text=pipe_pb.TextInput(text=HINDI, language_code="hi")))
    async with grpc.aio.secure_channel(edge(tls_mesh), grpc.ssl_channel_credentials(ca)) as channel:
        answer = await pipe_grpc.PipelineServiceStub(channel).RunPipeline(
            request, metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=60)
    assert urdu(answer.outputs[0].translation.translated_text)
    assert len(answer.outputs[1].audio.audio_content) > 10_000


async def test_plaintext_grpc_to_the_tls_port_is_refused(tls_mesh: Mesh) -> None:
    """An insecure channel to the TLS listener gets no answer: UNAVAILABLE, nothing served in the clear."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{tls_mesh.ports.envoy}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await nmt_grpc.NmtServiceStub(channel).ListLanguagePairs(
                nmt_pb.ListLanguagePairsRequest(), metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plain_http_to_the_tls_port_is_refused(tls_mesh: Mesh) -> None:
    """http:// (REST in the clear) to the TLS listener gets no HTTP answer at all."""
    request = urllib.request.Request(f"http://127.0.0.1:{tls_mesh.ports.envoy}/v1/text:translate", data=TRANSLATE,
                                     method="POST", headers={"content-type": "application/json",
                                                             "x-api-key": tls_mesh.admin_key()})
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert not isinstance(refused.value, urllib.error.HTTPError)


async def test_a_wrong_ca_is_refused(tls_mesh: Mesh, other_ca: LocalCa) -> None:
    """A client trusting another CA does not accept the edge's certificate: UNAVAILABLE, no call made."""
    other_ca.ensure()
    credentials = grpc.ssl_channel_credentials(other_ca.cert_path.read_bytes())
    async with grpc.aio.secure_channel(edge(tls_mesh), credentials) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await nmt_grpc.NmtServiceStub(channel).ListLanguagePairs(
                nmt_pb.ListLanguagePairsRequest(), metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mtls_service_answers_through_envoy_over_mtls(tls_mesh: Mesh, ca: bytes) -> None:
    """ListApiKeys through the TLS edge reaches the auth service, which Envoy calls over mTLS
    (its cluster's TLS handshakes are counted; a plaintext cluster would count none)."""
    async with grpc.aio.secure_channel(edge(tls_mesh), grpc.ssl_channel_credentials(ca)) as channel:
        reply = await auth_grpc.AuthServiceStub(channel).ListApiKeys(
            auth_pb.ListApiKeysRequest(), metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=30)
    assert len(reply.api_keys) >= 1
    stats = await asyncio.to_thread(_admin, tls_mesh, "/stats?filter=^cluster.auth.ssl")
    handshakes = dict(line.split(": ", 1) for line in stats.splitlines() if ": " in line)
    assert int(handshakes["cluster.auth.ssl.handshake"]) >= 1
    assert int(handshakes["cluster.auth.ssl.fail_verify_san"]) == 0


async def _health(address: str, credentials: grpc.ChannelCredentials | None) -> int:
    channel = (grpc.aio.secure_channel(address, credentials) if credentials is not None
               else grpc.aio.insecure_channel(address))
    async with channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return int(answer.status)


async def test_mtls_service_refuses_callers_without_a_mesh_certificate(tls_mesh: Mesh, ca: bytes,
                                                                       other_ca: LocalCa) -> None:
    """Straight to the auth service's port: plaintext, TLS without a client certificate and a client
    certificate of another CA are all refused; a certificate of the mesh CA gets SERVING."""
    address = f"127.0.0.1:{tls_mesh.ports.services['auth']}"
    stranger = other_ca.issue("client", ["stranger"], server=False, client=True)
    refused_with = {
        "plaintext": None,
        "no client certificate": grpc.ssl_channel_credentials(ca),
        "another CA's certificate": grpc.ssl_channel_credentials(
            ca, stranger.key.read_bytes(), stranger.cert.read_bytes()),
    }
    for name, credentials in refused_with.items():
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(address, credentials)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, name
    mine = tls_mesh.ca.service("auth")
    assert await _health(address, grpc.ssl_channel_credentials(ca, mine.key.read_bytes(), mine.cert.read_bytes())) \
        == health_pb2.HealthCheckResponse.SERVING


def test_every_upstream_outside_the_plaintext_set_is_called_over_tls(tls_mesh: Mesh) -> None:
    """Envoy's gRPC clusters, health checks included, use TLS for every service but MTLS_PLAINTEXT's."""
    stats = _admin(tls_mesh, "/stats?filter=ssl.handshake$")
    over_tls = {line.split(".")[1] for line in stats.splitlines() if line.startswith("cluster.")
                and int(line.rsplit(" ", 1)[1]) > 0}
    assert {"auth", "config", "gateway", "metrics", "telemetry", "alerting", "riva", "ulca", "dashboard",
            "asr", "tts", "nmt", "pipeline"} <= over_tls
    assert not over_tls & MTLS_PLAINTEXT


async def test_dashboard_reaches_every_replica_under_mtls_and_relays_over_https(tls_mesh: Mesh, ca: bytes) -> None:
    """The dashboard's health checks (its own certificate for mTLS services, plaintext for the
    MTLS_PLAINTEXT ones) find every service SERVING; its page relays GetOverview to the https edge."""
    async with grpc.aio.secure_channel(edge(tls_mesh), grpc.ssl_channel_credentials(ca)) as channel:
        overview = await dashboard_grpc.DashboardServiceStub(channel).GetOverview(
            dashboard_pb.GetOverviewRequest(), metadata=(("x-api-key", tls_mesh.admin_key()),), timeout=30)
    states = {s.service: dashboard_pb.ServingState.Name(s.state) for s in overview.services}
    assert states and all(state == "SERVING_STATE_SERVING" for state in states.values()), states
    [page] = [s for s in tls_mesh.services if s.name == "dashboard"]
    request = urllib.request.Request(f"http://127.0.0.1:{page.web_port}/v1/dashboard:overview",
                                     headers={"x-api-key": tls_mesh.admin_key()})
    with await asyncio.to_thread(urllib.request.urlopen, request, timeout=30) as answer:
        assert answer.status == 200
        assert json.loads(answer.read())["services"]


async def test_a_renewed_edge_certificate_is_served_without_a_restart(tls_mesh: Mesh, ca: bytes) -> None:
    """Issuing the edge's certificate again (other names) reaches Envoy by SDS: new connections get
    the new certificate, and a connection opened before keeps working — no restart, no cut stream."""
    async with grpc.aio.secure_channel(edge(tls_mesh), grpc.ssl_channel_credentials(ca)) as channel:
        stub = nmt_grpc.NmtServiceStub(channel)
        metadata = (("x-api-key", tls_mesh.admin_key()),)
        await stub.ListLanguagePairs(nmt_pb.ListLanguagePairsRequest(), metadata=metadata, timeout=30)
        uptime = _stat(await asyncio.to_thread(_admin, tls_mesh, "/stats?filter=^server.uptime$"))
        tls_mesh.ca.edge(["renewed.ai4vc.test"])
        names: set[str] = set()
        for _ in range(100):
            pem = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", tls_mesh.ports.envoy))
            names = names_of(x509.load_pem_x509_certificate(pem.encode()))
            if "renewed.ai4vc.test" in names:
                break
            await asyncio.sleep(0.1)
        assert "renewed.ai4vc.test" in names
        stats = await asyncio.to_thread(_admin, tls_mesh, "/stats?filter=(^server.uptime$|ssl_context_update_by_sds)")
        assert _stat(stats, "server.uptime") >= uptime  # the same Envoy: a restart would start it at 0
        assert _stat(stats, "server_ssl_socket_factory.ssl_context_update_by_sds") >= 1
        await stub.ListLanguagePairs(nmt_pb.ListLanguagePairsRequest(), metadata=metadata, timeout=30)
