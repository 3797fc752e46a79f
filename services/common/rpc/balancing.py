"""Calls between our own services, balanced over every replica: the one way a service (the
pipeline, the Riva and ULCA facades) or the WebSocket bridge opens a channel to another service.

gRPC client-side load balancing, not an internal Envoy listener: the channel resolves the
target to every replica's address, keeps one HTTP/2 connection to each, and spreads calls
round-robin over those it is connected to. Why not Envoy in between: an extra hop (~1 ms a call here,
bench/README.md) and one more process to keep up, for what gRPC does in the client already; and
in Kubernetes a ClusterIP Service balances connections, not the calls on a long-lived HTTP/2
connection, so a client needs every pod's address anyway (a headless Service).

A target setting is one of:
- `host:port` — resolved by DNS (gRPC's default), every address of the name is used: compose's
  service name (`asr:8087`, all its containers) or Kubernetes' headless Service;
- `h1:p1,h2:p2,…` — literal IPs of each replica (the local mesh), all IPv4 or all IPv6;
- a gRPC target URI: `dns:///host:port`, `ipv4:…`, `ipv6:…`, `unix:…`.

A replica that dies gets no new calls; its calls in flight end UNAVAILABLE (the callers' own
retry of unary calls lands on another replica), and the channel reconnects when it comes back on
the same address. gRPC's client-side health checking (`healthCheckConfig`, skipping a replica
whose health Watch says NOT_SERVING) is deliberately off: in one full CI run a facade's channel
stayed unusable for minutes after its backends were SERVING again following a Triton restart
(its readiness Check, sent on that channel, never got through), so the facade stayed out of
Envoy's rotation; a Watch left on NOT_SERVING is the suspect, not proven. Without it a replica
that says NOT_SERVING still gets calls and answers them itself (UNAVAILABLE while its model is
away, which the unary retry moves to another replica); a stream opened on a draining one fails.
gRPC's own retries stay transparent ones only (no retryPolicy here), so they never multiply the
callers' retries.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from services.common.settings import SettingsError

Options = Sequence[tuple[str, Any]]

# Schemes of gRPC's built-in resolvers a target may name; others (xds:, …) need a control
# plane this project does not run.
SCHEMES = ("dns", "ipv4", "ipv6", "unix", "unix-abstract")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")

# A dead peer whose TCP connection stays open (a node gone, a partition) is found by keepalive
# pings: one every 20 s, the connection closed (its streams end UNAVAILABLE) when no answer
# comes within 10 s. gRPC core waits `ping_timeout_ms` (default 60 s), not keepalive_timeout_ms,
# for a keepalive answer (measured with grpcio 1.85). Pings while nothing else is sent are
# allowed: every service's server (services/common/rpc/server.py) takes a ping per 10 s, with or
# without calls, so it never answers GOAWAY "too_many_pings".
CONNECTION_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    # A replica that was away is tried again at least every 5 s (gRPC's default backoff grows to
    # 120 s), so one the supervisor restarts gets calls again within seconds.
    ("grpc.max_reconnect_backoff_ms", 5_000),
)


def _port_ok(port: str) -> bool:
    return port.isdigit() and 0 < int(port) < 65536


def _split_host_port(address: str) -> tuple[str, str] | None:
    """(host, port) of `host:port` or `[v6]:port`; None when it is neither."""
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
        return (host, port) if sep and host and _port_ok(port) else None
    host, sep, port = address.rpartition(":")
    if not sep or not host or ":" in host or not _port_ok(port):
        return None
    return host, port


def _ip_family(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def grpc_target(value: str, env_var: str) -> str:
    """The gRPC target for a target setting (see the module docstring); "" stays "" (not
    configured). Anything else malformed is a SettingsError naming `env_var`."""
    value = value.strip()
    if not value:
        return ""

    def bad(why: str) -> SettingsError:
        return SettingsError(f"{env_var}={value!r}: {why}; use host:port, a comma-separated list of "
                             "IP:port (one per replica) or a gRPC target URI (dns:///host:port, ipv4:…)")

    scheme, colon, rest = value.partition(":")
    if colon and scheme in SCHEMES:
        return _check_uri(scheme, rest, bad)
    if "://" in value:
        raise bad(f"unknown scheme {scheme!r} (gRPC resolvers here: {', '.join(SCHEMES)})")
    entries = [entry.strip() for entry in value.split(",")]
    if any(not entry for entry in entries):
        raise bad("an empty entry in the list")
    parsed = []
    for entry in entries:
        host_port = _split_host_port(entry)
        if host_port is None or not (_ip_family(host_port[0]) or _HOST.fullmatch(host_port[0])):
            raise bad(f"{entry!r} is not host:port")
        parsed.append(host_port)
    if len(parsed) == 1:
        host, port = parsed[0]
        # A bare IPv6 literal has to be bracketed for gRPC's default (dns) resolver as well.
        return f"[{host}]:{port}" if _ip_family(host) == 6 else f"{host}:{port}"
    families = {_ip_family(host) for host, _ in parsed}
    if None in families:
        raise bad("a list takes IP addresses only (a DNS name that resolves to every replica "
                  "goes alone, as host:port)")
    if len(families) > 1:
        raise bad("a list mixes IPv4 and IPv6 addresses")
    if len({f"{h}:{p}" for h, p in parsed}) != len(parsed):
        raise bad("an address is listed twice")
    if families == {4}:
        return "ipv4:" + ",".join(f"{host}:{port}" for host, port in parsed)
    return "ipv6:" + ",".join(f"[{host}]:{port}" for host, port in parsed)


def _check_uri(scheme: str, rest: str, bad: Callable[[str], SettingsError]) -> str:
    target = f"{scheme}:{rest}"
    if scheme == "dns":
        # dns:host:port, dns:///host:port or dns://authority/host:port; a name without a port
        # would be dialled on 443, never what a service listens on here.
        name = rest[2:].partition("/")[2] if rest.startswith("//") else rest
        host_port = _split_host_port(name)
        if host_port is None:
            raise bad("a dns target needs host:port")
        return target
    if scheme in ("ipv4", "ipv6"):
        entries = [entry.strip() for entry in rest.split(",")]
        for entry in entries:
            host_port = _split_host_port(entry)
            if host_port is None or _ip_family(host_port[0]) != int(scheme[-1]):
                raise bad(f"{entry!r} is not an {scheme} address with a port")
        return f"{scheme}:{','.join(entries)}"
    if not rest.strip("/"):
        raise bad("a unix target needs a path")
    return target


def service_config(service_name: str) -> str:
    """The channel's service config: round-robin over every connected address (no client-side
    health checking: see the module's docstring; `service_name` is kept for when it returns).
    No retryPolicy: callers retry themselves (rpc/downstream.py)."""
    del service_name
    return json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def channel_options(service_name: str, options: Options = ()) -> list[tuple[str, Any]]:
    """`options` plus the balancing and keepalive options (the caller's win on a clash)."""
    mine = dict(CONNECTION_OPTIONS)
    mine["grpc.service_config"] = service_config(service_name)
    # Ours, not one a DNS TXT record might carry.
    mine["grpc.service_config_disable_resolution"] = 1
    mine.update(dict(options))
    return list(mine.items())


def balanced_channel(target: str, service_name: str, *, options: Options = (),
                     credentials: grpc.ChannelCredentials | None = None, tls_name: str = "") -> grpc.aio.Channel:
    """An asyncio channel to every replica behind `target` (a gRPC target, see `grpc_target`),
    balanced round-robin over the connected ones (`service_name`: the full gRPC service name).
    `credentials`: TLS; None: plaintext. `tls_name`: the name every replica's
    certificate carries (the service's short name, deploy/local/tls.py), checked instead of the
    target's authority — an `ipv4:` list or a headless Service's DNS name is no certificate name."""
    opts = channel_options(service_name, options)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=opts)
    if tls_name:
        opts = [*opts, ("grpc.ssl_target_name_override", tls_name)]
    return grpc.aio.secure_channel(target, credentials, options=opts)


def check_targets(settings: Any, env_prefix: str, names: Sequence[str]) -> None:
    """Fails fast (SettingsError naming the variable) on a malformed `<name>_target` field of a
    settings object, read as `<env_prefix>_<NAME>_TARGET`."""
    for name in names:
        grpc_target(getattr(settings, f"{name}_target"), f"{env_prefix}_{name.upper()}_TARGET")
