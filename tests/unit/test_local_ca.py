"""The local CA of `make up TLS=1` (deploy/local/tls.py): what it issues (names, usages, validity,
chain), that keys are 0600 from the start, and that files are reused until they must change."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from deploy.local.tls import LEAF_DAYS, LocalCa, names_of


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_edge_certificate_names_loopback_and_extra_names(tmp_path: Path) -> None:
    """The edge's certificate is valid for localhost, 127.0.0.1, ::1 and the names asked for, for server use."""
    ca = LocalCa(tmp_path)
    cert = _load(ca.edge(["ai4vc.example.test"]).cert)
    assert names_of(cert) == {"localhost", "127.0.0.1", "::1", "ai4vc.example.test"}
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_certificates_chain_to_the_ca_and_expire_within_398_days(tmp_path: Path) -> None:
    """Each leaf is signed by the CA (verified with the CA's public key) and valid < 398 days (browsers' cap);
    the CA itself is a CA that may sign leaves only."""
    ca = LocalCa(tmp_path)
    root = _load(ca.edge().cert.parent / "ca.pem")
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    key = root.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    for pair in (ca.edge(), ca.envoy_client(), ca.service("nmt")):
        leaf = _load(pair.cert)
        assert leaf.issuer == root.subject
        leaf.verify_directly_issued_by(root)
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        assert datetime.timedelta(days=300) < lifetime <= datetime.timedelta(days=LEAF_DAYS, minutes=5)
        assert leaf.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=300)


def test_private_keys_are_owner_only_and_certificates_public(tmp_path: Path) -> None:
    """Every key file (CA's included) is 0600; certificates 0644."""
    ca = LocalCa(tmp_path)
    pairs = [ca.edge(), ca.envoy_client(), ca.service("auth")]
    assert _mode(tmp_path / "ca.key") == 0o600
    assert _mode(tmp_path / "ca.pem") == 0o644
    for pair in pairs:
        assert _mode(pair.key) == 0o600
        assert _mode(pair.cert) == 0o644


def test_service_and_envoy_certificates_have_the_right_names_and_usages(tmp_path: Path) -> None:
    """A service's certificate names the service (what Envoy checks) and the loopback addresses, for
    server and client use; Envoy's is a client certificate only."""
    ca = LocalCa(tmp_path)
    service = _load(ca.service("auth").cert)
    assert names_of(service) == {"auth", "localhost", "127.0.0.1", "::1"}
    assert set(service.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    envoy = _load(ca.envoy_client().cert)
    assert names_of(envoy) == {"envoy"}
    assert list(envoy.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]


def test_files_are_made_once_and_reissued_only_when_the_names_change(tmp_path: Path) -> None:
    """A second call keeps the CA and the certificate (a second `make up` changes nothing clients
    trust); asking for other names issues a new leaf from the same CA."""
    ca = LocalCa(tmp_path)
    first = ca.edge().cert.read_bytes()
    root = (tmp_path / "ca.pem").read_bytes()
    assert LocalCa(tmp_path).edge().cert.read_bytes() == first
    assert (tmp_path / "ca.pem").read_bytes() == root
    renamed = _load(LocalCa(tmp_path).edge(["box.local"]).cert)
    assert "box.local" in names_of(renamed)
    assert (tmp_path / "ca.pem").read_bytes() == root


def test_a_new_ca_drops_what_the_old_one_issued(tmp_path: Path) -> None:
    """When the CA is made again (its files gone), leaves of the old CA are issued again, by the new one."""
    ca = LocalCa(tmp_path)
    ca.edge()
    (tmp_path / "ca.pem").unlink()
    (tmp_path / "ca.key").unlink()
    leaf = _load(ca.edge().cert)
    leaf.verify_directly_issued_by(_load(tmp_path / "ca.pem"))


def test_cli_issues_what_compose_mounts(tmp_path: Path) -> None:
    """`python -m deploy.local.tls DIR --edge-name … --service …` writes the CA, edge, Envoy and service files."""
    from deploy.local.tls import main

    assert main([str(tmp_path), "--edge-name", "ai4vc.example.test", "--service", "nmt", "--service", "auth"]) == 0
    assert "ai4vc.example.test" in names_of(_load(tmp_path / "edge.pem"))
    assert names_of(_load(tmp_path / "services" / "auth.pem")) >= {"auth"}
    assert (tmp_path / "envoy-client.key").is_file() and (tmp_path / "services" / "nmt.key").is_file()
