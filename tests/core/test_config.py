import pytest

from remote_buildkit.config import DEFAULT_IMAGE, ConfigError, load_config, parse_config


def test_defaults_match_the_design() -> None:
    config = parse_config({})
    assert config.namespace == "buildkit"
    assert config.image == DEFAULT_IMAGE
    assert config.image.endswith("-rootless")
    assert config.port == 1234
    (builder,) = config.builders
    assert (builder.name, builder.platform, builder.hostname) == ("arm64", "linux/arm64", "buildkitd-arm64")
    assert builder.node_selector == {"kubernetes.io/arch": "arm64"}
    assert builder.tolerations == ()
    assert builder.resources.requests == {"cpu": "1", "memory": "512Mi"}
    assert builder.resources.limits == {"cpu": "3.5", "memory": "3Gi"}
    assert config.tailscale.enabled is True
    assert config.tailscale.tags == ("tag:buildkit",)
    assert config.tailscale.ci_tags == ("tag:ci",)
    assert config.tailscale.tailnet_domain is None
    assert config.pki.clients == ("ci",)


def test_raw_pulumi_strings_are_decoded() -> None:
    config = load_config(
        {
            "remote-buildkit:port": "2345",
            "remote-buildkit:builders": '[{"name": "pi", "platform": "linux/arm/v7", "hostname": "pi-builder"}]',
            "remote-buildkit:tailscale": '{"enabled": "false", "tailnetDomain": "tail1234.ts.net"}',
            "kubernetes:context": "ignored",
        }
    )
    assert config.port == 2345
    assert config.builders[0].node_selector == {"kubernetes.io/arch": "arm"}
    assert config.builders[0].hostname == "pi-builder"
    assert config.tailscale.enabled is False
    assert config.tailscale.tailnet_domain == "tail1234.ts.net"


def test_partial_resources_keep_other_defaults() -> None:
    config = parse_config(
        {"builders": [{"name": "a", "platform": "linux/amd64", "resources": {"limits": {"memory": "8Gi"}}}]}
    )
    assert config.builders[0].resources.limits == {"cpu": "3.5", "memory": "8Gi"}
    assert config.builders[0].resources.requests == {"cpu": "1", "memory": "512Mi"}


def test_numbers_become_quantities() -> None:
    config = parse_config(
        {"builders": [{"name": "a", "platform": "linux/amd64", "resources": {"limits": {"cpu": 2.50}}}]}
    )
    assert config.builders[0].resources.limits["cpu"] == "2.5"


def test_config_is_immutable() -> None:
    config = parse_config({})
    with pytest.raises(ValueError):
        config.port = 1


def test_first_line_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {"builders": [{"name": "ok", "platform": "linux/amd64"}, {"name": "x", "platform": "windows/amd64"}]}
        )
    assert str(raised.value).splitlines()[0].startswith("remote-buildkit:builders[1].platform = 'windows/amd64': ")
    assert raised.value.problems[0].path == "builders[1].platform"


def test_builder_name_must_fit_a_service_name() -> None:
    with pytest.raises(ConfigError, match=r"builders\[0\]\.name"):
        parse_config({"builders": [{"name": "a" * 54, "platform": "linux/amd64"}]})
    with pytest.raises(ConfigError, match=r"builders\[0\]\.name = '1st'"):
        parse_config({"builders": [{"name": "1st", "platform": "linux/amd64"}]})


def test_toleration_rules() -> None:
    base = {"name": "a", "platform": "linux/amd64"}
    with pytest.raises(ConfigError, match="tolerationSeconds applies only"):
        parse_config(
            {"builders": [{**base, "tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]}]}
        )
    with pytest.raises(ConfigError, match="must use operator Exists"):
        parse_config({"builders": [{**base, "tolerations": [{"effect": "NoSchedule"}]}]})
    ok = parse_config({"builders": [{**base, "tolerations": [{"operator": "Exists"}]}]})
    (toleration,) = ok.builders[0].tolerations
    assert (toleration.key, toleration.operator, toleration.effect) == (None, "Exists", None)


def test_port_forward_ports_must_fit() -> None:
    builders = [{"name": f"b{i}", "platform": "linux/amd64"} for i in range(3)]
    with pytest.raises(ConfigError, match="remote-buildkit:port = 65534"):
        parse_config({"port": 65534, "builders": builders, "tailscale": {"enabled": False}})
    parse_config({"port": 65534, "builders": builders})


def test_ci_tags_must_differ_from_builder_tags() -> None:
    with pytest.raises(ConfigError, match=r"tailscale\.ciTags\[0\] = 'tag:buildkit'"):
        parse_config({"tailscale": {"ciTags": ["tag:buildkit"]}})


def test_duplicate_clients() -> None:
    with pytest.raises(ConfigError, match=r"pki\.clients\[1\] = 'ci'"):
        parse_config({"pki": {"clients": ["ci", "ci"]}})
