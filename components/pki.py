"""The stack's own certificate authority: root and intermediate CA, a leaf per builder and per client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from remote_buildkit import pki_profile as profile


@dataclass(frozen=True)
class PkiArgs:
    """What to issue. The profile (key type, usages, lifetimes) is fixed by :mod:`remote_buildkit.pki_profile`."""

    stack: str
    servers: Sequence[profile.ServerIdentity]
    clients: Sequence[str]


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate as Go's TLS wants it: the leaf followed by the intermediate, and its key (a secret)."""

    chain_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str]
    not_after: pulumi.Output[str]


class Pki(pulumi.ComponentResource):
    """Root CA → intermediate CA → leaves, all ECDSA P-256, all renewed by refresh before they expire.

    Clients pin the root only; the intermediate travels in every leaf's chain,
    so rotating the intermediate never touches a client's trust store.
    """

    root_cert_pem: pulumi.Output[str]
    intermediate_cert_pem: pulumi.Output[str]
    servers: dict[str, IssuedCertificate]
    clients: dict[str, IssuedCertificate]

    def __init__(self, name: str, args: PkiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("remote-buildkit:pki:Pki", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        root_key = self._key(f"{name}-root-key", child)
        root = tls.SelfSignedCert(
            f"{name}-root-cert",
            private_key_pem=root_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=profile.root_common_name(args.stack), organization=profile.ORGANIZATION
            ),
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=list(profile.CA_USES),
            validity_period_hours=profile.ROOT_LIFETIME.validity_hours,
            early_renewal_hours=profile.ROOT_LIFETIME.early_renewal_hours,
            opts=child,
        )

        intermediate_key = self._key(f"{name}-intermediate-key", child)
        intermediate_csr = tls.CertRequest(
            f"{name}-intermediate-csr",
            private_key_pem=intermediate_key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=profile.intermediate_common_name(args.stack), organization=profile.ORGANIZATION
            ),
            opts=child,
        )
        intermediate = tls.LocallySignedCert(
            f"{name}-intermediate-cert",
            cert_request_pem=intermediate_csr.cert_request_pem,
            ca_cert_pem=root.cert_pem,
            ca_private_key_pem=root_key.private_key_pem,
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=list(profile.CA_USES),
            validity_period_hours=profile.INTERMEDIATE_LIFETIME.validity_hours,
            early_renewal_hours=profile.INTERMEDIATE_LIFETIME.early_renewal_hours,
            opts=child,
        )

        self.root_cert_pem = root.cert_pem
        self.intermediate_cert_pem = intermediate.cert_pem
        self._root = root
        self._intermediate = intermediate
        self._intermediate_key = intermediate_key

        self.servers = {
            server.builder: self._leaf(
                f"{name}-server-{server.builder}",
                common_name=server.common_name,
                dns_names=server.dns_names,
                ip_addresses=server.ip_addresses,
                uses=profile.SERVER_USES,
                lifetime=profile.SERVER_LIFETIME,
                opts=child,
            )
            for server in args.servers
        }
        self.clients = {
            client: self._leaf(
                f"{name}-client-{client}",
                common_name=client,
                # Go's verifier wants a SAN on every certificate, client ones included.
                dns_names=(client,),
                ip_addresses=(),
                uses=profile.CLIENT_USES,
                lifetime=profile.CLIENT_LIFETIME,
                opts=child,
            )
            for client in args.clients
        }

        self.register_outputs(
            {
                "root_cert_pem": self.root_cert_pem,
                "intermediate_cert_pem": self.intermediate_cert_pem,
            }
        )

    def expiry(self) -> dict[str, object]:
        """When each certificate stops being valid (RFC 3339): the ``certificates`` stack output."""
        return {
            "root_ca": self._root.validity_end_time,
            "intermediate_ca": self._intermediate.validity_end_time,
            "servers": {name: cert.not_after for name, cert in self.servers.items()},
            "clients": {name: cert.not_after for name, cert in self.clients.items()},
        }

    @staticmethod
    def _key(name: str, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
        return tls.PrivateKey(name, algorithm=profile.KEY_ALGORITHM, ecdsa_curve=profile.KEY_CURVE, opts=opts)

    def _leaf(
        self,
        name: str,
        *,
        common_name: str,
        dns_names: Sequence[str],
        ip_addresses: Sequence[str],
        uses: Sequence[str],
        lifetime: profile.Lifetime,
        opts: pulumi.ResourceOptions,
    ) -> IssuedCertificate:
        key = self._key(f"{name}-key", opts)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=profile.ORGANIZATION),
            dns_names=list(dns_names),
            ip_addresses=list(ip_addresses),
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=self._intermediate.cert_pem,
            ca_private_key_pem=self._intermediate_key.private_key_pem,
            allowed_uses=list(uses),
            validity_period_hours=lifetime.validity_hours,
            early_renewal_hours=lifetime.early_renewal_hours,
            opts=opts,
        )
        return IssuedCertificate(
            chain_pem=pulumi.Output.concat(cert.cert_pem, self._intermediate.cert_pem),
            private_key_pem=pulumi.Output.secret(key.private_key_pem),
            not_after=cert.validity_end_time,
        )
