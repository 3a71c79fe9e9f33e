"""The payment and carrier webhook emitters as a service: ``POST /_sandbox/...`` asks for one Stripe or
PayPal event, or one carrier tracking update, and the service signs it as the platform does (with the
channel's secret, or with the PayPal sandbox's certificate key) and posts it to the hub.

It lets a process that holds neither the secrets nor PayPal's signing key (``hub demo``, a shell with
curl) drive payments and parcels. Each answer says what was sent and what the hub answered; a hub that
refused it (4xx/5xx) makes the answer 502 with the hub's status and body. ``"deliver": false`` builds the
event without posting it (the hub was down, the delivery failed).

Every Stripe and PayPal event built is kept, delivered or not, and listed by the platforms' own event APIs
on the same port (``sandbox/emitters/payment_events.py``: Stripe ``GET /v1/events``, PayPal ``POST /v1/oauth2/token``
and ``GET /v1/notifications/webhooks-events``), which is what the hub's backfill reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from flask import Flask, Response, request

from sandbox import signing
from sandbox.emitters import carriers, payments
from sandbox.emitters.payment_events import PaymentEvents
from sandbox.emitters.paypal import PayPalCertServer

DEFAULT_STEP_S = 3600  # between two carrier scans when the request gives no ``every_s``
HUB_TIMEOUT_S = 10


@dataclass(frozen=True)
class Target:
    """A hub channel and what signs for it (a secret; PayPal: the webhook id)."""

    channel: str
    secret: str


@dataclass
class EmitterService:
    """Signs and posts to ``{hub_url}/webhooks/<channel>``; ``.app`` is the control API (no auth: a sandbox)."""

    hub_url: str
    stripe: Target | None = None
    paypal: Target | None = None
    paypal_certs: PayPalCertServer | None = None
    carriers: dict[str, Target] = field(default_factory=dict)  # easypost / shippo / aftership -> target
    events: PaymentEvents = field(default_factory=PaymentEvents)  # every payment event built, and their APIs
    sent: dict[str, int] = field(default_factory=dict)  # by "<channel> <topic>"
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.app = self._build_app()

    # ---- what can be sent ---------------------------------------------------------------------------

    def stripe_payment(self, order_ref: str, amount_minor: int, currency: str, intent_id: str | None = None,
                       email: str | None = None, key: str = "order_id", deliver: bool = True) -> dict[str, Any]:
        event = payments.stripe_payment(order_ref, int(amount_minor), currency, intent_id, email, key=key)
        return self._stripe(event, deliver)

    def stripe_refund(self, intent_id: str, amount_minor: int, currency: str,
                      order_ref: str | None = None, deliver: bool = True) -> dict[str, Any]:
        return self._stripe(payments.stripe_refund(intent_id, int(amount_minor), currency, order_ref), deliver)

    def paypal_capture(self, order_ref: str, amount: str, currency: str, capture_id: str | None = None,
                       key: str = "custom_id", deliver: bool = True) -> dict[str, Any]:
        return self._paypal(payments.paypal_capture(order_ref, _decimal(amount), currency, capture_id, key=key),
                            deliver)

    def paypal_refund(self, capture_id: str, amount: str, currency: str,
                      order_ref: str | None = None, deliver: bool = True) -> dict[str, Any]:
        return self._paypal(payments.paypal_refund(capture_id, _decimal(amount), currency, order_ref), deliver)

    def carrier_update(self, kind: str, tracking_number: str, carrier: str, statuses: list[str],
                       start: str | None = None, every_s: float = DEFAULT_STEP_S,
                       estimate: str | None = None) -> dict[str, Any]:
        """One update carrying the parcel's history so far (``statuses``, oldest first), as carriers send it.
        The scans are ``every_s`` apart from ``start`` (default: so that the last one is now)."""
        target = self.carriers.get(kind)
        if target is None:
            raise LookupError(f"no {kind} channel configured (have: {', '.join(sorted(self.carriers)) or 'none'})")
        unknown = [s for s in statuses if s not in carriers.MESSAGES]
        if not statuses or unknown:
            raise ValueError(f"statuses: a non-empty list of {', '.join(carriers.MESSAGES)}")
        step = timedelta(seconds=float(every_s))
        first = _time(start) if start else datetime.now(UTC) - step * (len(statuses) - 1)
        steps = [carriers.Step(s, first + i * step) for i, s in enumerate(statuses)]
        kw = {"estimate": _time(estimate)} if estimate else {}
        body = json.dumps(carriers.BUILDERS[kind](tracking_number, carrier, steps, **kw)).encode()
        signer = {"easypost": signing.easypost, "shippo": signing.shippo, "aftership": signing.aftership}[kind]
        return self._post(target.channel, statuses[-1], signer(target.secret, body))

    def directory(self) -> dict[str, Any]:
        return {"hub_url": self.hub_url, "stripe": self.stripe.channel if self.stripe else None,
                "paypal": self.paypal.channel if self.paypal and self.paypal_certs else None,
                "paypal_cert_url": self.paypal_certs.cert_url if self.paypal_certs else None,
                "carriers": {k: t.channel for k, t in sorted(self.carriers.items())}, "sent": dict(self.sent),
                "events": {"stripe": len(self.events.stripe), "paypal": len(self.events.paypal)}}

    # ---- signing and posting -------------------------------------------------------------------------

    def _stripe(self, event: dict[str, Any], deliver: bool = True) -> dict[str, Any]:
        if self.stripe is None:
            raise LookupError("no stripe channel configured")
        self.events.record_stripe(event)  # before the post: Stripe lists an event however its delivery went
        if not deliver:
            return _undelivered(self.stripe.channel, event)
        body = json.dumps(event).encode()
        return self._post(self.stripe.channel, event["type"], signing.stripe(self.stripe.secret, body), event)

    def _paypal(self, event: dict[str, Any], deliver: bool = True) -> dict[str, Any]:
        if self.paypal is None or self.paypal_certs is None:
            raise LookupError("no paypal channel the sandbox can sign for (cert_hosts with localhost and a "
                              "cert_ca_bundle)")
        self.events.record_paypal(event)
        if not deliver:
            return _undelivered(self.paypal.channel, event)
        body = json.dumps(event).encode()
        return self._post(self.paypal.channel, event["event_type"], self.paypal_certs.sign(self.paypal.secret, body),
                          event)

    def _post(self, channel: str, what: str, req: signing.SignedRequest,
              event: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.session.post(f"{self.hub_url.rstrip('/')}/webhooks/{channel}", data=req.body,
                                 headers=req.headers, params=req.query, timeout=HUB_TIMEOUT_S)
        key = f"{channel} {what}"
        if resp.status_code < 300:
            self.sent[key] = self.sent.get(key, 0) + 1
        try:
            answer: Any = resp.json()
        except ValueError:
            answer = resp.text[:500]
        sent = json.loads(req.body)
        return {"channel": channel, "sent": what, "event": event if event is not None else sent,
                "hub_status": resp.status_code, "hub": answer}

    # ---- HTTP ----------------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", "/_sandbox/", lambda b: self.directory()),
            ("POST", "/_sandbox/stripe/payments", lambda b: self.stripe_payment(
                _need(b, "order_ref"), _need(b, "amount_minor"), _need(b, "currency"), b.get("intent_id"),
                b.get("email"), b.get("key", "order_id"), _deliver(b))),
            ("POST", "/_sandbox/stripe/refunds", lambda b: self.stripe_refund(
                _need(b, "intent_id"), _need(b, "amount_minor"), _need(b, "currency"), b.get("order_ref"),
                _deliver(b))),
            ("POST", "/_sandbox/paypal/captures", lambda b: self.paypal_capture(
                _need(b, "order_ref"), _need(b, "amount"), _need(b, "currency"), b.get("capture_id"),
                b.get("key", "custom_id"), _deliver(b))),
            ("POST", "/_sandbox/paypal/refunds", lambda b: self.paypal_refund(
                _need(b, "capture_id"), _need(b, "amount"), _need(b, "currency"), b.get("order_ref"), _deliver(b))),
            ("POST", "/_sandbox/carriers/<kind>", lambda b, kind: self.carrier_update(
                kind, _need(b, "tracking_number"), _need(b, "carrier"), _need(b, "statuses"), b.get("start"),
                b.get("every_s", DEFAULT_STEP_S), b.get("estimate"))),
        ]
        for n, (method, rule, handler) in enumerate(routes):
            app.add_url_rule(rule, f"emitter_{n}", _view(handler), methods=[method])
        self.events.register(app)
        return app


def _view(handler: Callable[..., dict[str, Any]]) -> Callable[..., Response]:
    def view(**params: Any) -> Response:
        body = request.get_json(silent=True) if request.method == "POST" else {}
        if not isinstance(body, dict):
            return _json(400, {"error": "expected a JSON object"})
        try:
            out = handler(body, **params)
        except LookupError as exc:
            return _json(404, {"error": str(exc.args[0])})
        except (ValueError, TypeError) as exc:
            return _json(422, {"error": str(exc)})
        except requests.RequestException as exc:
            return _json(502, {"error": f"the hub could not be reached: {type(exc).__name__}"})
        hub_status = out.get("hub_status")
        return _json(502 if hub_status is not None and hub_status >= 300 else 200, out)
    return view


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json")


def _undelivered(channel: str, event: dict[str, Any]) -> dict[str, Any]:
    """The answer for an event built and kept but not posted: nothing sent, no answer from the hub."""
    return {"channel": channel, "sent": None, "event": event, "hub_status": None, "hub": None}


def _deliver(body: dict[str, Any]) -> bool:
    value = body.get("deliver", True)
    if not isinstance(value, bool):
        raise ValueError("deliver: true or false")
    return value


def _need(body: dict[str, Any], key: str) -> Any:
    if body.get(key) in (None, ""):
        raise ValueError(f"missing field {key!r}")
    return body[key]


def _decimal(text: Any) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"not a positive amount: {text!r}")
    return value


def _time(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise ValueError(f"a time with its offset, e.g. 2026-11-22T10:00:00Z: {text!r}")
    return at.astimezone(UTC)
