"""Mesh mTLS, in one place: the credentials a service's server binds with, and the credentials
every internal caller (service → service, the dashboard's health checks, OTLP export, live
config, the launcher's readiness probe) dials with. Both come from the same three settings
(`mesh_tls_cert`, `mesh_tls_key`, `mesh_tls_ca`, services/common/settings.py): a process
presents its own certificate and trusts the mesh's CA. Nothing set: plaintext, as before.

Callers write `channel(target, settings)` / `aio_channel(target, settings)` instead of
`grpc[.aio].insecure_channel(target)`; where the channel is made elsewhere, pass
`channel_credentials(settings)` on and call `secure_or_insecure` there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc

Options = Sequence[tuple[str, Any]]


class MeshTlsSettings(Protocol):
    """What the helpers read (CommonSettings has it; the launcher builds one for its probe)."""

    @property
    def mesh_tls_cert(self) -> str: ...

    @property
    def mesh_tls_key(self) -> str: ...

    @property
    def mesh_tls_ca(self) -> str: ...

    @property
    def mesh_tls_server(self) -> bool: ...

    @property
    def mesh_tls_plaintext(self) -> tuple[str, ...]: ...


def enabled(settings: MeshTlsSettings) -> bool:
    """Whether mesh TLS is configured (settings.load has checked that all three files are there)."""
    return bool(settings.mesh_tls_cert and settings.mesh_tls_key and settings.mesh_tls_ca)


def server_credentials(settings: MeshTlsSettings) -> grpc.ServerCredentials | None:
    """TLS for the service's port, requiring a client certificate of the mesh CA; None: plaintext
    (no mesh TLS, or `mesh_tls_server` off)."""
    if not enabled(settings) or not settings.mesh_tls_server:
        return None
    return grpc.ssl_server_credentials(
        [(Path(settings.mesh_tls_key).read_bytes(), Path(settings.mesh_tls_cert).read_bytes())],
        root_certificates=Path(settings.mesh_tls_ca).read_bytes(),
        require_client_auth=True,
    )


def channel_credentials(settings: MeshTlsSettings, target: str = "") -> grpc.ChannelCredentials | None:
    """TLS to another service (at `target`, when known): the mesh CA to verify it, this process's
    certificate to show; None: plaintext (no mesh TLS, or `target` in `mesh_tls_plaintext`)."""
    if not enabled(settings) or (target and target in settings.mesh_tls_plaintext):
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=Path(settings.mesh_tls_ca).read_bytes(),
        private_key=Path(settings.mesh_tls_key).read_bytes(),
        certificate_chain=Path(settings.mesh_tls_cert).read_bytes(),
    )


def secure_or_insecure(target: str, credentials: grpc.ChannelCredentials | None,
                       options: Options = ()) -> grpc.aio.Channel:
    """An asyncio channel to `target`, over TLS when `credentials` are given."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(target, credentials, options=list(options))


def sync_secure_or_insecure(target: str, credentials: grpc.ChannelCredentials | None,
                            options: Options = ()) -> grpc.Channel:
    """A blocking channel to `target` (the OTLP exporters' threads, the launcher), over TLS when given."""
    if credentials is None:
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, credentials, options=list(options))


def aio_channel(target: str, settings: MeshTlsSettings, options: Options = ()) -> grpc.aio.Channel:
    """The asyncio channel an internal caller opens to a service."""
    return secure_or_insecure(target, channel_credentials(settings, target), options)


def channel(target: str, settings: MeshTlsSettings, options: Options = ()) -> grpc.Channel:
    """The blocking channel an internal caller opens to a service."""
    return sync_secure_or_insecure(target, channel_credentials(settings, target), options)
