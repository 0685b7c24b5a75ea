"""Small helpers shared by the components for wiring Kubernetes objects together."""

from __future__ import annotations

from typing import Protocol

import pulumi
import pulumi_kubernetes as k8s


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> pulumi.Output[k8s.meta.v1.outputs.ObjectMeta]: ...


def name_of(resource: _HasMetadata, declared: str) -> pulumi.Output[str]:
    """The object's name as Kubernetes has it, so a reference to it also waits for it to exist.

    ``declared`` is the name the program gave it, for the type checker's sake:
    ``metadata.name`` is optional in the SDK's types, never absent here.
    """
    return resource.metadata.apply(lambda metadata: metadata.name or declared)
