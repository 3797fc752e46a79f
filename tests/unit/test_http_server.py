"""The chassis' small HTTP/1.1 server (services/common/http_server.py), over a real socket:
keep-alive, HEAD, the refusals that close the connection, a failing handler, and close()."""

from __future__ import annotations

import asyncio
import email.utils

from services.common.http_server import HttpServer, Request, Response


async def _handler(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    return Response(200, f"{request.method} {request.path} {len(request.body)}".encode(), "text/plain")


async def _exchange(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, raw: bytes) -> tuple[int, dict, bytes]:
    writer.write(raw)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in head[1:] if line)}
    length = int(headers["content-length"])
    body = b"" if raw.startswith(b"HEAD") else await reader.readexactly(length)
    return int(head[0].split(" ")[1]), headers, body


async def test_keep_alive_head_refusals_and_a_failing_handler() -> None:
    server = HttpServer(_handler, "127.0.0.1", 0, name="test", max_body_bytes=10)
    port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        status, headers, body = await _exchange(writer, reader, b"POST /a?x=1 HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc")
        # Date on every answer (a cache in front stores nothing without it).
        assert email.utils.parsedate_to_datetime(headers.pop("date")).tzinfo is not None
        assert (status, headers, body) == (200, {"content-type": "text/plain", "content-length": "9"}, b"POST /a 3")
        status, headers, body = await _exchange(writer, reader, b"HEAD /b HTTP/1.1\r\n\r\n")
        assert status == 200 and headers["content-length"] == "9" and body == b""
        status, _, _ = await _exchange(writer, reader, b"GET /boom HTTP/1.1\r\n\r\n")
        assert status == 500  # the handler's bug is this request's, the connection goes on
        status, _, body = await _exchange(writer, reader, b"GET /c HTTP/1.1\r\n\r\n")
        assert (status, body) == (200, b"GET /c 0")
        status, headers, _ = await _exchange(writer, reader, b"POST /d HTTP/1.1\r\ncontent-length: 11\r\n\r\n")
        assert status == 413 and headers["connection"] == "close"
        assert await reader.read() == b""  # closed
        writer.close()
        for raw in (b"POST /e HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n", b"nonsense\r\n\r\n",
                    b"POST /f HTTP/1.1\r\ncontent-length: -1\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, headers, _ = await _exchange(writer, reader, raw)
            assert status == 400 and headers["connection"] == "close"
            writer.close()
    finally:
        await server.close()


async def test_close_ends_connections_kept_alive() -> None:
    server = HttpServer(_handler, "127.0.0.1", 0, name="test", max_body_bytes=10)
    port = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await _exchange(writer, reader, b"GET / HTTP/1.1\r\n\r\n"))[0] == 200
    await server.close()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert not server.serving
    writer.close()
