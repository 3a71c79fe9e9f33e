"""Stripe events -> canonical ``Payment`` and ``Refund`` records.

A delivery is a Stripe Event (``{"id", "type", "created", "data": {"object": {...}}}``); the topic
is ``type``. Each schema reads the one object type its topics carry, with a ``@pre_load`` that
unwraps the envelope and a ``@post_load`` that returns the records. Amounts are integer minor
units, converted with the currency's ISO exponent (JPY 1000 -> 1000, EUR 1000 -> 10.00). A
Payment's ``external_id`` (and origin) is the PaymentIntent id when there is one, so the intent,
its charge, its checkout session and a dispute on it all update one payment. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validate

from . import Handler, current_ctx
from .canonical import EventType, Money, Origin, Payment, PaymentStatus, Refund, from_minor_units
from .common import Lenient, schema_handler

PROVIDER = "stripe"
# Metadata keys tried in order for our order number; a channel overrides them with the
# ``order_reference_keys`` setting.
DEFAULT_ORDER_REFERENCE_KEYS = ("order_id",)
# The envelope's ``created`` travels into the object's schema under this key (a dotted name no
# Stripe object uses, and one that reads well in an error message).
EVENT_CREATED = "event.created"
# Refund.status values meaning no money went back (a refund.updated can move a refund to them).
UNDONE_REFUND_STATUSES = frozenset({"failed", "canceled"})


class _Timestamp(fields.AwareDateTime):
    """Stripe's unix seconds -> aware UTC datetime."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="timestamp", default_timezone=UTC, **kwargs)


class _Currency(fields.String):
    """A three-letter ISO 4217 code; Stripe sends it lower-case, the hub keeps it upper-case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(r"^[A-Z]{3}$", error="Not an ISO 4217 currency code."), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


def _minor_units(**kwargs: Any) -> fields.Integer:
    # strict: "1000" or 10.5 is a broken payload, not something to round.
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


def _optional_string() -> fields.String:
    return fields.String(load_default=None, allow_none=True)


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _order_reference(metadata: Mapping[str, Any] | None, *fallbacks: str | None) -> str | None:
    """The first non-empty metadata value under the channel's order keys, then the fallbacks."""
    keys = current_ctx().settings.get("order_reference_keys", DEFAULT_ORDER_REFERENCE_KEYS)
    if isinstance(keys, str):
        keys = [keys]
    metadata = metadata or {}
    return _first(*(metadata.get(key) for key in keys), *fallbacks)


def _money(minor: int, currency: str) -> Money:
    return Money(from_minor_units(minor, currency), currency)


def _origin(external_id: str) -> Origin:
    return Origin(current_ctx().channel, external_id)


class _StripeObject(Lenient):
    """The ``data.object`` of an event; subclasses turn it into records in ``records``."""

    id = fields.String(required=True, validate=validate.Length(min=1))
    currency = _Currency(required=True)
    created = _Timestamp(load_default=None, allow_none=True)
    metadata = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    event_created = _Timestamp(data_key=EVENT_CREATED, load_default=None, allow_none=True)

    @pre_load
    def _envelope(self, event: Any, **_: Any) -> dict[str, Any]:
        data = event.get("data") if isinstance(event, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            raise ValidationError("Missing the event's object (is this a Stripe Event?).", "data.object")
        return {**obj, EVENT_CREATED: event.get("created")}

    @post_load
    def _records(self, data: dict[str, Any], **_: Any) -> list[Any]:
        return self.records(data)

    def records(self, data: dict[str, Any]) -> list[Any]:
        raise NotImplementedError


class PaymentIntentSchema(_StripeObject):
    """payment_intent.succeeded: the money is captured."""

    STATUS = PaymentStatus.CAPTURED
    amount = _minor_units(required=True)
    amount_received = _minor_units(load_default=None, allow_none=True)
    receipt_email = _optional_string()

    def records(self, data: dict[str, Any]) -> list[Any]:
        # amount_received is what was captured (less than amount after a partial capture); 0 or
        # absent on a succeeded intent means an older or trimmed payload, so fall back to amount.
        minor = data["amount_received"] if self.STATUS is PaymentStatus.CAPTURED else None
        return [Payment(
            provider=PROVIDER, external_id=data["id"], amount=_money(minor or data["amount"], data["currency"]),
            status=self.STATUS, order_reference=_order_reference(data["metadata"]),
            customer_email=_first(data["receipt_email"]), occurred_at=data["created"] or data["event_created"],
            source_updated_at=data["event_created"], origin=_origin(data["id"]),
        )]


class FailedPaymentIntentSchema(PaymentIntentSchema):
    """payment_intent.payment_failed: nothing was received; the amount is the one attempted."""

    STATUS = PaymentStatus.FAILED


class _BillingDetails(Lenient):
    email = _optional_string()


class ChargeSchema(_StripeObject):
    """charge.succeeded: captured, or only authorized when the charge uses manual capture."""

    amount = _minor_units(required=True)
    amount_refunded = _minor_units(load_default=0)
    captured = fields.Boolean(required=True)
    payment_intent = _optional_string()
    receipt_email = _optional_string()
    billing_details = fields.Nested(_BillingDetails, load_default=None, allow_none=True)

    def payment(self, data: dict[str, Any], status: PaymentStatus, refunded: Money | None = None) -> Payment:
        external_id = data["payment_intent"] or data["id"]
        billing_email = (data["billing_details"] or {}).get("email")
        return Payment(
            provider=PROVIDER, external_id=external_id, amount=_money(data["amount"], data["currency"]),
            status=status, order_reference=_order_reference(data["metadata"]), refunded=refunded,
            customer_email=_first(data["receipt_email"], billing_email),
            occurred_at=data["created"] or data["event_created"], source_updated_at=data["event_created"],
            origin=_origin(external_id),
        )

    def records(self, data: dict[str, Any]) -> list[Any]:
        status = PaymentStatus.CAPTURED if data["captured"] else PaymentStatus.AUTHORIZED
        return [self.payment(data, status)]


class RefundedChargeSchema(ChargeSchema):
    """charge.refunded: the payment with its cumulative refunded total (``amount_refunded``).

    No Refund record here: since API 2022-11-15 a charge no longer embeds its refunds, and each
    refund arrives on its own as refund.created / refund.updated (keyed by its ``re_`` id), so
    emitting one here too would count the same money twice.
    """

    captured = fields.Boolean(load_default=None, allow_none=True)

    def records(self, data: dict[str, Any]) -> list[Any]:
        refunded = _money(data["amount_refunded"], data["currency"])
        full = data["amount_refunded"] >= data["amount"]
        return [self.payment(data, PaymentStatus.REFUNDED if full else PaymentStatus.PARTIALLY_REFUNDED, refunded)]


class DisputeSchema(_StripeObject):
    """charge.dispute.created: the disputed payment, for the disputed amount.

    The dispute's own metadata is usually empty (the order id sits on the charge, which the
    event does not include), so order_reference is often None: link by external_id.
    """

    amount = _minor_units(required=True)
    charge = fields.String(required=True)
    payment_intent = _optional_string()

    def records(self, data: dict[str, Any]) -> list[Any]:
        external_id = data["payment_intent"] or data["charge"]
        return [Payment(
            provider=PROVIDER, external_id=external_id, amount=_money(data["amount"], data["currency"]),
            status=PaymentStatus.DISPUTED, order_reference=_order_reference(data["metadata"]),
            occurred_at=data["created"] or data["event_created"], source_updated_at=data["event_created"],
            origin=_origin(external_id),
        )]


class _CustomerDetails(Lenient):
    email = _optional_string()


# checkout.session.completed fires when the customer finishes checkout, not when money arrives:
# - paid: captured.
# - no_payment_required: nothing is owed (a 100% discount, a free trial; amount_total is 0), so
#   the order is settled: captured, for 0.
# - unpaid: a delayed method (bank debit, voucher) is still in flight; Stripe follows with
#   checkout.session.async_payment_succeeded/_failed. The nearest canonical state is authorized
#   (promised, not received), never captured.
CHECKOUT_STATUSES = {
    "paid": PaymentStatus.CAPTURED,
    "no_payment_required": PaymentStatus.CAPTURED,
    "unpaid": PaymentStatus.AUTHORIZED,
}


class CheckoutSessionSchema(_StripeObject):
    """checkout.session.completed. A session without an amount (setup mode saves a card and
    takes no money) is not a payment: it maps to no record, and the event is processed as such."""

    currency = _Currency(load_default=None, allow_none=True)
    amount_total = _minor_units(load_default=None, allow_none=True)
    payment_status = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(CHECKOUT_STATUSES))
    payment_intent = _optional_string()
    client_reference_id = _optional_string()
    customer_email = _optional_string()
    customer_details = fields.Nested(_CustomerDetails, load_default=None, allow_none=True)

    def records(self, data: dict[str, Any]) -> list[Any]:
        if data["amount_total"] is None or data["currency"] is None or data["payment_status"] is None:
            return []
        external_id = data["payment_intent"] or data["id"]
        details_email = (data["customer_details"] or {}).get("email")
        return [Payment(
            provider=PROVIDER, external_id=external_id, amount=_money(data["amount_total"], data["currency"]),
            status=CHECKOUT_STATUSES[data["payment_status"]],
            order_reference=_order_reference(data["metadata"], data["client_reference_id"]),
            customer_email=_first(details_email, data["customer_email"]),
            occurred_at=data["created"] or data["event_created"], source_updated_at=data["event_created"],
            origin=_origin(external_id),
        )]


class RefundSchema(_StripeObject):
    """refund.created / refund.updated: one Refund keyed by the ``re_`` id.

    Refund.status (pending, requires_action, succeeded, failed, canceled) has no canonical field.
    Pending counts as refunded, as Stripe's own charge.amount_refunded does; failed or canceled
    means no money went back, so the record carries amount 0 and, keyed by the same id,
    supersedes the earlier version of the refund.
    """

    amount = _minor_units(required=True)
    charge = _optional_string()
    payment_intent = _optional_string()
    reason = _optional_string()
    status = _optional_string()

    def records(self, data: dict[str, Any]) -> list[Any]:
        minor = 0 if data["status"] in UNDONE_REFUND_STATUSES else data["amount"]
        return [Refund(
            origin=_origin(data["id"]), amount=_money(minor, data["currency"]),
            order_reference=_order_reference(data["metadata"]),
            payment_external_id=data["payment_intent"] or data["charge"], reason=data["reason"],
            occurred_at=data["created"] or data["event_created"],
        )]


TOPICS: dict[str, Handler] = {
    "payment_intent.succeeded": schema_handler(PaymentIntentSchema, EventType.PAYMENT_SUCCEEDED),
    "payment_intent.payment_failed": schema_handler(FailedPaymentIntentSchema, EventType.PAYMENT_FAILED),
    "charge.succeeded": schema_handler(ChargeSchema, EventType.PAYMENT_SUCCEEDED),
    "charge.refunded": schema_handler(RefundedChargeSchema, EventType.PAYMENT_REFUNDED),
    "charge.dispute.created": schema_handler(DisputeSchema, EventType.PAYMENT_DISPUTED),
    "checkout.session.completed": schema_handler(CheckoutSessionSchema, EventType.PAYMENT_SUCCEEDED),
    "refund.created": schema_handler(RefundSchema, EventType.PAYMENT_REFUNDED),
    "refund.updated": schema_handler(RefundSchema, EventType.PAYMENT_REFUNDED),
}
