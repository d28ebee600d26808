"""Self-signed OPC UA application certificates for the simulator (server) and a client.

`ensure_pki(dir, host)` creates, once, in `dir`:

    server-cert.der, server-key.pem   the simulator's application instance certificate
    client-cert.der, client-key.pem   a client certificate (application URI CLIENT_URI) that a
                                      gateway or a test can use for Basic256Sha256
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

CLIENT_URI = "urn:knu-mes:gateway"
VALID_DAYS = 3650


@dataclass(frozen=True)
class Pki:
    """Paths of the generated files."""

    dir: Path

    @property
    def server_cert(self) -> Path:
        """Server certificate (DER)."""
        return self.dir / "server-cert.der"

    @property
    def server_key(self) -> Path:
        """Server private key (PEM)."""
        return self.dir / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        """Client certificate (DER)."""
        return self.dir / "client-cert.der"

    @property
    def client_key(self) -> Path:
        """Client private key (PEM)."""
        return self.dir / "client-key.pem"


def _alt_names(uri: str, host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri)]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    return names


def _write_pair(cert_path: Path, key_path: Path, uri: str, host: str, client: bool) -> None:
    key = generate_private_key()
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    cert = generate_self_signed_app_certificate(
        key,
        "KNU MES gateway" if client else "KNU MES plant simulator",
        {"organizationName": "KNU MES"},
        _alt_names(uri, host),
        [usage],
        days=VALID_DAYS,
    )
    key_path.write_bytes(dump_private_key_as_pem(key))
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))


def ensure_pki(directory: Path, host: str, server_uri: str) -> Pki:
    """Create the server and client certificates if missing; reuse them otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    if not (pki.server_cert.is_file() and pki.server_key.is_file()):
        _write_pair(pki.server_cert, pki.server_key, server_uri, host, client=False)
    if not (pki.client_cert.is_file() and pki.client_key.is_file()):
        _write_pair(pki.client_cert, pki.client_key, CLIENT_URI, host, client=True)
    return pki
