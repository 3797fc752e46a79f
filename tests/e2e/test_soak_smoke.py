"""A short soak (bench/soak.py's pieces) through Envoy on the shared mesh: 20 s of mixed load —
NMT, TTS, ASR unary and live ASR streams, open loop — ends no call INTERNAL/UNKNOWN, serves every
kind, and reports each mesh process's RSS. No latency or memory thresholds: the figures are
bench.soak's to measure (bench/README.md), not a test's to assert."""

from __future__ import annotations

import json

import pytest

from bench.soak import BROKEN_CODES, Client, RssSampler, open_loop, summarize

pytestmark = pytest.mark.e2e

# Calls per second of each kind: well under the shared mesh's per-key limit (600 a minute), so
# the load reaches the services, and small enough for the 2-core machine to keep up with.
RATES = {"nmt": 3.0, "tts": 2.0, "asr": 0.5, "asr_stream": 0.3}
SECONDS = 20.0


async def test_mixed_load_through_envoy_breaks_no_call(mesh, record_property):
    """Every call of a mixed open-loop load ends OK or with a clean status (never INTERNAL, UNKNOWN
    or a client-side failure), each kind is served, and RSS is sampled for the mesh's processes."""
    client = Client(f"127.0.0.1:{mesh.ports.envoy}", mesh.admin_key())
    sampler = RssSampler(mesh.run_dir, interval_s=5.0)
    try:
        sampler.start()
        samples = await open_loop(client, RATES, SECONDS)
        await sampler.stop()
    finally:
        await client.close()
    summary = summarize(samples, SECONDS, SECONDS / 2)
    rss = sampler.growth()
    report = {"kinds": summary, "rss": rss}
    record_property("soak_smoke", json.dumps(report))
    print(json.dumps(report, indent=1))  # seen with -s, and in the report of a failure

    broken = [s for s in samples if s.code in (*BROKEN_CODES, "CLIENT_ERROR")]
    assert not broken, broken[:5]
    assert {kind for kind, k in summary.items() if k["codes"].get("OK")} == set(RATES)
    assert any(name.startswith("triton/") for name in rss) and any(name.startswith("nmt/") for name in rss)
    assert all(g["end_mb"] > 0 for g in rss.values())
