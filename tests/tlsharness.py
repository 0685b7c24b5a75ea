"""Real TLS handshakes on 127.0.0.1 with Python's ``ssl``, configured to judge certificates the way Go does."""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class HandshakeResult:
    server_error: BaseException | None
    client_error: BaseException | None
    echoed: bytes

    @property
    def ok(self) -> bool:
        return self.server_error is None and self.client_error is None and self.echoed == b"ping"


def _write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def server_context(ca_pem: str, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """buildkitd's side: present cert.pem (leaf + intermediate), demand a client cert chaining to ca.pem."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        context.load_cert_chain(_write(directory, "cert.pem", cert_pem), _write(directory, "key.pem", key_pem))
    context.load_verify_locations(cadata=ca_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def client_context(ca_pem: str, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """buildx's side: trust only the root, present the client leaf + intermediate, match names against SANs only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        context.load_cert_chain(_write(directory, "cert.pem", cert_pem), _write(directory, "key.pem", key_pem))
    context.hostname_checks_common_name = False
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_name: str) -> HandshakeResult:
    """Connect once, send ``ping`` and read the echo; report what each side saw."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    server_errors: list[BaseException] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            connection.settimeout(10)
            with server.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(tls.recv(4))
        except (OSError, ssl.SSLError) as error:
            server_errors.append(error)
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_error: BaseException | None = None
    echoed = b""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            tls.sendall(b"ping")
            echoed = tls.recv(4)
    except (OSError, ssl.SSLError) as error:
        client_error = error
    thread.join(timeout=10)
    return HandshakeResult(server_errors[0] if server_errors else None, client_error, echoed)
