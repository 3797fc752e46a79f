"""Slow and silent clients, on raw sockets: slowloris over HTTP/1.1 (headers a byte at a time) and
HTTP/2 (a preface and then nothing; a HEADERS frame never finished), a gRPC stream that sends
nothing, and a client that never reads its responses. Each is cut on a timer or held by flow
control to a bounded amount of Envoy's memory, while other clients keep being served.

The production limits (deploy/local/envoy_config.ClientLimits: 10 s for headers, 300 s idle) are
too long to wait in a test, so most of these run against a second Envoy started beside the mesh's,
rendered from the same source with short limits and the same routes (RDS from the gateway's
directory): only the limits differ. The silent gRPC stream runs against the mesh's own edge, as
the service's 10 s config timeout ends it."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.audio.v1 import audio_pb2
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from deploy.local.envoy_config import ClientLimits, render
from deploy.local.parts import Envoy, free_ports
from tests.errors_util import error_info

pytestmark = pytest.mark.e2e
# (the stream idle timeout leaves a cold TTS stream time for its first chunk on a loaded machine)
LIMITS = ClientLimits(request_headers_timeout_s=1.0, stream_idle_timeout_s=4.0, connection_idle_timeout_s=2.0,
                      per_connection_buffer_limit_bytes=256 * 1024, upstream_stream_window_bytes=256 * 1024)
TRANSLATE = nmt_pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")
HINDI = "भारत एक विशाल देश है। इसकी राजधानी नई दिल्ली है। "
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x7


@pytest.fixture(scope="module")
def edge(mesh) -> Iterator[Envoy]:
    """A second Envoy with LIMITS, in front of the mesh's services, reading the routes and keys the
    mesh's gateway publishes."""
    port, admin = free_ports(2)
    envoy = Envoy(mesh.run_dir, port, admin, name="envoy-limits")
    envoy.config_dir.mkdir(parents=True, exist_ok=True)
    path = envoy.config_dir / "envoy.yaml"
    path.write_text(render(mesh.upstreams(), listen_port=port, admin_port=admin,
                           access_log_path=mesh.run_dir / "logs" / "envoy-limits-access.log",
                           routes_dir=mesh.envoy.config_dir / "routes", jwks_path=mesh.envoy.config_dir / "jwks.json",
                           node_id=f"edge-{port}", upstream_tls=mesh.upstream_tls_files(), limits=LIMITS)
                    # server.memory_allocated is refreshed at each stats flush (5 s by default).
                    + "stats_flush_interval: 0.25s\n")
    envoy.write(path)
    try:
        envoy.start()
        envoy.wait_healthy()
        yield envoy
    finally:
        envoy.stop()


def stat(envoy: Envoy, name: str) -> int:
    """One counter or gauge of `envoy`'s admin /stats (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{envoy.admin_port}/stats?format=json&filter=^{name}$",
                                timeout=5) as answer:
        found = json.loads(answer.read())["stats"]
    return int(found[0]["value"]) if found else 0


def served(port: int, key: str) -> bool:
    """An ordinary call through the edge at `port` is answered."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        nmt_grpc.NmtServiceStub(channel).TranslateText(TRANSLATE, timeout=15, metadata=(("x-api-key", key),))
    return True


# -- a minimal HTTP/2 client: frames and HPACK literals, no flow control of its own -----------------


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _integer(value: int, prefix_bits: int = 7) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([value])
    out = [limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes([*out, value])


def header_block(headers: list[tuple[str, str]]) -> bytes:
    """HPACK "literal without indexing, new name" for each header (no Huffman, no table)."""
    out = b""
    for name, value in headers:
        out += b"\x00" + _integer(len(name)) + name.encode() + _integer(len(value.encode())) + value.encode()
    return out


def read_frames(sock: socket.socket, timeout_s: float) -> Iterator[tuple[int, int, int, bytes]]:
    """Frames (type, flags, stream, payload) as they come, until the peer closes or `timeout_s`
    passes with nothing (the caller may stop earlier)."""
    sock.settimeout(timeout_s)
    buffer = b""
    while True:
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            yield kind, flags, stream, buffer[9:9 + length]
            buffer = buffer[9 + length:]
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return
        if not chunk:
            return
        buffer += chunk


def h2_connect(port: int) -> socket.socket:
    """Preface and SETTINGS (a 64 KiB stream window, no push); the server's SETTINGS acknowledged."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 0x2, 0) + struct.pack(">HI", 0x4, 65535)))
    for kind, flags, _, _ in read_frames(sock, 5):
        if kind == SETTINGS and not flags & 0x1:
            sock.sendall(frame(SETTINGS, 0x1, 0, b""))
            return sock
    raise AssertionError("no SETTINGS from the server")


def until(sock: socket.socket, wanted: set[int], timeout_s: float = 10) -> list[int]:
    """The frame types read until one of `wanted` (or the end): what the peer sent."""
    kinds = []
    for kind, _, _, _ in read_frames(sock, timeout_s):
        kinds.append(kind)
        if kind in wanted:
            break
    return kinds


# -- slowloris ------------------------------------------------------------------------------------


def test_http1_slowloris_gets_408_while_others_are_served(mesh, edge: Envoy) -> None:
    """Connections sending their headers a byte at a time get 408 once the headers timeout runs
    out, however long they keep dribbling; calls on other connections are answered meanwhile."""
    before = stat(edge, "http.edge.downstream_rq_header_timeout")
    slow = [socket.create_connection(("127.0.0.1", edge.port), timeout=10) for _ in range(20)]
    answers = {id(s): b"" for s in slow}
    for sock in slow:
        sock.sendall(b"POST /v1/text:translate HTTP/1.1\r\nHost: edge\r\nx-pad: ")
        sock.setblocking(False)
    deadline = time.monotonic() + 10
    checked = False
    while time.monotonic() < deadline and not all(answers.values()):
        for sock in slow:
            if answers[id(sock)]:
                continue
            try:
                sock.send(b"a")
                answers[id(sock)] += sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                answers[id(sock)] += b"<closed>"
        if not checked:
            checked = served(edge.port, mesh.admin_key())
        time.sleep(0.2)
    for sock in slow:
        sock.close()
    assert checked
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers.values()), set(answers.values())
    assert stat(edge, "http.edge.downstream_rq_header_timeout") - before >= len(slow)


def test_http2_preface_then_nothing_is_closed(edge: Envoy) -> None:
    """An HTTP/2 connection that opens no stream is sent GOAWAY and closed at the idle timeout."""
    before = stat(edge, "http.edge.downstream_cx_idle_timeout")
    sock = h2_connect(edge.port)
    try:
        kinds = until(sock, {GOAWAY})
    finally:
        sock.close()
    assert GOAWAY in kinds
    assert stat(edge, "http.edge.downstream_cx_idle_timeout") - before >= 1


def test_http2_headers_never_finished_are_cut(mesh, edge: Envoy) -> None:
    """A HEADERS frame whose block is never finished (no END_HEADERS, no CONTINUATION) is cut at
    the headers timeout: the stream reset or the connection closed, not held open."""
    sock = h2_connect(edge.port)
    block = header_block([(":method", "POST"), (":scheme", "http"), (":authority", "edge"),
                          (":path", "/ai4vc.nmt.v1.NmtService/TranslateText"), ("content-type", "application/grpc")])
    try:
        sock.sendall(frame(HEADERS, 0x0, 1, block[: len(block) // 2]))
        kinds = until(sock, {RST_STREAM, GOAWAY})
    finally:
        sock.close()
    assert {RST_STREAM, GOAWAY} & set(kinds), kinds
    assert served(edge.port, mesh.admin_key())


# -- silent streams ------------------------------------------------------------------------------


def test_grpc_stream_that_sends_nothing_is_ended_by_the_service(mesh) -> None:
    """A live ASR stream opened through the production edge that never sends its config ends with
    INVALID_ARGUMENT, reason STREAM_CONFIG_MISSING (the service's 10 s config timeout), well
    before its own 60 s deadline."""
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        silence = threading.Event()

        def nothing() -> Iterator[asr_pb.StreamingRecognizeRequest]:
            silence.wait(60)
            return
            yield  # a generator that sends no message until the test ends

        responses = asr_grpc.AsrServiceStub(channel).StreamingRecognize(
            nothing(), timeout=60, metadata=(("x-api-key", mesh.admin_key()),))
        try:
            with pytest.raises(grpc.RpcError) as ended:
                list(responses)
        finally:
            silence.set()
    assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert error_info(ended.value)[0].reason == "STREAM_CONFIG_MISSING"  # type: ignore[arg-type,union-attr]


def test_stream_idle_after_its_config_is_cut_by_the_edge(mesh, edge: Envoy) -> None:
    """A TTS stream that sends its config and then nothing is reset at the stream idle timeout."""
    before = stat(edge, "http.edge.downstream_rq_idle_timeout")
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as channel:
        silence = threading.Event()

        def config_then_nothing() -> Iterator[tts_pb.BidiStreamingSynthesizeRequest]:
            yield tts_pb.BidiStreamingSynthesizeRequest(streaming_config=tts_pb.StreamingSynthesisConfig(
                voice=tts_pb.VoiceSelectionParams(name="hi-female"),
                audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16)))
            silence.wait(60)

        responses = tts_grpc.TtsServiceStub(channel).BidiStreamingSynthesize(
            config_then_nothing(), timeout=60, metadata=(("x-api-key", mesh.admin_key()),))
        try:
            with pytest.raises(grpc.RpcError) as cut:
                list(responses)
        finally:
            silence.set()
    assert cut.value.code() != grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert stat(edge, "http.edge.downstream_rq_idle_timeout") - before >= 1


# -- a client that never reads ----------------------------------------------------------------------


def _grpc_message(message: Any) -> bytes:
    data = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(data)) + data


def test_a_client_that_never_reads_holds_bounded_memory(mesh, edge: Envoy) -> None:
    """A client asks for minutes of streamed audio and never reads it (no WINDOW_UPDATE, nothing
    taken off the socket): Envoy pauses the TTS upstream (flow control) instead of buffering, its
    memory grows by no more than the buffer and window limits, other clients are served, and the
    stuck stream is reset at the stream idle timeout (its buffers freed)."""
    time.sleep(0.5)  # a fresh memory figure (stats flush every 0.25 s)
    memory_before = stat(edge, "server.memory_allocated")
    paused_before = stat(edge, "cluster.tts.upstream_flow_control_paused_reading_total")
    request = tts_pb.StreamingSynthesizeRequest(
        input=tts_pb.SynthesisInput(text=HINDI * 34), voice=tts_pb.VoiceSelectionParams(name="hi-female"),
        audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16,
                                              sample_rate_hertz=48000))
    assert len(request.input.text.encode()) < 5000  # within the service's input limit
    sock = h2_connect(edge.port)
    try:
        block = header_block([(":method", "POST"), (":scheme", "http"), (":authority", "edge"),
                              (":path", "/ai4vc.tts.v1.TtsService/StreamingSynthesize"),
                              ("content-type", "application/grpc"), ("te", "trailers"),
                              ("x-api-key", mesh.admin_key())])
        sock.sendall(frame(HEADERS, 0x4, 1, block) + frame(DATA, 0x1, 1, _grpc_message(request)))
        paused = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            paused = stat(edge, "cluster.tts.upstream_flow_control_paused_reading_total") - paused_before
            if paused:
                break
            time.sleep(0.2)
        assert paused >= 1, "Envoy never paused the TTS stream of a client that does not read"
        time.sleep(0.6)
        growth = stat(edge, "server.memory_allocated") - memory_before
        assert served(edge.port, mesh.admin_key())
        # Reading frames now grants no window: the stream stays stuck until the edge resets it.
        kinds = until(sock, {RST_STREAM}, timeout_s=LIMITS.stream_idle_timeout_s + 10)
        assert kinds[-1:] == [RST_STREAM], kinds[-5:]
    finally:
        sock.close()
    # (plus 4 MiB for what else the process allocates meanwhile: one run measured 1.6 MB in all)
    bound = LIMITS.per_connection_buffer_limit_bytes + LIMITS.upstream_stream_window_bytes + 4 * 1024 * 1024
    assert growth < bound, (growth, bound)
    # ...while the audio asked for is more than that: without flow control Envoy would hold it.
    with grpc.insecure_channel(f"127.0.0.1:{edge.port}") as channel:
        audio = sum(len(r.audio_content) for r in tts_grpc.TtsServiceStub(channel).StreamingSynthesize(
            request, timeout=60, metadata=(("x-api-key", mesh.admin_key()),)))
    assert audio > 2 * bound, (audio, bound)

