"""The health probe of every AI4V-C container (compose `healthcheck`), so no `grpc_health_probe`
binary is needed: the chassis serves gRPC health on every process, the WebSocket bridge and the
pages answer HTTP.

    python -m deploy.compose.health grpc 127.0.0.1:8087 ai4vc.asr.v1.AsrService   # what core.yaml runs
    python -m deploy.compose.health http http://127.0.0.1:3000/healthz
    python -m deploy.compose.health asr     # by name in deploy.local.mesh.SERVICES (by hand: `docker compose exec`)

core.yaml names each target outright: looking a name up imports the launcher's service list,
which doubles the probe's CPU (~0.2 → ~0.4 CPU-s, measured here), every 10 s in every container.

Exit status 0 when SERVING (HTTP 200), 1 otherwise, with one line saying why on stderr (docker
keeps the last lines of a failing probe in `docker inspect`). A service's port is its
`AI4VC_<NAME>_PORT` when the container sets one, else the port SERVICES gives it.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

TIMEOUT_S = 3.0


def check_grpc(address: str, service: str, timeout_s: float = TIMEOUT_S) -> str:
    """"" when `service` (empty: the server as a whole) answers SERVING at `address`, else why not."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            return f"{address} {service or '(server)'}: {exc.code().name} {exc.details() or ''}".rstrip()
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        return f"{address} {service or '(server)'}: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}"
    return ""


def check_http(url: str, timeout_s: float = TIMEOUT_S) -> str:
    """"" when a GET of `url` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"
    return "" if status == 200 else f"{url}: HTTP {status}"


def check_service(name: str, environ: Mapping[str, str] = os.environ) -> str:
    """Probes the platform service `name` of this container the way Envoy and the launcher do:
    gRPC health naming its service, or the WebSocket bridge's HTTP /healthz."""
    from deploy.local.mesh import SERVICES

    spec = SERVICES.get(name)
    if spec is None:
        return f"{name}: not a platform service (one of {', '.join(SERVICES)})"
    port = environ.get(f"AI4VC_{name.upper()}_PORT") or str(spec.port)
    if spec.kind == "websocket":
        return check_http(f"http://127.0.0.1:{port}/healthz")
    # A worker (the outbox relay) is behind no Envoy cluster: its server as a whole answers.
    return check_grpc(f"127.0.0.1:{port}", spec.grpc_service if spec.kind == "grpc" else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="a service name, or `grpc` / `http`")
    parser.add_argument("args", nargs="*", help="grpc: HOST:PORT [SERVICE]; http: URL")
    args = parser.parse_args(argv)
    if args.target == "grpc" and len(args.args) in (1, 2):
        problem = check_grpc(args.args[0], args.args[1] if len(args.args) == 2 else "")
    elif args.target == "http" and len(args.args) == 1:
        problem = check_http(args.args[0])
    elif args.target not in ("grpc", "http") and not args.args:
        problem = check_service(args.target)
    else:
        parser.error("use NAME, or grpc HOST:PORT [SERVICE], or http URL")
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
