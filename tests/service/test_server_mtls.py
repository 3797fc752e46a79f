"""Mesh mTLS in the chassis: `build_server` with `mesh_tls_*` set binds TLS that requires a client
certificate of the mesh CA, and `services.common.rpc.tls` gives internal callers the channel that
passes; settings refuse half a configuration. A real grpc.aio server on an ephemeral port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.tls import LocalCa
from services.common.otlp import OtlpSpanExporter
from services.common.rpc import tls
from services.common.rpc.server import ServerHandle, build_server
from services.common.settings import CommonSettings, SettingsError, load

SERVICE = "ai4vc.nmt.v1.NmtService"


def _settings(ca: LocalCa, name: str, **overrides: object) -> CommonSettings:
    pair = ca.service(name)
    return CommonSettings(service_name=name, mesh_tls_cert=str(pair.cert), mesh_tls_key=str(pair.key),
                          mesh_tls_ca=str(ca.cert_path), **overrides)  # type: ignore[arg-type]


@pytest.fixture
def ca(tmp_path: Path) -> LocalCa:
    return LocalCa(tmp_path / "tls")


@pytest.fixture
async def server(ca: LocalCa) -> AsyncIterator[ServerHandle]:
    handle = await build_server(_settings(ca, "nmt"), lambda _: None, [SERVICE])
    await handle.server.start()
    await handle.set_serving(True)
    yield handle
    await handle.server.stop(0)


async def _check(channel: grpc.aio.Channel) -> int:
    async with channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=SERVICE), timeout=10)
    return int(reply.status)


async def test_a_caller_with_a_mesh_certificate_is_served(server: ServerHandle, ca: LocalCa) -> None:
    """tls.aio_channel with another service's settings (its certificate, the mesh CA) gets SERVING."""
    caller = _settings(ca, "pipeline")
    assert await _check(tls.aio_channel(f"127.0.0.1:{server.port}", caller)) == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("how", ["plaintext", "tls without a client certificate", "a certificate of another CA"])
async def test_callers_without_a_mesh_certificate_are_refused(server: ServerHandle, ca: LocalCa, tmp_path: Path,
                                                              how: str) -> None:
    """Plaintext, TLS with no client certificate and a client certificate of a foreign CA: UNAVAILABLE."""
    address = f"127.0.0.1:{server.port}"
    root = ca.cert_path.read_bytes()
    if how == "plaintext":
        channel = grpc.aio.insecure_channel(address)
    elif how == "tls without a client certificate":
        channel = grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(root))
    else:
        foreign = LocalCa(tmp_path / "foreign").issue("intruder", ["intruder"], server=False, client=True)
        channel = grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(
            root, foreign.key.read_bytes(), foreign.cert.read_bytes()))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _check(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mesh_tls_server_off_keeps_the_port_plaintext(ca: LocalCa) -> None:
    """mesh_tls_server=false: the certificate is for the process's own calls; its port stays plaintext."""
    handle = await build_server(_settings(ca, "tts", mesh_tls_server=False), lambda _: None, [SERVICE])
    await handle.server.start()
    await handle.set_serving(True)
    try:
        assert tls.server_credentials(_settings(ca, "tts", mesh_tls_server=False)) is None
        assert tls.channel_credentials(_settings(ca, "tts", mesh_tls_server=False)) is not None
        assert await _check(grpc.aio.insecure_channel(f"127.0.0.1:{handle.port}")) \
            == health_pb2.HealthCheckResponse.SERVING
    finally:
        await handle.server.stop(0)


def test_no_mesh_tls_means_plaintext_credentials() -> None:
    """Nothing set: no server or channel credentials (the chassis binds and dials in the clear, as before)."""
    assert tls.server_credentials(CommonSettings()) is None
    assert tls.channel_credentials(CommonSettings()) is None


async def test_otlp_exporter_reaches_an_mtls_server_only_with_credentials(server: ServerHandle, ca: LocalCa) -> None:
    """The OTLP span exporter given mesh credentials completes the handshake with an mTLS server (which
    serves no collector here: UNIMPLEMENTED); without them it never gets through (UNAVAILABLE)."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    async def code(credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
        exporter = OtlpSpanExporter(f"127.0.0.1:{server.port}", credentials=credentials)
        try:
            await asyncio.to_thread(exporter._export, trace_service_pb2.ExportTraceServiceRequest(), timeout=10)
        except grpc.RpcError as err:
            return err.code()  # type: ignore[no-any-return, attr-defined]
        finally:
            exporter.shutdown()
        return grpc.StatusCode.OK

    assert await code(tls.channel_credentials(_settings(ca, "asr"))) == grpc.StatusCode.UNIMPLEMENTED
    assert await code(None) == grpc.StatusCode.UNAVAILABLE


def test_half_a_mesh_tls_configuration_is_refused(ca: LocalCa) -> None:
    """A certificate without its key or CA fails at start with the missing variables' names."""
    pair = ca.service("nmt")
    with pytest.raises(SettingsError, match="AI4VC_NMT_MESH_TLS_KEY.*AI4VC_NMT_MESH_TLS_CA"):
        load(CommonSettings, "AI4VC_NMT", {"AI4VC_NMT_MESH_TLS_CERT": str(pair.cert)})


def test_an_unreadable_mesh_tls_file_is_refused(ca: LocalCa, tmp_path: Path) -> None:
    """A path that is not a readable file fails at start, naming the variable."""
    pair = ca.service("nmt")
    env = {"AI4VC_MESH_TLS_CERT": str(pair.cert), "AI4VC_MESH_TLS_KEY": str(tmp_path / "missing.key"),
           "AI4VC_MESH_TLS_CA": str(ca.cert_path)}
    with pytest.raises(SettingsError, match="AI4VC_NMT_MESH_TLS_KEY"):
        load(CommonSettings, "AI4VC_NMT", env)
