"""Stripe events -> canonical payments and refunds, on the corpus objects wrapped as events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mappings import MapContext, Unmappable
from mappings.canonical import EventType, Money, Origin, Payment, PaymentSchema, PaymentStatus, Refund, validate_record
from mappings.stripe import TOPICS

from .support import corpus_json

CTX = MapContext("stripe")
EVENT_CREATED = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # the event() helper's created, 1700000000
FIXTURE_CREATED = datetime(2009, 2, 13, 23, 31, 30, tzinfo=UTC)  # fixtures3's created, 1234567890


def stripe_object(name: str) -> dict:
    return corpus_json(f"stripe/{name}")  # a fresh parse each call: tests may edit it


def event(obj: dict, type: str) -> dict:
    return {"id": "evt_test_0001", "object": "event", "type": type, "created": 1700000000, "data": {"object": obj}}


def run(obj: dict, type: str, ctx: MapContext = CTX):
    return TOPICS[type](event(obj, type), ctx)


def only_payment(mapped) -> Payment:
    [payment] = mapped.records
    assert isinstance(payment, Payment)
    assert validate_record(PaymentSchema(), payment) == payment  # valid against the canonical schema
    return payment


def test_the_topics_the_hub_maps():
    assert set(TOPICS) == {
        "payment_intent.succeeded", "payment_intent.payment_failed", "charge.succeeded", "charge.refunded",
        "charge.dispute.created", "checkout.session.completed", "refund.created", "refund.updated",
    }
    assert "plan.created" not in TOPICS  # object_event_fixtures3.json's topic: ignored by the hub


# ---- payment_intent ------------------------------------------------------------------------


def test_payment_intent_succeeded_fixtures3():
    pi = stripe_object("object_payment_intent_fixtures3.json")
    pi["metadata"] = {"order_id": "1001"}
    pi["receipt_email"] = "jenny.rosen@example.com"
    mapped = run(pi, "payment_intent.succeeded")
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.provider == "stripe"
    assert p.external_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    # amount_received is 0 in the fixture: a succeeded intent then falls back to amount (1099 cents)
    assert p.amount == Money(Decimal("10.99"), "USD")
    assert p.status is PaymentStatus.CAPTURED
    assert p.order_reference == "1001"
    assert p.customer_email == "jenny.rosen@example.com"
    assert p.refunded is None
    assert p.occurred_at == FIXTURE_CREATED
    assert p.source_updated_at == EVENT_CREATED
    assert p.origin == Origin("stripe", "pi_1PgafyB7WZ01zgkWSjxsAJo3")


def test_payment_intent_succeeded_djstripe_and_order_reference_keys_setting():
    pi = stripe_object("object_payment_intent_djstripe.json")
    p = only_payment(run(pi, "payment_intent.succeeded"))
    assert (p.external_id, p.amount, p.status) == ("pi_fakefakefakefakefake0001", Money(Decimal("20.00"), "USD"),
                                                   PaymentStatus.CAPTURED)
    assert p.order_reference is None  # metadata has no order_id
    assert p.occurred_at == datetime(2019, 7, 10, 23, 25, 59, tzinfo=UTC)

    ctx = MapContext("stripe", settings={"order_reference_keys": ["order_number", "djstripe_test_fake_id"]})
    assert only_payment(run(pi, "payment_intent.succeeded", ctx)).order_reference == "pi_fakefakefakefakefake0001"


def test_first_non_empty_metadata_key_wins():
    pi = stripe_object("object_payment_intent_djstripe.json")
    pi["metadata"] = {"order_number": "  ", "order_id": "A-17", "legacy": "B-9"}
    ctx = MapContext("stripe", settings={"order_reference_keys": ["order_number", "order_id", "legacy"]})
    assert only_payment(run(pi, "payment_intent.succeeded", ctx)).order_reference == "A-17"


def test_partially_captured_intent_reports_what_was_received():
    pi = stripe_object("object_payment_intent_djstripe.json")
    pi["amount_received"] = 1500
    assert only_payment(run(pi, "payment_intent.succeeded")).amount == Money(Decimal("15.00"), "USD")


def test_payment_intent_payment_failed():
    pi = stripe_object("object_payment_intent_djstripe.json")
    pi.update(status="requires_payment_method", amount_received=0, metadata={"order_id": "1002"})
    mapped = run(pi, "payment_intent.payment_failed")
    assert mapped.event_type is EventType.PAYMENT_FAILED
    p = only_payment(mapped)
    assert p.status is PaymentStatus.FAILED
    assert p.amount == Money(Decimal("20.00"), "USD")  # the amount attempted
    assert (p.external_id, p.order_reference) == ("pi_fakefakefakefakefake0001", "1002")


@pytest.mark.parametrize(("currency", "expected"), [
    ("jpy", Money(Decimal("1000"), "JPY")),
    ("eur", Money(Decimal("10.00"), "EUR")),
    ("kwd", Money(Decimal("1.000"), "KWD")),
])
def test_minor_units_follow_the_currency_exponent(currency, expected):
    pi = stripe_object("object_payment_intent_fixtures3.json")
    pi.update(amount=1000, amount_received=1000, currency=currency)
    amount = only_payment(run(pi, "payment_intent.succeeded")).amount
    assert amount == expected
    assert str(amount.amount) == str(expected.amount)  # the scale too: "10.00", not "10"


@pytest.mark.parametrize("bad", [10.5, "1000", True, None, -1])
def test_a_non_integer_amount_is_unmappable_and_names_the_field(bad):
    pi = stripe_object("object_payment_intent_fixtures3.json")
    pi["amount"] = bad
    with pytest.raises(Unmappable, match=r"^amount: "):
        run(pi, "payment_intent.succeeded")


def test_a_non_integer_amount_received_names_that_field():
    pi = stripe_object("object_payment_intent_djstripe.json")
    pi["amount_received"] = "20.00"
    with pytest.raises(Unmappable, match=r"amount_received: Not a valid integer"):
        run(pi, "payment_intent.succeeded")


def test_a_bad_currency_is_unmappable():
    pi = stripe_object("object_payment_intent_djstripe.json")
    pi["currency"] = "dollars"
    with pytest.raises(Unmappable, match=r"currency: Not an ISO 4217 currency code"):
        run(pi, "payment_intent.succeeded")


@pytest.mark.parametrize("payload", [{}, {"data": {}}, {"data": {"object": "pi_123"}}, []])
def test_a_body_that_is_not_an_event_is_unmappable(payload):
    with pytest.raises(Unmappable, match=r"data\.object: Missing the event's object"):
        TOPICS["payment_intent.succeeded"](payload, CTX)


# ---- charge ------------------------------------------------------------------------------------


def test_charge_succeeded_uncaptured_fixtures3_is_authorized():
    charge = stripe_object("object_charge_fixtures3.json")
    mapped = run(charge, "charge.succeeded")
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.external_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"  # no payment_intent: the charge id
    assert p.amount == Money(Decimal("1.00"), "USD")
    assert p.status is PaymentStatus.AUTHORIZED  # "captured": false
    assert p.origin == Origin("stripe", "ch_1PgafuB7WZ01zgkWXYmPNZs8")
    assert p.occurred_at == FIXTURE_CREATED


def test_charge_succeeded_captured_djstripe_is_keyed_by_its_payment_intent():
    charge = stripe_object("object_charge_djstripe.json")
    charge["metadata"]["order_id"] = "1003"
    charge["billing_details"]["email"] = "alex@example.com"
    p = only_payment(run(charge, "charge.succeeded"))
    assert p.external_id == "pi_fakefakefakefakefake0001"
    assert p.origin == Origin("stripe", "pi_fakefakefakefakefake0001")
    assert p.status is PaymentStatus.CAPTURED
    assert p.amount == Money(Decimal("20.00"), "USD")
    assert p.order_reference == "1003"
    assert p.customer_email == "alex@example.com"  # receipt_email is null: billing email


@pytest.mark.parametrize(("refunded", "status"), [
    (2000, PaymentStatus.REFUNDED),
    (500, PaymentStatus.PARTIALLY_REFUNDED),
])
def test_charge_refunded(refunded, status):
    charge = stripe_object("object_charge_djstripe.json")
    charge.update(amount_refunded=refunded, refunded=refunded == 2000, metadata={"order_id": "1004"})
    mapped = run(charge, "charge.refunded")
    assert mapped.event_type is EventType.PAYMENT_REFUNDED
    (payment,) = mapped.records  # the Refund records come from refund.* events (no double count)
    assert validate_record(PaymentSchema(), payment) == payment
    assert payment.external_id == "pi_fakefakefakefakefake0001"
    assert payment.status is status
    assert payment.amount == Money(Decimal("20.00"), "USD")
    assert payment.refunded == Money(Decimal(refunded) / 100, "USD")
    assert payment.order_reference == "1004"


def test_charge_refunded_fixtures3_without_payment_intent():
    charge = stripe_object("object_charge_fixtures3.json")
    charge.update(amount_refunded=100, refunded=True)
    (payment,) = run(charge, "charge.refunded").records
    assert (payment.external_id, payment.status) == ("ch_1PgafuB7WZ01zgkWXYmPNZs8", PaymentStatus.REFUNDED)
    assert payment.refunded == Money(Decimal("1.00"), "USD")


# ---- dispute ----------------------------------------------------------------------------------


def test_dispute_created_fixtures3_is_keyed_by_the_charge():
    mapped = run(stripe_object("object_dispute_fixtures3.json"), "charge.dispute.created")
    assert mapped.event_type is EventType.PAYMENT_DISPUTED
    p = only_payment(mapped)
    assert p.external_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"  # payment_intent is null
    assert p.status is PaymentStatus.DISPUTED
    assert p.amount == Money(Decimal("10.00"), "USD")
    assert p.order_reference is None
    assert p.occurred_at == FIXTURE_CREATED


def test_dispute_created_djstripe_is_keyed_by_the_payment_intent():
    dispute = stripe_object("object_dispute_djstripe.json")
    dispute["metadata"] = {"order_id": "1005"}
    p = only_payment(run(dispute, "charge.dispute.created"))
    assert p.external_id == "pi_1JAyTwJSZQVUcJYgBbsz0NuH"
    assert p.origin == Origin("stripe", "pi_1JAyTwJSZQVUcJYgBbsz0NuH")
    assert (p.amount, p.status, p.order_reference) == (Money(Decimal("10.00"), "USD"), PaymentStatus.DISPUTED, "1005")
    assert p.occurred_at == datetime(2021, 7, 8, 14, 45, 40, tzinfo=UTC)


# ---- refund -----------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["refund.created", "refund.updated"])
def test_refund_fixtures3(topic):
    refund_obj = stripe_object("object_refund_fixtures3.json")
    refund_obj.update(reason="requested_by_customer", metadata={"order_id": "1006"})
    mapped = run(refund_obj, topic)
    assert mapped.event_type is EventType.PAYMENT_REFUNDED
    [refund] = mapped.records
    assert isinstance(refund, Refund)
    assert refund.origin == Origin("stripe", "re_1Pgc72B7WZ01zgkWqPvrRrPE")
    assert refund.amount == Money(Decimal("1.00"), "USD")
    assert refund.payment_external_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"  # payment_intent is null
    assert refund.reason == "requested_by_customer"
    assert refund.order_reference == "1006"
    assert refund.occurred_at == FIXTURE_CREATED


def test_refund_prefers_the_payment_intent_as_payment_id():
    refund_obj = stripe_object("object_refund_fixtures3.json")
    refund_obj["payment_intent"] = "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    [refund] = run(refund_obj, "refund.created").records
    assert refund.payment_external_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"


@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_a_refund_that_failed_carries_zero(status):
    refund_obj = stripe_object("object_refund_fixtures3.json")
    refund_obj["status"] = status
    [refund] = run(refund_obj, "refund.updated").records
    assert refund.origin.external_id == "re_1Pgc72B7WZ01zgkWqPvrRrPE"  # supersedes the earlier version
    assert refund.amount == Money(Decimal("0.00"), "USD")


# ---- checkout.session -------------------------------------------------------------------------


def test_checkout_session_without_amount_is_no_payment():
    # The stripe-mock fixture has amount_total and currency null (as a setup-mode session does):
    # no money moved, so no Payment record.
    mapped = run(stripe_object("object_checkout_session_fixtures3.json"), "checkout.session.completed")
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED and mapped.records == []


def paid_session() -> dict:
    session = stripe_object("object_checkout_session_fixtures3.json")
    session.update(amount_total=1099, currency="eur", payment_status="paid", client_reference_id="order-1007")
    return session


def test_checkout_session_completed_paid():
    mapped = run(paid_session(), "checkout.session.completed")
    assert mapped.event_type is EventType.PAYMENT_SUCCEEDED
    p = only_payment(mapped)
    assert p.external_id == "pi_1PgafyB7WZ01zgkWSjxsAJo3"  # the session's payment_intent
    assert p.amount == Money(Decimal("10.99"), "EUR")
    assert p.status is PaymentStatus.CAPTURED
    assert p.order_reference == "order-1007"  # metadata is empty: client_reference_id
    assert p.customer_email == "example@example.com"  # customer_details.email
    assert p.occurred_at == FIXTURE_CREATED
    assert p.source_updated_at == EVENT_CREATED


def test_checkout_session_metadata_wins_over_client_reference_id():
    session = paid_session()
    session["metadata"] = {"order_id": "order-2001"}
    assert only_payment(run(session, "checkout.session.completed")).order_reference == "order-2001"


def test_checkout_session_without_payment_intent_is_keyed_by_the_session():
    session = paid_session()
    session["payment_intent"] = None
    p = only_payment(run(session, "checkout.session.completed"))
    assert p.external_id == session["id"]


@pytest.mark.parametrize(("payment_status", "amount_total", "status"), [
    ("unpaid", 1099, PaymentStatus.AUTHORIZED),  # delayed method in flight: promised, not received
    ("no_payment_required", 0, PaymentStatus.CAPTURED),  # nothing owed: settled
])
def test_checkout_session_not_paid(payment_status, amount_total, status):
    session = paid_session()
    session.update(payment_status=payment_status, amount_total=amount_total)
    p = only_payment(run(session, "checkout.session.completed"))
    assert p.status is status
    assert p.amount.currency == "EUR"
    assert p.amount.amount == Decimal(amount_total) / 100


def test_checkout_session_unknown_payment_status_is_unmappable():
    session = paid_session()
    session["payment_status"] = "pending"
    with pytest.raises(Unmappable, match=r"payment_status: Must be one of"):
        run(session, "checkout.session.completed")


def test_stripe_cli_checkout_event_with_a_minimal_object_is_no_payment():
    # The CLI's resend test sends {"id": "cs_test_12345"} only: nothing says money moved.
    body = corpus_json("stripe/event_checkout_session_completed_stripe_cli_test.json")
    assert body["type"] == "checkout.session.completed"
    assert TOPICS[body["type"]](body, CTX).records == []
