"""Tailnet access: auth keys for the builder sidecars and for CI, and each sidecar's identity in the cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tailscale as tailscale

from components.objects import name_of
from remote_buildkit import workload
from remote_buildkit.layout import BuilderLayout
from remote_buildkit.tailnet_policy import key_description

#: The longest an auth key may live; a refresh after expiry recreates it.
KEY_EXPIRY_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class TailnetKeysArgs:
    stack: str
    builder_tags: Sequence[str]
    ci_tags: Sequence[str]


class TailnetKeys(pulumi.ComponentResource):
    """Two ephemeral, reusable, preauthorized keys: one the sidecars join with, one CI runners join with.

    Ephemeral nodes leave the tailnet when they go away, so short-lived CI
    runners never accumulate; tags give both kinds of node an identity the
    policy can grant on, with no user attached.
    """

    builder_key: pulumi.Output[str]
    ci_key: pulumi.Output[str]

    def __init__(self, name: str, args: TailnetKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("remote-buildkit:tailnet:TailnetKeys", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        builders = self._key(f"{name}-builders", args.builder_tags, key_description(args.stack, "builders"), child)
        ci = self._key(f"{name}-ci", args.ci_tags, key_description(args.stack, "ci"), child)
        self.builder_key = pulumi.Output.secret(builders.key)
        self.ci_key = pulumi.Output.secret(ci.key)
        self.register_outputs({})

    @staticmethod
    def _key(name: str, tags: Sequence[str], description: str, opts: pulumi.ResourceOptions) -> tailscale.TailnetKey:
        return tailscale.TailnetKey(
            name,
            ephemeral=True,
            reusable=True,
            preauthorized=True,
            tags=list(tags),
            description=description,
            expiry=KEY_EXPIRY_SECONDS,
            recreate_if_invalid="always",
            opts=opts,
        )


@dataclass(frozen=True)
class SidecarIdentityArgs:
    layout: BuilderLayout
    namespace: pulumi.Input[str]
    #: The key the sidecar joins with; a secret. It reaches the pod only as a file from a Secret.
    auth_key: pulumi.Output[str]


class SidecarIdentity(pulumi.ComponentResource):
    """What one Tailscale sidecar needs in the cluster: its key Secret, state Secret and narrowly scoped RBAC.

    The service account may read and update its own state Secret and emit
    events, nothing else: no ``create`` on Secrets, no other Secret by name.
    """

    service_account_name: pulumi.Output[str]
    auth_secret_name: pulumi.Output[str]
    state_secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: SidecarIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("remote-buildkit:tailnet:SidecarIdentity", name, None, opts)
        layout = args.layout
        child = pulumi.ResourceOptions(parent=self)

        def metadata(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=layout.labels)

        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=metadata(layout.tailscale_auth_secret_name),
            type="Opaque",
            string_data={workload.TAILSCALE_AUTH_FILE: args.auth_key},
            opts=child,
        )
        state = k8s.core.v1.Secret(
            f"{name}-state",
            metadata=metadata(layout.tailscale_state_secret_name),
            type="Opaque",
            # containerboot writes the node's identity here; Pulumi only creates the empty Secret.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["data", "stringData"]),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=metadata(layout.service_account_name),
            automount_service_account_token=False,
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=metadata(layout.service_account_name),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""],
                    resources=["secrets"],
                    resource_names=[layout.tailscale_state_secret_name],
                    verbs=["get", "update", "patch"],
                ),
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["events"], verbs=["get", "create", "patch"]),
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=metadata(layout.service_account_name),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=name_of(role, layout.service_account_name)
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount",
                    name=name_of(account, layout.service_account_name),
                    namespace=args.namespace,
                )
            ],
            opts=child,
        )
        self.service_account_name = name_of(account, layout.service_account_name)
        self.auth_secret_name = name_of(auth, layout.tailscale_auth_secret_name)
        self.state_secret_name = name_of(state, layout.tailscale_state_secret_name)
        self.register_outputs({"service_account_name": self.service_account_name})


def sidecar_container(layout: BuilderLayout, image: str) -> k8s.core.v1.ContainerArgs:
    """The Tailscale container: userspace networking, restricted security context, its own token mount."""
    # Liveness and readiness only ask whether containerboot is up. Its /healthz turns
    # unhealthy whenever the tailnet is briefly unreachable, and neither a restart nor
    # dropping the builder from its Service (in-cluster clients) would help then.
    probe = k8s.core.v1.ProbeArgs(
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=workload.TAILSCALE_HEALTH_PORT),
        initial_delay_seconds=5,
        period_seconds=30,
        timeout_seconds=5,
    )
    pod_ip = k8s.core.v1.EnvVarArgs(
        name="POD_IP",
        value_from=k8s.core.v1.EnvVarSourceArgs(
            field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="status.podIP")
        ),
    )
    settings = workload.tailscale_env(layout.builder.hostname, layout.tailscale_state_secret_name)
    return k8s.core.v1.ContainerArgs(
        name="tailscale",
        image=image,
        image_pull_policy="Always",
        # Runs as a native sidecar: started before buildkitd, stopped after it.
        restart_policy="Always",
        env=[pod_ip, *(k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in settings.items())],
        readiness_probe=probe,
        liveness_probe=probe,
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "500m", "memory": "256Mi"}
        ),
        security_context=k8s.core.v1.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=workload.TAILSCALE_UID,
            run_as_group=workload.TAILSCALE_UID,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="tailscale-auth", mount_path=workload.TAILSCALE_AUTH_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(
                name="tailscale-token", mount_path=workload.SERVICE_ACCOUNT_DIR, read_only=True
            ),
            k8s.core.v1.VolumeMountArgs(name="tailscale-tmp", mount_path="/tmp"),  # noqa: S108 - an emptyDir
        ],
    )


def sidecar_volumes(identity: SidecarIdentity) -> list[k8s.core.v1.VolumeArgs]:
    """The auth key file, a projected service-account token (sidecar only), and a scratch /tmp."""
    return [
        k8s.core.v1.VolumeArgs(
            name="tailscale-auth",
            secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=identity.auth_secret_name, default_mode=0o440),
        ),
        k8s.core.v1.VolumeArgs(
            name="tailscale-token",
            projected=k8s.core.v1.ProjectedVolumeSourceArgs(
                default_mode=0o440,
                sources=[
                    k8s.core.v1.VolumeProjectionArgs(
                        service_account_token=k8s.core.v1.ServiceAccountTokenProjectionArgs(
                            path="token", expiration_seconds=workload.SERVICE_ACCOUNT_TOKEN_SECONDS
                        )
                    ),
                    k8s.core.v1.VolumeProjectionArgs(
                        config_map=k8s.core.v1.ConfigMapProjectionArgs(
                            name="kube-root-ca.crt", items=[k8s.core.v1.KeyToPathArgs(key="ca.crt", path="ca.crt")]
                        )
                    ),
                    k8s.core.v1.VolumeProjectionArgs(
                        downward_api=k8s.core.v1.DownwardAPIProjectionArgs(
                            items=[
                                k8s.core.v1.DownwardAPIVolumeFileArgs(
                                    path="namespace",
                                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.namespace"),
                                )
                            ]
                        )
                    ),
                ],
            ),
        ),
        k8s.core.v1.VolumeArgs(name="tailscale-tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
    ]
