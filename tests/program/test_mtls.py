"""Real mutual-TLS handshakes between a builder's Secret and the exported client bundle."""

from __future__ import annotations

import ssl

import pytest

from remote_buildkit.offline.engine import Evaluation
from tests.program.helpers import builder_entry, host_of, secret_files, self_signed_ca_and_client
from tests.tlsharness import client_context, handshake, server_context


@pytest.mark.parametrize("builder", ["arm64", "amd64"])
def test_every_address_completes_mtls_against_its_own_secret(
    two_builders_no_tailscale: Evaluation, builder: str
) -> None:
    evaluation = two_builders_no_tailscale
    files = secret_files(evaluation, builder)
    bundle = evaluation.output("client_bundle")
    server_name = host_of(builder_entry(evaluation, builder)["address"])

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(bundle["ca"], bundle["cert"], bundle["key"]),
        server_name,
    )

    assert result.ok, result


@pytest.mark.parametrize("builder", ["arm64", "amd64"])
def test_cluster_address_completes_mtls(two_builders_no_tailscale: Evaluation, builder: str) -> None:
    evaluation = two_builders_no_tailscale
    files = secret_files(evaluation, builder)
    bundle = evaluation.output("client_bundle")
    server_name = host_of(builder_entry(evaluation, builder)["cluster_address"])

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(bundle["ca"], bundle["cert"], bundle["key"]),
        server_name,
    )

    assert result.ok, result


def test_client_certificate_from_a_foreign_ca_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    bundle = two_builders_no_tailscale.output("client_bundle")
    _, foreign_cert, foreign_key = self_signed_ca_and_client("intruder")

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(bundle["ca"], foreign_cert, foreign_key),
        "127.0.0.1",
    )

    assert not result.ok
    assert isinstance(result.server_error, ssl.SSLError)
    assert "certificate verify failed" in str(result.server_error)


def test_wrong_server_name_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    bundle = two_builders_no_tailscale.output("client_bundle")

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(bundle["ca"], bundle["cert"], bundle["key"]),
        "buildkitd-somewhere-else",
    )

    assert isinstance(result.client_error, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in str(result.client_error)


def test_one_builders_certificate_does_not_answer_for_another(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    bundle = two_builders_no_tailscale.output("client_bundle")
    other_host = host_of(builder_entry(two_builders_no_tailscale, "amd64")["cluster_address"])

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(bundle["ca"], bundle["cert"], bundle["key"]),
        other_host,
    )

    assert isinstance(result.client_error, ssl.SSLCertVerificationError)


def test_client_certificate_without_client_auth_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    """The amd64 server leaf chains to the same CA but carries only serverAuth."""
    arm64 = secret_files(two_builders_no_tailscale, "arm64")
    amd64 = secret_files(two_builders_no_tailscale, "amd64")
    bundle = two_builders_no_tailscale.output("client_bundle")

    result = handshake(
        server_context(arm64["ca.pem"], arm64["cert.pem"], arm64["key.pem"]),
        client_context(bundle["ca"], amd64["cert.pem"], amd64["key.pem"]),
        "127.0.0.1",
    )

    assert not result.ok
    assert isinstance(result.server_error, ssl.SSLError)
    assert "unsuitable certificate purpose" in str(result.server_error)


def test_server_is_not_trusted_without_the_root(two_builders_no_tailscale: Evaluation) -> None:
    files = secret_files(two_builders_no_tailscale, "arm64")
    bundle = two_builders_no_tailscale.output("client_bundle")
    foreign_ca, _, _ = self_signed_ca_and_client("elsewhere")

    result = handshake(
        server_context(files["ca.pem"], files["cert.pem"], files["key.pem"]),
        client_context(foreign_ca, bundle["cert"], bundle["key"]),
        "127.0.0.1",
    )

    assert isinstance(result.client_error, ssl.SSLCertVerificationError)
