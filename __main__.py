"""remote-buildkit: native BuildKit builders on your own cluster, reached over Tailscale with mutual TLS.

Load and validate the config, declare the PKI, the tailnet keys, the namespace
and one builder per platform, then export what CI consumes.
"""

import pulumi

from components.builder import Builder, BuilderArgs, ServerTls, TailscaleSidecar
from components.namespace import BuildkitNamespace, BuildkitNamespaceArgs
from components.pki import Pki, PkiArgs
from components.stack_config import load_stack_config
from components.tailnet import TailnetKeys, TailnetKeysArgs
from remote_buildkit.layout import builder_layouts
from remote_buildkit.tailnet_policy import policy_snippet

config = load_stack_config()
layouts = builder_layouts(config)
stack = pulumi.get_stack()

pki = Pki(
    "pki",
    PkiArgs(stack=stack, servers=[layout.server_identity for layout in layouts], clients=config.pki.clients),
)
keys = (
    TailnetKeys(
        "tailnet",
        TailnetKeysArgs(stack=stack, builder_tags=config.tailscale.tags, ci_tags=config.tailscale.ci_tags),
    )
    if config.tailscale.enabled
    else None
)
namespace = BuildkitNamespace("namespace", BuildkitNamespaceArgs(name=config.namespace))

for layout in layouts:
    server = pki.servers[layout.name]
    Builder(
        layout.object_name,
        BuilderArgs(
            layout=layout,
            image=config.image,
            namespace=namespace.name,
            tls=ServerTls(ca_pem=pki.root_cert_pem, chain_pem=server.chain_pem, key_pem=server.private_key_pem),
            tailscale=TailscaleSidecar(image=config.tailscale.image, auth_key=keys.builder_key) if keys else None,
        ),
    )

client = pki.clients[config.pki.clients[0]]
pulumi.export("builder_address", layouts[0].address)
pulumi.export("builders", [layout.summary() for layout in layouts])
pulumi.export("certificates", pki.expiry())
pulumi.export(
    "client_bundle",
    pulumi.Output.secret({"ca": pki.root_cert_pem, "cert": client.chain_pem, "key": client.private_key_pem}),
)
if keys:
    pulumi.export("tailscale_ci_auth_key", keys.ci_key)
    pulumi.export("tailscale_policy", policy_snippet(config.tailscale.tags, config.tailscale.ci_tags, config.port))
