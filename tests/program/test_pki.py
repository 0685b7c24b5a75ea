"""The certificate chain the program declares, checked with real X.509 verification and against the profile."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from remote_buildkit import pki_profile
from remote_buildkit.offline.engine import Evaluation
from tests.program.helpers import pem_certificates, secret_files

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
LOCALLY_SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
CERT_REQUEST = "tls:index/certRequest:CertRequest"


def _store(evaluation: Evaluation) -> verification.Store:
    return verification.Store(pem_certificates(evaluation.output("client_bundle")["ca"]))


def test_declares_root_intermediate_and_one_leaf_per_builder_and_client(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    assert [r.name for r in evaluation.of_type(SELF_SIGNED)] == ["pki-root-cert"]
    assert sorted(r.name for r in evaluation.of_type(LOCALLY_SIGNED)) == [
        "pki-client-ci-cert",
        "pki-intermediate-cert",
        "pki-server-amd64-cert",
        "pki-server-arm64-cert",
    ]
    assert len(evaluation.of_type(PRIVATE_KEY)) == 5
    assert len(evaluation.of_type(CERT_REQUEST)) == 4


def test_every_key_is_ecdsa_p256_with_the_curve_set_explicitly(two_builders_no_tailscale: Evaluation) -> None:
    keys = two_builders_no_tailscale.of_type(PRIVATE_KEY)
    assert keys
    for key in keys:
        assert key.inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}, key.name


@pytest.mark.parametrize("builder", ["arm64", "amd64"])
def test_server_chain_verifies_from_root_through_intermediate(
    two_builders_no_tailscale: Evaluation, builder: str
) -> None:
    files = secret_files(two_builders_no_tailscale, builder)
    leaf, intermediate = pem_certificates(files["cert.pem"])
    store = verification.Store(pem_certificates(files["ca.pem"]))
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(f"buildkitd-{builder}"))

    chain = verifier.verify(leaf, [intermediate])

    assert [c.subject.rfc4514_string() for c in chain] == [
        leaf.subject.rfc4514_string(),
        intermediate.subject.rfc4514_string(),
        pem_certificates(files["ca.pem"])[0].subject.rfc4514_string(),
    ]


def test_client_chain_verifies_from_root_through_intermediate(two_builders_no_tailscale: Evaluation) -> None:
    bundle = two_builders_no_tailscale.output("client_bundle")
    leaf, intermediate = pem_certificates(bundle["cert"])
    verifier = verification.PolicyBuilder().store(_store(two_builders_no_tailscale)).build_client_verifier()

    verified = verifier.verify(leaf, [intermediate])

    assert len(verified.chain) == 3
    assert verified.subjects is not None
    assert x509.DNSName("ci") in verified.subjects


def test_server_leaf_does_not_verify_without_the_intermediate(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    leaf, _ = pem_certificates(files["cert.pem"])
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(pem_certificates(files["ca.pem"])))
        .build_server_verifier(x509.DNSName("buildkitd-arm64"))
    )
    with pytest.raises(verification.VerificationError):
        verifier.verify(leaf, [])


def _usage(cert: x509.Certificate) -> x509.KeyUsage:
    return cert.extensions.get_extension_for_class(x509.KeyUsage).value


def _extended(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def test_ca_profile(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    (root,) = pem_certificates(files["ca.pem"])
    _, intermediate = pem_certificates(files["cert.pem"])
    for ca in (root, intermediate):
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        usage = _usage(ca)
        assert usage.key_cert_sign and usage.crl_sign
        assert not usage.digital_signature and not usage.key_encipherment
        assert _extended(ca) == []
        public_key = ca.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert public_key.curve.name == "secp256r1"
    assert root.issuer == root.subject
    assert intermediate.issuer == root.subject


def test_server_leaf_profile_and_sans(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    leaf, _ = pem_certificates(files["cert.pem"])
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = _usage(leaf)
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert _extended(leaf) == [ExtendedKeyUsageOID.SERVER_AUTH]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [
        "buildkitd-arm64",
        "buildkitd-arm64.buildkit",
        "buildkitd-arm64.buildkit.svc",
        "buildkitd-arm64.buildkit.svc.cluster.local",
        "localhost",
    ]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_client_leaf_profile(two_builders_no_tailscale: Evaluation) -> None:
    leaf, _ = pem_certificates(two_builders_no_tailscale.output("client_bundle")["cert"])
    usage = _usage(leaf)
    assert usage.digital_signature and not usage.key_encipherment and not usage.key_cert_sign
    assert _extended(leaf) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_every_certificate_renews_early_and_leaves_expire_before_their_ca(
    two_builders_no_tailscale: Evaluation,
) -> None:
    evaluation = two_builders_no_tailscale
    certs = evaluation.of_type(SELF_SIGNED) + evaluation.of_type(LOCALLY_SIGNED)
    assert len(certs) == 5
    for cert in certs:
        assert 0 < cert.inputs["earlyRenewalHours"] < cert.inputs["validityPeriodHours"], cert.name
    hours = {cert.name: cert.inputs["validityPeriodHours"] for cert in certs}
    assert hours["pki-intermediate-cert"] < hours["pki-root-cert"]
    for leaf_name in ("pki-server-arm64-cert", "pki-server-amd64-cert", "pki-client-ci-cert"):
        assert hours[leaf_name] < hours["pki-intermediate-cert"]

    pems = secret_files(evaluation, "arm64")
    leaf, intermediate = pem_certificates(pems["cert.pem"])
    (root,) = pem_certificates(pems["ca.pem"])
    assert leaf.not_valid_after_utc < intermediate.not_valid_after_utc < root.not_valid_after_utc
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(
        hours=pki_profile.SERVER_LIFETIME.validity_hours
    )


def test_ca_usages_are_exactly_the_profile(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    uses = {
        r.name: r.inputs["allowedUses"] for r in evaluation.of_type(SELF_SIGNED) + evaluation.of_type(LOCALLY_SIGNED)
    }
    assert uses["pki-root-cert"] == ["cert_signing", "crl_signing"]
    assert uses["pki-intermediate-cert"] == ["cert_signing", "crl_signing"]
    assert uses["pki-server-arm64-cert"] == ["digital_signature", "key_encipherment", "server_auth"]
    assert uses["pki-client-ci-cert"] == ["digital_signature", "client_auth"]
