"""The ``docker buildx create`` commands for one remote-driver builder with a node per platform."""

from __future__ import annotations

from remote_buildkit.client.files import BundlePaths
from remote_buildkit.client.outputs import StackOutputs


def buildx_commands(outputs: StackOutputs, paths: BundlePaths, name: str) -> list[list[str]]:
    """One ``create`` for the first builder, then one ``create --append`` per further builder.

    Every node gets ``--platform`` so buildx never schedules a platform on a
    node that would emulate it, absolute certificate paths, and ``servername``
    set to the address host, which is always on the server certificate.
    """
    commands = []
    for index, builder in enumerate(outputs.builders):
        driver_opt = f"cacert={paths.ca},cert={paths.cert},key={paths.key},servername={builder.host}"
        command = ["docker", "buildx", "create"]
        if index:
            command.append("--append")
        command += [
            "--name",
            name,
            "--node",
            f"{name}-{builder.name}",
            "--driver",
            "remote",
            "--driver-opt",
            driver_opt,
            "--platform",
            builder.platform,
            builder.address,
        ]
        commands.append(command)
    return commands
