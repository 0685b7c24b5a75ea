"""Stack outputs: names, values and secretness are a contract with users' CI."""

from __future__ import annotations

import logging

import pytest

from remote_buildkit.offline.engine import Evaluation
from tests.conftest import run_stack
from tests.program.helpers import pem_certificates


def test_outputs_of_the_two_builder_stack_without_tailscale(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    assert set(evaluation.outputs) == {"builder_address", "builders", "client_bundle", "certificates"}
    assert evaluation.output("builder_address") == "tcp://127.0.0.1:1234"
    assert evaluation.output("builders") == [
        {
            "name": "arm64",
            "platform": "linux/arm64",
            "hostname": "buildkitd-arm64",
            "address": "tcp://127.0.0.1:1234",
            "cluster_address": "tcp://buildkitd-arm64.buildkit.svc:1234",
        },
        {
            "name": "amd64",
            "platform": "linux/amd64",
            "hostname": "buildkitd-amd64",
            "address": "tcp://127.0.0.1:1235",
            "cluster_address": "tcp://buildkitd-amd64.buildkit.svc:1234",
        },
    ]
    assert not evaluation.outputs["builders"].secret
    assert not evaluation.outputs["builder_address"].secret


def test_client_bundle_is_a_secret_with_root_chain_and_key(two_builders_no_tailscale: Evaluation) -> None:
    bundle = two_builders_no_tailscale.outputs["client_bundle"]
    assert bundle.secret
    assert set(bundle.value) == {"ca", "cert", "key"}
    (root,) = pem_certificates(bundle.value["ca"])
    leaf, intermediate = pem_certificates(bundle.value["cert"])
    assert root.subject == root.issuer
    assert intermediate.issuer == root.subject
    assert leaf.issuer == intermediate.subject
    assert bundle.value["key"].startswith("-----BEGIN EC PRIVATE KEY-----")


def test_first_client_is_the_bundle() -> None:
    evaluation = run_stack({"tailscale": {"enabled": False}, "pki": {"clients": ["github", "laptop"]}})
    leaf, _ = pem_certificates(evaluation.output("client_bundle")["cert"])
    assert leaf.subject.rfc4514_string() == "CN=github,O=remote-buildkit"
    assert {r.name for r in evaluation.of_type("tls:index/locallySignedCert:LocallySignedCert")} >= {
        "pki-client-github-cert",
        "pki-client-laptop-cert",
    }


def test_custom_port_and_namespace_flow_into_addresses() -> None:
    evaluation = run_stack({"tailscale": {"enabled": False}, "port": "2345", "namespace": "ci-builders"})
    (entry,) = evaluation.output("builders")
    assert entry["address"] == "tcp://127.0.0.1:2345"
    assert entry["cluster_address"] == "tcp://buildkitd-arm64.ci-builders.svc:2345"


def test_private_keys_appear_only_in_secrets(two_builders_no_tailscale: Evaluation) -> None:
    evaluation = two_builders_no_tailscale
    for name, output in evaluation.outputs.items():
        if "PRIVATE KEY" in repr(output.value):
            assert output.secret, name
    for resource in evaluation.resources:
        for key, value in resource.inputs.items():
            if "PRIVATE KEY" in repr(value):
                assert key in resource.secret_inputs, (resource.name, key)


def test_nothing_secret_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        evaluation = run_stack({"tailscale": {"enabled": False}})
    key = evaluation.output("client_bundle")["key"]
    assert key.strip()
    assert "PRIVATE KEY" not in caplog.text
