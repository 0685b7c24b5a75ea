"""Real keys and certificates for pulumi-tls resources, made with ``cryptography`` the way the provider makes them.

The provider (terraform-provider-tls) is Go; these functions follow its
documented semantics and Go's ``x509.CreateCertificate`` defaults, so what the
offline engine hands the program is what a real ``pulumi up`` would store:

* ``PrivateKey``: ECDSA (``ecdsa_curve`` P224/P256/P384/P521, default P224),
  RSA (``rsa_bits``, default 2048) or ED25519; ``private_key_pem`` is SEC1 for
  ECDSA and PKCS#1 for RSA, as Go marshals them.
* certificates: a random 128-bit serial, ``NotBefore`` now and ``NotAfter``
  ``validity_period_hours`` later; basic constraints always present and
  critical; a CA always gets a subject key identifier (SHA-1 of the public
  point), others only with ``set_subject_key_id``; a certificate signed by a
  parent with a subject key identifier carries it as authority key identifier
  (Go's behaviour), a self-signed one only with ``set_authority_key_id``.
* ``LocallySignedCert`` takes subject and SANs from the CSR, everything else
  from its own arguments.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
TYPES = (PRIVATE_KEY, SELF_SIGNED_CERT, CERT_REQUEST, LOCALLY_SIGNED_CERT)

_CURVES: Mapping[str, ec.EllipticCurve] = {
    "P224": ec.SECP224R1(),
    "P256": ec.SECP256R1(),
    "P384": ec.SECP384R1(),
    "P521": ec.SECP521R1(),
}
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "cert_signing",
    "crl_signing",
    "encipher_only",
    "decipher_only",
)
_EXTENDED_USAGES: Mapping[str, x509.ObjectIdentifier] = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_SUBJECT_FIELDS: Mapping[str, x509.ObjectIdentifier] = {
    "country": NameOID.COUNTRY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "commonName": NameOID.COMMON_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
}


class TlsProviderError(ValueError):
    """The inputs would make the real provider fail too."""


def create(
    type_token: str, inputs: Mapping[str, Any], now: datetime.datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """The ``(id, outputs)`` the TLS provider would return for a new resource of ``type_token``."""
    now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    if type_token == PRIVATE_KEY:
        return _private_key(inputs)
    if type_token == CERT_REQUEST:
        return _cert_request(inputs)
    if type_token == SELF_SIGNED_CERT:
        return _self_signed(inputs, now)
    if type_token == LOCALLY_SIGNED_CERT:
        return _locally_signed(inputs, now)
    raise TlsProviderError(f"unsupported pulumi-tls resource {type_token}")


def _private_key(inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    algorithm = inputs.get("algorithm", "RSA")
    key: CertificateIssuerPrivateKeyTypes
    if algorithm == "ECDSA":
        curve = inputs.get("ecdsaCurve", "P224")
        if curve not in _CURVES:
            raise TlsProviderError(f"unsupported ecdsa_curve {curve!r}")
        key = ec.generate_private_key(_CURVES[curve])
        traditional = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    elif algorithm == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
        traditional = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    elif algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.generate()
        traditional = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    else:
        raise TlsProviderError(f"unsupported algorithm {algorithm!r}")
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key()
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = hashlib.sha1(public_der, usedforsecurity=False).hexdigest()
    outputs = {
        **inputs,
        "algorithm": algorithm,
        "privateKeyPem": traditional.decode(),
        "privateKeyPemPkcs8": pkcs8.decode(),
        "publicKeyPem": public_pem.decode(),
        "publicKeyFingerprintSha256": hashlib.sha256(public_der).hexdigest(),
    }
    return fingerprint, outputs


def _load_key(pem: str) -> CertificateIssuerPrivateKeyTypes:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise TlsProviderError(f"unsupported private key type {type(key).__name__}")
    return key


def _subject(subject: Mapping[str, Any] | None) -> x509.Name:
    attributes: list[x509.NameAttribute[str]] = []
    for field, oid in _SUBJECT_FIELDS.items():
        value = (subject or {}).get(field)
        if value:
            attributes.append(x509.NameAttribute(oid, str(value)))
    return x509.Name(attributes)


def _sans(dns_names: Sequence[str], ip_addresses: Sequence[str], uris: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    names += [x509.UniformResourceIdentifier(u) for u in uris]
    return names


def _hash_for(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 384:
        return hashes.SHA512()
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _cert_request(inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    key = _load_key(inputs["privateKeyPem"])
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(inputs.get("subject")))
    sans = _sans(inputs.get("dnsNames") or [], inputs.get("ipAddresses") or [], inputs.get("uris") or [])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, _hash_for(key))
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    return hashlib.sha1(pem.encode(), usedforsecurity=False).hexdigest(), {**inputs, "certRequestPem": pem}


def _subject_key_id(public_key: PublicKeyTypes) -> bytes:
    """SHA-1 of the public key bits, as the provider's generateSubjectKeyID computes it for ECDSA keys."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return hashlib.sha1(point, usedforsecurity=False).digest()
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest  # type: ignore[arg-type]


def _build_certificate(
    inputs: Mapping[str, Any],
    *,
    subject: x509.Name,
    sans: list[x509.GeneralName],
    public_key: PublicKeyTypes,
    issuer: x509.Name,
    issuer_key: CertificateIssuerPrivateKeyTypes,
    authority_key_id: bytes | None,
    now: datetime.datetime,
) -> tuple[str, dict[str, Any]]:
    hours = int(inputs["validityPeriodHours"])
    not_after = now + datetime.timedelta(hours=hours)
    serial = secrets.randbits(127) + 1
    uses = list(inputs.get("allowedUses") or [])
    is_ca = bool(inputs.get("isCaCertificate"))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(not_after)
    )
    flags = {usage: usage in uses for usage in _KEY_USAGES}
    if any(flags.values()):
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=flags["digital_signature"],
                content_commitment=flags["content_commitment"],
                key_encipherment=flags["key_encipherment"],
                data_encipherment=flags["data_encipherment"],
                key_agreement=flags["key_agreement"],
                key_cert_sign=flags["cert_signing"],
                crl_sign=flags["crl_signing"],
                encipher_only=flags["encipher_only"],
                decipher_only=flags["decipher_only"],
            ),
            critical=True,
        )
    extended = [_EXTENDED_USAGES[u] for u in uses if u in _EXTENDED_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    max_path = inputs.get("maxPathLength")
    path_length = int(max_path) if is_ca and max_path not in (None, 0) and int(max_path) > 0 else None
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
    if is_ca or inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier(_subject_key_id(public_key)), critical=False)
    if authority_key_id:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(authority_key_id, None, None),
            critical=False,
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
    if is_ca and len(subject) == 0:
        raise TlsProviderError("Must contain at least one Distinguished Name when creating Certificate Authority (CA)")
    cert = builder.sign(issuer_key, _hash_for(issuer_key))
    outputs = {
        **inputs,
        "certPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": _rfc3339(now),
        "validityEndTime": _rfc3339(not_after),
        "readyForRenewal": False,
    }
    return str(serial), outputs


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _self_signed(inputs: Mapping[str, Any], now: datetime.datetime) -> tuple[str, dict[str, Any]]:
    key = _load_key(inputs["privateKeyPem"])
    subject = _subject(inputs.get("subject"))
    own_key_id = _subject_key_id(key.public_key())
    return _build_certificate(
        inputs,
        subject=subject,
        sans=_sans(inputs.get("dnsNames") or [], inputs.get("ipAddresses") or [], inputs.get("uris") or []),
        public_key=key.public_key(),
        issuer=subject,
        issuer_key=key,
        authority_key_id=own_key_id if inputs.get("setAuthorityKeyId") else None,
        now=now,
    )


def _locally_signed(inputs: Mapping[str, Any], now: datetime.datetime) -> tuple[str, dict[str, Any]]:
    csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
    if not csr.is_signature_valid:
        raise TlsProviderError("certificate request signature is invalid")
    ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
    ca_key = _load_key(inputs["caPrivateKeyPem"])
    ca_public = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    own_public = ca_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ca_public != own_public:
        raise TlsProviderError("ca_private_key_pem does not match ca_cert_pem")
    try:
        san_ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = list(san_ext.value)
    except x509.ExtensionNotFound:
        sans = []
    try:
        authority_key_id: bytes | None = ca_cert.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value.digest
    except x509.ExtensionNotFound:
        authority_key_id = None
    return _build_certificate(
        inputs,
        subject=csr.subject,
        sans=sans,
        public_key=csr.public_key(),
        issuer=ca_cert.subject,
        issuer_key=ca_key,
        authority_key_id=authority_key_id,
        now=now,
    )
