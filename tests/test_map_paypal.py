"""PayPal webhook events -> canonical payments and refunds: corpus bodies, and bodies built from
PayPal's documented resource shapes for the topics the corpus has no delivery of."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mappings import MapContext, Unmappable
from mappings.canonical import EventType, Money, Origin, Payment, PaymentSchema, PaymentStatus, Refund, validate_record
from mappings.paypal import TOPICS

from .support import corpus_json

CTX = MapContext("paypal")
EVENT_TIME = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)


def paypal_event(event_type: str, resource_type: str, resource: dict) -> dict:
    return {"id": "WH-TEST-0001", "event_version": "1.0", "create_time": "2026-11-20T10:00:05.123Z",
            "resource_type": resource_type, "event_type": event_type, "summary": "test", "resource": resource}


def run(event: dict, ctx: MapContext = CTX):
    return TOPICS[event["event_type"]](event, ctx)


def only_payment(mapped) -> Payment:
    [payment] = mapped.records
    assert isinstance(payment, Payment)
    assert validate_record(PaymentSchema(), payment) == payment  # valid against the canonical schema
    return payment


def capture(**overrides) -> dict:
    """A v2 capture as PAYMENT.CAPTURE.* delivers it (Payments v2 reference, capture object)."""
    body = {
        "id": "2GG279541U471931P", "status": "COMPLETED",
        "amount": {"currency_code": "EUR", "value": "10.99"},
        "final_capture": True, "seller_protection": {"status": "ELIGIBLE"},
        "seller_receivable_breakdown": {"gross_amount": {"currency_code": "EUR", "value": "10.99"},
                                        "paypal_fee": {"currency_code": "EUR", "value": "0.72"},
                                        "net_amount": {"currency_code": "EUR", "value": "10.27"}},
        "custom_id": "order-1001", "invoice_id": "INV-1001",
        "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
        "create_time": "2026-11-20T10:00:00Z", "update_time": "2026-11-20T10:00:01Z",
        "links": [
            {"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "self", "method": "GET"},
            {"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P/refund", "rel": "refund",
             "method": "POST"},
            {"href": "https://api.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "up", "method": "GET"},
        ],
    }
    body.update(overrides)
    return body


def test_the_topics_the_hub_maps():
    assert set(TOPICS) == {"PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.REFUNDED",
                           "CHECKOUT.ORDER.APPROVED", "CUSTOMER.DISPUTE.CREATED", "PAYMENT.SALE.COMPLETED"}


# ---- corpus ---------------------------------------------------------------------------------


def test_payment_sale_completed_node_sdk_sample():
    body = corpus_json("paypal/webhook_event_payment_sale_completed_node_sdk_sample.json")
    mapped = run(body)
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.provider == "paypal"
    assert p.external_id == "8RS6210148826604N"
    assert p.amount == Money(Decimal("6.01"), "USD")
    assert str(p.amount.amount) == "6.01"
    assert p.status is PaymentStatus.CAPTURED
    assert p.order_reference == "Hello World!"  # custom; invoice_number is ""
    assert p.occurred_at == datetime(2016, 10, 5, 14, 57, 18, tzinfo=UTC)
    assert p.source_updated_at == datetime(2016, 10, 5, 14, 57, 26, tzinfo=UTC)
    assert p.origin == Origin("paypal", "8RS6210148826604N")


def test_payment_sale_uses_invoice_number_when_custom_is_empty():
    body = corpus_json("paypal/webhook_event_payment_sale_completed_node_sdk_sample.json")
    body["resource"].update(custom="", invoice_number="48787589673111")
    assert only_payment(run(body)).order_reference == "48787589673111"


def test_payment_authorization_created_is_ignored():
    body = corpus_json("paypal/webhook_event_payment_authorization_created_openapi.json")
    assert body["event_type"] == "PAYMENT.AUTHORIZATION.CREATED"
    assert body["event_type"] not in TOPICS


def test_payments_payment_created_is_ignored():
    body = corpus_json("paypal/webhook_event_payments_payment_created_php_sdk_sample.json")
    assert body["event_type"] == "PAYMENTS.PAYMENT.CREATED"
    assert body["event_type"] not in TOPICS  # its sale arrives on its own as PAYMENT.SALE.COMPLETED


@pytest.mark.parametrize(("name", "count"), [
    ("paypal/webhooks_api_testGetEvent_php_sdk.json", 1),
    ("paypal/webhooks_api_testEventSearch_php_sdk.json", 2),
])
def test_events_recorded_by_the_php_sdk(name, count):
    body = corpus_json(name)["response"]["body"]
    events = body["events"] if "events" in body else [body]
    assert len(events) == count
    mapped = [TOPICS[e["event_type"]](e, CTX) for e in events if e["event_type"] in TOPICS]
    # The recordings hold PAYMENT.AUTHORIZATION.CREATED only: every one is ignored.
    assert {e["event_type"] for e in events} == {"PAYMENT.AUTHORIZATION.CREATED"}
    assert mapped == []


# ---- captures -------------------------------------------------------------------------------


def test_capture_completed():
    mapped = run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture()))
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.provider == "paypal"
    assert p.external_id == "2GG279541U471931P"
    assert p.amount == Money(Decimal("10.99"), "EUR")
    assert p.status is PaymentStatus.CAPTURED
    assert p.order_reference == "order-1001"  # custom_id wins over invoice_id
    assert p.occurred_at == datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    assert p.source_updated_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)
    assert p.origin == Origin("paypal", "2GG279541U471931P")
    assert p.refunded is None and p.customer_email is None


@pytest.mark.parametrize("custom_id", [None, "", "   "])
def test_capture_uses_invoice_id_when_custom_id_is_absent(custom_id):
    resource = capture()
    if custom_id is None:
        del resource["custom_id"]
    else:
        resource["custom_id"] = custom_id
    p = only_payment(run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", resource)))
    assert p.order_reference == "INV-1001"


def test_paypal_order_id_is_never_our_order_reference():
    resource = capture()
    del resource["custom_id"], resource["invoice_id"]
    p = only_payment(run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", resource)))
    assert p.order_reference is None  # supplementary_data.related_ids.order_id is PayPal's, not ours


def test_capture_times_fall_back_to_the_event_and_are_utc():
    resource = capture(create_time="2026-11-20T03:00:00-07:00")
    del resource["update_time"]
    p = only_payment(run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", resource)))
    assert p.occurred_at == datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    assert p.occurred_at.utcoffset().total_seconds() == 0
    assert p.source_updated_at == EVENT_TIME.replace(microsecond=123000)


def test_capture_denied():
    mapped = run(paypal_event("PAYMENT.CAPTURE.DENIED", "capture", capture(status="DECLINED")))
    assert mapped.event_type is EventType.PAYMENT_FAILED
    p = only_payment(mapped)
    assert (p.external_id, p.status, p.amount) == ("2GG279541U471931P", PaymentStatus.FAILED,
                                                   Money(Decimal("10.99"), "EUR"))


@pytest.mark.parametrize("value", ["10.99", 10.99, Decimal("10.99")])
def test_amount_is_exact_whatever_json_gave(value):
    resource = capture(amount={"currency_code": "eur", "value": value})
    amount = only_payment(run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", resource))).amount
    assert amount == Money(Decimal("10.99"), "EUR")
    assert isinstance(amount.amount, Decimal)


def test_a_json_number_parsed_as_float_is_still_exact():
    body = json.dumps(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture()))
    body = json.loads(body.replace('"value": "10.99"', '"value": 10.99'))
    assert body["resource"]["amount"]["value"] == 10.99  # a float now
    amount = only_payment(run(body)).amount
    assert str(amount.amount) == "10.99"


@pytest.mark.parametrize(("amount", "field"), [
    ({"currency_code": "EUR", "value": "ten"}, "amount.value: Not a valid number."),
    ({"currency_code": "EUR", "value": "NaN"}, "amount.value: "),
    ({"currency_code": "EURO", "value": "1.00"}, "amount.currency_code: Not an ISO 4217 currency code."),
    ({"value": "1.00"}, "amount.currency_code: Missing data for required field."),
])
def test_a_bad_amount_is_unmappable_and_names_the_field(amount, field):
    with pytest.raises(Unmappable) as err:
        run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture(amount=amount)))
    assert field in str(err.value)


def test_a_time_without_offset_is_unmappable():
    with pytest.raises(Unmappable, match=r"create_time: Not a valid aware datetime"):
        run(paypal_event("PAYMENT.CAPTURE.COMPLETED", "capture", capture(create_time="2026-11-20T10:00:00")))


@pytest.mark.parametrize("payload", [{}, {"resource": None}, {"resource": "2GG279541U471931P"}, []])
def test_a_body_that_is_not_an_event_is_unmappable(payload):
    with pytest.raises(Unmappable, match=r"resource: Missing the event's resource"):
        TOPICS["PAYMENT.CAPTURE.COMPLETED"](payload, CTX)


# ---- refunds --------------------------------------------------------------------------------


def refund(**overrides) -> dict:
    """A v2 refund as PAYMENT.CAPTURE.REFUNDED delivers it (resource_type "refund")."""
    body = {
        "id": "1Y107995YT783435V", "status": "COMPLETED",
        "amount": {"currency_code": "EUR", "value": "4.50"},
        "seller_payable_breakdown": {"gross_amount": {"currency_code": "EUR", "value": "4.50"},
                                     "net_amount": {"currency_code": "EUR", "value": "4.32"}},
        "custom_id": "order-1001", "invoice_id": "INV-1001", "note_to_payer": "Damaged on arrival",
        "create_time": "2026-11-21T12:13:29-07:00", "update_time": "2026-11-21T12:13:29-07:00",
        "links": [
            {"href": "https://api.paypal.com/v2/payments/refunds/1Y107995YT783435V", "rel": "self", "method": "GET"},
            {"href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P", "rel": "up", "method": "GET"},
        ],
    }
    body.update(overrides)
    return body


def test_capture_refunded():
    mapped = run(paypal_event("PAYMENT.CAPTURE.REFUNDED", "refund", refund()))
    assert mapped.event_type is EventType.PAYMENT_REFUNDED
    [r] = mapped.records  # a Refund only: the refund does not say whether the capture is fully refunded
    assert isinstance(r, Refund)
    assert r.origin == Origin("paypal", "1Y107995YT783435V")
    assert r.amount == Money(Decimal("4.50"), "EUR")
    assert r.payment_external_id == "2GG279541U471931P"  # from the "up" link
    assert r.order_reference == "order-1001"
    assert r.reason == "Damaged on arrival"
    assert r.occurred_at == datetime(2026, 11, 21, 19, 13, 29, tzinfo=UTC)


def test_refund_without_an_up_link_has_no_payment_id():
    links = [{"href": "https://api.paypal.com/v2/payments/refunds/1Y107995YT783435V", "rel": "self"}]
    resource = refund(links=links, custom_id=None)
    [r] = run(paypal_event("PAYMENT.CAPTURE.REFUNDED", "refund", resource)).records
    assert r.payment_external_id is None
    assert r.order_reference == "INV-1001"


def test_a_cancelled_refund_carries_zero():
    [r] = run(paypal_event("PAYMENT.CAPTURE.REFUNDED", "refund", refund(status="CANCELLED"))).records
    assert r.amount == Money(Decimal("0.00"), "EUR")


# ---- checkout order -------------------------------------------------------------------------


def order(**overrides) -> dict:
    """A v2 order as CHECKOUT.ORDER.APPROVED delivers it (Orders v2 reference, order object)."""
    body = {
        "id": "5O190127TN364715T", "intent": "CAPTURE", "status": "APPROVED",
        "purchase_units": [{"reference_id": "default", "amount": {"currency_code": "USD", "value": "100.00"},
                            "payee": {"email_address": "merchant@example.com"},
                            "custom_id": "order-1002", "invoice_id": "INV-1002"}],
        "payer": {"name": {"given_name": "John", "surname": "Doe"}, "email_address": "customer@example.com",
                  "payer_id": "QYR5Z8XDVJNXQ"},
        "create_time": "2026-11-20T09:59:00Z",
        "links": [{"href": "https://api.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "self",
                   "method": "GET"}],
    }
    body.update(overrides)
    return body


def test_checkout_order_approved_is_authorized():
    mapped = run(paypal_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order()))
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.status is PaymentStatus.AUTHORIZED  # approved, not captured
    assert p.external_id == "5O190127TN364715T"
    assert p.amount == Money(Decimal("100.00"), "USD")
    assert p.order_reference == "order-1002"
    assert p.customer_email == "customer@example.com"
    assert p.occurred_at == datetime(2026, 11, 20, 9, 59, tzinfo=UTC)
    assert p.source_updated_at == EVENT_TIME.replace(microsecond=123000)  # no update_time: the event's


def test_checkout_order_uses_invoice_id_when_custom_id_is_absent():
    resource = order()
    del resource["purchase_units"][0]["custom_id"]
    assert only_payment(run(paypal_event("CHECKOUT.ORDER.APPROVED", "checkout-order", resource))).order_reference \
        == "INV-1002"


def test_checkout_order_without_purchase_units_is_unmappable():
    with pytest.raises(Unmappable, match=r"purchase_units: Shorter than minimum length 1"):
        run(paypal_event("CHECKOUT.ORDER.APPROVED", "checkout-order", order(purchase_units=[])))


# ---- disputes -------------------------------------------------------------------------------


def dispute(**overrides) -> dict:
    """A dispute as CUSTOMER.DISPUTE.CREATED delivers it (Disputes v1 reference, dispute object)."""
    body = {
        "dispute_id": "PP-D-21345",
        "create_time": "2026-11-25T08:00:00.000Z", "update_time": "2026-11-25T08:00:02.000Z",
        "disputed_transactions": [{
            "seller_transaction_id": "2GG279541U471931P", "create_time": "2026-11-20T10:00:00.000Z",
            "transaction_status": "COMPLETED", "gross_amount": {"currency_code": "EUR", "value": "10.99"},
            "invoice_number": "INV-1001", "custom": "order-1001",
        }],
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "status": "OPEN",
        "dispute_amount": {"currency_code": "EUR", "value": "10.99"},
        "dispute_life_cycle_stage": "INQUIRY", "dispute_channel": "INTERNAL",
        "links": [{"href": "https://api.paypal.com/v1/customer/disputes/PP-D-21345", "rel": "self", "method": "GET"}],
    }
    body.update(overrides)
    return body


def test_customer_dispute_created():
    mapped = run(paypal_event("CUSTOMER.DISPUTE.CREATED", "dispute", dispute()))
    assert mapped.event_type is EventType.PAYMENT_DISPUTED
    p = only_payment(mapped)
    assert p.status is PaymentStatus.DISPUTED
    assert p.external_id == "2GG279541U471931P"  # the disputed capture
    assert p.origin == Origin("paypal", "2GG279541U471931P")
    assert p.amount == Money(Decimal("10.99"), "EUR")
    assert p.order_reference == "order-1001"
    assert p.occurred_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert p.source_updated_at == datetime(2026, 11, 25, 8, 0, 2, tzinfo=UTC)


def test_dispute_without_transactions_is_keyed_by_the_dispute():
    p = only_payment(run(paypal_event("CUSTOMER.DISPUTE.CREATED", "dispute", dispute(disputed_transactions=[]))))
    assert p.external_id == "PP-D-21345"
    assert p.order_reference is None
