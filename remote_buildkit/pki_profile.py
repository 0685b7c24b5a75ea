"""The certificate profile: key type, usages, lifetimes and names of every certificate the stack issues.

Go's TLS stack (buildkitd and buildx) is the consumer, which shapes these
choices: ECDSA P-256 (pulumi-tls defaults to P-224, which Go rejects), SANs on
every leaf (Go ignores the common name), and lifetimes nested so that a leaf
never outlives the CA that signed it.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY_ALGORITHM = "ECDSA"
KEY_CURVE = "P256"
ORGANIZATION = "remote-buildkit"

CA_USES = ("cert_signing", "crl_signing")
SERVER_USES = ("digital_signature", "key_encipherment", "server_auth")
CLIENT_USES = ("digital_signature", "client_auth")

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class Lifetime:
    """How long a certificate is valid, and how long before expiry a refresh replaces it."""

    validity_hours: int
    early_renewal_hours: int


#: The root is the trust anchor clients pin; it changes rarely.
ROOT_LIFETIME = Lifetime(validity_hours=10 * 365 * HOURS_PER_DAY, early_renewal_hours=365 * HOURS_PER_DAY)
#: The intermediate signs every leaf; it is replaced well before leaves could outlive it.
INTERMEDIATE_LIFETIME = Lifetime(validity_hours=3 * 365 * HOURS_PER_DAY, early_renewal_hours=180 * HOURS_PER_DAY)
#: Leaves are short-lived: a refresh in their last 30 days issues new ones.
SERVER_LIFETIME = Lifetime(validity_hours=90 * HOURS_PER_DAY, early_renewal_hours=30 * HOURS_PER_DAY)
CLIENT_LIFETIME = Lifetime(validity_hours=90 * HOURS_PER_DAY, early_renewal_hours=30 * HOURS_PER_DAY)


def root_common_name(stack: str) -> str:
    return f"remote-buildkit root CA ({stack})"


def intermediate_common_name(stack: str) -> str:
    return f"remote-buildkit intermediate CA ({stack})"


@dataclass(frozen=True)
class ServerIdentity:
    """The names a builder's server certificate must carry."""

    builder: str
    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def server_identity(
    builder: str, hostname: str, service: str, namespace: str, tailnet_domain: str | None
) -> ServerIdentity:
    """Every name a client may dial a builder by: tailnet name (and FQDN), the Service's DNS names, and loopback."""
    tailnet_names = (hostname, f"{hostname}.{tailnet_domain}") if tailnet_domain else (hostname,)
    service_names = (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    )
    return ServerIdentity(
        builder=builder,
        common_name=hostname,
        # dict.fromkeys drops repeats: the default hostname is also the Service name.
        dns_names=tuple(dict.fromkeys((*tailnet_names, *service_names, "localhost"))),
        ip_addresses=("127.0.0.1",),
    )
