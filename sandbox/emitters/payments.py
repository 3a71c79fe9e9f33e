"""Payment webhook emitters: Stripe and PayPal events for an order, signed as each platform signs
them and posted to a hub URL.

The bodies have the shape of the platforms' own events (Stripe Event with a PaymentIntent, Refund
or Dispute object as in stripe/object_*_fixtures3.json of the corpus; PayPal v2 capture and refund
resources as in PayPal's webhook event samples), trimmed to what a real event always carries.
Stripe amounts are minor units; PayPal amounts are decimal strings.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from sandbox import signing
from sandbox.emitters.paypal import PayPalCertServer

STRIPE_API_VERSION = "2024-06-20"


def _now() -> int:
    return int(time.time())


def _rfc3339(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339_ms(at: datetime | None = None) -> str:
    """An event's own time as PayPal writes it, to the millisecond (its resources' times are to the second)."""
    return (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stripe_event(kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": STRIPE_API_VERSION,
            "created": created or _now(), "livemode": False, "pending_webhooks": 1, "type": kind,
            "request": {"id": f"req_{uuid.uuid4().hex[:14]}", "idempotency_key": None}, "data": {"object": obj}}


def stripe_payment(order_ref: str, amount_minor: int, currency: str = "eur", intent_id: str | None = None,
                   email: str | None = None, created: int | None = None, key: str = "order_id") -> dict[str, Any]:
    """``payment_intent.succeeded`` for ``amount_minor`` with ``metadata[key] = order_ref``."""
    created = created or _now()
    intent = {"id": intent_id or f"pi_{uuid.uuid4().hex[:24]}", "object": "payment_intent", "amount": amount_minor,
              "amount_capturable": 0, "amount_received": amount_minor, "capture_method": "automatic",
              "created": created, "currency": currency.lower(), "customer": None, "description": None,
              "latest_charge": f"ch_{uuid.uuid4().hex[:24]}", "livemode": False, "metadata": {key: order_ref},
              "payment_method_types": ["card"], "receipt_email": email, "status": "succeeded"}
    return stripe_event("payment_intent.succeeded", intent, created)


def stripe_refund(intent_id: str, amount_minor: int, currency: str = "eur", order_ref: str | None = None,
                  created: int | None = None) -> dict[str, Any]:
    created = created or _now()
    refund = {"id": f"re_{uuid.uuid4().hex[:24]}", "object": "refund", "amount": amount_minor,
              "charge": f"ch_{uuid.uuid4().hex[:24]}", "created": created, "currency": currency.lower(),
              "metadata": {"order_id": order_ref} if order_ref else {}, "payment_intent": intent_id,
              "reason": "requested_by_customer", "status": "succeeded"}
    return stripe_event("refund.created", refund, created)


def stripe_dispute(intent_id: str, amount_minor: int, currency: str = "eur") -> dict[str, Any]:
    created = _now()
    dispute = {"id": f"dp_{uuid.uuid4().hex[:24]}", "object": "dispute", "amount": amount_minor,
               "charge": f"ch_{uuid.uuid4().hex[:24]}", "created": created, "currency": currency.lower(),
               "metadata": {}, "payment_intent": intent_id, "reason": "fraudulent", "status": "needs_response"}
    return stripe_event("charge.dispute.created", dispute, created)


def paypal_event(kind: str, resource_type: str, resource: dict[str, Any], summary: str) -> dict[str, Any]:
    return {"id": f"WH-{uuid.uuid4().hex[:17].upper()}", "event_version": "1.0", "create_time": _rfc3339_ms(),
            "resource_type": resource_type, "resource_version": "2.0", "event_type": kind, "summary": summary,
            "resource": resource, "links": []}


def paypal_capture(order_ref: str, amount: Decimal | str, currency: str = "EUR", capture_id: str | None = None,
                   key: str = "custom_id") -> dict[str, Any]:
    """``PAYMENT.CAPTURE.COMPLETED`` carrying ``order_ref`` as ``custom_id`` (or ``invoice_id``)."""
    cid = capture_id or uuid.uuid4().hex[:17].upper()
    now = _rfc3339()
    resource = {"id": cid, "status": "COMPLETED", "amount": {"currency_code": currency, "value": str(amount)},
                "final_capture": True, key: order_ref, "create_time": now, "update_time": now,
                "seller_protection": {"status": "ELIGIBLE"},
                "links": [{"href": f"https://api.sandbox.paypal.com/v2/payments/captures/{cid}", "rel": "self",
                           "method": "GET"}]}
    return paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", resource,
                        f"Payment completed for {currency} {amount}")


def paypal_refund(capture_id: str, amount: Decimal | str, currency: str = "EUR",
                  order_ref: str | None = None) -> dict[str, Any]:
    now = _rfc3339()
    resource = {"id": uuid.uuid4().hex[:17].upper(), "status": "COMPLETED",
                "amount": {"currency_code": currency, "value": str(amount)}, "create_time": now, "update_time": now,
                "links": [{"href": f"https://api.sandbox.paypal.com/v2/payments/captures/{capture_id}", "rel": "up",
                           "method": "GET"}]}
    if order_ref:
        resource["custom_id"] = order_ref
    return paypal_event("PAYMENT.CAPTURE.REFUNDED", "refund", resource, f"A {currency} {amount} refund")


@dataclass
class PaymentEmitter:
    """Posts events to ``{hub_url}/webhooks/{channel}`` signed for the channel's platform. PayPal
    needs ``paypal_certs`` (its certificate served over https) and the ``webhook_id``."""

    hub_url: str
    stripe_channel: str = "stripe"
    stripe_secret: str = ""
    paypal_channel: str = "paypal"
    paypal_webhook_id: str = ""
    paypal_certs: PayPalCertServer | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def stripe(self, event: dict[str, Any], times: int = 1) -> list[requests.Response]:
        body = json.dumps(event).encode()
        return [self._post(self.stripe_channel, signing.stripe(self.stripe_secret, body)) for _ in range(times)]

    def paypal(self, event: dict[str, Any], times: int = 1) -> list[requests.Response]:
        if self.paypal_certs is None:
            raise ValueError("PayPal deliveries need the sandbox's certificate server (paypal_certs)")
        body = json.dumps(event).encode()
        return [self._post(self.paypal_channel, self.paypal_certs.sign(self.paypal_webhook_id, body))
                for _ in range(times)]

    def _post(self, channel: str, req: signing.SignedRequest) -> requests.Response:
        return self.session.post(f"{self.hub_url.rstrip('/')}/webhooks/{channel}", data=req.body, headers=req.headers,
                                 params=req.query, timeout=10)
