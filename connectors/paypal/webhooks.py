"""PayPal webhooks, verified offline.

PayPal signs ``transmission_id|transmission_time|webhook_id|crc32(body)`` with RSA-SHA256; the
certificate is at PAYPAL-CERT-URL. It is fetched only over https from the channel's
``cert_hosts``, once per URL, and cached for the life of the process. A certificate that cannot
be fetched is ``Unavailable`` (503: PayPal retries), never a silent accept.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.base import ChannelSettings

from ..base import Delivery, Unauthorized, Unavailable, parse_json_object, parse_time, require
from . import consts

logger = logging.getLogger(__name__)


class PayPalVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.channel_id = channel.id
        self.webhook_id = channel.webhook_id or ""
        self.cert_hosts = frozenset(channel.cert_hosts)
        self.ca_bundle = channel.cert_ca_bundle
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        values = {h: headers.get(h) for h in (consts.TRANSMISSION_ID, consts.TRANSMISSION_TIME,
                                                consts.TRANSMISSION_SIG, consts.CERT_URL)}
        missing = [h for h, v in values.items() if not v]
        if missing:
            raise Unauthorized("missing " + ", ".join(missing))
        algo = headers.get(consts.AUTH_ALGO) or "SHA256withRSA"
        if algo not in consts.SUPPORTED_ALGOS:
            raise Unauthorized(f"unsupported {consts.AUTH_ALGO}")
        cert = self._certificate(values[consts.CERT_URL])
        now = datetime.now(UTC)
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            raise Unauthorized("PayPal certificate is not valid now")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unauthorized("PayPal certificate does not hold an RSA key")
        message = "|".join([values[consts.TRANSMISSION_ID], values[consts.TRANSMISSION_TIME],
                            self.webhook_id, str(zlib.crc32(body) & 0xFFFFFFFF)]).encode()
        try:
            signature = base64.b64decode(values[consts.TRANSMISSION_SIG], validate=True)
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error, ValueError):
            raise Unauthorized(f"bad {consts.TRANSMISSION_SIG}") from None

    def _certificate(self, url: str) -> x509.Certificate:
        cached = self._certs.get(url)
        if cached is not None:
            return cached
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.username or parts.password or \
                (parts.hostname or "").lower() not in self.cert_hosts:
            raise Unauthorized(f"{consts.CERT_URL} is not an https URL on a configured cert host")
        with self._lock:
            if url in self._certs:
                return self._certs[url]
            cert = self._fetch(url)
            if len(self._certs) >= consts.CERT_CACHE_MAX:
                self._certs.pop(next(iter(self._certs)))
            self._certs[url] = cert
            return cert

    def _fetch(self, url: str) -> x509.Certificate:
        try:
            resp = requests.get(url, timeout=consts.CERT_FETCH_TIMEOUT_S, allow_redirects=False,
                                verify=self.ca_bundle or True, stream=True)
            resp.raise_for_status()
            pem = resp.raw.read(consts.CERT_MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            logger.warning("paypal certificate fetch failed",
                           extra={"channel": self.channel_id, "cert_host": urlsplit(url).hostname,
                                  "error": type(exc).__name__})
            raise Unavailable("PayPal certificate could not be fetched") from None
        if len(pem) > consts.CERT_MAX_BYTES:
            raise Unavailable("PayPal certificate response too large")
        try:
            return x509.load_pem_x509_certificates(pem)[0]
        except ValueError:
            raise Unavailable("PayPal certificate response is not a PEM certificate") from None

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        data = parse_json_object(body)
        return Delivery(require(data, "event_type", "paypal event"), str(require(data, "id", "paypal event")),
                        parse_time(data.get("create_time")))
