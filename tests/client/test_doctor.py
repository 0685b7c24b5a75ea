"""``doctor`` end to end against a loopback gRPC server serving ListWorkers with a builder's own Secret."""

from __future__ import annotations

import datetime
import socket

from remote_buildkit.client import doctor
from remote_buildkit.client.outputs import ClientBundle
from remote_buildkit.offline.engine import Evaluation
from tests.client.conftest import buildkit_server, bundle_of, endpoint, issue
from tests.conftest import TWO_BUILDERS, run_stack
from tests.program.helpers import secret_files


def _problems(findings: list[doctor.Finding]) -> list[doctor.Problem]:
    return [f.problem for f in findings]


def test_healthy_builder_reports_ok_with_worker_platforms(two_builders_no_tailscale: Evaluation) -> None:
    bundle = bundle_of(two_builders_no_tailscale)
    assert _problems(doctor.check_bundle(bundle)) == [doctor.Problem.OK]
    with buildkit_server(secret_files(two_builders_no_tailscale, "arm64"), ["linux/arm64", "linux/arm/v7"]) as port:
        findings = doctor.check_builder(endpoint("arm64", "linux/arm64", port), bundle)
    assert _problems(findings) == [doctor.Problem.OK]
    assert "linux/arm64, linux/arm/v7" in findings[0].message
    assert doctor.exit_code(findings) == 0


def test_wrong_ca(two_builders_no_tailscale: Evaluation) -> None:
    other_stack = bundle_of(run_stack({"builders": TWO_BUILDERS, "tailscale": {"enabled": False}}))
    with buildkit_server(secret_files(two_builders_no_tailscale, "arm64"), ["linux/arm64"]) as port:
        findings = doctor.check_builder(endpoint("arm64", "linux/arm64", port), other_stack)
    assert _problems(findings) == [doctor.Problem.UNKNOWN_CA]
    assert "unknown CA" in findings[0].message
    assert doctor.exit_code(findings) == 6


def test_expired_client_certificate(two_builders_no_tailscale: Evaluation) -> None:
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    cert, key = issue(
        two_builders_no_tailscale,
        uses=["digital_signature", "client_auth"],
        dns_names=["ci"],
        ip_addresses=[],
        now=long_ago,
        hours=24,
    )
    expired = ClientBundle(ca=bundle_of(two_builders_no_tailscale).ca, cert=cert, key=key)

    local = doctor.check_bundle(expired)
    assert _problems(local) == [doctor.Problem.CLIENT_CERT_EXPIRED]
    assert doctor.exit_code(local) == 4

    with buildkit_server(secret_files(two_builders_no_tailscale, "arm64"), ["linux/arm64"]) as port:
        remote = doctor.check_builder(endpoint("arm64", "linux/arm64", port), expired)
    assert _problems(remote) == [doctor.Problem.CLIENT_CERT_REJECTED]
    assert doctor.exit_code(remote) == 9


def test_wrong_server_name(two_builders_no_tailscale: Evaluation) -> None:
    files = dict(secret_files(two_builders_no_tailscale, "arm64"))
    files["cert.pem"], files["key.pem"] = issue(
        two_builders_no_tailscale,
        uses=["digital_signature", "server_auth"],
        dns_names=["buildkitd-elsewhere"],
        ip_addresses=[],
    )
    with buildkit_server(files, ["linux/arm64"]) as port:
        findings = doctor.check_builder(endpoint("arm64", "linux/arm64", port), bundle_of(two_builders_no_tailscale))
    assert _problems(findings) == [doctor.Problem.WRONG_NAME]
    assert "buildkitd-elsewhere" in findings[0].message
    assert doctor.exit_code(findings) == 7


def test_wrong_platform(two_builders_no_tailscale: Evaluation) -> None:
    with buildkit_server(secret_files(two_builders_no_tailscale, "arm64"), ["linux/amd64", "linux/arm64"]) as port:
        findings = doctor.check_builder(endpoint("arm64", "linux/arm64", port), bundle_of(two_builders_no_tailscale))
    assert _problems(findings) == [doctor.Problem.PLATFORM_MISMATCH]
    assert "only under emulation" in findings[0].message
    assert doctor.exit_code(findings) == 10


def test_nothing_listening(two_builders_no_tailscale: Evaluation) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    findings = doctor.check_builder(
        endpoint("arm64", "linux/arm64", port), bundle_of(two_builders_no_tailscale), timeout=2
    )
    assert _problems(findings) == [doctor.Problem.UNREACHABLE]
    assert doctor.exit_code(findings) == 5


def test_each_failure_has_its_own_exit_code() -> None:
    codes = [int(p) for p in doctor.Problem]
    assert len(codes) == len(set(codes))
    assert 2 not in codes
