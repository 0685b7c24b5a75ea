from remote_buildkit.config import parse_config
from remote_buildkit.layout import BuilderLayout, builder_layouts, namespace_labels


def _layouts(**values: object) -> tuple[BuilderLayout, ...]:
    return builder_layouts(parse_config(values))


def test_tailnet_addresses_use_hostname_or_fqdn() -> None:
    (plain,) = _layouts()
    assert plain.address == "tcp://buildkitd-arm64:1234"
    (fqdn,) = _layouts(
        tailscale={"tailnetDomain": "tail1234.ts.net"},
        builders=[{"name": "arm64", "platform": "linux/arm64", "hostname": "buildkitd"}],
    )
    assert fqdn.address == "tcp://buildkitd.tail1234.ts.net:1234"
    assert "buildkitd.tail1234.ts.net" in fqdn.server_identity.dns_names
    assert "buildkitd" in fqdn.server_identity.dns_names


def test_port_forward_addresses_get_one_local_port_each() -> None:
    builders = [{"name": n, "platform": f"linux/{n}"} for n in ("arm64", "amd64", "s390x")]
    layouts = _layouts(tailscale={"enabled": False}, builders=builders)
    assert [layout.address for layout in layouts] == [
        "tcp://127.0.0.1:1234",
        "tcp://127.0.0.1:1235",
        "tcp://127.0.0.1:1236",
    ]
    assert {layout.cluster_address.rsplit(":", 1)[1] for layout in layouts} == {"1234"}


def test_every_address_host_is_a_san() -> None:
    for tailscale in ({"enabled": False}, {}, {"tailnetDomain": "example.ts.net"}):
        for layout in _layouts(tailscale=tailscale):
            identity = layout.server_identity
            for address in (layout.address, layout.cluster_address):
                host = address.removeprefix("tcp://").rsplit(":", 1)[0]
                assert host in identity.dns_names or host in identity.ip_addresses, (tailscale, host)


def test_object_names_and_labels() -> None:
    (layout,) = _layouts()
    assert layout.object_name == "buildkitd-arm64"
    assert layout.cert_secret_name == "buildkitd-arm64-certs"
    assert layout.selector_labels.items() <= layout.labels.items()
    assert layout.labels["remote-buildkit/platform"] == "linux-arm64"


def test_namespace_is_privileged_but_audited_at_baseline() -> None:
    labels = namespace_labels()
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/audit"] == "baseline"
