"""A local certificate authority for `make up TLS=1` / `AI4VC_MESH_MTLS=1`: one CA, made once in
`<run dir>/tls/`, that issues the edge's server certificate (localhost, 127.0.0.1, ::1 and any
names in AI4VC_EDGE_TLS_NAMES), Envoy's client certificate for the services, and one certificate
per service (its name and the loopback addresses; server and client use, as services call one
another). Files are reused while they are valid and name what is asked; private keys are 0600.

It is a development CA: its key sits next to the certificates. A deployment brings its own
certificates (AI4VC_EDGE_TLS_CERT / AI4VC_EDGE_TLS_KEY, and AI4VC_MESH_TLS_* for the services).
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The names a local client reaches the edge by.
EDGE_NAMES = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
# Browsers refuse server certificates valid for more than 398 days.
LEAF_DAYS = 397
# A certificate this close to its end is issued again at the next `make up`.
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes `data` with `mode` from the start (a key is never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _save(pair: Pair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    _write(pair.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def names_of(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))}


def _fresh(path: Path) -> x509.Certificate | None:
    """The certificate at `path` if it is there and not near its end."""
    if not path.is_file():
        return None
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return None
    return cert


class LocalCa:
    """The CA of one run directory (`<dir>/ca.pem`, `<dir>/ca.key`) and what it issues."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pair = Pair(directory / "ca.pem", directory / "ca.key")

    @property
    def cert_path(self) -> Path:
        return self.pair.cert

    def ensure(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """The CA, made on first use (or when it nears its end)."""
        cert = _fresh(self.pair.cert)
        if cert is not None and self.pair.key.is_file():
            key = serialization.load_pem_private_key(self.pair.key.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AI4V-C local"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"AI4V-C local CA ({self.directory})"[:64])])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _save(self.pair, cert, key)
        # Whatever the old CA issued no longer verifies: issue again.
        for stale in self.directory.rglob("*.pem"):
            if stale != self.pair.cert:
                stale.unlink()
        return cert, key

    def issue(self, stem: str, names: Sequence[str], *, server: bool = True, client: bool = False) -> Pair:
        """`<dir>/<stem>.pem` + `.key` for `names` (the first is the common name), issued once and
        again only when it nears its end, names other names, or another CA made it."""
        ca_cert, ca_key = self.ensure()
        pair = Pair(self.directory / f"{stem}.pem", self.directory / f"{stem}.key")
        cert = _fresh(pair.cert)
        if (cert is not None and pair.key.is_file() and cert.issuer == ca_cert.subject
                and names_of(cert) == set(names)):
            return pair
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [*([ExtendedKeyUsageOID.SERVER_AUTH] if server else []),
                  *([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])]
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(_san(names), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _save(pair, cert, key)
        return pair

    def edge(self, extra_names: Sequence[str] = ()) -> Pair:
        """The edge's server certificate: the loopback names and `extra_names` (the host's own)."""
        return self.issue("edge", [*EDGE_NAMES, *(n for n in extra_names if n not in EDGE_NAMES)])

    def envoy_client(self) -> Pair:
        """The certificate Envoy presents to the services (mTLS)."""
        return self.issue("envoy-client", ["envoy"], server=False, client=True)

    def service(self, name: str) -> Pair:
        """A service's certificate: its name (the compose / Kubernetes host name, and what Envoy
        checks), and the loopback addresses the local mesh dials; client use too, for its calls."""
        return self.issue(f"services/{name}", [name, *EDGE_NAMES], server=True, client=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m deploy.local.tls DIR [--edge-name NAME]... [--service NAME]...`: the CA, the edge's
    certificate, Envoy's client certificate and one per service, in DIR (for compose: mount it)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deploy.local.tls")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--edge-name", action="append", default=[], help="a further name of the edge")
    parser.add_argument("--service", action="append", default=[], help="a service to issue a certificate for")
    args = parser.parse_args(argv)
    ca = LocalCa(args.directory)
    for pair in (ca.edge(args.edge_name), ca.envoy_client(), *(ca.service(name) for name in args.service)):
        sys.stdout.write(f"{pair.cert} {pair.key}\n")
    sys.stdout.write(f"{ca.cert_path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
