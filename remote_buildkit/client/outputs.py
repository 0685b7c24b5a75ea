"""Stack outputs as CI receives them, parsed and checked, with one-line errors naming what is missing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class OutputsError(ValueError):
    """The stack outputs are unusable; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class BuilderEndpoint:
    name: str
    platform: str
    hostname: str
    address: str
    cluster_address: str

    @property
    def host(self) -> str:
        """The address host, which the server certificate always names: use it as TLS server name."""
        host = urlsplit(self.address).hostname
        if not host:
            raise OutputsError(f"builders[{self.name}].address {self.address!r} has no host")
        return host

    @property
    def port(self) -> int:
        port = urlsplit(self.address).port
        if port is None:
            raise OutputsError(f"builders[{self.name}].address {self.address!r} has no port")
        return port


@dataclass(frozen=True)
class ClientBundle:
    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class StackOutputs:
    builders: tuple[BuilderEndpoint, ...]
    bundle: ClientBundle
    tailscale_ci_auth_key: str | None


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, ""):
        raise OutputsError(f"{where}{key} is missing from the stack outputs")
    return mapping[key]


def parse_outputs(text: str) -> StackOutputs:
    """Parse the JSON printed by ``pulumi stack output --json --show-secrets``."""
    if not text.strip():
        raise OutputsError("no stack outputs given: pipe `pulumi stack output --json --show-secrets` or use --outputs")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsError(f"stack outputs are not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(document, dict):
        raise OutputsError("stack outputs must be a JSON object of output names to values")
    bundle = _require(document, "client_bundle", "")
    if bundle == "[secret]":
        raise OutputsError("client_bundle is redacted; run `pulumi stack output --json --show-secrets`")
    if not isinstance(bundle, dict):
        raise OutputsError("client_bundle must be an object with ca, cert and key")
    for field in ("ca", "cert", "key"):
        value = _require(bundle, field, "client_bundle.")
        if not isinstance(value, str) or "-----BEGIN" not in value:
            raise OutputsError(f"client_bundle.{field} is not PEM text")
    builders_raw = _require(document, "builders", "")
    if not isinstance(builders_raw, list) or not builders_raw:
        raise OutputsError("builders must be a non-empty list")
    builders = []
    for index, entry in enumerate(builders_raw):
        if not isinstance(entry, dict):
            raise OutputsError(f"builders[{index}] must be an object")
        fields = {f: _require(entry, f, f"builders[{index}].") for f in ("name", "platform", "hostname", "address")}
        builders.append(BuilderEndpoint(**fields, cluster_address=str(entry.get("cluster_address", ""))))
    ci_key = document.get("tailscale_ci_auth_key")
    return StackOutputs(
        builders=tuple(builders),
        bundle=ClientBundle(ca=bundle["ca"], cert=bundle["cert"], key=bundle["key"]),
        tailscale_ci_auth_key=ci_key if isinstance(ci_key, str) and ci_key != "[secret]" else None,
    )


def ci_secret_document(outputs: StackOutputs) -> dict[str, Any]:
    """Everything a CI job needs, as one JSON document to store as a single CI secret."""
    return {
        "builders": [
            {
                "name": b.name,
                "platform": b.platform,
                "hostname": b.hostname,
                "address": b.address,
                "cluster_address": b.cluster_address,
            }
            for b in outputs.builders
        ],
        "client_bundle": {"ca": outputs.bundle.ca, "cert": outputs.bundle.cert, "key": outputs.bundle.key},
        **({"tailscale_ci_auth_key": outputs.tailscale_ci_auth_key} if outputs.tailscale_ci_auth_key else {}),
    }
