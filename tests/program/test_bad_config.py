"""Bad config stops the real program with an error naming the key and value, before any resource exists."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from remote_buildkit.offline import engine
from tests.conftest import PROGRAM, run_stack

ARM = {"name": "arm64", "platform": "linux/arm64"}

BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "invalid platform",
        {"builders": [{"name": "x", "platform": "linux/mips"}]},
        "builders[0].platform",
        "'linux/mips'",
    ),
    ("platform without os", {"builders": [{"name": "x", "platform": "arm64"}]}, "builders[0].platform", "'arm64'"),
    (
        "name not DNS-1123",
        {"builders": [{"name": "Arm_64", "platform": "linux/arm64"}]},
        "builders[0].name",
        "'Arm_64'",
    ),
    (
        "hostname not DNS-1123",
        {"builders": [{**ARM, "hostname": "build.kit"}]},
        "builders[0].hostname",
        "'build.kit'",
    ),
    (
        "duplicate names",
        {"builders": [ARM, {"name": "arm64", "platform": "linux/amd64"}]},
        "builders[1].name",
        "'arm64'",
    ),
    (
        "duplicate hostnames",
        {"builders": [{**ARM, "hostname": "bk"}, {"name": "amd64", "platform": "linux/amd64", "hostname": "bk"}]},
        "builders[1].hostname",
        "'bk'",
    ),
    (
        "malformed quantity",
        {"builders": [{**ARM, "resources": {"limits": {"memory": "3 gigs"}}}]},
        "builders[0].resources.limits.memory",
        "'3 gigs'",
    ),
    (
        "requests above limits",
        {"builders": [{**ARM, "resources": {"requests": {"cpu": "4"}}}]},
        "builders[0].resources.requests.cpu",
        "'4'",
    ),
    ("port below 1024", {"port": "80"}, "port", "'80'"),
    ("port above 65535", {"port": "70000"}, "port", "'70000'"),
    ("port not a number", {"port": "http"}, "port", "'http'"),
    ("invalid namespace", {"namespace": "Build_Kit"}, "namespace", "'Build_Kit'"),
    ("reserved namespace default", {"namespace": "default"}, "namespace", "'default'"),
    ("reserved namespace kube-", {"namespace": "kube-system"}, "namespace", "'kube-system'"),
    ("image without tag", {"image": "moby/buildkit"}, "image", "'moby/buildkit'"),
    ("image with latest", {"image": "moby/buildkit:latest"}, "image", "'moby/buildkit:latest'"),
    ("empty builders", {"builders": []}, "builders", "[]"),
    ("builders not a list", {"builders": {"name": "arm64"}}, "builders", '{"name": "arm64"}'),
    ("builders a plain string", {"builders": "arm64"}, "builders", "'arm64'"),
    ("invalid client name", {"pki": {"clients": ["CI Runner"]}}, "pki.clients[0]", "'CI Runner'"),
    ("unknown top-level key", {"imag": "moby/buildkit:v0.29.0-rootless"}, "imag", "'moby/buildkit:v0.29.0-rootless'"),
    ("unknown nested key", {"builders": [{**ARM, "plaform": "linux/arm64"}]}, "builders[0].plaform", "'linux/arm64'"),
    (
        "bad toleration",
        {"builders": [{**ARM, "tolerations": [{"operator": "Sometimes"}]}]},
        "builders[0].tolerations[0].operator",
        "'Sometimes'",
    ),
    (
        "bad node selector key",
        {"builders": [{**ARM, "nodeSelector": {"-bad": "x"}}]},
        "builders[0].nodeSelector",
        "'-bad'",
    ),
    ("tag without prefix", {"tailscale": {"tags": ["buildkit"]}}, "tailscale.tags[0]", "'buildkit'"),
    ("tag starting with a digit", {"tailscale": {"ciTags": ["tag:1bk"]}}, "tailscale.ciTags[0]", "'tag:1bk'"),
    ("empty tag list", {"tailscale": {"tags": []}}, "tailscale.tags", "[]"),
    ("tailnet domain", {"tailscale": {"tailnetDomain": "Tail_1234"}}, "tailscale.tailnetDomain", "'Tail_1234'"),
    (
        "tailscale image unpinned",
        {"tailscale": {"image": "tailscale/tailscale"}},
        "tailscale.image",
        "'tailscale/tailscale'",
    ),
    ("enabled not a bool", {"tailscale": {"enabled": "maybe"}}, "tailscale.enabled", "'maybe'"),
    ("cache too small", {"builders": [{**ARM, "cache": {"size": "512Mi"}}]}, "builders[0].cache.size", "'512Mi'"),
    ("cache size not a quantity", {"builders": [{**ARM, "cache": {"size": "big"}}]}, "builders[0].cache.size", "'big'"),
    (
        "cache storage class invalid",
        {"builders": [{**ARM, "cache": {"size": "50Gi", "storageClass": "Fast_SSD"}}]},
        "builders[0].cache.storageClass",
        "'Fast_SSD'",
    ),
    (
        "cache unknown key",
        {"builders": [{**ARM, "cache": {"size": "50Gi", "class": "x"}}]},
        "builders[0].cache.class",
        "'x'",
    ),
    ("max parallelism zero", {"builders": [{**ARM, "maxParallelism": 0}]}, "builders[0].maxParallelism", "0"),
    (
        "grace period too short",
        {"builders": [{**ARM, "terminationGracePeriodSeconds": 5}]},
        "builders[0].terminationGracePeriodSeconds",
        "5",
    ),
    ("metrics port is the builder port", {"metrics": {"port": 1234}}, "metrics.port", "1234"),
    ("metrics port is the sidecar's", {"metrics": {"port": 9002}}, "metrics.port", "9002"),
    ("metrics port privileged", {"metrics": {"port": 80}}, "metrics.port", "80"),
    (
        "metrics namespace invalid",
        {"metrics": {"allowFromNamespaces": ["Obs"]}},
        "metrics.allowFromNamespaces[0]",
        "'Obs'",
    ),
    ("builders not JSON", {"builders": "[{name: arm64"}, "builders", "'[{name: arm64'"),
]


@pytest.mark.parametrize(("case", "values", "key", "shown"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_key_and_value_and_declares_nothing(
    case: str, values: dict[str, Any], key: str, shown: str
) -> None:
    with pytest.raises(pulumi.RunError) as raised:
        run_stack(values)

    first_line = str(raised.value).splitlines()[0]
    assert first_line.startswith(f"remote-buildkit:{key} = {shown}:"), first_line
    assert engine.last_evaluation.resources == [], case


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(pulumi.RunError) as raised:
        run_stack({"port": "80", "namespace": "default"})
    lines = str(raised.value).splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["remote-buildkit:namespace", "remote-buildkit:port"]


def test_keys_of_other_namespaces_are_left_alone() -> None:
    evaluation = engine.evaluate(
        PROGRAM,
        {
            "kubernetes:context": "kind-kind",
            "tailscale:tailnet": "example.com",
            "remote-buildkit:tailscale": '{"enabled": false}',
        },
    )
    assert evaluation.output("builder_address") == "tcp://127.0.0.1:1234"
