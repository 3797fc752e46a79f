"""Rehearses core.yaml where there is no Docker engine: every container's command runs as a
process, with the environment the compose client renders for it (`docker-compose config`), on
the seed ports, inside a private network and mount namespace (`unshare`, as root) whose /etc/hosts
names every compose service — so the DNS targets, Envoy's STRICT_DNS clusters, the health probes
and the depends_on order are the compose file's own. A container starts once what it depends on
passes its compose healthcheck command; then Envoy's clusters must all be healthy and calls
through the edge (REST, Dhruva/ULCA, Riva gRPC, the pages) must answer.

What it does not rehearse: the images (PostgreSQL, Redis, Triton and the web console's export come
from this machine, as `make up` runs them; the tansu broker stands in for Apache Kafka, so the relay
runs without the idempotent producer), the volumes (container paths map to the run directory) and
one IP per container (one namespace for all: each process gets its own /metrics port).

    PYTHONPATH=gen/python:. .venv/bin/python -m deploy.compose.rehearse --run-dir /tmp/ai4vc-rehearse
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from deploy.local import parts
from deploy.local.mesh import GRAMMAR_CACHE_DIR

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = Path(__file__).resolve().parent
INSIDE = "AI4VC_REHEARSE_INSIDE"
# Started from deploy.local.parts (bound to 127.0.0.1) rather than from their images.
INFRA = ("postgres", "redis", "kafka", "triton")
HEALTHY_WITHIN_S = 240.0
MAX_RESTARTS = 3
_START = time.monotonic()


def say(message: str) -> None:
    sys.stdout.write(f"[{time.monotonic() - _START:6.1f} s] {message}\n")
    sys.stdout.flush()


class Rehearsal:
    def __init__(self, run_dir: Path, web_out: Path, services: dict[str, Any], secrets_env: dict[str, str]) -> None:
        self.run_dir = run_dir
        self.services = services
        self.secrets_env = secrets_env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # Container paths (named volumes, the image's web export) → the run directory.
        self.paths = {"/var/lib/ai4vc/spool": run_dir / "spool", "/etc/ai4vc-edge": run_dir / "edge",
                      "/run/ai4vc": run_dir / "adminkey", "/var/cache/ai4vc/grammars": GRAMMAR_CACHE_DIR,
                      "/etc/ai4vc-alerting": run_dir / "alertrules", "/app/web/out": web_out}
        self.metrics_ports = {name: 9100 + i for i, name in enumerate(services)}
        self.restarts: dict[str, int] = {}

    def _sub(self, value: str) -> str:
        for container, here in self.paths.items():
            value = value.replace(container, str(here))
        return value

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AI4VC_")}
        env.update(PATH=f"{parts.VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
                   PYTHONPATH=f"{ROOT / 'gen' / 'python'}:{ROOT}", PYTHONUNBUFFERED="1", **self.secrets_env)
        for key, value in (self.services[name].get("environment") or {}).items():
            env[key] = self._sub("" if value is None else str(value))
        # tansu refuses the idempotent producer's InitProducerId v0 (compose runs Apache Kafka).
        env["AI4VC_EVENTS_KAFKA_IDEMPOTENCE"] = "false"
        # One namespace for all: /metrics (9100 in every container) needs a port each.
        env[f"AI4VC_{name.upper()}_METRICS_PORT"] = str(self.metrics_ports[name])
        return env

    def argv(self, name: str) -> list[str]:
        service = self.services[name]
        argv = [*(service.get("entrypoint") or ["python", "-m"]), *(service.get("command") or [])]
        return [self._sub(a) for a in argv]

    def healthy(self, name: str) -> bool:
        test = self.services[name]["healthcheck"]["test"]
        argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        return subprocess.run(argv, env=self.env(name), capture_output=True, timeout=15, cwd=ROOT).returncode == 0

    def start_all(self) -> None:
        """Starts each container once its depends_on are healthy (as compose does), side by side."""
        healthy = set(INFRA)
        pending = {n for n in self.services if n not in INFRA}
        starting: dict[str, float] = {}
        while pending or starting:
            startable = sorted(n for n in pending if set(self.services[n].get("depends_on") or {}) <= healthy)
            if not startable and not starting:
                raise parts.PartError(f"never startable (depends_on): {sorted(pending)}")
            for name in startable:
                self._spawn(name)
                starting[name] = time.monotonic()
                pending.discard(name)
                say(f"start {name}")
            for name in sorted(starting):
                if self.procs[name].poll() is not None:
                    # As Docker's restart policy does (every service has one): start it again.
                    code = self.procs[name].returncode
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    if not self.services[name].get("restart") or self.restarts[name] > MAX_RESTARTS:
                        raise parts.PartError(f"{name} exited {code}; see {self.run_dir}/logs/{name}.log")
                    say(f"RESTART {name}: it exited {code} (see {self.run_dir}/logs/{name}.log)")
                    self._spawn(name)
                    continue
                if self.healthy(name):
                    say(f"healthy {name} ({time.monotonic() - starting.pop(name):.1f} s after its start)")
                    healthy.add(name)
                elif time.monotonic() - starting[name] > HEALTHY_WITHIN_S:
                    raise parts.PartError(f"{name} not healthy in {HEALTHY_WITHIN_S:.0f} s; see {self.run_dir}/logs")
            time.sleep(0.5)

    def _spawn(self, name: str) -> None:
        log = (self.run_dir / "logs" / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(self.argv(name), env=self.env(name), cwd=ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def stop_all(self) -> None:
        for proc in reversed(self.procs.values()):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _edge_clusters_healthy(timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen("http://127.0.0.1:9901/clusters?format=json", timeout=5) as answer:
            clusters = json.loads(answer.read().decode())["cluster_statuses"]
        bad = [c["name"] for c in clusters if not c.get("host_statuses") or any(
            h.get("health_status", {}).get("failed_active_health_check")
            or h.get("health_status", {}).get("eds_health_status") not in (None, "HEALTHY")
            for h in c["host_statuses"])]
        if not bad:
            return len(clusters)
        if time.monotonic() > deadline:
            raise parts.PartError(f"Envoy clusters without a healthy host: {bad}")
        time.sleep(1.0)


def _call(method: str, path: str, key: str, body: object | None = None, header: str = "x-api-key") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:8080{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={header: key, "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def smoke(key: str) -> list[str]:
    """Calls through the edge; the failures, as lines."""
    hindi = "भारत एक विशाल देश है।"
    checks: list[tuple[str, int, tuple[int, str]]] = [
        ("REST translate (nmt)", 200, _call("POST", "/v1/text:translate", key, {
            "contents": [hindi], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"})),
        ("REST transliterate (nmt)", 200, _call("POST", "/v1/text:transliterate", key, {
            "contents": ["namaste"], "sourceLanguageCode": "hi-Latn", "targetLanguageCode": "hi",
            "isWordLevel": True})),
        ("REST synthesize (tts)", 200, _call("POST", "/v1/text:synthesize", key, {
            "input": {"text": "नमस्ते"}, "voice": {"languageCode": "hi"},
            "audioConfig": {"encoding": "AUDIO_ENCODING_WAV"}})),
        ("Dhruva translation (ulca → dns:///nmt)", 200, _call("POST", "/services/inference/translation", key, {
            "config": {"serviceId": "ai4bharat/indictrans-v2-all-gpu--t4",
                       "language": {"sourceLanguage": "hi", "targetLanguage": "ur"}}, "input": [{"source": hindi}]},
            header="Authorization")),
        ("dashboard overview", 200, _call("GET", "/v1/dashboard:overview", key)),
        ("usage summary (metrics)", 200, _call("GET", "/v1/usage:summary", key)),
        ("config list", 200, _call("GET", "/v1/namespaces/nmt/configs", key)),
        ("no key", 401, _call("GET", "/v1/voices?languageCode=ta", key, header="x-not-a-key")),
        *((f"GET {page}", 200, _call("GET", page, key)) for page in ("/ui/", "/dashboard/", "/docs", "/openapi.json")),
    ]
    failures = []
    for what, expected, (status, body) in checks:
        say(f"{what}: {status} {body[:120]!r}")
        if status != expected:
            failures.append(f"{what}: {status}, expected {expected}: {body[:300]}")
    riva = subprocess.run([str(parts.VENV_BIN / "grpcurl"), "-plaintext", "-H", f"x-api-key: {key}", "-d",
                           json.dumps({"texts": [hindi], "source_language": "hi", "target_language": "ur"}),
                           "127.0.0.1:8080", "nvidia.riva.nmt.RivaTranslation/TranslateText"],
                          capture_output=True, text=True, timeout=60)
    say(f"Riva gRPC TranslateText (riva → dns:///nmt): rc={riva.returncode} {riva.stdout.strip()[:120]!r}")
    if riva.returncode != 0 or '"translations"' not in riva.stdout:
        failures.append(f"Riva TranslateText: {riva.stdout}{riva.stderr}"[:300])
    return failures


def rehearse(run_dir: Path, web_out: Path) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    services_raw = yaml.safe_load((COMPOSE / "core.yaml").read_text())["services"]
    # Infra is bound to 127.0.0.1 by deploy.local.parts; the containers' processes listen on 0.0.0.0
    # and are named on 127.0.0.2 (c-ares answers a name on 127.0.0.1 with ::1 as well, which an
    # IPv4 listener refuses).
    others = [n for n in services_raw if n not in INFRA]
    (run_dir / "hosts").write_text(f"127.0.0.1 localhost {' '.join(INFRA)}\n127.0.0.2 {' '.join(others)}\n")
    subprocess.run(["mount", "--bind", str(run_dir / "hosts"), "/etc/hosts"], check=True)
    for sub in ("spool", "edge", "adminkey", "alertrules", "logs"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    postgres, redis = parts.Postgres(run_dir, 5434, durable=False), parts.Redis(run_dir, 6381)
    kafka = parts.Kafka(run_dir, 9093)
    triton = parts.Triton(run_dir, 8001, 8000, 8002, trace_url="http://telemetry:4318/v1/traces", trace_rate=10)
    rehearsal: Rehearsal | None = None
    try:
        postgres.start()
        redis.start()
        kafka.start()
        triton.start()
        say("PostgreSQL, Redis, Kafka (tansu), Triton (reference models) ready")
        copy = run_dir / "compose"
        shutil.copytree(COMPOSE, copy, ignore=shutil.ignore_patterns("__pycache__", "secrets.env"), dirs_exist_ok=True)
        secrets_env = {"AI4VC_JWT_SECRET": secrets.token_urlsafe(48), "AI4VC_KEY_PEPPER": secrets.token_urlsafe(48)}
        (copy / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in secrets_env.items()))
        shell = {**os.environ, "POSTGRES_PASSWORD": postgres.password_file.read_text().strip(),
                 "REDIS_PASSWORD": redis.password_file.read_text().strip()}
        rendered = subprocess.run(["docker-compose", "-p", "ai4vc", "-f", str(copy / "core.yaml"), "config"],
                                  env=shell, capture_output=True, text=True, check=True, timeout=120).stdout
        rehearsal = Rehearsal(run_dir, web_out, yaml.safe_load(rendered)["services"], secrets_env)
        rehearsal.start_all()
        say(f"every container healthy; Envoy: {_edge_clusters_healthy()} clusters, each with a healthy host")
        if rehearsal.restarts:
            say(f"containers that exited and were restarted (restart policy): {rehearsal.restarts}")
        failures = smoke((run_dir / "adminkey" / "admin-api-key").read_text().strip())
        for line in failures:
            say(f"FAILED {line}")
        say("rehearsal passed" if not failures else f"rehearsal failed: {len(failures)} calls")
        return 1 if failures else 0
    finally:
        if rehearsal is not None:
            rehearsal.stop_all()
        for part in (triton, kafka, redis, postgres):
            part.stop()
        say("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose.rehearse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a new directory for state and logs")
    parser.add_argument("--web-out", type=Path, default=ROOT / "web" / "out",
                        help="the web console's static export (built with deploy.local.webui when absent)")
    args = parser.parse_args(argv)
    if os.environ.get(INSIDE) != "1":
        if shutil.which("docker-compose") is None or shutil.which("unshare") is None:
            parser.error("needs docker-compose (Debian docker-compose) and unshare (util-linux), as root")
        args.run_dir.mkdir(parents=True, exist_ok=True)
        if not (args.web_out / "index.html").is_file():
            from deploy.local import webui

            args.web_out = webui.build()
        argv_inside = [sys.executable, "-m", "deploy.compose.rehearse", "--run-dir", str(args.run_dir.resolve()),
                       "--web-out", str(args.web_out.resolve())]
        return subprocess.run(["unshare", "--net", "--mount", "--fork", *argv_inside], cwd=ROOT,
                              env={**os.environ, INSIDE: "1"}).returncode
    return rehearse(args.run_dir, args.web_out)


if __name__ == "__main__":
    sys.exit(main())
