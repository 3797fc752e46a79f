"""A closed-loop async load generator over Triton's gRPC API (tritonclient.grpc.aio), for what
perf_analyzer does not report (a decoupled model's total time per request next to its time to
first response) or where perf_analyzer does not run.

Each of `concurrency` workers sends one request, waits for its answer, and sends the next,
cycling through `rows` (dicts of input name -> numpy array), for `seconds`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import np_to_triton_dtype

TOOL = "bench.loadgen"


def to_inputs(row: dict[str, np.ndarray]) -> list[grpcclient.InferInput]:
    inputs = []
    for name, value in row.items():
        tensor = grpcclient.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return inputs


def _summary(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    ms = np.array(latencies) * 1000.0
    return {"throughput": len(latencies) / elapsed, "p50_ms": float(np.percentile(ms, 50)) if len(ms) else 0.0,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else 0.0, "errors": errors}


async def unary(url: str, model: str, rows: list[dict[str, np.ndarray]], concurrency: int,
                seconds: float, warmup_s: float = 0.3) -> dict[str, Any]:
    client = grpcclient.InferenceServerClient(url)
    prepared = [to_inputs(row) for row in rows]
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup_s
    deadline = measure_from + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        for inputs in itertools.islice(itertools.cycle(prepared), offset, None):
            if time.perf_counter() >= deadline:
                return
            sent = time.perf_counter()
            try:
                await client.infer(model, inputs)
            except Exception:  # noqa: BLE001 - counted, not fatal to the run
                errors += 1
                continue
            if sent >= measure_from:
                latencies.append(time.perf_counter() - sent)

    try:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    finally:
        await client.close()
    return {"tool": TOOL, "concurrency": concurrency, **_summary(latencies, seconds, errors)}


async def streaming(url: str, model: str, rows: list[dict[str, np.ndarray]], concurrency: int,
                    seconds: float, warmup_s: float = 0.3) -> dict[str, Any]:
    """A decoupled model: one stream per worker; per request, time to first response and to
    the empty final response (requested with `triton_enable_empty_final_response`)."""
    client = grpcclient.InferenceServerClient(url)
    prepared = [to_inputs(row) for row in rows]
    first: list[float] = []
    total: list[float] = []
    chunks: list[int] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup_s
    deadline = measure_from + seconds

    async def worker(offset: int) -> None:
        nonlocal errors
        queue: asyncio.Queue[dict | None] = asyncio.Queue()

        async def requests() -> AsyncIterator[dict]:
            while (item := await queue.get()) is not None:
                yield item

        responses = client.stream_infer(requests())
        try:
            for n, inputs in enumerate(itertools.islice(itertools.cycle(prepared), offset, None)):
                if time.perf_counter() >= deadline:
                    break
                sent = time.perf_counter()
                await queue.put({"model_name": model, "inputs": inputs, "request_id": f"{offset}-{n}",
                                 "parameters": {"triton_enable_empty_final_response": True}})
                got_first = None
                count = 0
                failed = False
                async for result, error in responses:
                    if error is not None:
                        failed = True
                        continue
                    params = result.get_response().parameters
                    final = "triton_final_response" in params and params["triton_final_response"].bool_param
                    if result.as_numpy("OUTPUT_AUDIO_CHUNK") is not None and not final:
                        count += 1
                        if got_first is None:
                            got_first = time.perf_counter() - sent
                    if final:
                        break
                if failed or got_first is None:
                    errors += 1
                elif sent >= measure_from:
                    first.append(got_first)
                    total.append(time.perf_counter() - sent)
                    chunks.append(count)
        finally:
            await queue.put(None)

    try:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    finally:
        await client.close()
    ttfc = _summary(first, seconds, errors)
    done = _summary(total, seconds, errors)
    return {"tool": TOOL, "concurrency": concurrency, "throughput": done["throughput"],
            "ttfc_p50_ms": ttfc["p50_ms"], "ttfc_p99_ms": ttfc["p99_ms"],
            "total_p50_ms": done["p50_ms"], "total_p99_ms": done["p99_ms"],
            "chunks_per_request": float(np.mean(chunks)) if chunks else 0.0, "errors": errors}
