"""HubSpotClient against the HubSpot sandbox: what lands in the portal (contacts, one deal per order key, one
association, notes on both timelines), how many calls it took, and how each kind of failure surfaces
(Throttled waited out, DAILY and 5xx/423/network as Retryable, 400/401 as Permanent, no token in any message)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.consts import DEFAULT_STAGES, ORDER_STATUS_STAGE
from connectors.outbound import Permanent, Retryable, Throttled
from mappings.canonical import OrderStatus
from sandbox.base import serve
from sandbox.hubspot import HubSpotSandbox

TOKEN = "pat-na1-99999999-8888-7777-6666-555555555555"


@pytest.fixture
def crm():
    hub = HubSpotSandbox(token=TOKEN, hub_properties=True)
    with serve(hub.app) as url:
        yield hub, HubSpotClient(url, TOKEN, timeout_s=5)


def test_upsert_contacts_creates_then_updates_by_email(crm):
    hub, client = crm
    first = client.upsert_contacts([{"email": "Ada@Example.com", "firstname": "Ada", "phone": None},
                                    {"email": "grace@example.com", "firstname": "Grace"}])
    assert set(first) == {"ada@example.com", "grace@example.com"}
    again = client.upsert_contacts([{"email": "ada@example.com", "lastname": "Lovelace"}])
    assert again == {"ada@example.com": first["ada@example.com"]}
    ada = client.get("contacts", first["ada@example.com"], ["firstname", "lastname", "phone"])["properties"]
    assert (ada["firstname"], ada["lastname"], ada["phone"]) == ("Ada", "Lovelace", None)
    assert hub.stats["creates"] == {"contacts": 2} and hub.stats["updates"] == {"contacts": 1}
    with pytest.raises(ValueError):
        client.upsert_contacts([{"firstname": "No email"}])


def test_upsert_contacts_splits_into_batches_of_100(crm):
    hub, client = crm
    ids = client.upsert_contacts([{"email": f"c{n}@example.com", "firstname": f"C{n}"} for n in range(250)])
    assert len(ids) == 250 and len(set(ids.values())) == 250
    assert hub.stats["calls"] == {"POST v3/objects/contacts/batch/upsert": 3}
    assert hub.stats["batch_inputs_max"] == 100 and len(hub.records("contacts")) == 250


def test_upsert_deal_five_times_makes_one_deal_and_one_association(crm):
    hub, client = crm
    contact = client.upsert_contacts([{"email": "buyer@example.com"}])["buyer@example.com"]
    props = {"dealname": "Order #1001", "amount": "120.00", "pipeline": "default",
             "dealstage": ORDER_STATUS_STAGE["pending"], "closedate": datetime(2026, 11, 20, 9, 30, tzinfo=UTC)}
    outcomes = [client.upsert_deal("shop-eu:1001", props, contact) for _ in range(5)]
    deal_id = outcomes[0][0]
    assert outcomes == [(deal_id, True)] + [(deal_id, False)] * 4
    [deal] = hub.records("deals")
    assert deal["properties"]["hub_order_key"] == "shop-eu:1001"
    assert deal["properties"]["closedate"] == "2026-11-20T09:30:00.000Z"
    assert client.associations("deals", deal_id, "contacts") == {contact: [3]}
    assert client.associations("contacts", contact, "deals") == {deal_id: [4]}
    assert hub.stats["creates"] == {"contacts": 1, "deals": 1}

    paid = client.update_deal(deal_id, {"dealstage": ORDER_STATUS_STAGE["paid"], "amount": 120})
    assert paid["properties"]["dealstage"] == "closedwon"
    assert client.find_deal("shop-eu:1001", ["dealstage"])["id"] == deal_id
    assert client.find_deal("shop-eu:404") is None
    other, created = client.upsert_deal("shop-eu:1002", {"dealname": "Order #1002"})
    assert created and other != deal_id and client.associations("deals", other, "contacts") == {}


def test_note_lands_on_the_contact_and_the_deal(crm):
    hub, client = crm
    contact = client.upsert_contacts([{"email": "n@example.com"}])["n@example.com"]
    deal, _ = client.upsert_deal("woo:77", {"dealname": "Order 77"}, contact)
    note = client.add_note("Refund of 10.00 EUR issued", datetime(2026, 11, 21, tzinfo=UTC), contact, deal)
    assert client.associations("notes", note, "contacts") == {contact: [202]}
    assert client.associations("notes", note, "deals") == {deal: [214]}
    assert note in client.associations("deals", deal, "notes")
    body = client.get("notes", note, ["hs_note_body", "hs_timestamp"])["properties"]
    assert body["hs_note_body"] == "Refund of 10.00 EUR issued" and body["hs_timestamp"] == "2026-11-21T00:00:00.000Z"
    only_deal = client.add_note("Shipped", 1763683200000, deal_id=deal)
    assert client.associations("notes", only_deal, "contacts") == {}


def test_rolling_window_429_is_waited_out_then_the_call_succeeds(crm):
    hub, client = crm
    hub.configure(ten_second_limit=2, interval_ms=300)
    contact = client.upsert_contacts([{"email": "t@example.com"}])["t@example.com"]
    start = time.monotonic()
    for _ in range(4):
        assert client.get("contacts", contact)["id"] == contact
    assert time.monotonic() - start >= 0.3  # at least one full window waited
    assert hub.stats["rate_limited_by_policy"]["TEN_SECONDLY_ROLLING"] >= 1
    assert client.calls == 5 + hub.stats["rate_limited"]


def test_search_secondly_limit_waits_a_second(crm):
    hub, client = crm
    hub.configure(search_per_second=1)
    start = time.monotonic()
    assert client.find_deal("a") is None and client.find_deal("b") is None
    assert time.monotonic() - start >= 1.0 and hub.stats["rate_limited_by_policy"] == {"SECONDLY": 1}


def test_throttled_when_the_window_never_frees(crm, monkeypatch):
    hub, client = crm
    hub.configure(fail_next=[{"path": "/crm/v3/objects/deals/*", "status": 429}] * 30)
    monkeypatch.setattr("connectors.hubspot.client.MAX_THROTTLE_WAITS", 3)
    monkeypatch.setattr("connectors.hubspot.client.time.sleep", lambda s: None)
    with pytest.raises(Throttled) as caught:
        client.get("deals", "1")
    assert caught.value.seconds == 10.0  # no interval header on that answer: a whole default window


def test_daily_limit_is_retryable_with_an_hours_wait_not_a_sleep(crm):
    hub, client = crm
    hub.configure(daily_limit=0)
    start = time.monotonic()
    with pytest.raises(Retryable) as caught:
        client.get("contacts", "1")
    assert not isinstance(caught.value, Throttled) and caught.value.seconds == 3600.0
    assert "daily" in str(caught.value) and time.monotonic() - start < 1.0


def test_server_errors_locked_and_network_trouble_are_retryable(crm):
    hub, client = crm
    hub.configure(fail_next=[{"path": "/crm/v3/objects/contacts/batch/upsert", "status": 502},
                             {"path": "/crm/v3/objects/contacts/batch/upsert", "status": 423}])
    with pytest.raises(Retryable) as first:
        client.upsert_contacts([{"email": "r@example.com"}])
    assert "HTTP 502" in str(first.value)
    with pytest.raises(Retryable) as locked:
        client.upsert_contacts([{"email": "r@example.com"}])
    assert locked.value.seconds == 2.0
    assert client.upsert_contacts([{"email": "r@example.com"}])  # the next attempt goes through

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(Retryable) as down:
        HubSpotClient(f"http://127.0.0.1:{port}", TOKEN, timeout_s=2).get("contacts", "1")
    assert TOKEN not in str(down.value)


def test_refused_input_is_permanent_with_hubspots_message(crm):
    hub, client = crm
    with pytest.raises(Permanent) as caught:
        client.upsert_deal("k-9", {"dealname": "x", "dealstage": "shipped"})
    assert "HTTP 400" in str(caught.value) and "Property values were not valid" in str(caught.value)
    assert "shipped was not one of the allowed options" in str(caught.value)
    with pytest.raises(Permanent) as missing:
        client.get("deals", "123456")
    assert "HTTP 404" in str(missing.value) and "OBJECT_NOT_FOUND" in str(missing.value)


def test_bad_token_is_permanent_and_never_shown(crm, caplog):
    hub, _ = crm
    wrong = "pat-na1-00000000-dead-beef-0000-000000000000"
    client = HubSpotClient(hub_url(crm), wrong, timeout_s=5)
    with caplog.at_level("DEBUG"), pytest.raises(Permanent) as caught:
        client.upsert_contacts([{"email": "x@example.com"}])
    assert "HTTP 401" in str(caught.value) and "INVALID_AUTHENTICATION" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(client) and wrong not in caplog.text
    with pytest.raises(ValueError):
        HubSpotClient("http://localhost", "")


def hub_url(crm):
    return crm[1].base_url


def test_order_status_table_covers_every_canonical_status_with_real_stages():
    assert set(ORDER_STATUS_STAGE) == {s.value for s in OrderStatus}
    assert set(ORDER_STATUS_STAGE.values()) <= set(DEFAULT_STAGES)


def test_a_portal_without_hub_order_key_refuses_the_deal_and_says_what_to_run():
    """A real portal refuses upserts by a property it does not have; nothing created it before hub doctor."""
    hub = HubSpotSandbox(token=TOKEN)  # a new portal
    with serve(hub.app) as url:
        client = HubSpotClient(url, TOKEN)
        with pytest.raises(Permanent) as refused:
            client.upsert_deal("shop-eu:1001", {"dealname": "Order 1001"})
    assert str(refused.value).endswith("(the portal needs the unique deal property hub_order_key: run "
                                       "`hub doctor --fix`)")
    assert hub.records("deals") == []
