"""``doctor``: tell exactly why a builder is not usable, instead of buildx showing it "inactive".

For the bundle it checks the chain (root → intermediate → leaf), the clientAuth
usage, that the key matches, and days to expiry. For each builder it connects
with mutual TLS the way Go's TLS does (SANs only, never the common name), then
calls BuildKit's ``Control/ListWorkers`` over gRPC and compares the worker's
native platform with the configured one. Each kind of failure is its own
finding with its own exit code.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from remote_buildkit.client import wire
from remote_buildkit.client.outputs import BuilderEndpoint, ClientBundle

EXPIRY_WARNING_DAYS = 30
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"

# OpenSSL verify codes (X509_V_ERR_*) as ssl.SSLCertVerificationError reports them.
_CERT_HAS_EXPIRED = 10
_NAME_MISMATCH_CODES = {62, 64}  # hostname, IP address
_UNKNOWN_ISSUER_CODES = {2, 18, 19, 20, 21}


class Problem(IntEnum):
    """Exit codes, one per kind of failure (2 is kept for unusable input)."""

    OK = 0
    BUNDLE_INVALID = 3
    CLIENT_CERT_EXPIRED = 4
    UNREACHABLE = 5
    UNKNOWN_CA = 6
    WRONG_NAME = 7
    SERVER_CERT_EXPIRED = 8
    CLIENT_CERT_REJECTED = 9
    PLATFORM_MISMATCH = 10
    BUILDKIT_ERROR = 11
    TLS_FAILED = 12


@dataclass(frozen=True)
class Finding:
    subject: str
    problem: Problem
    message: str
    warning: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is Problem.OK

    def __str__(self) -> str:
        label = "OK  " if self.ok and not self.warning else "WARN" if self.ok else "FAIL"
        return f"{label} {self.subject}: {self.message}"


def exit_code(findings: list[Finding]) -> int:
    """The first failure's code, or 0 when there is none (warnings do not fail)."""
    return next((int(f.problem) for f in findings if not f.ok), 0)


def _days_left(cert: x509.Certificate, now: datetime.datetime) -> float:
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


def check_bundle(bundle: ClientBundle, now: datetime.datetime | None = None) -> list[Finding]:
    """Is the client bundle a valid, unexpired client certificate chaining to its own root?"""
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        roots = x509.load_pem_x509_certificates(bundle.ca.encode())
        chain = x509.load_pem_x509_certificates(bundle.cert.encode())
        key = serialization.load_pem_private_key(bundle.key.encode(), password=None)
    except ValueError as error:
        return [Finding("bundle", Problem.BUNDLE_INVALID, f"cannot read PEM: {error}")]
    leaf, intermediates = chain[0], chain[1:]
    findings: list[Finding] = []
    leaf_public = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if leaf_public != key_public:
        findings.append(Finding("bundle", Problem.BUNDLE_INVALID, "key.pem does not belong to cert.pem"))
    try:
        usages = list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        findings.append(
            Finding("bundle", Problem.BUNDLE_INVALID, "cert.pem is not a client certificate (no clientAuth usage)")
        )
    days = _days_left(leaf, now)
    if days <= 0:
        findings.append(
            Finding(
                "bundle",
                Problem.CLIENT_CERT_EXPIRED,
                f"the client certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}; "
                "run `pulumi up` (it renews it) and update CI's copy of client_bundle",
            )
        )
        return findings
    verifier = verification.PolicyBuilder().store(verification.Store(roots)).time(now).build_client_verifier()
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as error:
        findings.append(
            Finding(
                "bundle", Problem.BUNDLE_INVALID, f"cert.pem does not chain to ca.pem through its intermediate: {error}"
            )
        )
    if findings:
        return findings
    message = f"client certificate {leaf.subject.rfc4514_string()} is valid for {days:.0f} more days"
    if days < EXPIRY_WARNING_DAYS:
        return [Finding("bundle", Problem.OK, message + "; renew it soon with `pulumi up`", warning=True)]
    return [Finding("bundle", Problem.OK, message)]


@contextmanager
def _bundle_files(bundle: ClientBundle) -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_text(bundle.cert)
        key.write_text(bundle.key)
        key.chmod(0o600)
        yield str(cert), str(key)


def _tls_context(bundle: ClientBundle, verify: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if verify:
        context.load_verify_locations(cadata=bundle.ca)
        context.hostname_checks_common_name = False
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with _bundle_files(bundle) as (cert, key):
        context.load_cert_chain(cert, key)
    return context


def _server_names(builder: BuilderEndpoint, bundle: ClientBundle, timeout: float) -> str:
    """The SANs the server presents, read without verifying, to explain a name mismatch."""
    try:
        with (
            socket.create_connection((builder.host, builder.port), timeout=timeout) as raw,
            _tls_context(bundle, verify=False).wrap_socket(raw, server_hostname=builder.host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return "unknown"
    if not der:
        return "unknown"
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "none"
    names = [*sans.get_values_for_type(x509.DNSName), *(str(ip) for ip in sans.get_values_for_type(x509.IPAddress))]
    return ", ".join(names) or "none"


def _classify_handshake_failure(
    error: ssl.SSLError, builder: BuilderEndpoint, bundle: ClientBundle, timeout: float
) -> Finding:
    name = f"builder {builder.name}"
    if isinstance(error, ssl.SSLCertVerificationError):
        code = error.verify_code
        if code in _NAME_MISMATCH_CODES:
            return Finding(
                name,
                Problem.WRONG_NAME,
                f"the server certificate does not name {builder.host!r} (it names: "
                f"{_server_names(builder, bundle, timeout)}); the address and the certificate come from different "
                "stacks or hostnames",
            )
        if code == _CERT_HAS_EXPIRED:
            return Finding(
                name,
                Problem.SERVER_CERT_EXPIRED,
                "the builder's server certificate has expired; run `pulumi up` to renew it and roll the pod",
            )
        if code in _UNKNOWN_ISSUER_CODES:
            return Finding(
                name,
                Problem.UNKNOWN_CA,
                "the builder's certificate is not signed by client_bundle.ca (unknown CA); the bundle is from "
                "another stack, or the root CA was rotated and CI still has the old bundle",
            )
        return Finding(name, Problem.TLS_FAILED, f"the server certificate is not acceptable: {error.verify_message}")
    reason = (error.reason or str(error)).lower()
    if any(word in reason for word in ("certificate", "unknown_ca", "bad_certificate", "alert")):
        return Finding(
            name,
            Problem.CLIENT_CERT_REJECTED,
            f"the builder refused our client certificate ({error.reason}); it is expired, revoked by a CA "
            "rotation, or from another stack: update CI's copy of client_bundle",
        )
    return Finding(name, Problem.TLS_FAILED, f"TLS handshake failed: {error}")


def _probe_tls(builder: BuilderEndpoint, bundle: ClientBundle, timeout: float) -> Finding | None:
    """A plain mTLS handshake plus the HTTP/2 preface, so TLS 1.3's late client-certificate refusal shows up."""
    name = f"builder {builder.name}"
    try:
        raw = socket.create_connection((builder.host, builder.port), timeout=timeout)
    except OSError as error:
        return Finding(
            name,
            Problem.UNREACHABLE,
            f"cannot connect to {builder.host}:{builder.port} ({error.strerror or error}); is the tailnet up, "
            "the policy granting this node the port, or the port-forward running?",
        )
    with raw:
        try:
            with _tls_context(bundle).wrap_socket(raw, server_hostname=builder.host) as tls:
                tls.sendall(HTTP2_PREFACE)
                if not tls.recv(9):
                    return Finding(name, Problem.CLIENT_CERT_REJECTED, "the builder closed the connection after TLS")
        except ssl.SSLError as error:
            return _classify_handshake_failure(error, builder, bundle, timeout)
        except OSError as error:
            return Finding(name, Problem.UNREACHABLE, f"the connection to {builder.address} failed: {error}")
    return None


def _list_workers(builder: BuilderEndpoint, bundle: ClientBundle, timeout: float) -> list[wire.Worker]:
    import grpc  # only doctor needs gRPC

    credentials = grpc.ssl_channel_credentials(
        root_certificates=bundle.ca.encode(), private_key=bundle.key.encode(), certificate_chain=bundle.cert.encode()
    )
    options = [("grpc.ssl_target_name_override", builder.host), ("grpc.default_authority", builder.host)]
    with grpc.secure_channel(f"{builder.host}:{builder.port}", credentials, options=options) as channel:
        call = channel.unary_unary(
            wire.LIST_WORKERS,
            request_serializer=lambda request: request,
            response_deserializer=lambda response: response,
        )
        response = call(wire.encode_list_workers_request(), timeout=timeout)
    return wire.decode_list_workers_response(response)


def check_builder(builder: BuilderEndpoint, bundle: ClientBundle, timeout: float = 10.0) -> list[Finding]:
    """Reach one builder with mTLS, list its workers, and compare their native platform with the configured one."""
    name = f"builder {builder.name}"
    failure = _probe_tls(builder, bundle, timeout)
    if failure:
        return [failure]
    try:
        workers = _list_workers(builder, bundle, timeout)
    except Exception as error:  # noqa: BLE001 - grpc raises its own RpcError family; report, never crash
        details_method = getattr(error, "details", None)
        details = details_method() if callable(details_method) else str(error)
        return [Finding(name, Problem.BUILDKIT_ERROR, f"ListWorkers failed: {details}")]
    if not workers:
        return [Finding(name, Problem.BUILDKIT_ERROR, "buildkitd reports no workers")]
    wanted = wire.parse_platform(builder.platform)
    native = [w.platforms[0] for w in workers if w.platforms]
    reported = ", ".join(str(p) for w in workers for p in w.platforms)
    if wanted in native:
        return [Finding(name, Problem.OK, f"{builder.address} answers over mTLS; worker platforms: {reported}")]
    emulated = any(wanted in w.platforms for w in workers)
    how = "only under emulation" if emulated else "not at all"
    return [
        Finding(
            name,
            Problem.PLATFORM_MISMATCH,
            f"configured for {builder.platform} but its worker runs natively on "
            f"{', '.join(str(p) for p in native) or 'nothing'} and offers {builder.platform} {how} "
            f"(platforms: {reported}); check the builder's nodeSelector",
        )
    ]
