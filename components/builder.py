"""One rootless buildkitd per platform: certificates, config, cache, Deployment, Service and NetworkPolicy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.objects import name_of
from components.tailnet import SidecarIdentity, SidecarIdentityArgs, sidecar_container, sidecar_volumes
from remote_buildkit import workload
from remote_buildkit.layout import CERT_HASH_ANNOTATION, CONFIG_HASH_ANNOTATION, BuilderLayout


@dataclass(frozen=True)
class ServerTls:
    """The files buildkitd serves mTLS with, in BuildKit's Kubernetes layout."""

    #: Root CA, which client certificates must chain to.
    ca_pem: pulumi.Input[str]
    #: Server leaf followed by the intermediate.
    chain_pem: pulumi.Output[str]
    #: Server private key; a secret.
    key_pem: pulumi.Output[str]


@dataclass(frozen=True)
class TailscaleSidecar:
    """Tailnet access for a builder: the sidecar image and the key it joins with (a secret)."""

    image: str
    auth_key: pulumi.Output[str]


@dataclass(frozen=True)
class BuilderArgs:
    layout: BuilderLayout
    image: str
    namespace: pulumi.Input[str]
    tls: ServerTls
    #: ``None`` when Tailscale is disabled: no sidecar, no service account, no keys.
    tailscale: TailscaleSidecar | None = None


class Builder(pulumi.ComponentResource):
    """A single-replica rootless buildkitd pinned to nodes of one architecture, serving BuildKit over mTLS.

    The pod keeps its cache on a PersistentVolumeClaim when one is configured,
    garbage-collects it to fit, drains running builds before it stops, and
    exposes Prometheus metrics on the pod IP.
    """

    def __init__(self, name: str, args: BuilderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("remote-buildkit:builder:Builder", name, None, opts)
        layout = args.layout
        child = pulumi.ResourceOptions(parent=self)

        cert_secret = k8s.core.v1.Secret(
            f"{name}-certs",
            metadata=self._metadata(layout.cert_secret_name, args),
            type="Opaque",
            # One secret Output per file, so the file names stay known even while the PEMs are not.
            string_data={
                name: pulumi.Output.secret(pem)
                for name, pem in zip(
                    workload.CERT_FILES, (args.tls.ca_pem, args.tls.chain_pem, args.tls.key_pem), strict=True
                )
            },
            opts=child,
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=self._metadata(layout.config_map_name, args),
            data={workload.CONFIG_FILE: layout.buildkitd_toml},
            opts=child,
        )
        cache_claim = (
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-cache",
                metadata=self._metadata(layout.cache_claim_name, args),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"],
                    storage_class_name=layout.builder.cache.storage_class,
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": layout.cache_size}),
                ),
                opts=child,
            )
            if layout.builder.cache
            else None
        )
        identity = (
            SidecarIdentity(
                f"{name}-tailscale",
                SidecarIdentityArgs(layout=layout, namespace=args.namespace, auth_key=args.tailscale.auth_key),
                opts=child,
            )
            if args.tailscale
            else None
        )

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=layout.object_name,
                namespace=args.namespace,
                labels=layout.labels,
                annotations=workload.checkov_annotations(workload.BUILDKITD_CHECKOV_SKIPS),
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # Two buildkitd pods must never share a cache, and the old one holds builds.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                revision_history_limit=3,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=layout.selector_labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=layout.labels,
                        annotations={
                            CERT_HASH_ANNOTATION: args.tls.chain_pem.apply(workload.fingerprint),
                            CONFIG_HASH_ANNOTATION: workload.fingerprint(layout.buildkitd_toml),
                            **workload.scrape_annotations(layout.metrics_port),
                        },
                    ),
                    spec=self._pod_spec(layout, args, cert_secret, config_map, cache_claim, identity),
                ),
            ),
            opts=child,
        )

        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata(layout.object_name, args),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=layout.selector_labels,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="buildkitd", port=layout.port, target_port="buildkitd", protocol="TCP"
                    )
                ],
            ),
            opts=child,
        )

        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=self._metadata(layout.object_name, args),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=layout.selector_labels),
                policy_types=["Ingress"],
                ingress=self._ingress_rules(layout),
            ),
            opts=child,
        )

        self.register_outputs({"address": layout.address, "cluster_address": layout.cluster_address})

    @staticmethod
    def _metadata(object_name: str, args: BuilderArgs) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=args.layout.labels)

    @staticmethod
    def _ingress_rules(layout: BuilderLayout) -> list[k8s.networking.v1.NetworkPolicyIngressRuleArgs]:
        """The BuildKit port from anywhere (it demands a client certificate), metrics from named namespaces only.

        Tailnet traffic arrives through the sidecar on loopback and never crosses this policy.
        """
        rules = [
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=layout.port, protocol="TCP")]
            )
        ]
        if layout.metrics_port and layout.metrics_namespaces:
            rules.append(
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=layout.metrics_port, protocol="TCP")],
                    from_=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                match_expressions=[
                                    k8s.meta.v1.LabelSelectorRequirementArgs(
                                        key="kubernetes.io/metadata.name",
                                        operator="In",
                                        values=list(layout.metrics_namespaces),
                                    )
                                ]
                            )
                        )
                    ],
                )
            )
        return rules

    @staticmethod
    def _pod_spec(
        layout: BuilderLayout,
        args: BuilderArgs,
        cert_secret: k8s.core.v1.Secret,
        config_map: k8s.core.v1.ConfigMap,
        cache_claim: k8s.core.v1.PersistentVolumeClaim | None,
        identity: SidecarIdentity | None,
    ) -> k8s.core.v1.PodSpecArgs:
        builder = layout.builder
        probe = k8s.core.v1.ProbeArgs(
            exec_=k8s.core.v1.ExecActionArgs(command=list(workload.PROBE_COMMAND)),
            initial_delay_seconds=5,
            period_seconds=30,
            timeout_seconds=10,
            failure_threshold=3,
        )
        ports = [k8s.core.v1.ContainerPortArgs(name="buildkitd", container_port=layout.port, protocol="TCP")]
        if layout.metrics_port:
            ports.append(k8s.core.v1.ContainerPortArgs(name="metrics", container_port=layout.metrics_port))
        buildkitd = k8s.core.v1.ContainerArgs(
            name="buildkitd",
            image=args.image,
            image_pull_policy="Always",
            args=workload.buildkitd_args(layout.port, layout.metrics_port),
            env=[
                k8s.core.v1.EnvVarArgs(
                    name="POD_IP",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="status.podIP")
                    ),
                )
            ],
            ports=ports,
            readiness_probe=probe,
            liveness_probe=probe,
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    exec_=k8s.core.v1.ExecActionArgs(
                        command=[
                            "/bin/sh",
                            "-c",
                            workload.drain_script(workload.drain_seconds(builder.termination_grace_period_seconds)),
                        ]
                    )
                )
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests=builder.resources.requests, limits=builder.resources.limits
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                # Rootless BuildKit creates user namespaces and mounts inside them,
                # which the runtime's default seccomp and AppArmor profiles forbid.
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="Unconfined"),
                app_armor_profile=k8s.core.v1.AppArmorProfileArgs(type="Unconfined"),
                run_as_user=workload.ROOTLESS_UID,
                run_as_group=workload.ROOTLESS_GID,
                run_as_non_root=True,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["NET_RAW"]),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="certs", mount_path=workload.CERT_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="config", mount_path=workload.CONFIG_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="state", mount_path=workload.STATE_DIR),
            ],
        )
        state = (
            k8s.core.v1.VolumeArgs(
                name="state",
                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=name_of(cache_claim, layout.cache_claim_name)
                ),
            )
            if cache_claim
            else k8s.core.v1.VolumeArgs(
                name="state", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=layout.cache_size)
            )
        )
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="certs",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=name_of(cert_secret, layout.cert_secret_name), default_mode=0o440
                ),
            ),
            k8s.core.v1.VolumeArgs(
                name="config",
                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                    name=name_of(config_map, layout.config_map_name), default_mode=0o444
                ),
            ),
            state,
        ]
        init_containers = []
        if args.tailscale and identity:
            # A native sidecar (an init container that keeps running): Kubernetes stops it only
            # after buildkitd has drained, so tailnet clients keep their connection until then.
            init_containers.append(sidecar_container(layout, args.tailscale.image))
            volumes += sidecar_volumes(identity)
        return k8s.core.v1.PodSpecArgs(
            init_containers=init_containers,
            containers=[buildkitd],
            service_account_name=identity.service_account_name if identity else None,
            node_selector=dict(builder.node_selector),
            tolerations=[
                k8s.core.v1.TolerationArgs(
                    key=t.key,
                    operator=t.operator,
                    value=t.value,
                    effect=t.effect,
                    toleration_seconds=t.toleration_seconds,
                )
                for t in builder.tolerations
            ],
            termination_grace_period_seconds=builder.termination_grace_period_seconds,
            # Build steps run untrusted code: no container gets a token unless it mounts
            # one itself, and only the Tailscale sidecar does.
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(fs_group=workload.ROOTLESS_GID),
            volumes=volumes,
        )
