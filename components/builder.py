"""One rootless buildkitd per platform: its certificate Secret, Deployment and Service."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.tailnet import SidecarIdentity, SidecarIdentityArgs, sidecar_container, sidecar_volumes
from remote_buildkit import workload
from remote_buildkit.layout import CERT_HASH_ANNOTATION, BuilderLayout


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
    """A single-replica rootless buildkitd pinned to nodes of one architecture, serving BuildKit over mTLS."""

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
                        annotations={CERT_HASH_ANNOTATION: args.tls.chain_pem.apply(workload.fingerprint)},
                    ),
                    spec=self._pod_spec(layout, args, cert_secret, identity),
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
                # Only the BuildKit port, which demands a client certificate anyway. Tailnet
                # traffic arrives through the sidecar on loopback and never crosses this policy.
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=layout.port, protocol="TCP")]
                    )
                ],
            ),
            opts=child,
        )

        self.register_outputs({"address": layout.address, "cluster_address": layout.cluster_address})

    @staticmethod
    def _metadata(object_name: str, args: BuilderArgs) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=args.layout.labels)

    @staticmethod
    def _pod_spec(
        layout: BuilderLayout, args: BuilderArgs, cert_secret: k8s.core.v1.Secret, identity: SidecarIdentity | None
    ) -> k8s.core.v1.PodSpecArgs:
        builder = layout.builder
        probe = k8s.core.v1.ProbeArgs(
            exec_=k8s.core.v1.ExecActionArgs(command=list(workload.PROBE_COMMAND)),
            initial_delay_seconds=5,
            period_seconds=30,
            timeout_seconds=10,
            failure_threshold=3,
        )
        buildkitd = k8s.core.v1.ContainerArgs(
            name="buildkitd",
            image=args.image,
            image_pull_policy="Always",
            args=workload.buildkitd_args(layout.port),
            ports=[k8s.core.v1.ContainerPortArgs(name="buildkitd", container_port=layout.port, protocol="TCP")],
            readiness_probe=probe,
            liveness_probe=probe,
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
                k8s.core.v1.VolumeMountArgs(name="state", mount_path=workload.STATE_DIR),
            ],
        )
        containers = [buildkitd]
        volumes = [
            k8s.core.v1.VolumeArgs(
                name="certs",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=cert_secret.metadata.apply(lambda m: m.name or layout.cert_secret_name),
                    default_mode=0o440,
                ),
            ),
            k8s.core.v1.VolumeArgs(name="state", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
        ]
        if args.tailscale and identity:
            containers.append(sidecar_container(layout, args.tailscale.image))
            volumes += sidecar_volumes(identity)
        return k8s.core.v1.PodSpecArgs(
            containers=containers,
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
            # Build steps run untrusted code: no container gets a token unless it mounts
            # one itself, and only the Tailscale sidecar does.
            automount_service_account_token=False,
            enable_service_links=False,
            security_context=k8s.core.v1.PodSecurityContextArgs(fs_group=workload.ROOTLESS_GID),
            volumes=volumes,
        )
