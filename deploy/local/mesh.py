"""The whole local mesh as one object: which parts, on which ports, started in which order.

`make up` / `make down` drive it through `python -m deploy.local`; the e2e tests build one on
free ports in a temporary run directory. State (ports, URLs) is kept in `<run_dir>/mesh.json`
so `down` and `status` work from any later process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from deploy.local import envoy_config
from deploy.local.parts import Envoy, PartError, Postgres, Redis, Service, Triton, clean_shm, free_port

log = logging.getLogger("ai4vc.mesh")
ROOT_RUN_DIR = Path(__file__).resolve().parents[2] / ".run"

# (service module, gRPC service name served, default port)
SERVICES: dict[str, tuple[str, int]] = {
    "tts": ("ai4vc.tts.v1.TtsService", 8088),
    "nmt": ("ai4vc.nmt.v1.NmtService", 8089),
}


@dataclasses.dataclass
class Ports:
    envoy: int = 8080
    envoy_admin: int = 9901
    triton_grpc: int = 8001
    triton_http: int = 8000
    triton_metrics: int = 8002
    postgres: int = 5434
    redis: int = 6381
    services: dict[str, int] = dataclasses.field(default_factory=lambda: {n: p for n, (_, p) in SERVICES.items()})

    @classmethod
    def offset(cls, delta: int) -> Ports:
        base = cls()
        values = {f.name: getattr(base, f.name) + delta for f in dataclasses.fields(cls) if f.name != "services"}
        return cls(**values, services={n: p + delta for n, p in base.services.items()})

    @classmethod
    def free(cls) -> Ports:
        values = {f.name: free_port() for f in dataclasses.fields(cls) if f.name != "services"}
        return cls(**values, services={n: free_port() for n in SERVICES})


def replica_port(port: int, replica: int) -> int:
    return port + 100 * replica


def metrics_port(port: int) -> int:
    return port + 1000


class Mesh:
    def __init__(self, run_dir: Path, ports: Ports | None = None, replicas: dict[str, int] | None = None,
                 durable: bool = True, free_metrics_ports: bool = False, external_triton: str = "") -> None:
        self.run_dir = run_dir
        self.ports = ports or Ports()
        self.replicas = {name: 1 for name in SERVICES} | (replicas or {})
        self.durable = durable
        self.free_metrics_ports = free_metrics_ports
        self.postgres = Postgres(run_dir, self.ports.postgres, durable=durable)
        self.redis = Redis(run_dir, self.ports.redis)
        self.triton = Triton(run_dir, self.ports.triton_grpc, self.ports.triton_http, self.ports.triton_metrics)
        # A Triton someone else runs (a GPU server with the published model repositories):
        # the services point at it and no local Triton is started.
        self.external_triton = external_triton
        self.envoy = Envoy(run_dir, self.ports.envoy, self.ports.envoy_admin)
        self.services: list[Service] = []

    @property
    def state_file(self) -> Path:
        return self.run_dir / "mesh.json"

    def _service_env(self) -> dict[str, str]:
        return {
            "AI4VC_TRITON_URL": self.external_triton or self.triton.url,
            "AI4VC_DATABASE_URL": self.postgres.url,
            "AI4VC_REDIS_URL": self.redis.url,
            "AI4VC_SPOOL_DIR": str(self.run_dir / "spool"),
        }

    def _build_services(self) -> list[Service]:
        services = []
        env = self._service_env()
        for name, (grpc_service, _) in SERVICES.items():
            for replica in range(self.replicas.get(name, 1)):
                port = replica_port(self.ports.services[name], replica)
                metrics = free_port() if self.free_metrics_ports else metrics_port(port)
                services.append(Service(name, self.run_dir, port, metrics, env, replica, grpc_service))
        return services

    def upstreams(self) -> list[envoy_config.Upstream]:
        upstreams = []
        for name, (grpc_service, _) in SERVICES.items():
            endpoints = [("127.0.0.1", s.port) for s in self.services if s.name == name]
            upstreams.append(envoy_config.Upstream(grpc_service, name, endpoints))
        return upstreams

    def up(self) -> dict[str, object]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        log.info("starting PostgreSQL on :%d", self.ports.postgres)
        self.postgres.start()
        log.info("starting Redis on :%d", self.ports.redis)
        self.redis.start()
        if self.external_triton:
            log.info("using the Triton at %s", self.external_triton)
        else:
            log.info("starting Triton on :%d (gRPC)", self.ports.triton_grpc)
            self.triton.start()
        self.services = self._build_services()
        for service in self.services:
            log.info("starting %s on :%d", service.proc.name, service.port)
            service.start()
        for service in self.services:
            service.wait_serving()
        log.info("starting Envoy on :%d", self.ports.envoy)
        self.envoy.start(envoy_config.render(
            self.upstreams(), listen_port=self.ports.envoy, admin_port=self.ports.envoy_admin,
            access_log_path=self.run_dir / "logs" / "envoy-access.log",
            listen_address=os.environ.get("AI4VC_LISTEN_ADDRESS", "127.0.0.1"),
        ))
        self.envoy.wait_healthy()
        state = self.describe()
        self.state_file.write_text(json.dumps(state, indent=2))
        return state

    def describe(self) -> dict[str, object]:
        return {
            "run_dir": str(self.run_dir),
            "ports": dataclasses.asdict(self.ports),
            "replicas": self.replicas,
            "envoy": f"127.0.0.1:{self.ports.envoy}",
            "envoy_admin": f"http://127.0.0.1:{self.ports.envoy_admin}",
            "triton_grpc": self.external_triton or self.triton.url,
            "external_triton": self.external_triton,
            "postgres_url": self.postgres.url,
            "redis_url": self.redis.url,
            "services": {s.proc.name: {"port": s.port, "metrics_port": s.metrics_port} for s in self.services},
        }

    @classmethod
    def from_state(cls, run_dir: Path) -> Mesh:
        """The mesh recorded in `run_dir` (for `down`/`status` from another process)."""
        state = json.loads((run_dir / "mesh.json").read_text())
        mesh = cls(run_dir, Ports(**state["ports"]), state.get("replicas"),
                   external_triton=state.get("external_triton", ""))
        mesh.services = mesh._build_services()
        return mesh

    def down(self) -> None:
        """Stops everything this run directory started, newest first."""
        self.envoy.stop()
        for service in reversed(self.services or self._build_services_quiet()):
            service.stop()
        self.triton.stop()
        self.redis.stop()
        self.postgres.stop()
        clean_shm()

    def _build_services_quiet(self) -> list[Service]:
        try:
            return self._build_services()
        except (OSError, PartError):
            return []
