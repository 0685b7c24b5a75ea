from decimal import Decimal

import pytest

from remote_buildkit import rules


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("3.5", Decimal("3.5")),
        ("500m", Decimal("0.5")),
        ("512Mi", 512 * 2**20),
        ("3Gi", 3 * 2**30),
        ("1e3", 1000),
        ("2k", 2000),
    ],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert rules.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "3 gigs", "-1", "1.2.3", "Gi", "3GB"])
def test_bad_quantities(text: str) -> None:
    with pytest.raises(ValueError):
        rules.parse_quantity(text)


@pytest.mark.parametrize(
    ("text", "arch"), [("linux/arm64", "arm64"), ("linux/arm/v7", "arm"), ("linux/riscv64", "riscv64")]
)
def test_platforms(text: str, arch: str) -> None:
    assert rules.platform_arch(text)[0] == arch


@pytest.mark.parametrize("text", ["arm64", "darwin/arm64", "linux/mips", "linux/amd64/v9", "linux/arm64/v8/x"])
def test_bad_platforms(text: str) -> None:
    with pytest.raises(ValueError):
        rules.platform_arch(text)


@pytest.mark.parametrize(
    "image", ["moby/buildkit:v0.29.0-rootless", "registry.example.com:5000/bk:v1", "moby/buildkit@sha256:" + "a" * 64]
)
def test_pinned_images(image: str) -> None:
    assert rules.image_reference(image) == image


@pytest.mark.parametrize(
    "image", ["moby/buildkit", "moby/buildkit:latest", "registry.example.com:5000/bk", "bk@sha256:short", "a b:c", ""]
)
def test_unpinned_images(image: str) -> None:
    with pytest.raises(ValueError):
        rules.image_reference(image)


@pytest.mark.parametrize("tag", ["tag:buildkit", "tag:ci-2"])
def test_tags(tag: str) -> None:
    assert rules.tailscale_tag(tag) == tag


@pytest.mark.parametrize("tag", ["buildkit", "tag:1bk", "tag:", "tag:Build", "tag:b_k"])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(ValueError):
        rules.tailscale_tag(tag)


def test_labels() -> None:
    assert rules.label_key("kubernetes.io/arch") == "kubernetes.io/arch"
    assert rules.label_value("") == ""
    for bad in ("-x", "a/b/c", "Bad_Prefix.io/x", "x" * 64):
        with pytest.raises(ValueError):
            rules.label_key(bad)
    with pytest.raises(ValueError):
        rules.dns1123_label("a" * 64)
