"""Real mutual-TLS handshakes between a builder's Secret and the exported client bundle."""

from __future__ import annotations

import ssl

import pytest

from remote_buildkit.offline.engine import Evaluation
from tests.program.helpers import (
    builder_entry,
    handshake_with_builder,
    host_of,
    secret_files,
    self_signed_ca_and_client,
)


@pytest.mark.parametrize("builder", ["arm64", "amd64"])
@pytest.mark.parametrize("address", ["address", "cluster_address"])
def test_every_address_completes_mtls_against_its_own_secret(
    two_builders_no_tailscale: Evaluation, builder: str, address: str
) -> None:
    server_name = host_of(builder_entry(two_builders_no_tailscale, builder)[address])
    result = handshake_with_builder(two_builders_no_tailscale, builder, server_name)
    assert result.ok, result


def test_client_certificate_from_a_foreign_ca_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    _, foreign_cert, foreign_key = self_signed_ca_and_client("intruder")
    result = handshake_with_builder(
        two_builders_no_tailscale, "arm64", "127.0.0.1", client_cert=foreign_cert, client_key=foreign_key
    )
    assert not result.ok
    assert isinstance(result.server_error, ssl.SSLError)
    assert "certificate verify failed" in str(result.server_error)


def test_wrong_server_name_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    result = handshake_with_builder(two_builders_no_tailscale, "arm64", "buildkitd-somewhere-else")
    assert isinstance(result.client_error, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in str(result.client_error)


def test_one_builders_certificate_does_not_answer_for_another(two_builders_no_tailscale: Evaluation) -> None:
    other_host = host_of(builder_entry(two_builders_no_tailscale, "amd64")["cluster_address"])
    result = handshake_with_builder(two_builders_no_tailscale, "arm64", other_host)
    assert isinstance(result.client_error, ssl.SSLCertVerificationError)


def test_client_certificate_without_client_auth_is_refused(two_builders_no_tailscale: Evaluation) -> None:
    """The amd64 server leaf chains to the same CA but carries only serverAuth."""
    amd64 = secret_files(two_builders_no_tailscale, "amd64")
    result = handshake_with_builder(
        two_builders_no_tailscale, "arm64", "127.0.0.1", client_cert=amd64["cert.pem"], client_key=amd64["key.pem"]
    )
    assert not result.ok
    assert isinstance(result.server_error, ssl.SSLError)
    assert "unsuitable certificate purpose" in str(result.server_error)


def test_server_is_not_trusted_without_the_root(two_builders_no_tailscale: Evaluation) -> None:
    foreign_ca, _, _ = self_signed_ca_and_client("elsewhere")
    result = handshake_with_builder(two_builders_no_tailscale, "arm64", "127.0.0.1", client_ca=foreign_ca)
    assert isinstance(result.client_error, ssl.SSLCertVerificationError)
