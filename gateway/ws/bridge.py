"""`python -m gateway.ws`: the WebSocket ↔ gRPC bridge for browsers, whose gRPC-Web has
no client streaming. Each `/v1/ws/*` WebSocket becomes one bidirectional gRPC stream on the
service behind it (see `gateway.ws.protocol` for the frames); `GET /healthz` answers Envoy's
HTTP health check on the same port.

Envoy authenticates and rate-limits the upgrade request and sets the identity headers; the
bridge forwards them, with the request id and trace context, as the call's metadata.
Back-pressure is end to end with bounded buffers only: the reader stops taking frames off the
socket (at most `max_queue_frames` buffered) while a gRPC write waits for flow control, and
stops reading responses while the socket's write buffer is above `write_limit_bytes`.
Closing the socket cancels the call; the call ending closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.rpc import status_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from gateway.ws import protocol as proto
from services.common import logs
from services.common.errors import Internal, InvalidArgument, Reason
from services.common.metrics import RpcMetrics
from services.common.rpc import tls
from services.common.rpc.balancing import balanced_channel, grpc_target
from services.common.rpc.downstream import SERVICE_NAMES
from services.common.rpc.identity import IDENTITY_HEADERS, PRINCIPAL_HEADER
from services.common.rpc.interceptors import REQUEST_ID_KEY
from services.common.settings import CommonSettings, SettingsError

log = logging.getLogger("ai4vc.ws_bridge")
FORWARDED_HEADERS = (*IDENTITY_HEADERS, REQUEST_ID_KEY, "traceparent", "tracestate")
HEALTH_PATH = "/healthz"


# The gRPC service behind each route, whose health picks the replicas a session may go to.
HEALTH_NAMES = {**SERVICE_NAMES, "pipeline": "ai4vc.pipeline.v1.PipelineService"}


def target_env(route: proto.Route) -> str:
    return f"AI4VC_WSBRIDGE_{route.name.upper()}_TARGET"


def _select_subprotocol(_connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return Subprotocol(proto.WS_PROTOCOL) if proto.WS_PROTOCOL in offered else None


@dataclasses.dataclass(frozen=True)
class WsBridgeSettings(CommonSettings):
    """Environment prefix `AI4VC_WSBRIDGE_`. Targets name every replica of the gRPC services
    (host:port, IP:port,IP:port,… or a gRPC target URI: services/common/rpc/balancing.py)."""

    service_name: str = "ws-bridge"
    port: int = 8092
    asr_target: str = "127.0.0.1:8087"
    tts_target: str = "127.0.0.1:8088"
    pipeline_target: str = "127.0.0.1:8091"
    config_timeout_s: float = 10.0  # the first frame must arrive within this
    stream_timeout_s: float = 3600.0  # deadline of each downstream stream (ASR caps audio at 30 min)
    max_frame_bytes: int = 1024 * 1024  # larger WebSocket messages are refused with close 1009
    max_queue_frames: int = 16  # received frames buffered before the bridge stops reading the socket
    write_limit_bytes: int = 256 * 1024  # unsent bytes before sending waits for the client

    def check(self) -> WsBridgeSettings:
        for route in proto.ROUTES.values():
            if not grpc_target(getattr(self, f"{route.name}_target"), target_env(route)):
                raise SettingsError(f"{target_env(route)} is empty: the bridge needs every route's service")
        if self.max_frame_bytes < proto.MAX_AUDIO_CHUNK_BYTES:
            raise SettingsError(f"AI4VC_WSBRIDGE_MAX_FRAME_BYTES must be at least {proto.MAX_AUDIO_CHUNK_BYTES}")
        return self


def forwarded_metadata(headers: Any) -> list[tuple[str, str]]:
    """The upgrade request's identity, request id and trace headers, as gRPC metadata. Values
    that gRPC metadata cannot carry (non-printable ASCII) are dropped rather than failing."""
    metadata = []
    for name in FORWARDED_HEADERS:
        for value in headers.get_all(name):
            if value.isascii() and value.isprintable():
                metadata.append((name, value))
    return metadata


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sessions = Counter("ws_bridge_sessions", "WebSocket sessions ended, by outcome.",
                                ["route", "outcome"], registry=registry)
        self.in_flight = Gauge("ws_bridge_sessions_in_flight", "WebSocket sessions open.", ["route"],
                               registry=registry)
        self.frames = Counter("ws_bridge_frames", "Frames relayed.", ["route", "direction"], registry=registry)
        self.duration = Histogram("ws_bridge_session_seconds", "WebSocket session duration.", ["route"],
                                  buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600),
                                  registry=registry)


class WsBridge:
    """The bridge: one gRPC channel per target, one WebSocket server."""

    def __init__(self, settings: WsBridgeSettings, registry: CollectorRegistry) -> None:
        self.settings = settings.check()
        options = [("grpc.max_receive_message_length", settings.max_message_bytes),
                   ("grpc.max_send_message_length", settings.max_message_bytes)]
        # Mesh mTLS: the bridge's certificate, every replica's checked against the service's name.
        credentials = tls.channel_credentials(settings)
        # Each balanced over the service's healthy replicas: a new session goes to a live one.
        self.channels = {route.name: balanced_channel(
            grpc_target(getattr(settings, f"{route.name}_target"), target_env(route)), HEALTH_NAMES[route.name],
            options=options, credentials=credentials, tls_name=route.name) for route in proto.ROUTES.values()}
        self.metrics = _Metrics(registry)
        self.server: Server | None = None
        self.draining = False

    async def start(self) -> int:
        """Starts listening; returns the bound port."""
        s = self.settings
        # websockets logs every connection at INFO, health checks included: keep that for DEBUG.
        ws_log = logging.getLogger("ai4vc.ws_bridge.websockets")
        ws_log.setLevel(logging.DEBUG if s.log_level.upper() == "DEBUG" else logging.WARNING)
        self.server = await serve(
            self.handle, s.host, s.port, process_request=self.process_request, max_size=s.max_frame_bytes,
            max_queue=s.max_queue_frames, write_limit=s.write_limit_bytes, compression=None,
            # Browsers offer "ai4vc.v1" (with their credential, which the edge replaces by it);
            # other clients may offer nothing.
            select_subprotocol=_select_subprotocol,
            server_header=None, logger=ws_log)
        return int(next(iter(self.server.sockets)).getsockname()[1])

    async def stop(self, grace_s: float) -> None:
        """Stops accepting, lets open sessions finish for `grace_s`, then closes them (1001)."""
        self.draining = True
        if self.server is not None:
            self.server.close(close_connections=False)
            try:
                await asyncio.wait_for(self.server.wait_closed(), grace_s)
            except TimeoutError:
                self.server.close(close_connections=True)
                await self.server.wait_closed()
        for channel in self.channels.values():
            await channel.close()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Health checks and unknown paths are answered over plain HTTP, before any upgrade."""
        path = request.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            return connection.respond(503 if self.draining else 200, "draining\n" if self.draining else "ok\n")
        if proto.route_for(path) is None:
            return connection.respond(404, "no such WebSocket endpoint\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        route = proto.route_for(connection.request.path)  # type: ignore[union-attr]
        assert route is not None  # process_request refused the others
        metadata = forwarded_metadata(connection.request.headers)  # type: ignore[union-attr]
        request_id = next((v for k, v in metadata if k == REQUEST_ID_KEY), "")[:128]
        if not request_id:
            request_id = uuid.uuid4().hex
            metadata.append((REQUEST_ID_KEY, request_id))
        logs.request_id_var.set(request_id)  # this handler runs in its own task: its own context
        principal = next((v for k, v in metadata if k == PRINCIPAL_HEADER), "")
        started = time.monotonic()
        self.metrics.in_flight.labels(route.name).inc()
        outcome = "INTERNAL"
        try:
            outcome = await self._session(connection, route, metadata, request_id)
        except Exception:  # noqa: BLE001 - a bridge bug must end one session, not the process
            log.exception("session failed", extra={"route": route.name})
            await self._fail(connection, proto.status_of_domain(Internal("internal error"), request_id))
        finally:
            self.metrics.in_flight.labels(route.name).dec()
            self.metrics.sessions.labels(route.name, outcome).inc()
            self.metrics.duration.labels(route.name).observe(time.monotonic() - started)
            log.info("session ended", extra={"route": route.name, "outcome": outcome, "principal": principal,
                                             "duration_s": round(time.monotonic() - started, 3)})

    async def _session(self, connection: ServerConnection, route: proto.Route,
                       metadata: list[tuple[str, str]], request_id: str) -> str:
        """Runs one session; returns its outcome ("OK", "CLIENT_CLOSED" or a gRPC code name)."""
        if route.method is None:
            status = status_pb2.Status(code=grpc.StatusCode.UNIMPLEMENTED.value[0],
                                       message=f"{route.path} is not available: its gRPC service is not deployed")
            await self._fail(connection, status)
            return "UNIMPLEMENTED"
        try:
            first = await asyncio.wait_for(connection.recv(), self.settings.config_timeout_s)
            config = proto.parse_config(route, first)
        except TimeoutError:
            err = InvalidArgument(f'no {{"config": ...}} frame within {self.settings.config_timeout_s:g} s',
                                  reason=Reason.STREAM_CONFIG_MISSING)
            return await self._fail(connection, proto.status_of_domain(err, request_id))
        except proto.FrameError as err:
            return await self._fail(connection, proto.status_of_domain(err, request_id))
        except ConnectionClosed:
            return "CLIENT_CLOSED"
        self.metrics.frames.labels(route.name, "in").inc()
        call = route.method(self.channels[route.name])(metadata=metadata, timeout=self.settings.stream_timeout_s)
        up = asyncio.create_task(self._uplink(connection, route, call, config))
        down = asyncio.create_task(self._downlink(connection, route, call))
        try:
            done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up in done:
                error = up.exception()
                if isinstance(error, proto.FrameError):
                    call.cancel()
                    return await self._fail(connection, proto.status_of_domain(error, request_id))
                if error is not None:
                    raise error
                if up.result() == "closed":
                    return "CLIENT_CLOSED"  # the finally cancels the call
                await asyncio.wait({down})  # the call ended while we wrote: its status says how
            error = down.exception()
            if isinstance(error, ConnectionClosed):
                return "CLIENT_CLOSED"
            if error is not None:
                raise error
            status = down.result()
            if status is None:
                with contextlib.suppress(ConnectionClosed):
                    await connection.send('{"event": "done"}')
                    await connection.close(proto.CLOSE_NORMAL)
                return "OK"
            return await self._fail(connection, status)
        finally:
            call.cancel()
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)

    async def _uplink(self, connection: ServerConnection, route: proto.Route, call: Any, config: Any) -> str:
        """Socket → gRPC. Returns "closed" when the socket closes, "ended" when the call ends
        under it; raises FrameError on a frame the protocol does not allow."""
        frames = self.metrics.frames.labels(route.name, "in")
        try:
            await call.write(route.config_request(config))
            half_closed = False
            while True:
                try:
                    frame = await connection.recv()
                except ConnectionClosed:
                    return "closed"
                frames.inc()
                if half_closed:
                    raise proto.FrameError('no frames may follow {"event": "end"}', reason=Reason.UNEXPECTED_FRAME)
                item = proto.parse_data(route, frame)
                if item is proto.END:
                    await call.done_writing()
                    half_closed = True
                else:
                    await call.write(item)  # waits for gRPC flow control: back-pressure onto the socket
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return "ended"

    async def _downlink(self, connection: ServerConnection, route: proto.Route,
                        call: Any) -> status_pb2.Status | None:
        """gRPC → socket. Returns None when the call ends OK, else its status."""
        frames = self.metrics.frames.labels(route.name, "out")
        try:
            while (response := await call.read()) is not grpc.aio.EOF:
                for frame in proto.response_frames(route, response):
                    await connection.send(frame)  # waits while the client is slow: back-pressure onto gRPC
                    frames.inc()
        except grpc.aio.AioRpcError as err:
            return proto.status_of_call(err)
        return None

    async def _fail(self, connection: ServerConnection, status: status_pb2.Status) -> str:
        """Sends the error frame and closes with 1008 (client error) or 1011 (server error)."""
        code = proto.close_code(status)
        reason = status.message.encode()[:120].decode(errors="ignore")
        with contextlib.suppress(ConnectionClosed):
            await connection.send(proto.error_frame(status))
            await connection.close(code, reason)
        name = proto.error_code_name(status)
        if code == proto.CLOSE_SERVER_ERROR:
            log.warning("session failed", extra={"code": name, "error": status.message[:500]})
        return name


@contextlib.asynccontextmanager
async def running(settings: WsBridgeSettings, registry: CollectorRegistry | None = None
                  ) -> AsyncIterator[tuple[WsBridge, int]]:
    """The bridge listening on `settings.host:settings.port` (0: a free port) until the block ends."""
    bridge = WsBridge(settings, registry or CollectorRegistry())
    port = await bridge.start()
    try:
        yield bridge, port
    finally:
        await bridge.stop(settings.grace_period_s)


async def main(settings: WsBridgeSettings) -> None:
    """Runs until SIGTERM/SIGINT, then drains for `grace_period_s`."""
    logs.configure(settings.service_name, settings.log_level, settings.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = RpcMetrics(settings.service_name)
    async with running(settings, metrics.registry) as (_bridge, port):
        metrics_port = metrics.serve(settings.host, settings.metrics_port) if settings.metrics_port >= 0 else None
        log.info("serving", extra={"port": port, "metrics_port": metrics_port,
                                   "routes": ",".join(proto.ROUTES)})
        await stop.wait()
        log.info("shutting down", extra={"grace_s": settings.grace_period_s})
    log.info("stopped")

