"""Names, labels and addresses of everything the stack deploys, derived from the config alone.

Nothing here depends on a resource having been created, so addresses are known
at preview time and the ``builders`` stack output never waits on the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from remote_buildkit import rules, workload
from remote_buildkit.config import DEFAULT_EPHEMERAL_CACHE, Builder, StackConfig
from remote_buildkit.pki_profile import ServerIdentity, server_identity

PART_OF = "remote-buildkit"
CERT_HASH_ANNOTATION = "remote-buildkit/server-cert-sha256"
CONFIG_HASH_ANNOTATION = "remote-buildkit/config-sha256"


@dataclass(frozen=True)
class BuilderLayout:
    """Where one builder lives and how clients reach it."""

    builder: Builder
    namespace: str
    port: int
    #: The port a laptop forwards with ``kubectl port-forward`` when there is no tailnet.
    local_port: int
    tailscale: bool
    tailnet_domain: str | None
    #: Port of buildkitd's debug listener (``/metrics``); ``None`` when metrics are off.
    metrics_port: int | None = None
    #: Namespaces whose pods may scrape the metrics port.
    metrics_namespaces: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.builder.name

    @property
    def object_name(self) -> str:
        """Name of the Deployment and Service, and the prefix of every other object of this builder."""
        return f"buildkitd-{self.builder.name}"

    @property
    def cert_secret_name(self) -> str:
        return f"{self.object_name}-certs"

    @property
    def tailscale_state_secret_name(self) -> str:
        return f"{self.object_name}-tailscale-state"

    @property
    def tailscale_auth_secret_name(self) -> str:
        return f"{self.object_name}-tailscale-auth"

    @property
    def config_map_name(self) -> str:
        return f"{self.object_name}-config"

    @property
    def cache_claim_name(self) -> str:
        return f"{self.object_name}-cache"

    @property
    def cache_size(self) -> str:
        """The PVC's size, or the emptyDir's sizeLimit when the builder has no persistent cache."""
        return self.builder.cache.size if self.builder.cache else DEFAULT_EPHEMERAL_CACHE

    @property
    def max_parallelism(self) -> int:
        if self.builder.max_parallelism is not None:
            return self.builder.max_parallelism
        return workload.default_max_parallelism(rules.parse_quantity(self.builder.resources.limits["cpu"]))

    @cached_property
    def buildkitd_toml(self) -> str:
        """buildkitd.toml for this builder: GC scaled to its cache, parallelism from its CPU limit."""
        cache_bytes = int(rules.parse_quantity(self.cache_size))
        return workload.buildkitd_toml(self.max_parallelism, workload.gc_policy(cache_bytes))

    @property
    def service_account_name(self) -> str:
        return f"{self.object_name}-tailscale"

    @property
    def selector_labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "buildkitd", "app.kubernetes.io/instance": self.object_name}

    @property
    def labels(self) -> dict[str, str]:
        return {
            **self.selector_labels,
            "app.kubernetes.io/component": "builder",
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
            "remote-buildkit/platform": self.builder.platform.replace("/", "-"),
        }

    @property
    def tailnet_name(self) -> str:
        """The name a tailnet client dials: the MagicDNS FQDN when the tailnet domain is known."""
        if self.tailnet_domain:
            return f"{self.builder.hostname}.{self.tailnet_domain}"
        return self.builder.hostname

    @property
    def address(self) -> str:
        """The address CI uses: over the tailnet, or a loopback port-forward when Tailscale is off."""
        if self.tailscale:
            return f"tcp://{self.tailnet_name}:{self.port}"
        return f"tcp://127.0.0.1:{self.local_port}"

    @property
    def cluster_address(self) -> str:
        """The Service's DNS name, for clients inside the cluster."""
        return f"tcp://{self.object_name}.{self.namespace}.svc:{self.port}"

    @property
    def server_identity(self) -> ServerIdentity:
        return server_identity(
            self.builder.name, self.builder.hostname, self.object_name, self.namespace, self.tailnet_domain
        )

    def summary(self) -> dict[str, str]:
        """One entry of the ``builders`` stack output."""
        return {
            "name": self.builder.name,
            "platform": self.builder.platform,
            "hostname": self.builder.hostname,
            "address": self.address,
            "cluster_address": self.cluster_address,
        }


def builder_layouts(config: StackConfig) -> tuple[BuilderLayout, ...]:
    """One layout per configured builder, in config order."""
    return tuple(
        BuilderLayout(
            builder=builder,
            namespace=config.namespace,
            port=config.port,
            local_port=config.port + index,
            tailscale=config.tailscale.enabled,
            tailnet_domain=config.tailscale.tailnet_domain,
            metrics_port=config.metrics.port if config.metrics.enabled else None,
            metrics_namespaces=config.metrics.allow_from_namespaces,
        )
        for index, builder in enumerate(config.builders)
    )


def namespace_labels() -> dict[str, str]:
    """Pod Security labels: rootless buildkitd needs Unconfined seccomp and AppArmor, which only "privileged" admits.

    ``warn`` and ``audit`` stay at "baseline" so anything else that lands in the
    namespace is still reported.
    """
    return {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "baseline",
    }
