"""TLS in front of the test server, with a throwaway certificate authority: some clients (uv's
trusted publishing) speak only https to the index's host. The CA's certificate is a file to
hand the client (SSL_CERT_FILE); the front passes each connection's bytes to the server."""

import contextlib
import datetime
import socket
import ssl
import threading
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    authority: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
    )
    if authority:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = (
            builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class TlsFront:
    port: int
    ca_file: Path
    listener: socket.socket

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _connection(raw: socket.socket, context: ssl.SSLContext, backend_port: int) -> None:
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    backend = socket.create_connection(("127.0.0.1", backend_port))
    answer = threading.Thread(target=_pipe, args=(backend, client), daemon=True)
    answer.start()
    _pipe(client, backend)
    answer.join()
    client.close()
    backend.close()


def _serve(listener: socket.socket, context: ssl.SSLContext, backend_port: int) -> None:
    while True:
        try:
            raw, _address = listener.accept()
        except OSError:
            return  # closed
        threading.Thread(target=_connection, args=(raw, context, backend_port), daemon=True).start()


def tls_front(directory: Path, backend_port: int) -> TlsFront:
    """Listen with TLS on a free loopback port and pass everything to backend_port."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Packyard test CA", ca_key, "Packyard test CA", ca_key, authority=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("localhost", leaf_key, "Packyard test CA", ca_key, authority=False)
    ca_file = directory / "test-ca.pem"
    ca_file.write_bytes(_pem(ca))
    chain = directory / "localhost.pem"
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain.write_bytes(_pem(leaf) + key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_serve, args=(listener, context, backend_port), daemon=True).start()
    return TlsFront(port=listener.getsockname()[1], ca_file=ca_file, listener=listener)
