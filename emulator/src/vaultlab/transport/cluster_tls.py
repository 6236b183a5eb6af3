"""Mutual TLS on the cluster port (reference §4.2), used when the lab runs with ``--tls``.

What Vault does: the primary keeps a private replication CA; the activation bundle carries a
client certificate and key it signed for the secondary, plus the CA to verify the primary
with; the secondary dials the primary's cluster port with mutual TLS and ALPN
``replication_dr_v1`` (DR) or ``replication_v1`` (performance).

vaultlab's model of it:

* **One replication CA per replication type**, kept in that type's replication state
  (``state["cluster_tls"]``).  The state's storage scope decides where the CA travels: the
  DR CA stays on its cluster; the performance CA is in the ``local`` scope, so a DR secondary
  holds a copy and, once promoted, serves the same performance secondaries with certificates
  they already trust (their failover addresses keep working).
* The secondary's **client certificate** (P-256, CN = the secondary id) is issued when the
  activation token is minted and travels in the bundle with its key.  The primary remembers
  its SHA-256 fingerprint where the plain profile keeps the hash of the bearer credential, so
  revoke / disable / demote cut it off the same way.  No bearer secret is sent under TLS.
* The listener chooses its certificate by **SNI**: the secondary names
  ``<set cluster_id>.<type>.replication.vaultlab``; the node answers with a certificate for that
  name signed by that type's CA, requires a client certificate signed by it, and offers only
  that type's ALPN protocol.  Any other name (or none) gets the lab's server certificate and a
  trust store that accepts no client certificate, so the handshake fails.
* The **ALPN** protocol is checked on every request: a connection that did not negotiate the
  type's protocol is refused (Python's ``ssl`` cannot fail the handshake on ALPN; Go's TLS,
  hence Vault, answers ``no_application_protocol`` there [?]).

Python's ``ssl`` loads certificates from files only: PEM material is written to a private
temporary file (mode 0600), loaded, and removed at once.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import os
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ALPN = {"dr": "replication_dr_v1", "performance": "replication_v1"}
NAME_SUFFIX = ".replication.vaultlab"
STATE_KEY = "cluster_tls"
CERT_DAYS = 365

# Go's crypto/tls text for an ALPN mismatch (vaultlab sends it after the handshake).
ALPN_REFUSED = "tls: client requested unsupported application protocols ({offered})"
NO_CLIENT_CERT = "tls: client didn't provide a certificate"


class ClusterTLSError(Exception):
    """A replication certificate cannot be issued or used (the text says why)."""


# -- certificates -----------------------------------------------------------------------------

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _builder(subject: str, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    start = _now() - dt.timedelta(minutes=5)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64] or "-")]))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=CERT_DAYS)))


def new_ca(t: str, set_id: str) -> dict[str, str]:
    """A fresh replication CA for type ``t`` of replication set ``set_id`` (PEM strings)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"{t} replication CA {set_id}"[:64]  # X.509 limits a CN to 64 characters
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(name, issuer, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return {"ca_cert": _pem(cert), "ca_key": _key_pem(key)}


def _load_ca(ca: dict[str, str]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca["ca_cert"].encode())
        key = serialization.load_pem_private_key(ca["ca_key"].encode(), None)
    except (KeyError, ValueError, TypeError) as exc:
        raise ClusterTLSError(f"the replication CA in storage is unusable: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ClusterTLSError("the replication CA key is not an EC key")
    return cert, key


def _leaf(ca: dict[str, str], subject: str, *, server_name: str | None) -> tuple[str, str]:
    ca_cert, ca_key = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_name else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(subject, ca_cert.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server_name:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
    return _pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key)


def fingerprint_der(der: bytes) -> str:
    return "sha256:" + hashlib.sha256(der).hexdigest()


def fingerprint_pem(pem: str) -> str:
    return fingerprint_der(x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER))


def server_name(t: str, set_id: str) -> str:
    return f"{set_id}.{t}{NAME_SUFFIX}"


def parse_server_name(name: str | None) -> tuple[str, str] | None:
    """(type, set cluster_id) from an SNI name, or None if it is not a replication name."""
    if not name or not name.endswith(NAME_SUFFIX):
        return None
    set_id, _, t = name[: -len(NAME_SUFFIX)].rpartition(".")
    return (t, set_id) if t in ALPN and set_id else None


def with_ca(state: dict[str, Any], t: str) -> dict[str, Any]:
    """``state`` with a replication CA for type ``t`` (the same one if it has one already)."""
    if (state.get(STATE_KEY) or {}).get("ca_key"):
        return state
    new = copy.deepcopy(state)
    new[STATE_KEY] = new_ca(t, state.get("cluster_id", ""))
    return new


def issue_secondary(state: dict[str, Any], t: str, secondary_id: str) -> dict[str, str]:
    """The certificate part of an activation bundle for ``secondary_id`` (``state`` has a CA).

    ``credential`` is the client certificate's fingerprint: what the primary checks the
    connection's certificate against (it is not a secret; the key is)."""
    ca = state.get(STATE_KEY) or {}
    cert, key = _leaf(ca, secondary_id, server_name=None)
    return {"ca_pem": ca["ca_cert"], "client_cert": cert, "client_key": key,
            "server_name": server_name(t, state.get("cluster_id", "")),
            "credential": fingerprint_pem(cert)}


def _context_from_pem(purpose: int, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    fd, path = tempfile.mkstemp(prefix="vaultlab-tls-", suffix=".pem")  # 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key_pem + cert_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context


# -- the listener (primary side) --------------------------------------------------------------

StateReader = Callable[[str], "dict[str, Any] | None"]


class Listener:
    """The cluster port's TLS: a default context whose SNI callback switches to the type's."""

    def __init__(self, cert_file: str, key_file: str, node_name: str, read_state: StateReader) -> None:
        self._node_name = node_name
        self._read_state = read_state
        self._cache: dict[tuple[str, str], ssl.SSLContext] = {}
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert_file, key_file)
        # Requires a client certificate but trusts no issuer: without a replication name the
        # handshake cannot succeed.  The SSL object keeps this verify mode after the switch.
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.set_alpn_protocols(list(ALPN.values()))
        self.context.sni_callback = self._on_sni

    def _on_sni(self, sslobj: ssl.SSLObject, name: str | None, _default: ssl.SSLContext) -> None:
        wanted = parse_server_name(name)
        if wanted is None:
            return None
        t, set_id = wanted
        try:
            state = self._read_state(t) or {}
        except Exception:  # storage trouble: fail this handshake, not the listener
            return None
        ca = state.get(STATE_KEY) or {}
        if state.get("cluster_id") != set_id or not ca.get("ca_key"):
            return None
        key = (t, ca["ca_cert"])
        context = self._cache.get(key)
        if context is None:
            cert, leaf_key = _leaf(ca, f"{self._node_name} {t} replication", server_name=name)
            context = _context_from_pem(ssl.PROTOCOL_TLS_SERVER, cert, leaf_key)
            context.load_verify_locations(cadata=ca["ca_cert"])
            context.verify_mode = ssl.CERT_REQUIRED
            context.set_alpn_protocols([ALPN[t]])
            self._cache[key] = context
        sslobj.context = context
        return None


def peer_credential(ssl_object: Any, t: str) -> tuple[str | None, str | None]:
    """(fingerprint of the verified client certificate, None) or (None, why the connection is refused)."""
    if ssl_object is None:
        return None, NO_CLIENT_CERT
    negotiated = ssl_object.selected_alpn_protocol()
    if negotiated != ALPN[t]:
        return None, ALPN_REFUSED.format(offered=negotiated or "none negotiated")
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None, NO_CLIENT_CERT
    return fingerprint_der(der), None


# -- the dialer (secondary side) --------------------------------------------------------------

def client_context(primary: dict[str, Any], t: str) -> ssl.SSLContext:
    """Mutual-TLS context for a bundle's primary: trusts only the bundle's CA, shows its cert."""
    try:
        context = _context_from_pem(ssl.PROTOCOL_TLS_CLIENT, primary["client_cert"], primary["client_key"])
        context.load_verify_locations(cadata=primary["ca_pem"])
    except (KeyError, TypeError, ssl.SSLError, ValueError) as exc:
        raise ClusterTLSError(f"the activation bundle's certificates are unusable: {exc}") from None
    context.set_alpn_protocols([ALPN[t]])
    return context


def dial(primary: dict[str, Any]) -> bool:
    """Does this bundle's primary want mutual TLS (a bundle minted under --tls)?"""
    return bool(primary.get("client_cert") and primary.get("server_name"))
