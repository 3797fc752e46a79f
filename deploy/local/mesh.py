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
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from deploy.local import alertmanager_config, envoy_config, prometheus_config
from deploy.local.parts import (
    Alertmanager,
    Envoy,
    Kafka,
    Postgres,
    Process,
    Prometheus,
    Redis,
    Service,
    Triton,
    WebConsole,
    clean_shm,
    free_ports,
)
from deploy.local.tls import LocalCa
from services.common.settings import DEFAULT_GRAMMAR_CACHE_DIR

log = logging.getLogger("ai4vc.mesh")
ROOT_RUN_DIR = Path(__file__).resolve().parents[2] / ".run"
# The compiled text-normalization grammars (services/common/textnorm.py), in the user's cache: a
# fresh clone, a test mesh or `make clean` does not compile them again.
GRAMMAR_CACHE_DIR = Path(os.environ.get("AI4VC_GRAMMAR_CACHE_DIR") or DEFAULT_GRAMMAR_CACHE_DIR)



@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    """One of our processes: its module, the gRPC service its health names, its port, and
    whether Envoy routes client calls to it (the gateway is called by Envoy itself)."""

    module: str
    grpc_service: str
    port: int
    routed: bool = True
    kind: str = "grpc"  # or "websocket": HTTP/1.1 with an HTTP health check; or "worker": not behind Envoy
    stage: int = 2  # start-up order: lower stages are serving before higher ones start
    # Further gRPC services the same process serves, routed to the same cluster. Not ours (no
    # google.api.http, not in gen/descriptors/ai4vc.binpb): never given to the REST transcoder.
    also_serves: tuple[str, ...] = ()


# auth first (it migrates the key tables and creates the bootstrap admin) beside telemetry (so
# every later process exports its spans and logs from its first line), then the gateway that
# reads the keys, then the AI services, then what calls those (pipeline, ULCA facade, WebSocket bridge).
# The metrics service reads the events the relay (stage 1) publishes.
SERVICES: dict[str, ServiceSpec] = {
    "auth": ServiceSpec("services.auth", "ai4vc.auth.v1.AuthService", 8081, stage=0),
    "telemetry": ServiceSpec("services.telemetry", "ai4vc.telemetry.v1.TelemetryService", 8084, stage=0),
    "config": ServiceSpec("services.config", "ai4vc.config.v1.ConfigService", 8082, stage=1),
    "metrics": ServiceSpec("services.metrics", "ai4vc.metrics.v1.MetricsService", 8083, stage=2),
    "gateway": ServiceSpec("gateway", "ai4vc.gateway.ControlPlane", 8086, routed=False, stage=1),
    "asr": ServiceSpec("services.asr", "ai4vc.asr.v1.AsrService", 8087),
    "tts": ServiceSpec("services.tts", "ai4vc.tts.v1.TtsService", 8088),
    "nmt": ServiceSpec("services.nmt", "ai4vc.nmt.v1.NmtService", 8089),
    "pipeline": ServiceSpec("services.pipeline", "ai4vc.pipeline.v1.PipelineService", 8091, stage=3),
    # The Bhashini / Dhruva JSON facade: a thin adapter over asr, nmt and tts.
    "ulca": ServiceSpec("services.ulca", "ai4vc.ulca.v1.UlcaService", 8099, stage=3),
    # NVIDIA Riva's ASR, TTS and NMT APIs over ours (Envoy health-checks its first service; the
    # other two share the process and the cluster).
    "riva": ServiceSpec("services.riva", "nvidia.riva.asr.RivaSpeechRecognition", 8098, stage=3,
                        also_serves=("nvidia.riva.tts.RivaSpeechSynthesis", "nvidia.riva.nmt.RivaTranslation")),
    "wsbridge": ServiceSpec("gateway.ws", "/v1/ws/", 8092, kind="websocket", stage=3),
    "events": ServiceSpec("services.events", "", 8094, routed=False, kind="worker", stage=1),
    # Writes Prometheus's alerting rules and takes Alertmanager's notifications (started before it).
    "alerting": ServiceSpec("services.alerting", "ai4vc.alerting.v1.AlertingService", 8085, stage=2),
    # Last: it health-checks every other replica and reads Prometheus and the metrics service.
    "dashboard": ServiceSpec("services.dashboard", "ai4vc.dashboard.v1.DashboardService", 8095, stage=4),
}
# The edge routes this prefix to the dashboard's web page (HTTP/1.1, public: the page holds no
# figures and reads GetOverview through the edge with the user's key).
DASHBOARD_PAGE_PREFIX = "/dashboard/"
# ... and this one to the web console (public too: it calls the edge with the user's key).
WEB_UI_PREFIX = "/ui/"
# Under mesh mTLS these would serve plaintext still (their certificates used on their own calls
# only), for a mesh moving to mTLS one service at a time. Empty: every caller — Envoy, the
# downstream Channels of pipeline/riva/ulca, the WebSocket bridge, the dashboard — presents a
# certificate (services.common.rpc.tls), so every service's port takes mTLS only.
MTLS_PLAINTEXT: frozenset[str] = frozenset()


@dataclasses.dataclass
class Ports:
    envoy: int = 8080
    envoy_admin: int = 9901
    triton_grpc: int = 8001
    triton_http: int = 8000
    triton_metrics: int = 8002
    postgres: int = 5434
    redis: int = 6381
    kafka: int = 9093
    prometheus: int = 9090
    otlp_http: int = 4318  # the telemetry service's OTLP/HTTP receiver (Triton's spans)
    alertmanager: int = 9096  # its cluster listener is off
    alerting_webhook: int = 8097  # the alerting service's receiver of Alertmanager's webhook
    dashboard_web: int = 8090  # the dashboard's web page (its gRPC port is in `services`)
    web_ui: int = 3000  # the web console (web/; also at /ui/ on the edge)
    services: dict[str, int] = dataclasses.field(default_factory=lambda: {n: s.port for n, s in SERVICES.items()})

    @classmethod
    def offset(cls, delta: int) -> Ports:
        base = cls()
        values = {f.name: getattr(base, f.name) + delta for f in dataclasses.fields(cls) if f.name != "services"}
        return cls(**values, services={n: p + delta for n, p in base.services.items()})

    @classmethod
    def free(cls) -> Ports:
        names = [f.name for f in dataclasses.fields(cls) if f.name != "services"]
        ports = free_ports(len(names) + len(SERVICES))
        return cls(**dict(zip(names, ports, strict=False)),
                   services=dict(zip(SERVICES, ports[len(names):], strict=True)))


def edge_upstreams(endpoints: Callable[[str], list[tuple[str, int]]], *, dashboard_pages: list[tuple[str, int]],
                   web_ui: list[tuple[str, int]]) -> list[envoy_config.Upstream]:
    """Everything Envoy routes to (or, for the gateway, calls), from SERVICES: the one list the
    laptop mesh, compose (`deploy/compose/edge.py`) and Kubernetes (`deploy/k8s/edge.py`) render,
    each naming its own endpoints (`endpoints(service name)`: loopback ports, compose names,
    headless Services). An empty `dashboard_pages` / `web_ui` leaves that page unrouted."""
    upstreams = [envoy_config.Upstream(spec.grpc_service, name, endpoints(name), routed=spec.routed, kind=spec.kind,
                                       idempotent=envoy_config.idempotent(spec.grpc_service),
                                       also_serves=spec.also_serves, mtls=name not in MTLS_PLAINTEXT)
                 for name, spec in SERVICES.items() if spec.kind != "worker"]
    if dashboard_pages:
        upstreams.append(envoy_config.Upstream(DASHBOARD_PAGE_PREFIX, "dashboard-web", dashboard_pages, kind="http"))
    if web_ui:
        upstreams.append(envoy_config.Upstream(WEB_UI_PREFIX, "webui", web_ui, kind="http", cached=True))
    return upstreams


def replica_port(port: int, replica: int) -> int:
    return port + 100 * replica


def metrics_port(port: int) -> int:
    return port + 1000


class Mesh:
    def __init__(self, run_dir: Path, ports: Ports | None = None, replicas: dict[str, int] | None = None,
                 durable: bool = True, free_metrics_ports: bool = False, external_triton: str = "",
                 model_repository: Path | None = None, edge_tls: bool = False,
                 edge_cert: envoy_config.EdgeTls | None = None, edge_tls_names: tuple[str, ...] = (),
                 mesh_mtls: bool = False) -> None:
        self.run_dir = run_dir
        # TLS on Envoy's public listener: `edge_cert` (the operator's), else one the local CA issues.
        self.edge_tls = edge_tls or edge_cert is not None
        self.edge_cert = edge_cert
        self.edge_tls_names = edge_tls_names
        # mTLS from Envoy (and between services) with certificates of the local CA.
        self.mesh_mtls = mesh_mtls
        self.ca = LocalCa(run_dir / "tls")
        self.ports = ports or Ports()
        self.replicas = {name: 1 for name in SERVICES} | (replicas or {})
        self.durable = durable
        self.free_metrics_ports = free_metrics_ports
        self.postgres = Postgres(run_dir, self.ports.postgres, durable=durable)
        self.redis = Redis(run_dir, self.ports.redis)
        self.kafka = Kafka(run_dir, self.ports.kafka)
        self.triton = Triton(run_dir, self.ports.triton_grpc, self.ports.triton_http, self.ports.triton_metrics,
                             **({"model_repository": model_repository} if model_repository else {}),
                             trace_url=f"http://127.0.0.1:{self.ports.otlp_http}/v1/traces",
                             trace_rate=int(os.environ.get("AI4VC_TRITON_TRACE_RATE", "10")))
        # A Triton someone else runs (a GPU server with the published model repositories):
        # the services point at it and no local Triton is started.
        self.external_triton = external_triton
        self.envoy = Envoy(run_dir, self.ports.envoy, self.ports.envoy_admin)
        self.prometheus = Prometheus(run_dir, self.ports.prometheus)
        self.alertmanager = Alertmanager(run_dir, self.ports.alertmanager)
        self.web_ui = WebConsole(run_dir, self.ports.web_ui, self.edge_url)
        # Without web/node_modules (bootstrap.sh installs it) the mesh runs without the console.
        self.serve_web_ui = WebConsole.installed()
        self.services: list[Service] = []

    @property
    def edge_url(self) -> str:
        """The edge as clients (the dashboard's relay, the web console, ULCA's callbackUrl) reach it."""
        return f"{'https' if self.edge_tls else 'http'}://127.0.0.1:{self.ports.envoy}"

    @property
    def edge_ca(self) -> Path | None:
        """The CA that verifies the edge: the local CA's, or none known (the operator's certificate)."""
        return self.ca.cert_path if self.edge_tls and self.edge_cert is None else None

    def edge_tls_files(self) -> envoy_config.EdgeTls | None:
        """The listener's certificate and key: the operator's, or issued (once) by the local CA."""
        if not self.edge_tls:
            return None
        if self.edge_cert is not None:
            return self.edge_cert
        pair = self.ca.edge(self.edge_tls_names)
        return envoy_config.EdgeTls(pair.cert, pair.key)

    def upstream_tls_files(self) -> envoy_config.UpstreamTls | None:
        """Envoy's client certificate for mesh mTLS, and the CA of the services' certificates."""
        if not self.mesh_mtls:
            return None
        pair = self.ca.envoy_client()
        return envoy_config.UpstreamTls(pair.cert, pair.key, self.ca.cert_path)

    def mtls_env(self, name: str) -> dict[str, str]:
        """A service's mesh TLS settings: its certificate (per service, shared by its replicas), key,
        the CA; a service in MTLS_PLAINTEXT uses them on its own calls only."""
        if not self.mesh_mtls:
            return {}
        pair = self.ca.service(name)
        prefix = f"AI4VC_{name.upper()}_MESH_TLS"
        return {f"{prefix}_CERT": str(pair.cert), f"{prefix}_KEY": str(pair.key),
                f"{prefix}_CA": str(self.ca.cert_path),
                f"{prefix}_SERVER": "false" if name in MTLS_PLAINTEXT else "true"}

    @property
    def state_file(self) -> Path:
        return self.run_dir / "mesh.json"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "logs" / "envoy-access.log"

    @property
    def admin_key_file(self) -> Path:
        return self.run_dir / "admin-api-key"

    def secrets(self) -> dict[str, str]:
        """The mesh's shared secrets (JWT signing key, API-key pepper), made once, kept 0600."""
        path = self.run_dir / "secrets.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"AI4VC_JWT_SECRET": secrets.token_urlsafe(48),
                           "AI4VC_KEY_PEPPER": secrets.token_urlsafe(32)}, handle)
        return dict(json.loads(path.read_text()))

    def admin_key(self) -> str:
        return self.admin_key_file.read_text().strip()

    def service_env(self) -> dict[str, str]:
        # (the callers' targets of the AI services are added per replica: _downstream_env)
        return {
            # getModelsPipeline's callbackUrl: the edge, as clients reach it.
            "AI4VC_ULCA_PUBLIC_URL": self.edge_url,
            # Live settings: services watch their namespace on the config service (stage 1).
            "AI4VC_CONFIG_TARGET": f"127.0.0.1:{self.ports.services['config']}",
            "AI4VC_TRITON_URL": self.external_triton or self.triton.url,
            "AI4VC_DATABASE_URL": self.postgres.url,
            "AI4VC_REDIS_URL": self.redis.url,
            "AI4VC_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            # tansu refuses the idempotent producer's InitProducerId v0 (services/events/settings.py).
            "AI4VC_EVENTS_KAFKA_IDEMPOTENCE": "false",
            "AI4VC_SPOOL_DIR": str(self.run_dir / "spool"),
            # Compiled NeMo grammars (ITN for asr, TN for tts): one cache for every run directory
            # of this checkout, test meshes included, so a machine compiles each grammar once
            # (Hindi ITN: ~3 min) and every later start only loads it (services/common/textnorm.py).
            "AI4VC_GRAMMAR_CACHE_DIR": str(GRAMMAR_CACHE_DIR),
            "AI4VC_AUTH_BOOTSTRAP_KEY_FILE": str(self.admin_key_file),
            # The gateway serves no calls of clients (reflection aside): its spans would be noise.
            "AI4VC_GATEWAY_TRACING": "false",
            # The edge's control plane publishes Envoy's routes there (RDS, watched directory).
            "AI4VC_GATEWAY_ENVOY_ROUTES_DIR": str(self.envoy.config_dir / "routes"),
            "AI4VC_GATEWAY_ENVOY_ROUTES_BASE": str(self.envoy.config_dir / "routes.base.json"),
            "AI4VC_GATEWAY_ENVOY_ACCESS_LOG": str(self.access_log),
            "AI4VC_GATEWAY_ENVOY_ADMIN": f"127.0.0.1:{self.ports.envoy_admin}",
            # CreateApiKey returns once Envoy has the key.
            "AI4VC_AUTH_EDGE_WAIT_S": "1.0",
            # Spans and log records of every process go to the telemetry service (OTLP/gRPC,
            # batched, dropped rather than waited for); it does not export to itself.
            "AI4VC_OTLP_ENDPOINT": f"127.0.0.1:{self.ports.services['telemetry']}",
            # (operators may turn either off: AI4VC_TRACING_EXPORTER=none / AI4VC_LOG_EXPORTER=none)
            "AI4VC_TRACING_EXPORTER": os.environ.get("AI4VC_TRACING_EXPORTER", "otlp"),
            "AI4VC_LOG_EXPORTER": os.environ.get("AI4VC_LOG_EXPORTER", "otlp"),
            # One root trace in ten (a caller's sampled traceparent is always followed): exporting
            # every span costs ~18 % of DetectLanguage's throughput here, one in ten ~1 % (bench/README.md).
            "AI4VC_TRACING_SAMPLE_RATIO": os.environ.get("AI4VC_TRACING_SAMPLE_RATIO", "0.1"),
            "AI4VC_TELEMETRY_TRACING_EXPORTER": "none",
            "AI4VC_TELEMETRY_OTLP_HTTP_PORT": str(self.ports.otlp_http),
            "AI4VC_TELEMETRY_LOG_EXPORTER": "none",
            # Alerting: its rule file goes where Prometheus loads rule files from; it reloads
            # Prometheus, makes silences in Alertmanager and takes Alertmanager's webhook.
            "AI4VC_ALERTING_RULES_DIR": str(self.alert_rules_dir),
            "AI4VC_ALERTING_PROMETHEUS_URL": self.prometheus.url,
            "AI4VC_ALERTING_ALERTMANAGER_URL": self.alertmanager.url,
            "AI4VC_ALERTING_WEBHOOK_PORT": str(self.ports.alerting_webhook),
            "AI4VC_GATEWAY_API_SERVICES": ",".join(
                name for s in SERVICES.values() if s.routed and s.kind == "grpc"
                for name in (s.grpc_service, *s.also_serves)),
            **self.secrets(),
        }

    def _spare_ports(self, count: int) -> list[int]:
        """Free ports none of the mesh's own ports use (tests: metrics and replica ports)."""
        taken = {v for k, v in dataclasses.asdict(self.ports).items() if k != "services"}
        taken |= set(self.ports.services.values())
        while True:
            ports = free_ports(count)
            if not taken & set(ports):
                return ports

    def _build_services(self) -> list[Service]:
        services = []
        env = self.service_env()
        instances = [(name, spec, replica) for name, spec in SERVICES.items()
                     for replica in range(self.replicas.get(name, 1))]
        # (and one page port per dashboard replica past the first)
        spare = iter(self._spare_ports(3 * len(instances)) if self.free_metrics_ports else [])
        for name, spec, replica in instances:
            if self.free_metrics_ports:
                port = self.ports.services[name] if replica == 0 else next(spare)
                metrics = next(spare)
            else:
                port = replica_port(self.ports.services[name], replica)
                metrics = metrics_port(port)
            service = Service(name, self.run_dir, port, metrics, {**env, **self.mtls_env(name)}, replica,
                              spec.grpc_service if spec.kind == "grpc" else "", module=spec.module,
                              http_health_path="/healthz" if spec.kind == "websocket" else "")
            if self.mesh_mtls and spec.kind != "websocket" and name not in MTLS_PLAINTEXT:
                # The launcher's readiness probe needs a certificate too (the service's own will do).
                service.tls_files = (service.env[f"AI4VC_{name.upper()}_MESH_TLS_CERT"],
                                     service.env[f"AI4VC_{name.upper()}_MESH_TLS_KEY"], str(self.ca.cert_path))
            services.append(service)
        if self.mesh_mtls:
            # Every process dials the services of MTLS_PLAINTEXT in the clear, the rest over mTLS.
            plaintext = ",".join(f"127.0.0.1:{s.port}" for s in services if s.name in MTLS_PLAINTEXT)
            for service in services:
                service.env["AI4VC_MESH_TLS_PLAINTEXT"] = plaintext
        self._dashboard_env(services, spare)
        self._downstream_env(services)
        return services

    def _downstream_env(self, services: list[Service]) -> None:
        """Internal calls (pipeline, facades, bridge → AI services) go to the services directly,
        not through Envoy (the caller was authenticated at the edge; its identity headers are
        forwarded), balanced by the caller's channel over every replica (rpc/balancing.py)."""
        every = {name: ",".join(f"127.0.0.1:{s.port}" for s in services if s.name == name)
                 for name in ("asr", "tts", "nmt", "pipeline")}
        env = {
            **{f"AI4VC_PIPELINE_{n.upper()}_TARGET": every[n] for n in ("asr", "tts", "nmt")},
            **{f"AI4VC_RIVA_{n.upper()}_TARGET": every[n] for n in ("asr", "tts", "nmt")},
            **{f"AI4VC_WSBRIDGE_{n.upper()}_TARGET": every[n] for n in ("asr", "tts", "pipeline")},
            **{f"AI4VC_ULCA_{n.upper()}_TARGET": every[n] for n in ("asr", "tts", "nmt")},
        }
        for service in services:
            service.env.update(env)

    def _dashboard_env(self, services: list[Service], spare: Iterator[int]) -> None:
        """The dashboard is told every replica the mesh runs (to health-check), Prometheus, the
        metrics service and the edge; each of its replicas gets a page port of its own."""
        targets = ",".join(
            f"{s.name}|http|{s.http_health_path}|127.0.0.1:{s.port}" if s.http_health_path
            else f"{s.name}|grpc|{s.health_service}|127.0.0.1:{s.port}" for s in services)
        dashboards = [s for s in services if s.name == "dashboard"]
        for replica, service in enumerate(dashboards):
            web = self.ports.dashboard_web if replica == 0 else (
                next(spare, 0) if self.free_metrics_ports else replica_port(self.ports.dashboard_web, replica))
            service.env.update({
                "AI4VC_DASHBOARD_TARGETS": targets,
                "AI4VC_DASHBOARD_PROMETHEUS_URL": self.prometheus.url,
                "AI4VC_DASHBOARD_METRICS_TARGET": f"127.0.0.1:{self.ports.services['metrics']}",
                "AI4VC_DASHBOARD_WEB_PORT": str(web),
                "AI4VC_DASHBOARD_EDGE_URL": self.edge_url,
                # Its page relays GetOverview to the edge with httpx, which trusts SSL_CERT_FILE.
                **({"SSL_CERT_FILE": str(self.edge_ca)} if self.edge_ca else {}),
                "AI4VC_DASHBOARD_ALERTMANAGER_URL": self.alertmanager.url,
            })
            service.web_port = web

    def upstreams(self) -> list[envoy_config.Upstream]:
        pages = [("127.0.0.1", s.web_port) for s in self.services if s.name == "dashboard" and s.web_port]
        return edge_upstreams(lambda name: [("127.0.0.1", s.port) for s in self.services if s.name == name],
                              dashboard_pages=pages,
                              web_ui=[("127.0.0.1", self.ports.web_ui)] if self.serve_web_ui else [])

    def scrape_targets(self) -> list[prometheus_config.Target]:
        """What Prometheus scrapes: every replica's metrics port (the ports actually given out,
        so free test ports too), Triton's metrics (when it is ours) and Envoy's admin."""
        targets = [prometheus_config.Target("ai4vc", f"127.0.0.1:{s.metrics_port}",
                                            labels=(("component", s.name), ("replica", s.proc.name)))
                   for s in self.services]
        if not self.external_triton:
            targets.append(prometheus_config.Target("triton", f"127.0.0.1:{self.ports.triton_metrics}"))
        targets.append(prometheus_config.Target("envoy", f"127.0.0.1:{self.ports.envoy_admin}", "/stats/prometheus"))
        return targets

    @property
    def alert_rules_dir(self) -> Path:
        return self.prometheus.home / "alerting"

    def prometheus_config(self) -> str:
        return prometheus_config.render(self.scrape_targets(), self.prometheus.rules_path,
                                        alert_rules_dir=self.alert_rules_dir,
                                        alertmanager=f"127.0.0.1:{self.ports.alertmanager}")

    def alertmanager_config(self) -> str:
        """Routes to the alerting service's receiver; timings from the environment (the test
        mesh shortens them), else Alertmanager's usual ones."""
        defaults = alertmanager_config.Timing()
        timing = alertmanager_config.Timing(**{
            f.name: os.environ.get(f"AI4VC_ALERTMANAGER_{f.name.upper()}", getattr(defaults, f.name))
            for f in dataclasses.fields(alertmanager_config.Timing)})
        return alertmanager_config.render(
            f"http://127.0.0.1:{self.ports.alerting_webhook}/v1/alertmanager", timing)

    def up(self) -> dict[str, object]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        log.info("starting PostgreSQL on :%d", self.ports.postgres)
        self.postgres.start()
        log.info("starting Redis on :%d", self.ports.redis)
        self.redis.start()
        log.info("starting Kafka (tansu) on :%d", self.ports.kafka)
        self.kafka.start()
        if self.external_triton:
            log.info("using the Triton at %s", self.external_triton)
        else:
            log.info("starting Triton on :%d (gRPC)", self.ports.triton_grpc)
            self.triton.start()
        # Before the services: the alerting service's silences go to it from its first call.
        log.info("starting Alertmanager on :%d", self.ports.alertmanager)
        self.alertmanager.start(self.alertmanager_config())
        self.services = self._build_services()
        # Envoy's files first: the gateway (stage 1) completes the route skeleton and publishes
        # the routes before Envoy starts; ports and cluster names are all known already.
        self.envoy.write(envoy_config.write_edge(
            self.upstreams(), self.envoy.config_dir, self.secrets()["AI4VC_JWT_SECRET"],
            listen_port=self.ports.envoy, admin_port=self.ports.envoy_admin, access_log_path=self.access_log,
            listen_address=os.environ.get("AI4VC_LISTEN_ADDRESS", "127.0.0.1"), node_id=f"edge-{self.ports.envoy}",
            tracing_sample_ratio=float(os.environ.get("AI4VC_TRACING_SAMPLE_RATIO", "0.1")),
            edge_tls=self.edge_tls_files(), upstream_tls=self.upstream_tls_files()))
        first_run = not self.admin_key_file.exists()
        # Stage by stage; the services of one stage start side by side.
        for stage in sorted({spec.stage for spec in SERVICES.values()}):
            members = [s for s in self.services if SERVICES[s.name].stage == stage]
            for service in members:
                log.info("starting %s on :%d", service.proc.name, service.port)
                service.start()
            for service in members:
                service.wait_serving()
        if first_run and self.admin_key_file.exists():
            log.info("bootstrap admin created; its API key is in %s (mode 0600)", self.admin_key_file)
        if self.serve_web_ui:  # before Envoy, which health-checks it
            log.info("starting the web console on :%d (built first when web/ changed)", self.ports.web_ui)
            self.web_ui.start()
        else:
            log.warning("web/node_modules missing (deploy/local/bootstrap.sh): no web console")
        log.info("starting Envoy on :%d", self.ports.envoy)
        self.envoy.start()
        self.envoy.wait_healthy()
        log.info("starting Prometheus on :%d", self.ports.prometheus)
        self.prometheus.start(self.prometheus_config(), prometheus_config.render_rules())
        state = self.describe()
        self.state_file.write_text(json.dumps(state, indent=2))
        return state

    def describe(self) -> dict[str, object]:
        return {
            "run_dir": str(self.run_dir),
            "ports": dataclasses.asdict(self.ports),
            "replicas": self.replicas,
            "envoy": f"127.0.0.1:{self.ports.envoy}",
            "edge_url": self.edge_url,
            "edge_tls": self.edge_tls,
            "edge_cert": [str(self.edge_cert.cert), str(self.edge_cert.key)] if self.edge_cert else [],
            "edge_ca": str(self.edge_ca or ""),
            "mesh_mtls": self.mesh_mtls,
            "envoy_admin": f"http://127.0.0.1:{self.ports.envoy_admin}",
            "triton_grpc": self.external_triton or self.triton.url,
            "external_triton": self.external_triton,
            "postgres_url": self.postgres.url,
            "redis_url": self.redis.url,
            "kafka_bootstrap": self.kafka.bootstrap,
            "prometheus": self.prometheus.url,
            "alertmanager": self.alertmanager.url,
            "web_ui": self.web_ui.url if self.serve_web_ui else "",
            "services": {s.proc.name: {"port": s.port, "metrics_port": s.metrics_port} for s in self.services},
            "admin_key_file": str(self.admin_key_file),
        }

    @classmethod
    def from_state(cls, run_dir: Path) -> Mesh:
        """The mesh recorded in `run_dir` (for `down`/`status` from another process)."""
        state = json.loads((run_dir / "mesh.json").read_text())
        ports = state["ports"]
        services = {**Ports().services, **ports.pop("services", {})}
        edge_cert = state.get("edge_cert") or []
        mesh = cls(run_dir, Ports(**ports, services=services), state.get("replicas"),
                   external_triton=state.get("external_triton", ""), edge_tls=state.get("edge_tls", False),
                   edge_cert=envoy_config.EdgeTls(Path(edge_cert[0]), Path(edge_cert[1])) if edge_cert else None,
                   mesh_mtls=state.get("mesh_mtls", False))
        mesh.services = mesh._build_services()
        return mesh

    def down(self) -> None:
        """Stops everything this run directory started, newest first."""
        self.prometheus.stop()
        self.envoy.stop()
        self.web_ui.stop()
        # Every process with a pid file, whatever the configuration that started it.
        for pid_file in sorted((self.run_dir / "pids").glob("*.pid"), reverse=True):
            if pid_file.stem not in ("envoy", "triton", "redis", "kafka", "prometheus", "alertmanager",
                                      "postgres"):
                Process(pid_file.stem, self.run_dir).stop()
        self.alertmanager.stop()
        self.triton.stop()
        self.kafka.stop()
        self.redis.stop()
        self.postgres.stop()
        clean_shm()

