"""Kubernetes, OCI and Tailscale syntax rules, as pure predicates and parsers.

Each function either returns a normalised value or raises ``ValueError`` with a
plain-language reason. The config model turns those reasons into errors that
name the config key, so the rules themselves stay free of config knowledge.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
TAILSCALE_TAG = re.compile(r"^tag:[a-z][a-z0-9-]*$")

#: CPU architectures BuildKit publishes workers for, as Go and Kubernetes name them.
ARCHITECTURES = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64")
#: Variants that mean something for the architectures above (``linux/arm/v7``).
VARIANTS = {"arm": ("v5", "v6", "v7"), "arm64": ("v8",), "amd64": ("v2", "v3", "v4")}

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[eE][-+]?[0-9]+|[A-Za-z]*)$")


def dns1123_label(value: str) -> str:
    """A Kubernetes object name segment: lower-case alphanumerics and '-', at most 63 characters."""
    if len(value) > 63:
        raise ValueError(f"must be at most 63 characters (it has {len(value)})")
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def dns1123_subdomain(value: str) -> str:
    """A DNS name made of DNS-1123 labels joined by dots, at most 253 characters."""
    if len(value) > 253 or not DNS1123_SUBDOMAIN.match(value) or any(len(p) > 63 for p in value.split(".")):
        raise ValueError("must be a DNS subdomain: dot-separated DNS-1123 labels, at most 253 characters")
    return value


def label_key(value: str) -> str:
    """A Kubernetes label key: an optional DNS subdomain prefix and '/', then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if slash:
        try:
            dns1123_subdomain(prefix)
        except ValueError as exc:
            raise ValueError(f"label key prefix {prefix!r} {exc}") from None
    if len(name) > 63 or not LABEL_NAME.match(name):
        raise ValueError(
            "must be a label key: [prefix/]name, the name at most 63 alphanumerics, '-', '_' or '.', "
            "starting and ending with an alphanumeric"
        )
    return value


def label_value(value: str) -> str:
    """A Kubernetes label value: empty, or at most 63 alphanumerics, '-', '_' or '.'."""
    if value and (len(value) > 63 or not LABEL_NAME.match(value)):
        raise ValueError(
            "must be a label value: at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
        )
    return value


def parse_quantity(value: str) -> Decimal:
    """The numeric value of a Kubernetes resource quantity such as ``500m``, ``3.5`` or ``3Gi``."""
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 3Gi")
    suffix = match["suffix"]
    try:
        number = Decimal(match["number"])
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 3Gi") from None
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return number * _DECIMAL_SUFFIXES[suffix]
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:]))
    raise ValueError(f"has an unknown unit suffix {suffix!r}; use one of m, k, M, G, Ki, Mi, Gi, Ti")


def platform_arch(value: str) -> tuple[str, str | None]:
    """The architecture and optional variant of an OCI platform string ``linux/<arch>[/<variant>]``."""
    parts = value.split("/")
    if len(parts) not in (2, 3) or parts[0] != "linux":
        raise ValueError("must be linux/<arch>[/<variant>], for example linux/arm64")
    arch = parts[1]
    if arch not in ARCHITECTURES:
        raise ValueError(f"has unsupported architecture {arch!r}; use one of {', '.join(ARCHITECTURES)}")
    variant = parts[2] if len(parts) == 3 else None
    if variant is not None and variant not in VARIANTS.get(arch, ()):
        allowed = ", ".join(VARIANTS.get(arch, ())) or "none"
        raise ValueError(f"has unsupported variant {variant!r} for {arch}; allowed: {allowed}")
    return arch, variant


def image_reference(value: str) -> str:
    """An OCI image reference that pins a tag or a digest, and not the moving ``latest`` tag."""
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be an image reference such as moby/buildkit:v0.29.0-rootless")
    name, at, digest = value.partition("@")
    if at and not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        raise ValueError("has a malformed digest; expected @sha256:<64 hex digits>")
    last_segment = name.rsplit("/", 1)[-1]
    repository_segment, colon, tag = last_segment.partition(":")
    if not repository_segment:
        raise ValueError("must name an image repository")
    if colon and not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", tag):
        raise ValueError(f"has a malformed tag {tag!r}")
    if tag == "latest":
        raise ValueError("must not use the moving 'latest' tag; pin a release tag or a digest")
    if not colon and not at:
        raise ValueError("must carry a tag or a digest, for example moby/buildkit:v0.29.0-rootless")
    return value


def tailscale_tag(value: str) -> str:
    """A Tailscale ACL tag: ``tag:`` followed by a lower-case letter, then letters, digits or '-'."""
    if not TAILSCALE_TAG.match(value):
        raise ValueError("must be a Tailscale tag: 'tag:' then a lower-case letter, then letters, digits or '-'")
    return value
