"""The namespace every builder lives in, created once per stack."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.objects import name_of
from remote_buildkit.layout import namespace_labels


@dataclass(frozen=True)
class BuildkitNamespaceArgs:
    name: str


class BuildkitNamespace(pulumi.ComponentResource):
    """A namespace labelled for Pod Security "privileged", which rootless buildkitd's Unconfined profiles need.

    Builders take :attr:`name` from here, so Kubernetes creates the namespace
    before anything inside it.
    """

    name: pulumi.Output[str]

    def __init__(self, name: str, args: BuildkitNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("remote-buildkit:namespace:BuildkitNamespace", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, labels=namespace_labels()),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = name_of(namespace, args.name)
        self.register_outputs({"name": self.name})
