"""Client tooling: from ``pulumi stack output --json --show-secrets`` to a working ``docker buildx`` builder.

Needs no Pulumi SDK; only ``cryptography`` (and ``grpcio`` for ``doctor``).
"""
