"""PayPal webhook events -> canonical ``Payment`` and ``Refund`` records.

A delivery is a PayPal event (``{"id", "event_type", "create_time", "resource_type", "resource"}``);
the topic is ``event_type``. Each schema reads the one resource its topics carry (a v2 capture,
refund or order, a dispute, a v1 sale), with a ``@pre_load`` that unwraps the envelope and a
``@post_load`` that returns the records. Money is exact: PayPal sends amounts as decimal strings
and they become ``Decimal`` unchanged (a JSON number goes through ``str`` first, never float
arithmetic). Our order number is the merchant-set ``custom_id`` (v1 ``custom``), else the
``invoice_id`` (v1 ``invoice_number``); PayPal's own order id is never taken for ours. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, post_load, pre_load, validate

from . import Handler, current_ctx
from .canonical import EventType, Money, Origin, Payment, PaymentStatus, Refund
from .common import Lenient, schema_handler

PROVIDER = "paypal"
# The envelope's ``create_time`` travels into the resource's schema under this key (a dotted
# name no PayPal resource uses, and one that reads well in an error message).
EVENT_CREATE_TIME = "event.create_time"
# Refund.status values meaning no money went back.
UNDONE_REFUND_STATUSES = frozenset({"CANCELLED", "FAILED"})
# The references tried for our order number (v1 ``custom`` / ``invoice_number`` are the same two).
DEFAULT_ORDER_REFERENCE_KEYS = ("custom_id", "invoice_id")


class _UtcDateTime(fields.AwareDateTime):
    """RFC 3339 with Z or an offset -> aware UTC. A time without offset is refused, not guessed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", default_timezone=None, load_default=None, allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


class _Currency(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(r"^[A-Z]{3}$", error="Not an ISO 4217 currency code."), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


def _amount() -> fields.Decimal:
    # fields.Decimal builds Decimal(str(value)): "10.99" and a stray JSON 10.99 both give 10.99 exactly.
    return fields.Decimal(required=True, validate=validate.Range(min=0))


def _optional_string() -> fields.String:
    return fields.String(load_default=None, allow_none=True)


def _first(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _reference(custom: str | None, invoice: str | None) -> str | None:
    """Our order number: the channel's ``order_reference_keys`` in order (default custom_id, invoice_id)."""
    keys = current_ctx().settings.get("order_reference_keys") or DEFAULT_ORDER_REFERENCE_KEYS
    values = {"custom_id": custom, "invoice_id": invoice}
    return _first(*(values.get(key) for key in keys))


def _origin(external_id: str) -> Origin:
    return Origin(current_ctx().channel, external_id)


class _Money(Lenient):
    """v2 money: ``{"currency_code": "EUR", "value": "10.99"}``."""

    value = _amount()
    currency_code = _Currency(required=True)

    @post_load
    def _money(self, data: dict[str, Any], **_: Any) -> Money:
        return Money(data["value"], data["currency_code"])


class _LegacyAmount(Lenient):
    """v1 amount: ``{"total": "6.01", "currency": "USD", "details": {...}}``."""

    total = _amount()
    currency = _Currency(required=True)

    @post_load
    def _money(self, data: dict[str, Any], **_: Any) -> Money:
        return Money(data["total"], data["currency"])


class _Link(Lenient):
    href = fields.String(required=True)
    rel = fields.String(required=True)


class _Resource(Lenient):
    """The ``resource`` of an event; subclasses turn it into records in ``records``."""

    create_time = _UtcDateTime()
    update_time = _UtcDateTime()
    event_create_time = _UtcDateTime(data_key=EVENT_CREATE_TIME)

    @pre_load
    def _envelope(self, event: Any, **_: Any) -> dict[str, Any]:
        resource = event.get("resource") if isinstance(event, dict) else None
        if not isinstance(resource, dict):
            raise ValidationError("Missing the event's resource (is this a PayPal webhook event?).", "resource")
        return {**resource, EVENT_CREATE_TIME: event.get("create_time")}

    @post_load
    def _records(self, data: dict[str, Any], **_: Any) -> list[Any]:
        return self.records(data)

    def records(self, data: dict[str, Any]) -> list[Any]:
        raise NotImplementedError

    @staticmethod
    def times(data: dict[str, Any]) -> dict[str, datetime | None]:
        event_time = data["event_create_time"]
        return {"occurred_at": data["create_time"] or event_time,
                "source_updated_at": data["update_time"] or event_time}


class CaptureSchema(_Resource):
    """PAYMENT.CAPTURE.COMPLETED: a v2 capture. ``supplementary_data.related_ids.order_id`` is
    PayPal's checkout order, not ours, and is deliberately not read."""

    STATUS = PaymentStatus.CAPTURED
    id = fields.String(required=True, validate=validate.Length(min=1))
    amount = fields.Nested(_Money, required=True)
    custom_id = _optional_string()
    invoice_id = _optional_string()

    def records(self, data: dict[str, Any]) -> list[Any]:
        return [Payment(
            provider=PROVIDER, external_id=data["id"], amount=data["amount"], status=self.STATUS,
            order_reference=_reference(data["custom_id"], data["invoice_id"]), origin=_origin(data["id"]),
            **self.times(data),
        )]


class DeniedCaptureSchema(CaptureSchema):
    """PAYMENT.CAPTURE.DENIED: the same capture resource, the money did not arrive."""

    STATUS = PaymentStatus.FAILED


class RefundSchema(_Resource):
    """PAYMENT.CAPTURE.REFUNDED: the resource is the v2 refund, not the capture.

    Only a Refund record: the refund does not say whether the capture is now fully or partly
    refunded (it carries neither the capture's amount nor its status), so no Payment status is
    guessed. The refunded capture is the last path segment of the ``rel: "up"`` link.
    """

    id = fields.String(required=True, validate=validate.Length(min=1))
    amount = fields.Nested(_Money, required=True)
    status = _optional_string()
    custom_id = _optional_string()
    invoice_id = _optional_string()
    note_to_payer = _optional_string()
    links = fields.List(fields.Nested(_Link), load_default=list)

    def records(self, data: dict[str, Any]) -> list[Any]:
        amount = data["amount"]
        if data["status"] in UNDONE_REFUND_STATUSES:  # nothing went back; keyed by the refund id, this supersedes it
            amount = Money(Decimal(0).quantize(amount.amount), amount.currency)
        return [Refund(
            origin=_origin(data["id"]), amount=amount,
            order_reference=_reference(data["custom_id"], data["invoice_id"]),
            payment_external_id=_capture_id(data["links"]), reason=_first(data["note_to_payer"]),
            occurred_at=data["create_time"] or data["event_create_time"],
        )]


def _capture_id(links: list[dict[str, Any]]) -> str | None:
    for link in links:
        if link["rel"] == "up":
            parts = urlsplit(link["href"]).path.rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == "captures" and parts[-1]:
                return parts[-1]
    return None


class _PurchaseUnit(Lenient):
    amount = fields.Nested(_Money, required=True)
    custom_id = _optional_string()
    invoice_id = _optional_string()


class _Payer(Lenient):
    email_address = _optional_string()


class OrderSchema(_Resource):
    """CHECKOUT.ORDER.APPROVED: the buyer approved a v2 order; nothing is captured yet, so the
    Payment is authorized. It is keyed by the order id; the capture that follows is a separate
    Payment keyed by the capture id. Orders with several purchase units (marketplace payouts to
    several payees) are read from the first unit only."""

    id = fields.String(required=True, validate=validate.Length(min=1))
    purchase_units = fields.List(fields.Nested(_PurchaseUnit), required=True, validate=validate.Length(min=1))
    payer = fields.Nested(_Payer, load_default=None, allow_none=True)

    def records(self, data: dict[str, Any]) -> list[Any]:
        unit = data["purchase_units"][0]
        return [Payment(
            provider=PROVIDER, external_id=data["id"], amount=unit["amount"], status=PaymentStatus.AUTHORIZED,
            order_reference=_reference(unit["custom_id"], unit["invoice_id"]),
            customer_email=_first((data["payer"] or {}).get("email_address")), origin=_origin(data["id"]),
            **self.times(data),
        )]


class _DisputedTransaction(Lenient):
    seller_transaction_id = _optional_string()
    custom = _optional_string()
    invoice_number = _optional_string()


class DisputeSchema(_Resource):
    """CUSTOMER.DISPUTE.CREATED: the disputed capture (first disputed transaction), for the
    disputed amount; the dispute id stands in when PayPal names no transaction. The transaction's
    ``custom`` / ``invoice_number`` are the capture's custom_id / invoice_id, so the same order rule."""

    dispute_id = fields.String(required=True, validate=validate.Length(min=1))
    dispute_amount = fields.Nested(_Money, required=True)
    disputed_transactions = fields.List(fields.Nested(_DisputedTransaction), load_default=list)

    def records(self, data: dict[str, Any]) -> list[Any]:
        txn = data["disputed_transactions"][0] if data["disputed_transactions"] else {}
        external_id = _first(txn.get("seller_transaction_id")) or data["dispute_id"]
        return [Payment(
            provider=PROVIDER, external_id=external_id, amount=data["dispute_amount"], status=PaymentStatus.DISPUTED,
            order_reference=_reference(txn.get("custom"), txn.get("invoice_number")), origin=_origin(external_id),
            **self.times(data),
        )]


class SaleSchema(_Resource):
    """PAYMENT.SALE.COMPLETED (v1 Payments API): a completed sale is captured money."""

    id = fields.String(required=True, validate=validate.Length(min=1))
    amount = fields.Nested(_LegacyAmount, required=True)
    custom = _optional_string()
    invoice_number = _optional_string()

    def records(self, data: dict[str, Any]) -> list[Any]:
        return [Payment(
            provider=PROVIDER, external_id=data["id"], amount=data["amount"], status=PaymentStatus.CAPTURED,
            order_reference=_reference(data["custom"], data["invoice_number"]), origin=_origin(data["id"]),
            **self.times(data),
        )]


# Not mapped, so the hub records them as ignored: PAYMENT.AUTHORIZATION.CREATED (a v1 hold, no
# money moved) and PAYMENTS.PAYMENT.CREATED (the v1 payment wrapper; its sale arrives on its own
# as PAYMENT.SALE.COMPLETED, mapping both would report one payment twice).
TOPICS: dict[str, Handler] = {
    "PAYMENT.CAPTURE.COMPLETED": schema_handler(CaptureSchema, EventType.PAYMENT_SUCCEEDED),
    "PAYMENT.CAPTURE.DENIED": schema_handler(DeniedCaptureSchema, EventType.PAYMENT_FAILED),
    "PAYMENT.CAPTURE.REFUNDED": schema_handler(RefundSchema, EventType.PAYMENT_REFUNDED),
    # No "authorized" event type exists; the status says the money is not captured yet.
    "CHECKOUT.ORDER.APPROVED": schema_handler(OrderSchema, EventType.PAYMENT_SUCCEEDED),
    "CUSTOMER.DISPUTE.CREATED": schema_handler(DisputeSchema, EventType.PAYMENT_DISPUTED),
    "PAYMENT.SALE.COMPLETED": schema_handler(SaleSchema, EventType.PAYMENT_SUCCEEDED),
}
