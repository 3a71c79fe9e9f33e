"""PayPal webhook sandbox: a test certificate authority, PayPal's signing certificate served
over https (as api.sandbox.paypal.com serves ``/v1/notifications/certs/CERT-...``), and a
signer that signs deliveries with its key exactly as PayPal does."""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox import signing
from sandbox.base import STOP_POLL_S

CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-{serial}"  # one URL per certificate, as PayPal's


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *,
          ca: bool = False, dns: str | None = None, days: int = 30) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class PayPalCertServer:
    """Serves the signing certificate over https on localhost; counts the fetches."""

    directory: Path
    fetches: int = 0
    fail: bool = False
    _server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = _cert("Hub Sandbox Root CA", ca_key, "Hub Sandbox Root CA", ca_key, ca=True)
        tls_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tls = _cert("localhost", tls_key, "Hub Sandbox Root CA", ca_key, dns="localhost")
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signing_cert = _cert("messageverificationcerts.sandbox.paypal.com", self.signing_key,
                                  "Hub Sandbox Root CA", ca_key)
        self.ca_bundle = self.directory / "ca.pem"
        self.ca_bundle.write_bytes(_pem(ca))
        (self.directory / "tls.pem").write_bytes(_pem(tls) + tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    @property
    def cert_path(self) -> str:
        """This certificate's own path: verifiers cache certificates by URL, so a new key (a restarted
        sandbox) must never be served at a URL that named an older one."""
        return CERT_PATH.format(serial=f"{self.signing_cert.serial_number:x}"[:8])

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve over https on ``port`` (0: any free one); returns the certificate's URL."""
        owner = self
        pem = _pem(self.signing_cert) + _pem(self.signing_cert)  # PayPal serves a chain; first is the leaf
        path = self.cert_path

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.fetches += 1
                if owner.fail or self.path != path:
                    self.send_error(503 if owner.fail else 404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(pem)))
                self.end_headers()
                self.wfile.write(pem)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.directory / "tls.pem")
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, args=(STOP_POLL_S,), daemon=True).start()
        return self.cert_url

    @property
    def cert_url(self) -> str:
        assert self._server is not None
        return f"https://localhost:{self._server.server_address[1]}{self.cert_path}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def sign(self, webhook_id: str, body: bytes, cert_url: str | None = None) -> signing.SignedRequest:
        return signing.paypal(self.signing_key, cert_url or self.cert_url, webhook_id, body)
