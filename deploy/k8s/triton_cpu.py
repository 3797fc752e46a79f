"""The CPU Triton container's entrypoint (deploy/k8s/docker/triton-cpu.Dockerfile): the same
`tritonserver` from the nvidia-pytriton wheel, backend directory and environment as `make up`
(`deploy.local.parts.Triton`), serving the reference models in `models/` on every interface, as
the container's only process (exec: SIGTERM reaches Triton, which drains for --exit-timeout-secs).

    python -m deploy.k8s.triton_cpu [--model-repository /app/models]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from deploy.local.parts import ROOT, Triton, triton_home

GRPC_PORT, HTTP_PORT, METRICS_PORT = 8001, 8000, 8002


def command(model_repository: Path, run_dir: Path, ports: tuple[int, int, int] = (GRPC_PORT, HTTP_PORT, METRICS_PORT),
            address: str = "0.0.0.0") -> tuple[list[str], dict[str, str]]:
    """tritonserver's argv and environment; builds the backend directory under `run_dir`."""
    grpc, http, metrics = ports
    triton = Triton(run_dir, grpc, http, metrics, model_repository=model_repository)
    argv = [str(triton_home() / "bin" / "tritonserver"),
            f"--model-repository={model_repository}",
            f"--backend-directory={triton._backend_dir()}",  # the stub for this Python, as make up links it
            f"--grpc-port={grpc}", f"--http-port={http}", f"--metrics-port={metrics}",
            f"--grpc-address={address}", f"--http-address={address}",
            "--log-verbose=0", "--exit-timeout-secs=30"]
    return argv, triton.environment()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s.triton_cpu")
    parser.add_argument("--model-repository", default=str(ROOT / "models"))
    parser.add_argument("--run-dir", default="/tmp/ai4vc-triton")
    args = parser.parse_args(argv)
    program, env = command(Path(args.model_repository), Path(args.run_dir))
    os.execve(program[0], program, env)


if __name__ == "__main__":
    main()
