"""Disk full under the records spool (issue 16): the service keeps answering and says so in
health and metrics; records are held in memory, never dropped; once `records_max_queue` are held
new calls are refused with UNAVAILABLE + RetryInfo; all of it is flushed once the disk takes
writes again.

The full disk is a fake: no tmpfs can be mounted here without root, so the one write call the
spool makes (`records._write`, os.write) is swapped for one that fails as a full disk does,
OSError(ENOSPC), while the file system itself is real (open, fstat, ftruncate, fsync, rename).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import urllib.request

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends import records
from services.common.backends.records import SPOOL_HEALTH_NAME, RecordSink
from services.common.errors import Unavailable
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running


class FakeFullDisk:
    """Stands in for os.write under the spool: ENOSPC while `full`, the real write otherwise."""

    def __init__(self) -> None:
        self.full = True
        self.refused = 0
        self.room = 0  # bytes it takes before it is full (a write that fills the disk half-way)

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.room:
            taken, self.room = os.write(fd, data[:self.room]), 0
            return taken
        if self.full:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


@pytest.fixture
def full_disk(monkeypatch) -> FakeFullDisk:
    fake = FakeFullDisk()
    monkeypatch.setattr(records, "_write", fake)
    return fake


async def _no_db(conn, batch) -> None:  # never called: the sinks below have no database
    raise AssertionError("no database in this test")


def spooled_ids(sink: RecordSink) -> list[str]:
    return sorted(json.loads(line)["id"] for line in sink.spool_path.read_text().splitlines() if line.strip())


async def test_full_disk_holds_records_refuses_past_the_limit_and_flushes_on_recovery(full_disk, tmp_path):
    """While the spool cannot be written records are held (none lost, no partial line left), the
    spool reads unwritable, admit() refuses past max_queue; once writable all are spooled."""
    sink = RecordSink("events", _no_db, None, tmp_path, max_queue=5, flush_interval_s=0.01, max_backoff_s=0.05)
    sink.start()
    try:
        for i in range(5):
            sink.admit()
            sink.submit({"id": f"r{i}", "payload": "x"})
        assert not await sink.drain(0.5)  # cannot finish: nowhere to put them
        assert full_disk.refused > 0
        assert not sink.spool_writable and sink.held_count == 5
        assert not sink.spool_path.exists() or sink.spool_path.read_bytes() == b""
        with pytest.raises(Unavailable) as refused:
            sink.admit()
        assert refused.value.retry_after_s and refused.value.metadata["sink"] == "events"
        assert not sink.admitting

        full_disk.full = False
        assert await sink.drain(5)
        assert sink.spool_writable and sink.held_count == 0 and sink.admitting
        assert spooled_ids(sink) == [f"r{i}" for i in range(5)]
        sink.admit()
    finally:
        await sink.close(timeout_s=0.5)


def scrape(port: int | None) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


async def test_a_write_cut_short_by_a_full_disk_leaves_no_half_line(full_disk, tmp_path):
    """A spool append that fills the disk part-way is cut back to the spool's old length (a half
    line would stop the replay), and its records are held, then spooled whole."""
    sink = RecordSink("events", _no_db, None, tmp_path, flush_interval_s=0.01, max_backoff_s=0.05)
    full_disk.full = False
    sink.submit({"id": "before", "payload": "x"})
    await sink.close(timeout_s=0.5)  # writer not started: close spools it
    kept = sink.spool_path.read_bytes()
    full_disk.full, full_disk.room = True, 10
    sink._append_spool([{"id": "cut", "payload": "y" * 100}])
    assert sink.spool_path.read_bytes() == kept and sink.held_count == 1 and not sink.spool_writable
    full_disk.full = False
    sink._append_spool([])
    assert spooled_ids(sink) == ["before", "cut"] and sink.held_count == 0 and sink.spool_writable


def metric(body: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name + "{"))


async def test_service_keeps_answering_reports_it_then_refuses_with_retry_info(full_disk, triton, tmp_path):
    """The NMT service (production factory) on a full spool disk: calls still answer while records
    can be held, health `ai4vc.records.Spool` and the metrics say the spool is unwritable; with
    records_max_queue held a call gets UNAVAILABLE with ErrorInfo and RetryInfo; after recovery
    calls pass and every accepted call's record is on disk."""
    settings = NmtSettings(port=0, metrics_port=0, triton_url=triton.url, database_url="",
                           spool_dir=str(tmp_path / "spool"), log_json=False, records_max_queue=3)
    request = pb.TransliterateRequest(contents=["नमस्ते दुनिया"], source_language_code="hi", target_language_code="ta")
    async with running(settings, nmt_app.create) as (app, handle, channel):
        assert await health_status(channel, SPOOL_HEALTH_NAME) == health_pb2.HealthCheckResponse.SERVING
        stub = pb_grpc.NmtServiceStub(channel)
        for _ in range(3):
            await stub.Transliterate(request, timeout=10)
        assert not await app.records.drain(0.5)
        # The writer takes a record after the call's answer, in its own time: wait until it has
        # tried (and failed) to spool all three rather than a fixed half second (1 of 3 under load).
        async with asyncio.timeout(15):
            while app.records.held_count < 3:
                await asyncio.sleep(0.05)
        assert await health_status(channel, SPOOL_HEALTH_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not await app.ready()  # out of Envoy's rotation while it refuses
        body = await asyncio.to_thread(scrape, handle.metrics_port)
        assert metric(body, "ai4vc_records_spool_writable") == 0
        assert metric(body, "ai4vc_records_held") == 3
        assert metric(body, "ai4vc_records_spool_errors_total") > 0

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Transliterate(request, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        info, _ = error_info(refused.value)
        assert info is not None and info.reason == "BACKEND_UNAVAILABLE" and info.metadata["service"] == "records-spool"
        status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
        assert status is not None and any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)

        full_disk.full = False
        assert await app.records.drain(10)
        assert await health_status(channel, SPOOL_HEALTH_NAME) == health_pb2.HealthCheckResponse.SERVING
        await stub.Transliterate(request, timeout=10)
        assert await app.records.drain(10)
        assert len(spooled_ids(app.records)) == 4  # the three held and the one after; not the refused one
