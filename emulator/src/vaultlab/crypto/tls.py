"""A throw-away certificate authority for a lab, and SSL contexts built on it.

``create_ca(DIR)`` writes ``ca.pem`` and ``ca-key.pem``; ``issue_server_cert`` writes
``<name>.pem`` / ``<name>-key.pem`` next to them.  Keys are EC P-256 and created with mode
0600 from the first byte (no window where another user could read them).  Server
certificates also carry the clientAuth usage so that a node can present the same pair
when it dials another cluster's port with mutual TLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
DEFAULT_DAYS = 365


@dataclass(frozen=True)
class CertKeyPair:
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class LabCA:
    directory: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def key_path(self) -> Path:
        return self.directory / CA_KEY_FILE

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _write(path: Path, data: bytes, mode: int) -> None:
    # Write to a private temporary name and rename: readers never see half a file and a
    # key file never exists with looser permissions than ``mode``.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_ca(
    directory: str | os.PathLike[str], *, common_name: str = "vaultlab CA", days: int = DEFAULT_DAYS
) -> LabCA:
    """Make a new self-signed CA in ``directory`` (created 0700 if missing)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _now() - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca = LabCA(target, cert, key)
    _write(ca.key_path, _key_pem(key), 0o600)
    _write(ca.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return ca


def load_ca(directory: str | os.PathLike[str]) -> LabCA:
    target = Path(directory)
    cert = x509.load_pem_x509_certificate((target / CA_CERT_FILE).read_bytes())
    key = serialization.load_pem_private_key((target / CA_KEY_FILE).read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{target / CA_KEY_FILE} is not an EC private key")
    return LabCA(target, cert, key)


def ensure_ca(directory: str | os.PathLike[str]) -> LabCA:
    """Load the CA in ``directory``, creating it on first use."""
    target = Path(directory)
    if (target / CA_CERT_FILE).exists() and (target / CA_KEY_FILE).exists():
        return load_ca(target)
    return create_ca(target)


def issue_server_cert(
    ca: LabCA,
    hostnames: Sequence[str] = ("localhost",),
    ips: Sequence[str] = ("127.0.0.1",),
    *,
    name: str = "server",
    directory: str | os.PathLike[str] | None = None,
    days: int = DEFAULT_DAYS,
) -> CertKeyPair:
    """Sign a leaf certificate for ``hostnames``/``ips``; write ``<name>.pem`` and ``<name>-key.pem``."""
    if not hostnames and not ips:
        raise ValueError("a server certificate needs at least one hostname or IP address")
    try:
        addresses = [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise ValueError(f"invalid IP address for the certificate: {exc}") from None
    target = Path(directory) if directory is not None else ca.directory
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = hostnames[0] if hostnames else str(addresses[0])
    sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    sans += [x509.IPAddress(a) for a in addresses]
    start = _now() - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    pair = CertKeyPair(target / f"{name}.pem", target / f"{name}-key.pem")
    _write(pair.key_path, _key_pem(key), 0o600)
    _write(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


def server_context(
    cert_path: str | os.PathLike[str],
    key_path: str | os.PathLike[str],
    *,
    client_ca: str | os.PathLike[str] | None = None,
    alpn: Iterable[str] | None = None,
) -> ssl.SSLContext:
    """TLS server context; with ``client_ca`` clients must present a certificate it signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.fspath(cert_path), os.fspath(key_path))
    if client_ca is not None:
        context.load_verify_locations(cafile=os.fspath(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def client_context(
    ca_path: str | os.PathLike[str] | None = None,
    *,
    cert_path: str | os.PathLike[str] | None = None,
    key_path: str | os.PathLike[str] | None = None,
    alpn: Iterable[str] | None = None,
) -> ssl.SSLContext:
    """TLS client context verifying the server against ``ca_path`` (system roots if None)."""
    context = ssl.create_default_context(cafile=os.fspath(ca_path) if ca_path is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_path is not None:
        context.load_cert_chain(os.fspath(cert_path), os.fspath(key_path) if key_path else None)
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context
