"""PayPal offline verification against a certificate served over https on this machine."""

from __future__ import annotations

import pytest

from .support import PAYPAL_WEBHOOK_ID, corpus_bytes, event_rows, post

BODY = "paypal/webhook_event_payment_sale_completed_node_sdk_sample.json"


@pytest.fixture
def certs(paypal_cert_server):
    paypal_cert_server.fetches, paypal_cert_server.fail = 0, False
    return paypal_cert_server


@pytest.fixture
def pp_app(paypal_app, certs):
    return paypal_app


def test_valid_paypal_delivery_is_accepted_and_cert_fetched_once(pp_app, certs):
    client = pp_app.test_client()
    body = corpus_bytes(BODY)
    resp = post(client, "paypal", certs.sign(PAYPAL_WEBHOOK_ID, body))
    assert resp.status_code == 200 and resp.json["status"] == "accepted"
    row = event_rows(pp_app)[0]
    assert (row.topic, row.dedupe_key) == ("PAYMENT.SALE.COMPLETED", "WH-82L71649W50323023-5WC64761VS637831A")
    assert {k.lower(): v for k, v in row.headers.items()}["paypal-transmission-sig"] == "[redacted]"
    again = post(client, "paypal", certs.sign(PAYPAL_WEBHOOK_ID, body))
    assert again.json["status"] == "duplicate"
    assert certs.fetches == 1


def test_paypal_signature_for_another_webhook_id_is_401(pp_app, certs):
    resp = post(pp_app.test_client(), "paypal", certs.sign("WH-SOMEONE-ELSE", corpus_bytes(BODY)))
    assert resp.status_code == 401
    assert event_rows(pp_app) == []


def test_paypal_tampered_body_is_401(pp_app, certs):
    req = certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY))
    req.body = req.body.replace(b"6.01", b"9.01")
    assert post(pp_app.test_client(), "paypal", req).status_code == 401


def test_paypal_missing_headers_is_401(pp_app, certs):
    req = certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY))
    del req.headers["PAYPAL-TRANSMISSION-SIG"]
    assert post(pp_app.test_client(), "paypal", req).status_code == 401


@pytest.mark.parametrize("url", ["http://localhost:1/cert.pem", "https://evil.example/cert.pem",
                                 "https://user@localhost/cert.pem"])
def test_paypal_cert_only_from_configured_https_hosts(pp_app, certs, url):
    req = certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY), cert_url=url)
    assert post(pp_app.test_client(), "paypal", req).status_code == 401
    assert certs.fetches == 0


def test_paypal_cert_that_cannot_be_fetched_is_503(pp_app, certs):
    certs.fail = True
    resp = post(pp_app.test_client(), "paypal", certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY)))
    assert resp.status_code == 503
    assert event_rows(pp_app) == []
    certs.fail = False  # PayPal retries; now it goes through
    assert post(pp_app.test_client(), "paypal", certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY))).status_code == 200


def test_paypal_cert_from_untrusted_tls_is_503(make_app, certs):
    app = make_app(channels={"paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID,
                                        "cert_hosts": ["localhost"]}})  # system CAs do not know our test CA
    resp = post(app.test_client(), "paypal", certs.sign(PAYPAL_WEBHOOK_ID, corpus_bytes(BODY)))
    assert resp.status_code == 503
