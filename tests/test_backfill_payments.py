"""Backfill of payment events: Stripe payments and refunds and PayPal captures whose webhooks never reached the
hub are read from the platforms' event lists (the emitter service's, over the real stripe library and
PayPal's REST wire), stored as deliveries and processed as their webhooks would have been; the webhooks
arriving afterwards are duplicates and change nothing."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors import change_source
from connectors.outbound import Permanent
from hub.config import ConfigError, load_config_dict
from jobs.backfill import backfill, watermark
from sandbox.base import serve
from sandbox.emitters import EmitterService, Target
from sandbox.emitters.payment_events import PaymentEvents
from store.models import events

from .support import PAYPAL_WEBHOOK_ID, SECRETS, deliver, order_of, post, run_worker, signed, woo_order

STRIPE_KEY = "sk_test_51HubBackfill0000000000000000"
PAYPAL_ID, PAYPAL_SECRET = "AcHubBackfillClient", "EHubBackfillSecret0123456789"
DEAD_HUB = "http://127.0.0.1:9"  # nothing listens there: every delivery the emitters try fails


@pytest.fixture(autouse=True)
def _no_kept_tokens():
    """Each test's PayPal account is new: a token the process kept from another test's is not its."""
    from connectors.paypal import events as paypal_events

    paypal_events._tokens.clear()


@pytest.fixture
def platforms(paypal_cert_server):
    """The Stripe and PayPal accounts: the emitter service with its event lists and APIs, served on a free port.
    Its webhooks go nowhere unless a test posts them itself."""
    service = EmitterService(DEAD_HUB, stripe=Target("stripe", SECRETS["stripe"][0]),
                             paypal=Target("paypal", PAYPAL_WEBHOOK_ID), paypal_certs=paypal_cert_server,
                             events=PaymentEvents(stripe_api_key=STRIPE_KEY, paypal_client_id=PAYPAL_ID,
                                                  paypal_client_secret=PAYPAL_SECRET))
    with serve(service.app) as url:
        yield service, url


def channels(api_url: str, ca_bundle: str, **keys: dict) -> dict:
    return {"woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"]},
            "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"], "api_key": STRIPE_KEY,
                       "api_url": api_url, **keys.get("stripe", {})},
            "paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID, "cert_hosts": ["localhost"],
                       "cert_ca_bundle": ca_bundle, "client_id": PAYPAL_ID, "client_secret": PAYPAL_SECRET,
                       "api_url": api_url, **keys.get("paypal", {})}}


@pytest.fixture
def env(make_app, platforms, paypal_cert_server):
    service, url = platforms
    app = make_app(channels=channels(url, str(paypal_cert_server.ca_bundle)))
    return app, service


def rows(app, channel: str) -> list:
    with app.extensions["hub"].engine.connect() as conn:
        return conn.execute(select(events).where(events.c.channel == channel).order_by(events.c.id)).all()


def test_a_stripe_payment_and_refund_never_delivered_are_backfilled_and_their_late_webhooks_are_duplicates(env, auth):
    app, service = env
    hub, client = app.extensions["hub"], app.test_client()
    deliver(client, "woo", "order.created", woo_order())  # order 114, 40.00 USD
    run_worker(app)
    first = backfill(hub, "stripe")  # what hub scheduler's start does: the watermark, nothing to read yet
    assert (first.read, first.calls) == (0, 1)
    payment = service.stripe_payment("114", 4000, "usd", intent_id="pi_lost", deliver=False)["event"]
    refund = service.stripe_refund("pi_lost", 1000, "usd", deliver=False)["event"]

    report = backfill(hub, "stripe")
    assert (report.resource, report.read, report.stored, report.known, report.calls) == ("events", 2, 2, 0, 1)
    stored = rows(app, "stripe")
    assert [(r.topic, r.dedupe_key, r.headers) for r in stored] == [
        ("payment_intent.succeeded", payment["id"], {"X-Hub-Source": "backfill"}),
        ("refund.created", refund["id"], {"X-Hub-Source": "backfill"})]
    assert json.loads(stored[0].body) == payment
    assert watermark(hub, "stripe") == report.watermark == \
        datetime.fromtimestamp(refund["created"], UTC).strftime("%Y-%m-%dT%H:%M:%S")
    run_worker(app)
    order = order_of(client, auth, "woo")
    assert order["status"] == "partially_refunded"  # paid in full, then 10.00 of it refunded
    assert [(p["external_id"], p["order_id"], p["amount"]) for p in order["payments"]] == [
        ("pi_lost", order["id"], {"amount": "40.00", "currency": "USD"})]
    assert [r.status for r in rows(app, "stripe")] == ["processed", "processed"]

    for event in (payment, refund):  # Stripe retries: the webhooks arrive after all
        resp = post(client, "stripe", signed("stripe", json.dumps(event).encode()))
        assert resp.status_code == 200 and resp.json["status"] == "duplicate"
    run_worker(app)
    assert order_of(client, auth, "woo") == order and len(rows(app, "stripe")) == 2

    again = backfill(hub, "stripe")  # nothing new: one call (it re-reads the overlap and knows it)
    assert (again.calls, again.stored) == (1, 0) and again.watermark == report.watermark
    assert service.events.calls == {"GET /v1/events": 3}


def test_a_paypal_capture_never_delivered_is_backfilled_and_its_late_webhook_is_a_duplicate(env, auth,
                                                                                             paypal_cert_server):
    app, service = env
    hub, client = app.extensions["hub"], app.test_client()
    deliver(client, "woo", "order.created", woo_order())
    run_worker(app)
    assert backfill(hub, "paypal").calls == 2  # an access token, then one list call
    capture = service.paypal_capture("114", "40.00", "USD", capture_id="3C679366HH908993F", deliver=False)["event"]

    report = backfill(hub, "paypal")
    assert (report.read, report.stored, report.calls) == (1, 1, 1)  # the token is kept: one list call
    (row,) = rows(app, "paypal")
    assert (row.topic, row.dedupe_key, row.headers) == ("PAYMENT.CAPTURE.COMPLETED", capture["id"],
                                                        {"X-Hub-Source": "backfill"})
    run_worker(app)
    order = order_of(client, auth, "woo")
    assert order["status"] == "paid"
    assert [(p["external_id"], p["order_id"]) for p in order["payments"]] == [("3C679366HH908993F", order["id"])]
    assert [r.status for r in rows(app, "paypal")] == ["processed"]

    late = post(client, "paypal", paypal_cert_server.sign(PAYPAL_WEBHOOK_ID, json.dumps(capture).encode()))
    assert late.status_code == 200 and late.json["status"] == "duplicate"
    run_worker(app)
    assert order_of(client, auth, "woo") == order and len(rows(app, "paypal")) == 1

    service.events.calls.clear()
    again = backfill(hub, "paypal")  # nothing new: one list call (the token is kept until it expires)
    assert (again.calls, again.stored) == (1, 0)
    assert service.events.calls == {"GET /v1/notifications/webhooks-events": 1}


def test_many_missed_events_are_read_a_page_at_a_time_and_stored_oldest_first(env):
    app, service = env
    hub = app.extensions["hub"]
    since = datetime.now(UTC) - timedelta(minutes=1)
    intents = [service.stripe_payment(str(n), 100 + n, "eur", deliver=False)["event"]["id"] for n in range(230)]
    captures = [service.paypal_capture(str(n), "1.00", "EUR", deliver=False)["event"]["id"] for n in range(230)]
    service.events.stripe.append({**service.events.stripe[0], "id": "evt_other", "type": "customer.created"})

    stripe_report = backfill(hub, "stripe", since=since)
    assert (stripe_report.read, stripe_report.stored, stripe_report.calls) == (230, 230, 3)  # 100 a page
    assert [r.dedupe_key for r in rows(app, "stripe")] == intents
    paypal_report = backfill(hub, "paypal", since=since)
    assert (paypal_report.read, paypal_report.stored, paypal_report.calls) == (230, 230, 4)  # token + 3 pages
    assert [r.dedupe_key for r in rows(app, "paypal")] == captures
    assert service.events.calls["GET /v1/notifications/webhooks-events"] == 3


def test_one_paypal_source_keeps_its_token_and_gets_a_new_one_when_it_expired(env):
    app, service = env
    source = change_source(app.extensions["hub"].config.channels["paypal"])
    since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    service.paypal_capture("114", "40.00", "USD", deliver=False)
    assert [len(p) for p in source.changed_since(since)] == [1] and source.calls == 2
    list(source.changed_since(since))
    assert source.calls == 3  # the token is cached: one list call
    service.events.expire_tokens()
    assert [len(p) for p in source.changed_since(since)] == [1]
    assert source.calls == 6  # refused (401), a new token, the list again
    assert service.events.calls == {"POST /v1/oauth2/token": 2, "GET /v1/notifications/webhooks-events": 4}


def test_refused_keys_fail_the_backfill_say_why_and_never_show_the_secret(make_app, platforms, paypal_cert_server,
                                                                          caplog):
    service, url = platforms
    wrong_key, wrong_secret = "sk_test_51WrongKeyWrongKey1234", "EWrongSecretWrongSecret99"
    app = make_app(channels=channels(url, str(paypal_cert_server.ca_bundle), stripe={"api_key": wrong_key},
                                     paypal={"client_secret": wrong_secret}))
    hub = app.extensions["hub"]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Permanent, match="stripe list events: HTTP 401: the channel's api_key was refused") as st:
        backfill(hub, "stripe")
    with pytest.raises(Permanent, match="paypal get access token: HTTP 401") as pp:
        backfill(hub, "paypal")
    assert "invalid_client" in str(pp.value)
    with app.app_context():
        from jobs.backfill import backfill_all

        assert [line.split(":")[0] for line in backfill_all()] == ["stripe", "paypal"]  # failed, trying again
    for text in (str(st.value), str(pp.value), caplog.text):
        assert wrong_key not in text and wrong_secret not in text and wrong_key[-12:] not in text
    assert watermark(hub, "stripe") is None and watermark(hub, "paypal") is None
    assert rows(app, "stripe") == [] and rows(app, "paypal") == []


def test_payment_channels_read_their_events_with_all_their_api_keys_or_none():
    base = {"stripe": {"kind": "stripe", "webhook_secrets": ["whsec_x"]},
            "paypal": {"kind": "paypal", "webhook_id": "WH-1"}}
    cfg = load_config_dict({"channels": base})
    assert [change_source(ch) for ch in cfg.channels.values()] == [None, None]
    cfg = load_config_dict({"channels": {"stripe": {**base["stripe"], "api_key": STRIPE_KEY},
                                         "paypal": {**base["paypal"], "client_id": "c", "client_secret": "s"}}})
    assert all(ch.calls_api for ch in cfg.channels.values())
    assert [type(change_source(ch)).__name__ for ch in cfg.channels.values()] == ["StripeEvents", "PayPalEvents"]
    assert STRIPE_KEY not in repr(cfg.channels["stripe"])
    with pytest.raises(ConfigError, match=r"channels.paypal.client_secret: required with the other paypal API keys "
                                          r"\(client_id, client_secret\)"):
        load_config_dict({"channels": {"paypal": {**base["paypal"], "client_id": "c"}}})


def test_doctor_reads_one_event_with_each_payment_key_and_names_a_refused_one(make_app, platforms,
                                                                               paypal_cert_server):
    from hub.doctor import run_checks

    _, url = platforms
    app = make_app(channels=channels(url, str(paypal_cert_server.ca_bundle)))
    rows = {(r.subject, r.check): (r.result, r.detail) for r in run_checks(app.config["HUB_CONFIG"])}
    assert rows[("stripe", "API key")] == rows[("paypal", "API key")] == ("ok", "reads the account's events "
                                                                                "(backfill)")
    app = make_app(channels=channels(url, str(paypal_cert_server.ca_bundle), stripe={"api_key": "sk_test_wrong"},
                                     paypal={"client_secret": "wrong"}))
    rows = {(r.subject, r.check): (r.result, r.detail) for r in run_checks(app.config["HUB_CONFIG"])}
    assert rows[("stripe", "API key")][0] == rows[("paypal", "API key")][0] == "FAIL"
    assert "401" in rows[("stripe", "API key")][1] and "sk_test_wrong" not in str(rows)
