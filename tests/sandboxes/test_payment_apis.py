"""The emitters' Stripe and PayPal event APIs on the wire: every event built is kept (delivered, refused, never
delivered) and listed newest first with the platforms' auth, paging and error shapes; Stripe lists 30 days."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors import change_source
from hub.config import ConfigError, load_config_dict
from sandbox.base import serve
from sandbox.emitters import EmitterService, Target
from sandbox.emitters import payments as pay
from sandbox.emitters.payment_events import PaymentEvents
from sandbox.stack import SandboxStack, plan

from ..support import PAYPAL_WEBHOOK_ID, SECRETS
from ..support.run import free_port

STRIPE_KEY = "sk_test_51SandboxKey000000000000abcd"
PAYPAL = ("AcSandboxClient", "ESandboxSecret")
EVENTS = "/v1/notifications/webhooks-events"


@pytest.fixture
def api(paypal_cert_server):
    service = EmitterService("http://127.0.0.1:9", stripe=Target("stripe", SECRETS["stripe"][0]),
                             paypal=Target("paypal", PAYPAL_WEBHOOK_ID), paypal_certs=paypal_cert_server,
                             events=PaymentEvents(stripe_api_key=STRIPE_KEY, paypal_client_id=PAYPAL[0],
                                                  paypal_client_secret=PAYPAL[1]))
    with serve(service.app) as url:
        yield service, url


def stripe_get(url: str, key: str | None = STRIPE_KEY, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(f"{url}/v1/events", params=params, headers=headers, timeout=10)


def paypal_token(url: str, auth: tuple[str, str] = PAYPAL, grant: str | None = "client_credentials"):
    return requests.post(f"{url}/v1/oauth2/token", auth=auth, data={"grant_type": grant} if grant else {},
                         timeout=10)


def test_stripe_refuses_a_missing_or_wrong_key_as_stripe_does(api):
    _, url = api
    r = stripe_get(url, key=None)
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    assert r.json()["error"]["message"].startswith("You did not provide an API key.")
    wrong = "sk_test_51SomebodyElse0000wxyz"
    r = stripe_get(url, key=wrong)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Invalid API Key provided: sk_test_" + "*" * (len(wrong) - 12) + "wxyz"
    basic = requests.get(f"{url}/v1/events", auth=(STRIPE_KEY, ""), timeout=10)  # curl -u sk_test_...:
    assert basic.status_code == 200 and basic.headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize("params, status, param, message", [
    ({"limit": "101"}, 400, "limit", "less than or equal to 100"),
    ({"limit": "ten"}, 400, "limit", "Invalid integer: ten"),
    ({"created[gte]": "yesterday"}, 400, "created[gte]", "Invalid integer"),
    ({"created[since]": "1"}, 400, "created[since]", "Received unknown parameter: created[since]"),
    ({"starting_after": "evt_nope"}, 400, "starting_after", "No such event: 'evt_nope'"),
    ({"type": "refund.*", "types[]": "refund.created"}, 400, "types", "either type or types"),
])
def test_stripe_refuses_bad_parameters_naming_them(api, params, status, param, message):
    _, url = api
    r = stripe_get(url, **params)
    assert r.status_code == status and r.json()["error"]["param"] == param and message in r.json()["error"]["message"]


def test_stripe_lists_newest_first_pages_both_ways_and_filters(api):
    service, url = api
    ids = [service.stripe_payment(str(n), 100, "eur", deliver=False)["event"]["id"] for n in range(5)]
    refund = service.stripe_refund("pi_x", 50, "eur", deliver=False)["event"]["id"]
    first = stripe_get(url, limit=2).json()
    assert first["object"] == "list" and first["url"] == "/v1/events" and first["has_more"] is True
    assert [e["id"] for e in first["data"]] == [refund, ids[4]]
    second = stripe_get(url, limit=2, starting_after=ids[4]).json()
    assert [e["id"] for e in second["data"]] == [ids[3], ids[2]] and second["has_more"] is True
    back = stripe_get(url, limit=2, ending_before=ids[2]).json()  # the page before, still newest first
    assert [e["id"] for e in back["data"]] == [ids[4], ids[3]] and back["has_more"] is True
    only = stripe_get(url, **{"types[0]": "payment_intent.succeeded", "limit": "100"}).json()  # the library's form
    assert [e["id"] for e in only["data"]] == ids[::-1] and only["has_more"] is False
    wild = stripe_get(url, type="refund.*").json()
    assert [e["id"] for e in wild["data"]] == [refund]
    later = stripe_get(url, **{"created[gt]": str(int(time.time()) + 5)}).json()
    assert later["data"] == [] and later["has_more"] is False


def test_stripe_lists_the_last_30_days_only(api):
    service, url = api
    now = int(time.time())
    service.events.record_stripe(pay.stripe_payment("old", 100, "eur", created=now - 31 * 86400))
    kept = pay.stripe_payment("recent", 100, "eur", created=now - 29 * 86400)
    service.events.record_stripe(kept)
    assert [e["id"] for e in stripe_get(url).json()["data"]] == [kept["id"]]


def test_paypal_gives_tokens_to_its_client_credentials_only(api):
    _, url = api
    r = paypal_token(url, auth=(PAYPAL[0], "wrong"))
    assert r.status_code == 401 and r.json() == {"error": "invalid_client",
                                                 "error_description": "Client Authentication failed"}
    assert paypal_token(url, grant=None).json()["error"] == "unsupported_grant_type"
    ok = paypal_token(url).json()
    assert ok["token_type"] == "Bearer" and ok["expires_in"] == 32400 and ok["access_token"].startswith("A21AA")
    r = requests.get(f"{url}{EVENTS}", timeout=10)
    assert r.status_code == 401 and r.json()["name"] == "AUTHENTICATION_FAILURE"
    r = requests.get(f"{url}{EVENTS}", headers={"Authorization": "Bearer A21AAmadeup"}, timeout=10)
    assert r.status_code == 401


def test_paypal_lists_newest_first_and_pages_by_its_next_links(api):
    service, url = api
    ids = [service.paypal_capture(str(n), "1.00", "EUR", deliver=False)["event"]["id"] for n in range(5)]
    bearer = {"Authorization": f"Bearer {paypal_token(url).json()['access_token']}"}
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    page = requests.get(f"{url}{EVENTS}", params={"start_time": start, "page_size": 2}, headers=bearer,
                        timeout=10).json()
    assert set(page) == {"events", "count", "links"} and page["count"] == 2
    assert [e["id"] for e in page["events"]] == [ids[4], ids[3]]
    (nxt,) = page["links"]
    href = urlsplit(nxt["href"])
    assert (nxt["rel"], nxt["method"], href.path) == ("next", "GET", f"{EVENTS}/")
    query = parse_qs(href.query)
    assert (query["start_time"], query["page_size"], query["move_to"], query["index_id"]) == (
        [start], ["2"], ["next"], ["3"]) and "index_time" in query
    seen = [e["id"] for e in page["events"]]
    service.paypal_capture("late", "1.00", "EUR", deliver=False)  # newer than the listing: pages do not shift
    while nxt is not None:
        page = requests.get(nxt["href"], headers=bearer, timeout=10).json()
        seen += [e["id"] for e in page["events"]]
        nxt = next((link for link in page["links"] if link["rel"] == "next"), None)
    assert seen == ids[::-1]
    assert {link["rel"] for link in page["links"]} == {"previous"}
    r = requests.get(f"{url}{EVENTS}", params={"start_time": "last week"}, headers=bearer, timeout=10)
    assert r.status_code == 400 and r.json()["name"] == "INVALID_REQUEST"
    assert r.json()["details"][0]["field"] == "start_time"


def test_events_the_hub_never_received_are_kept_and_listed(api):
    service, url = api
    down = requests.post(f"{url}/_sandbox/stripe/payments", json={"order_ref": "1", "amount_minor": 100,
                                                                 "currency": "eur"}, timeout=30)
    assert down.status_code == 502 and "could not be reached" in down.json()["error"]
    held = requests.post(f"{url}/_sandbox/paypal/captures", json={"order_ref": "2", "amount": "1.00",
                                                                 "currency": "EUR", "deliver": False}, timeout=10)
    assert held.status_code == 200 and (held.json()["sent"], held.json()["hub_status"]) == (None, None)
    bad = requests.post(f"{url}/_sandbox/stripe/refunds", json={"intent_id": "pi_1", "amount_minor": 1,
                                                               "currency": "eur", "deliver": "no"}, timeout=10)
    assert bad.status_code == 422 and "deliver: true or false" in bad.json()["error"]
    assert [e["data"]["object"]["metadata"] for e in stripe_get(url).json()["data"]] == [{"order_id": "1"}]
    directory = requests.get(f"{url}/_sandbox/", timeout=10).json()
    assert directory["events"] == {"stripe": 1, "paypal": 1} and directory["sent"] == {}
    assert held.json()["event"] == service.events.paypal[0]


def test_a_payment_api_url_on_this_machine_must_be_the_emitters_port():
    raw = {"sandbox": {"emitter_port": 8075}, "channels": {
        "stripe": {"kind": "stripe", "webhook_secrets": ["whsec_x"], "api_key": "sk_test_x",
                   "api_url": "http://127.0.0.1:8075"}}}
    assert [s.key for s in plan(load_config_dict(raw, environ={}))] == ["emitter"]
    raw["channels"]["stripe"]["api_url"] = "http://127.0.0.1:8077"
    with pytest.raises(ConfigError, match=r"channels.stripe.api_url: the stripe sandbox's API is served by the "
                                          r"emitters, on sandbox.emitter_port \(8075\), not on port 8077"):
        plan(load_config_dict(raw, environ={}))


def test_hub_runs_sandboxes_serve_the_event_apis_to_the_channels_keys(tmp_path):
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    cfg = load_config_dict({"sandbox": {"emitter_port": port, "paypal_cert_port": free_port()}, "channels": {
        "stripe": {"kind": "stripe", "webhook_secrets": ["whsec_x"], "api_key": STRIPE_KEY, "api_url": api_url},
        "paypal": {"kind": "paypal", "webhook_id": "WH-1", "cert_hosts": ["localhost"],
                   "cert_ca_bundle": str(tmp_path / "ca.pem"), "client_id": PAYPAL[0], "client_secret": PAYPAL[1],
                   "api_url": api_url}}}, environ={})
    stack = SandboxStack(cfg, "http://127.0.0.1:9", var_dir=str(tmp_path))
    stack.start()
    try:
        stack.emitter.stripe_payment("1", 100, "eur", deliver=False)
        stack.emitter.paypal_capture("1", "1.00", "EUR", deliver=False)
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
        for channel in cfg.channels.values():
            assert [len(page) for page in change_source(channel).changed_since(since)] == [1]
    finally:
        stack.stop()
