"""Read what the program declared: a builder's Secret files, its server name, foreign certificates."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from remote_buildkit.offline.engine import Evaluation


def secret_files(evaluation: Evaluation, builder: str) -> dict[str, str]:
    """``ca.pem``, ``cert.pem`` and ``key.pem`` exactly as the program put them in the builder's Secret."""
    secret = evaluation.named(f"buildkitd-{builder}-certs")
    files = secret.inputs["stringData"]
    assert set(files) == {"ca.pem", "cert.pem", "key.pem"}
    return dict(files)


def builder_entry(evaluation: Evaluation, builder: str) -> dict[str, str]:
    entries = [b for b in evaluation.output("builders") if b["name"] == builder]
    assert len(entries) == 1
    return dict(entries[0])


def host_of(address: str) -> str:
    """``buildkitd-arm64`` from ``tcp://buildkitd-arm64:1234``."""
    host = urlsplit(address).hostname
    assert host
    return host


def pem_certificates(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode())


def self_signed_ca_and_client(common_name: str, *, client_auth: bool = True) -> tuple[str, str, str]:
    """A throwaway CA and a client leaf it signed: ``(ca_pem, leaf_pem, leaf_key_pem)``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH if client_auth else ExtendedKeyUsageOID.SERVER_AUTH]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM).decode(),
        leaf.public_bytes(serialization.Encoding.PEM).decode(),
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


def handshake_with_builder(
    evaluation: Evaluation,
    builder: str,
    server_name: str,
    *,
    client_ca: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> Any:
    """A real mTLS handshake: server side from the builder's Secret, client side from ``client_bundle``.

    Any of the client's three files can be swapped out to provoke a refusal.
    """
    from tests.tlsharness import client_context, handshake, server_context

    files = secret_files(evaluation, builder)
    bundle = evaluation.output("client_bundle")
    return handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(client_ca or bundle["ca"], client_cert or bundle["cert"], client_key or bundle["key"]),
        server_name,
    )
