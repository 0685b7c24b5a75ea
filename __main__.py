"""remote-buildkit: native BuildKit builders on your own cluster, reached with mutual TLS.

Load and validate the config, declare the PKI, the namespace and one builder per
platform, then export what CI consumes.
"""

import pulumi

from components.builder import Builder, BuilderArgs, ServerTls
from components.namespace import BuildkitNamespace, BuildkitNamespaceArgs
from components.pki import Pki, PkiArgs
from components.stack_config import load_stack_config
from remote_buildkit.layout import builder_layouts

config = load_stack_config()
layouts = builder_layouts(config)

pki = Pki(
    "pki",
    PkiArgs(
        stack=pulumi.get_stack(),
        servers=[layout.server_identity for layout in layouts],
        clients=config.pki.clients,
    ),
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
        ),
    )

client = pki.clients[config.pki.clients[0]]
pulumi.export("builder_address", layouts[0].address)
pulumi.export("builders", [layout.summary() for layout in layouts])
pulumi.export(
    "client_bundle",
    pulumi.Output.secret({"ca": pki.root_cert_pem, "cert": client.chain_pem, "key": client.private_key_pem}),
)
