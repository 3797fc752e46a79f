"""Test harness: the real parts (PostgreSQL, Redis, Kafka, Triton, the whole mesh), started on free
ports in a temporary run directory by the same code `make up` uses, once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from deploy.local.mesh import Mesh
from deploy.local.parts import Kafka, Postgres, Redis, Triton, free_port
from tests.mesh_util import private_mesh


@pytest.fixture(scope="session")
def run_base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ai4vc-test-"))
    path.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    yield path
    if not os.environ.get("AI4VC_KEEP_TEST_RUN"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(run_base: Path) -> Iterator[Postgres]:
    server = Postgres(run_base / "pg", free_port(), durable=False)
    (run_base / "pg").mkdir()
    (run_base / "pg").chmod(0o755)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def pg_schema(postgres: Postgres) -> AsyncIterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test: (database url, schema name)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield postgres.url, schema
    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def redis_server(run_base: Path) -> Iterator[Redis]:
    server = Redis(run_base / "redis", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(run_base: Path) -> Iterator[Kafka]:
    """The tansu broker (Kafka protocol, memory storage) the launcher runs."""
    server = Kafka(run_base / "kafka", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def triton(run_base: Path) -> Iterator[Triton]:
    server = Triton(run_base / "triton", free_port(), free_port(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mesh(run_base: Path) -> Iterator[Mesh]:
    """The whole mesh — PostgreSQL, Redis, Triton, services, Envoy — as `make up` runs it."""
    # Triton traces every inference here (one in ten under `make up`), so a test's traced request
    # is sure to have Triton's spans.
    os.environ.setdefault("AI4VC_TRITON_TRACE_RATE", "1")
    # Alertmanager notifies at once and repeats a group's changes every 2 s (tests/e2e/test_alerting_mesh.py).
    os.environ.setdefault("AI4VC_ALERTMANAGER_GROUP_WAIT", "1s")
    os.environ.setdefault("AI4VC_ALERTMANAGER_GROUP_INTERVAL", "2s")
    with private_mesh(run_base, "mesh") as the_mesh:
        yield the_mesh
