"""Small helpers the end-to-end tests share: a private mesh in its own run directory, counting a
replica's answered calls from its metrics port, and speaking text over the WebSocket bridge's TTS
route."""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from deploy.local.mesh import Mesh, Ports


@contextlib.contextmanager
def private_mesh(run_base: Path, name: str, **options: Any) -> Iterator[Mesh]:
    """A whole mesh of its own under `run_base/name`, on free ports, not durable, stopped on exit.

    For tests that kill, freeze or reconfigure parts (`options` go to `Mesh`: replicas, TLS, …)
    and so must not share the session's mesh."""
    run_dir = run_base / name
    run_dir.mkdir()
    run_dir.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True, **options)
    try:
        mesh.up()
        yield mesh
    finally:
        mesh.down()


def handled_ok(metrics_port: int, method: str) -> int:
    """Calls of `method` ("Service/Method", e.g. "NmtService/TranslateText") a process answered OK,
    from grpc_server_handled_total on its metrics port."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith("grpc_server_handled_total{") and f'.{method}"' in line
                   and 'grpc_code="OK"' in line))


async def ws_tts(url: str, credential: str, text: str, voice: str = "hi-female",
                 context: ssl.SSLContext | None = None) -> bytes:
    """LINEAR16 audio for `text` from `url` (…/v1/ws/tts), the credential offered as a sub-protocol
    the way a browser sends it (`ai4vc-key.<key>`)."""
    audio = b""
    protocols = [Subprotocol("ai4vc.v1"), Subprotocol(credential)]
    async with connect(url, subprotocols=protocols, ssl=context) as ws:
        assert ws.subprotocol == "ai4vc.v1"
        await ws.send(json.dumps({"config": {"voice": {"name": voice},
                                              "audioConfig": {"encoding": "AUDIO_ENCODING_LINEAR16"}}}))
        await ws.send(json.dumps({"text": text}))
        await ws.send(json.dumps({"event": "end"}))
        async for frame in ws:
            if isinstance(frame, bytes):
                audio += frame
            elif json.loads(frame).get("event") == "done":
                break
    return audio
