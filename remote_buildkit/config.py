"""The stack configuration: one typed, immutable model parsed once from the ``remote-buildkit:`` namespace.

Every default from DESIGN.md lives here, and every rule is checked before the
program declares a single resource. Errors name the full config key path and
the offending value on their first line, e.g.::

    remote-buildkit:builders[1].platform = 'linux/mips': has unsupported architecture 'mips'; ...

Unknown keys are errors, so a typo can never be silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from remote_buildkit import rules

PROJECT = "remote-buildkit"
DEFAULT_IMAGE = "moby/buildkit:v0.29.0-rootless"
DEFAULT_TAILSCALE_IMAGE = "tailscale/tailscale:v1.90.9"
DEFAULT_PORT = 1234
DEFAULT_REQUESTS = {"cpu": "1", "memory": "512Mi"}
DEFAULT_LIMITS = {"cpu": "3.5", "memory": "3Gi"}
#: Cache size when a builder has no ``cache`` key: an emptyDir with this sizeLimit.
DEFAULT_EPHEMERAL_CACHE = "20Gi"
MIN_CACHE_BYTES = 2**30
DEFAULT_GRACE_SECONDS = 900
DEFAULT_METRICS_PORT = 6060
#: Ports the pod already uses besides the builder port: the Tailscale sidecar's health check.
RESERVED_POD_PORTS = {9002: "the Tailscale sidecar's health check"}
#: Service names are DNS-1035 labels of at most 63 characters, and are ``buildkitd-<name>``.
MAX_BUILDER_NAME = 63 - len("buildkitd-")


def _not_reserved_namespace(value: str) -> str:
    if value == "default" or value.startswith("kube-"):
        raise ValueError("is reserved; choose a namespace of its own, such as buildkit")
    return value


def _builder_name(value: str) -> str:
    rules.dns1123_label(value)
    if len(value) > MAX_BUILDER_NAME:
        raise ValueError(f"must be at most {MAX_BUILDER_NAME} characters, since the Service is buildkitd-<name>")
    if value[0].isdigit():
        raise ValueError("must start with a letter, since it becomes part of Service and tailnet names")
    return value


def _platform(value: str) -> str:
    rules.platform_arch(value)
    return value


def _list(value: object) -> object:
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list")
    return value


def _non_empty_list(value: object) -> object:
    if not _list(value):
        raise ValueError("must be a non-empty list")
    return value


def _quantity_text(value: object) -> object:
    """YAML gives ``cpu: 2`` as a number; Kubernetes quantities are strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    return value


def _quantity(value: str) -> str:
    rules.parse_quantity(value)
    return value


Label = Annotated[str, AfterValidator(rules.dns1123_label)]
Hostname = Annotated[str, AfterValidator(rules.dns1123_label)]
Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_quantity)]
LabelKey = Annotated[str, AfterValidator(rules.label_key)]
LabelValue = Annotated[str, AfterValidator(rules.label_value)]
Tag = Annotated[str, AfterValidator(rules.tailscale_tag)]
NonEmptyList = BeforeValidator(_non_empty_list)
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")


def _resource_name(value: str) -> str:
    if value not in RESOURCE_NAMES:
        raise ValueError(f"must be one of {', '.join(RESOURCE_NAMES)}")
    return value


ResourceName = Annotated[str, AfterValidator(_resource_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=False, validate_by_alias=True)


class Toleration(_Strict):
    """A Kubernetes toleration, in the API's own field names."""

    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, alias="tolerationSeconds")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds applies only to effect NoExecute")
        return self


class Resources(_Strict):
    """Container requests and limits; keys not given keep their defaults."""

    requests: dict[ResourceName, Quantity]
    limits: dict[ResourceName, Quantity]

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: object) -> object:
        if isinstance(data, dict):
            requests, limits = data.get("requests", {}), data.get("limits", {})
            data = {
                **data,
                "requests": {**DEFAULT_REQUESTS, **requests} if isinstance(requests, dict) else requests,
                "limits": {**DEFAULT_LIMITS, **limits} if isinstance(limits, dict) else limits,
            }
        return data


def _default_resources() -> Resources:
    return Resources.model_validate({})


def _cache_size(value: str) -> str:
    if rules.parse_quantity(value) < MIN_CACHE_BYTES:
        raise ValueError("must be at least 1Gi: garbage collection needs room for a build's layers")
    return value


class Cache(_Strict):
    """A PersistentVolumeClaim for BuildKit's state, so the cache survives restarts and upgrades."""

    size: Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_quantity), AfterValidator(_cache_size)]
    storage_class: Annotated[str, AfterValidator(rules.dns1123_subdomain)] | None = Field(
        default=None, alias="storageClass"
    )


class Builder(_Strict):
    """One buildkitd Deployment, pinned to nodes of one platform."""

    name: Annotated[str, AfterValidator(_builder_name)]
    platform: Annotated[str, AfterValidator(_platform)]
    hostname: Hostname
    node_selector: dict[LabelKey, LabelValue] = Field(alias="nodeSelector")
    tolerations: Annotated[tuple[Toleration, ...], BeforeValidator(_list)] = ()
    resources: Resources = Field(default_factory=_default_resources)
    cache: Cache | None = None
    max_parallelism: int | None = Field(default=None, ge=1, le=256, alias="maxParallelism")
    termination_grace_period_seconds: int = Field(
        default=DEFAULT_GRACE_SECONDS, ge=30, le=86400, alias="terminationGracePeriodSeconds"
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_defaults(cls, data: object) -> object:
        """``hostname`` defaults to ``buildkitd-<name>``, ``nodeSelector`` to the platform's architecture."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "hostname" not in data and isinstance(data.get("name"), str):
            data["hostname"] = f"buildkitd-{data['name']}"
        if "nodeSelector" not in data:
            try:
                arch, _ = rules.platform_arch(str(data.get("platform")))
            except ValueError:
                data["nodeSelector"] = {}  # the platform field reports the problem
            else:
                data["nodeSelector"] = {"kubernetes.io/arch": arch}
        return data

    @property
    def arch(self) -> str:
        """The CPU architecture named by the platform (``arm64`` for ``linux/arm64``)."""
        return rules.platform_arch(self.platform)[0]


class Tailscale(_Strict):
    """Tailnet access: a sidecar per builder and a key for CI."""

    enabled: bool = True
    tags: Annotated[tuple[Tag, ...], NonEmptyList] = ("tag:buildkit",)
    ci_tags: Annotated[tuple[Tag, ...], NonEmptyList] = Field(default=("tag:ci",), alias="ciTags")
    tailnet_domain: Annotated[str, AfterValidator(rules.dns1123_subdomain)] | None = Field(
        default=None, alias="tailnetDomain"
    )
    image: Annotated[str, AfterValidator(rules.image_reference)] = DEFAULT_TAILSCALE_IMAGE


class Pki(_Strict):
    """Client certificates to issue; the first one is exported as ``client_bundle``."""

    clients: Annotated[tuple[Label, ...], NonEmptyList] = ("ci",)


def _default_builders() -> tuple[Builder, ...]:
    return (Builder.model_validate({"name": "arm64", "platform": "linux/arm64"}),)


class Metrics(_Strict):
    """buildkitd's Prometheus endpoint, on its debug listener bound to the pod IP."""

    enabled: bool = True
    port: int = Field(default=DEFAULT_METRICS_PORT, ge=1024, le=65535)
    #: Namespaces whose pods may scrape it (the NetworkPolicy admits nothing else to that port).
    allow_from_namespaces: tuple[Label, ...] = Field(default=("monitoring",), alias="allowFromNamespaces")


class StackConfig(_Strict):
    """Everything ``pulumi up`` needs to know, validated."""

    namespace: Annotated[str, AfterValidator(rules.dns1123_label), AfterValidator(_not_reserved_namespace)] = "buildkit"
    image: Annotated[str, AfterValidator(rules.image_reference)] = DEFAULT_IMAGE
    port: int = Field(default=DEFAULT_PORT, ge=1024, le=65535)
    builders: Annotated[tuple[Builder, ...], NonEmptyList] = Field(default_factory=_default_builders)
    tailscale: Tailscale = Field(default_factory=Tailscale)
    pki: Pki = Field(default_factory=Pki)
    metrics: Metrics = Field(default_factory=Metrics)


@dataclass(frozen=True)
class Problem:
    """One invalid config value: where it is, what it was, and why it is wrong."""

    path: str
    value: object
    reason: str

    def __str__(self) -> str:
        key = f"{PROJECT}:{self.path}" if self.path else PROJECT
        if self.value is _MISSING:
            return f"{key}: {self.reason}"
        return f"{key} = {_show(self.value)}: {self.reason}"


_MISSING = object()


class ConfigError(ValueError):
    """The stack configuration is invalid. The first line names the key and the bad value."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _show(value: object) -> str:
    text = json.dumps(value) if isinstance(value, dict | list) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def _strip_branch(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Pydantic puts union branch names (``str``, ``function-after[...]``) into locations; drop them."""

    def is_branch(part: str) -> bool:
        return part in ("str", "int", "none") or ("[" in part and part != "[key]")

    return tuple(p for p in loc if isinstance(p, int) or not is_branch(p))


def _problem(error: Any) -> Problem:
    loc = _strip_branch(tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return Problem(_path(loc), _MISSING, "is required but missing")
    if kind == "extra_forbidden":
        return Problem(
            _path(loc),
            error["input"],
            "is not a known key (check the spelling against README.md's configuration table)",
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":
        # A bad mapping key: name the mapping, and show the key as the value.
        return Problem(_path(loc[:-2]), loc[-2], f"is not a valid key here: {message}")
    return Problem(_path(loc), error["input"], message)


def _semantic_problems(config: StackConfig) -> list[Problem]:
    """Rules that span several values: uniqueness, ordering of requests and limits, tag separation."""
    problems: list[Problem] = []
    seen_names: dict[str, int] = {}
    seen_hosts: dict[str, int] = {}
    for index, builder in enumerate(config.builders):
        if builder.name in seen_names:
            problems.append(
                Problem(
                    f"builders[{index}].name", builder.name, f"is already used by builders[{seen_names[builder.name]}]"
                )
            )
        seen_names.setdefault(builder.name, index)
        if builder.hostname in seen_hosts:
            problems.append(
                Problem(
                    f"builders[{index}].hostname",
                    builder.hostname,
                    f"is already used by builders[{seen_hosts[builder.hostname]}]; tailnet hostnames must be unique",
                )
            )
        seen_hosts.setdefault(builder.hostname, index)
        for resource, request in builder.resources.requests.items():
            limit = builder.resources.limits.get(resource)
            if limit is not None and rules.parse_quantity(request) > rules.parse_quantity(limit):
                problems.append(
                    Problem(
                        f"builders[{index}].resources.requests.{resource}",
                        request,
                        f"is greater than limits.{resource} {limit!r}",
                    )
                )
    if config.metrics.enabled:
        if config.metrics.port == config.port:
            problems.append(Problem("metrics.port", config.metrics.port, "is the builder port; choose another"))
        elif config.metrics.port in RESERVED_POD_PORTS:
            reason = RESERVED_POD_PORTS[config.metrics.port]
            problems.append(Problem("metrics.port", config.metrics.port, f"is used by {reason}; choose another"))
    if config.port in RESERVED_POD_PORTS:
        reason = RESERVED_POD_PORTS[config.port]
        problems.append(Problem("port", config.port, f"is used by {reason}; choose another"))
    seen_clients: dict[str, int] = {}
    for index, client in enumerate(config.pki.clients):
        if client in seen_clients:
            problems.append(
                Problem(f"pki.clients[{index}]", client, f"is already used by pki.clients[{seen_clients[client]}]")
            )
        seen_clients.setdefault(client, index)
    if config.tailscale.enabled:
        for index, tag in enumerate(config.tailscale.ci_tags):
            if tag in config.tailscale.tags:
                problems.append(
                    Problem(
                        f"tailscale.ciTags[{index}]",
                        tag,
                        "is also a builder tag; CI runners and builders need separate tags "
                        "so the policy can tell them apart",
                    )
                )
    else:
        last_local_port = config.port + len(config.builders) - 1
        if last_local_port > 65535:
            problems.append(
                Problem(
                    "port",
                    config.port,
                    f"leaves no room for {len(config.builders)} port-forward ports "
                    "(port + builder index must be at most 65535)",
                )
            )
    return problems


def decode_raw_config(raw: Mapping[str, str], project: str = PROJECT) -> dict[str, object]:
    """Turn Pulumi's raw config strings for ``project:*`` keys into values.

    Pulumi hands every value to the program as a string; structured values
    (lists and objects from ``Pulumi.<stack>.yaml`` or ``config set --path``)
    arrive as JSON. Scalars stay strings and the model coerces them.
    """
    values: dict[str, object] = {}
    problems: list[Problem] = []
    prefix = f"{project}:"
    for full_key, text in sorted(raw.items()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if isinstance(text, str) and text.lstrip()[:1] in ("[", "{"):
            try:
                values[key] = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(Problem(key, text, f"is not valid JSON: {exc.msg} at character {exc.pos}"))
        else:
            values[key] = text
    if problems:
        raise ConfigError(problems)
    return values


def parse_config(values: Mapping[str, object]) -> StackConfig:
    """Validate decoded config values into a :class:`StackConfig`; :class:`ConfigError` lists every problem."""
    try:
        config = StackConfig.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError([_problem(e) for e in exc.errors()]) from None
    problems = _semantic_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def load_config(raw: Mapping[str, str], project: str = PROJECT) -> StackConfig:
    """Parse Pulumi's raw config map (``{"remote-buildkit:port": "1234", ...}``) into a :class:`StackConfig`."""
    return parse_config(decode_raw_config(raw, project))
