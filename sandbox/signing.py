"""Sign webhook deliveries exactly as each platform does.

Used by ``hub send``, by the tests' request builders and by the sandbox emitters, so there is
one implementation of each platform's outbound signing scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import unicodedata
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

TOPIC_REQUIRED = {"shopify", "woocommerce"}


@dataclass
class SignedRequest:
    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)


def _b64_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify(secret: str, body: bytes, topic: str, event_id: str | None = None,
            shop: str = "hub-sandbox.myshopify.com", api_version: str = "2026-07") -> SignedRequest:
    event_id = event_id or str(uuid.uuid4())
    return SignedRequest(body, {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": _b64_hmac(secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    })


HOOKSHOT_UA = "WooCommerce/11.0.1 Hookshot (WordPress/7.1)"  # the live capture's (corpus live-11.0.1)


def woocommerce(secret: str, body: bytes, topic: str, webhook_id: int = 1,
                source: str = "http://woo.sandbox/") -> SignedRequest:
    resource, _, event = topic.partition(".")
    delivery = hashlib.md5(f"{webhook_id}{int(time.time())}".encode()).hexdigest()
    return SignedRequest(body, {
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT_UA,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": _b64_hmac(secret, body),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery,
    })


def stripe(secret: str, body: bytes, timestamp: int | None = None) -> SignedRequest:
    t = int(time.time()) if timestamp is None else timestamp
    sig = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return SignedRequest(body, {"Content-Type": "application/json; charset=utf-8",
                                "Stripe-Signature": f"t={t},v1={sig}"})


def easypost(secret: str, body: bytes) -> SignedRequest:
    key = unicodedata.normalize("NFKD", secret).encode()
    sig = hmac.new(key, body, hashlib.sha256).hexdigest()
    return SignedRequest(body, {"Content-Type": "application/json",
                                "X-Hmac-Signature": f"hmac-sha256-hex={sig}"})


def aftership(secret: str, body: bytes) -> SignedRequest:
    return SignedRequest(body, {"Content-Type": "application/json", "aftership-hmac-sha256": _b64_hmac(secret, body)})


def shippo(secret: str, body: bytes) -> SignedRequest:
    return SignedRequest(body, {"Content-Type": "application/json"}, {"token": secret})


def paypal(private_key: object, cert_url: str, webhook_id: str, body: bytes,
           transmission_id: str | None = None, transmission_time: str | None = None) -> SignedRequest:
    """Sign as PayPal does, with a key whose certificate is served at ``cert_url``."""

    tid = transmission_id or str(uuid.uuid1())
    ttime = transmission_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{tid}|{ttime}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}".encode()
    sig = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    return SignedRequest(body, {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": tid,
        "PAYPAL-TRANSMISSION-TIME": ttime,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(sig).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    })


def sign_for_channel(kind: str, secret: str, body: bytes, topic: str | None = None) -> SignedRequest:
    """The signed request a ``kind`` platform would send (PayPal needs ``paypal()``)."""
    if kind in TOPIC_REQUIRED and not topic:
        raise ValueError(f"{kind} deliveries carry their topic in a header: give one (e.g. "
                         f"{'orders/create' if kind == 'shopify' else 'order.created'})")
    if kind == "shopify":
        return shopify(secret, body, topic or "")
    if kind == "woocommerce":
        return woocommerce(secret, body, topic or "")
    simple = {"stripe": stripe, "easypost": easypost, "aftership": aftership, "shippo": shippo}
    if kind in simple:
        return simple[kind](secret, body)
    raise ValueError(f"cannot sign {kind} deliveries: PayPal signs with its own certificate")
