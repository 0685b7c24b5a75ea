"""Stack outputs made by the offline engine (real PEMs), a loopback BuildKit ListWorkers server, and issuers."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc
import pytest

from remote_buildkit.client import wire
from remote_buildkit.client.outputs import BuilderEndpoint, ClientBundle
from remote_buildkit.offline import tls_provider
from remote_buildkit.offline.engine import Evaluation
from tests.conftest import TWO_BUILDERS, run_stack
from tests.program.helpers import secret_files


def outputs_json(evaluation: Evaluation) -> str:
    """What `pulumi stack output --json --show-secrets` prints for this evaluation."""
    return json.dumps({name: output.value for name, output in evaluation.outputs.items()})


@pytest.fixture(scope="session")
def stack_outputs(two_builders_no_tailscale: Evaluation) -> str:
    return outputs_json(two_builders_no_tailscale)


@pytest.fixture(scope="session")
def tailnet_stack() -> Evaluation:
    return run_stack({"builders": TWO_BUILDERS})


def bundle_of(evaluation: Evaluation) -> ClientBundle:
    bundle = evaluation.output("client_bundle")
    return ClientBundle(ca=bundle["ca"], cert=bundle["cert"], key=bundle["key"])


def issue(
    evaluation: Evaluation,
    *,
    uses: list[str],
    dns_names: list[str],
    ip_addresses: list[str],
    now: datetime.datetime | None = None,
    hours: int = 24,
) -> tuple[str, str]:
    """A leaf signed by the stack's own intermediate: ``(leaf + intermediate PEM, key PEM)``."""
    _, key = tls_provider.create(tls_provider.PRIVATE_KEY, {"algorithm": "ECDSA", "ecdsaCurve": "P256"})
    _, csr = tls_provider.create(
        tls_provider.CERT_REQUEST,
        {
            "privateKeyPem": key["privateKeyPem"],
            "subject": {"commonName": "test"},
            "dnsNames": dns_names,
            "ipAddresses": ip_addresses,
        },
    )
    intermediate_cert = evaluation.named("pki-intermediate-cert").outputs["certPem"]
    _, cert = tls_provider.create(
        tls_provider.LOCALLY_SIGNED_CERT,
        {
            "certRequestPem": csr["certRequestPem"],
            "caCertPem": intermediate_cert,
            "caPrivateKeyPem": evaluation.named("pki-intermediate-key").outputs["privateKeyPem"],
            "allowedUses": uses,
            "validityPeriodHours": hours,
        },
        now=now,
    )
    return cert["certPem"] + intermediate_cert, key["privateKeyPem"]


@contextmanager
def buildkit_server(files: dict[str, str], platforms: list[str]) -> Iterator[int]:
    """A gRPC server on 127.0.0.1 answering Control/ListWorkers with mTLS, as buildkitd does."""
    workers = [wire.Worker(id="w0", platforms=tuple(wire.parse_platform(p) for p in platforms))]

    def list_workers(request: bytes, context: Any) -> bytes:
        return wire.encode_list_workers_response(workers)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "moby.buildkit.v1.Control", {"ListWorkers": grpc.unary_unary_rpc_method_handler(list_workers)}
            ),
        )
    )
    credentials = grpc.ssl_server_credentials(
        [(files["key.pem"].encode(), files["cert.pem"].encode())],
        root_certificates=files["ca.pem"].encode(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield port
    finally:
        server.stop(grace=None)


def endpoint(name: str, platform: str, port: int, host: str = "127.0.0.1") -> BuilderEndpoint:
    return BuilderEndpoint(
        name=name, platform=platform, hostname=f"buildkitd-{name}", address=f"tcp://{host}:{port}", cluster_address=""
    )


__all__ = ["buildkit_server", "bundle_of", "endpoint", "issue", "outputs_json", "secret_files"]
