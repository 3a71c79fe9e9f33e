"""The HubSpot sandbox on the wire, driven with plain ``requests`` as HubSpot's docs show the calls: bearer
auth and its 401, batch upsert (create, then update with ``new: false``, the 100-input limit), inline and
default associations with their type ids, unique-value conflicts, validation bodies, CRM search, the
TEN_SECONDLY_ROLLING / search / daily limits with their headers and bodies, and the control API."""

from __future__ import annotations

import json
import time

import pytest
import requests

from sandbox.base import serve
from sandbox.hubspot import HubSpotSandbox

from ..support import ManualClock

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RATE_HEADERS = ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds")


@pytest.fixture
def hub():
    sandbox = HubSpotSandbox(token=TOKEN, hub_properties=True)
    with serve(sandbox.app) as url:
        yield sandbox, url


def api(url, method, path, body=None, **kw):
    return requests.request(method, f"{url}/crm/{path}", json=body, headers=kw.pop("headers", AUTH), timeout=10,
                            **kw)


def upsert_contacts(url, *emails, **props):
    return api(url, "POST", "v3/objects/contacts/batch/upsert", {"inputs": [
        {"idProperty": "email", "id": e, "properties": dict(props)} for e in emails]})


def deal_input(key, **props):
    return {"idProperty": "hub_order_key", "id": key, "properties": {"dealname": f"Order {key}", **props}}


def test_missing_or_wrong_token_is_hubspots_401_without_rate_headers(hub):
    _, url = hub
    for headers in ({}, {"Authorization": "Bearer pat-na1-wrong"}, {"Authorization": TOKEN}):
        r = api(url, "GET", "v3/objects/contacts/1", headers=headers)
        body = r.json()
        assert r.status_code == 401 and body["category"] == "INVALID_AUTHENTICATION"
        assert body["status"] == "error" and body["message"].startswith("Authentication credentials not found.")
        assert body["correlationId"] and not any(h in r.headers for h in RATE_HEADERS)


def test_batch_upsert_creates_then_updates_the_same_contact(hub):
    sandbox, url = hub
    first = upsert_contacts(url, "Ada@Example.com", firstname="Ada")
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "COMPLETE" and {"startedAt", "completedAt"} <= set(body)
    created = body["results"][0]
    assert created["new"] is True and created["archived"] is False
    assert created["properties"]["email"] == "ada@example.com"
    assert created["properties"]["hs_object_id"] == created["id"]
    assert first.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"

    second = upsert_contacts(url, "ada@example.com", lastname="Lovelace")
    updated = second.json()["results"][0]
    assert updated["id"] == created["id"] and updated["new"] is False
    remaining = [int(r.headers["X-HubSpot-RateLimit-Remaining"]) for r in (first, second)]
    assert remaining[1] == remaining[0] - 1
    [record] = sandbox.records("contacts")
    assert record["properties"]["firstname"] == "Ada" and record["properties"]["lastname"] == "Lovelace"
    assert sandbox.stats["creates"] == {"contacts": 1} and sandbox.stats["updates"] == {"contacts": 1}


def test_batch_upsert_takes_100_inputs_refuses_101_and_non_unique_keys(hub):
    sandbox, url = hub
    emails = [f"c{n}@example.com" for n in range(101)]
    refused = upsert_contacts(url, *emails)
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"
    assert sandbox.records("contacts") == []
    assert upsert_contacts(url, *emails[:100]).status_code == 200 and len(sandbox.records("contacts")) == 100

    by_name = api(url, "POST", "v3/objects/contacts/batch/upsert", {"inputs": [
        {"idProperty": "firstname", "id": "Ada", "properties": {}}]})
    assert by_name.status_code == 400
    assert by_name.json()["message"].startswith("Unable to perform update/upsert by non-unique 0-1 property firstname")
    twice = upsert_contacts(url, "x@example.com", "X@example.com")
    assert twice.status_code == 400 and "Duplicate IDs found in batch input" in twice.json()["message"]


def test_a_new_portal_has_no_hub_order_key_until_the_properties_api_creates_it():
    """A new portal refuses deal upserts by hub_order_key; POST /crm/v3/properties/deals creates it (201, then 409
    OBJECT_ALREADY_EXISTS), and only a unique one (hasUniqueValue) makes the upsert possible."""
    sandbox = HubSpotSandbox(token=TOKEN)
    definition = {"name": "hub_order_key", "label": "Hub order key", "type": "string", "fieldType": "text",
                  "groupName": "dealinformation"}
    with serve(sandbox.app) as url:
        missing = api(url, "GET", "v3/properties/deals/hub_order_key")
        assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
        assert missing.json()["status"] == "error" and "hub_order_key" in missing.json()["message"]
        refused = api(url, "POST", "v3/objects/deals/batch/upsert", {"inputs": [deal_input("shop-eu:1")]})
        assert refused.status_code == 400 and refused.json()["message"].startswith(
            "Unable to perform update/upsert by non-unique 0-3 property hub_order_key")
        incomplete = api(url, "POST", "v3/properties/deals", {"name": "hub_order_key", "label": "Hub order key"})
        assert incomplete.status_code == 400 and incomplete.json()["category"] == "VALIDATION_ERROR"

        assert api(url, "POST", "v3/properties/deals", definition).status_code == 201  # not unique
        again = api(url, "POST", "v3/properties/deals", {**definition, "hasUniqueValue": True})
        assert again.status_code == 409 and again.json()["category"] == "OBJECT_ALREADY_EXISTS"
        assert api(url, "GET", "v3/properties/deals/hub_order_key").json()["hasUniqueValue"] is False
        still = api(url, "POST", "v3/objects/deals/batch/upsert", {"inputs": [deal_input("shop-eu:1")]})
        assert still.status_code == 400 and sandbox.records("deals") == []

        sandbox.properties.clear()  # deleted, as in the portal's settings
        assert api(url, "POST", "v3/properties/deals", {**definition, "hasUniqueValue": True}).status_code == 201
        assert api(url, "GET", "v3/properties/deals/hub_order_key").json()["hasUniqueValue"] is True
        upserted = api(url, "POST", "v3/objects/deals/batch/upsert", {"inputs": [deal_input("shop-eu:1")]})
        assert upserted.status_code == 200 and len(sandbox.records("deals")) == 1
        assert api(url, "GET", "v3/properties/deals/dealname").json()["hubspotDefined"] is True


def test_deal_with_inline_association_unique_key_conflict_and_upsert_by_key(hub):
    sandbox, url = hub
    contact = upsert_contacts(url, "buyer@example.com").json()["results"][0]["id"]
    created = api(url, "POST", "v3/objects/deals", {
        "properties": {"dealname": "Order 1001", "amount": "99.50", "pipeline": "default",
                       "dealstage": "appointmentscheduled", "closedate": "2026-11-20", "hub_order_key": "shop-eu:1001"},
        "associations": [{"to": {"id": contact}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]})
    assert created.status_code == 201
    deal = created.json()
    assert deal["properties"]["closedate"] == "2026-11-20T00:00:00.000Z" and deal["properties"]["amount"] == "99.50"
    assert sandbox.associations("deals", deal["id"], "contacts") == [
        {"toObjectId": int(contact), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}]}]
    reverse = api(url, "GET", f"v4/objects/contact/{contact}/associations/deal").json()
    assert reverse == {"results": [{"toObjectId": int(deal["id"]), "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 4, "label": None}]}]}

    duplicate = api(url, "POST", "v3/objects/deals", {"properties": {"dealname": "again",
                                                                      "hub_order_key": "shop-eu:1001"}})
    assert duplicate.status_code == 409
    body = duplicate.json()
    assert body["category"] == "CONFLICT" and body["message"] == f"Deal already exists. Existing ID: {deal['id']}"

    upserted = api(url, "POST", "v3/objects/deals/batch/upsert", {"inputs": [deal_input("shop-eu:1001",
                                                                                          dealstage="closedwon")]})
    assert upserted.json()["results"][0]["id"] == deal["id"] and upserted.json()["results"][0]["new"] is False
    assert len(sandbox.records("deals")) == 1
    default = api(url, "PUT", f"v4/objects/deals/{deal['id']}/associations/default/contacts/{contact}")
    assert default.status_code == 200 and default.json()["status"] == "COMPLETE"
    assert len(sandbox.associations("deals", deal["id"], "contacts")) == 1


def test_refused_property_values_answer_hubspots_validation_body(hub):
    _, url = hub
    r = api(url, "POST", "v3/objects/deals", {"properties": {"dealname": "x", "colour": "red", "dealstage": "won",
                                                             "amount": "lots", "hs_object_id": "1"}})
    body = r.json()
    assert r.status_code == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: [")
    listed = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert {e["name"]: e["error"] for e in listed} == {"colour": "PROPERTY_DOESNT_EXIST", "dealstage": "INVALID_OPTION",
                                                       "amount": "INVALID_FLOAT", "hs_object_id": "READ_ONLY_VALUE"}
    assert body["errors"][0] == {"message": 'Property "colour" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                                 "context": {"propertyName": ["colour"]}}
    missing = api(url, "GET", "v3/objects/deals/424242")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    assert missing.headers["X-HubSpot-RateLimit-Max"] == "190"  # errors are counted calls too


def test_notes_carry_their_association_types_both_ways(hub):
    sandbox, url = hub
    contact = upsert_contacts(url, "n@example.com").json()["results"][0]["id"]
    deal = api(url, "POST", "v3/objects/deals/batch/upsert", {"inputs": [deal_input("k-1")]}).json()["results"][0]["id"]
    note = api(url, "POST", "v3/objects/notes", {
        "properties": {"hs_note_body": "Paid by card", "hs_timestamp": "1763640000000"},
        "associations": [{"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                             "associationTypeId": 202}]},
                         {"to": {"id": deal}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                          "associationTypeId": 214}]}]})
    assert note.status_code == 201
    note_id = note.json()["id"]
    assert note.json()["properties"]["hs_timestamp"] == "2025-11-20T12:00:00.000Z"
    types = {to: sandbox.associations("notes", note_id, to)[0]["associationTypes"][0]["typeId"]
             for to in ("contacts", "deals")}
    assert types == {"contacts": 202, "deals": 214}
    assert sandbox.associations("contacts", contact, "notes")[0]["associationTypes"][0]["typeId"] == 201
    assert sandbox.associations("deals", deal, "notes")[0]["associationTypes"][0]["typeId"] == 213
    bad = api(url, "POST", "v3/objects/notes", {"properties": {"hs_note_body": "x", "hs_timestamp": "1"},
                                                "associations": [{"to": {"id": "999999"}, "types": [
                                                    {"associationCategory": "HUBSPOT_DEFINED",
                                                     "associationTypeId": 202}]}]})
    assert bad.status_code == 400 and len(sandbox.records("notes")) == 1
    untimed = api(url, "POST", "v3/objects/notes", {"properties": {"hs_note_body": "x"}})
    assert untimed.status_code == 400 and "hs_timestamp" in untimed.json()["message"]


def test_search_filters_paging_and_index_lag(hub):
    sandbox, url = hub
    sandbox.configure(search_per_second=50)  # more than HubSpot's 5/s: this test searches in a burst
    for n, name in enumerate(["Ada Lovelace", "Grace Hopper", "Alan Turing"]):
        first, last = name.split()
        sandbox.seed("contacts", {"email": f"{first.lower()}@example.com", "firstname": first, "lastname": last,
                                  "phone": str(n)})

    def search(filters, **extra):
        r = api(url, "POST", "v3/objects/contacts/search", {"filterGroups": [{"filters": filters}], **extra})
        assert r.status_code == 200 and not any(h in r.headers for h in RATE_HEADERS)  # outside the 10 s window
        return r.json()

    eq = search([{"propertyName": "email", "operator": "EQ", "value": "GRACE@example.com"}], properties=["email"])
    assert eq["total"] == 1 and set(eq["results"][0]["properties"]) == {
        "email", "createdate", "hs_object_id", "lastmodifieddate"}
    within = search([{"propertyName": "firstname", "operator": "IN", "values": ["ada", "alan"]}])
    assert sorted(r["properties"]["firstname"] for r in within["results"]) == ["Ada", "Alan"]
    token = search([{"propertyName": "lastname", "operator": "CONTAINS_TOKEN", "value": "hop*"}])
    assert [r["properties"]["lastname"] for r in token["results"]] == ["Hopper"]
    page = search([{"propertyName": "email", "operator": "HAS_PROPERTY"}], limit=2)
    assert page["total"] == 3 and len(page["results"]) == 2 and page["paging"] == {"next": {"after": "2"}}
    rest = search([{"propertyName": "email", "operator": "HAS_PROPERTY"}], limit=2, after="2")
    assert len(rest["results"]) == 1 and "paging" not in rest

    sandbox.configure(search_lag_s=0.3)
    upsert_contacts(url, "late@example.com")
    late = [{"propertyName": "email", "operator": "EQ", "value": "late@example.com"}]
    assert search(late)["total"] == 0
    time.sleep(0.35)
    assert search(late)["total"] == 1


def test_rate_limits_answer_with_hubspots_bodies_and_headers(hub):
    sandbox, url = hub
    sandbox.limits.clock = clock = ManualClock()  # the windows move only when the test waits
    sandbox.configure(ten_second_limit=3, interval_ms=400, search_per_second=2, daily_limit=None)
    answers = [api(url, "GET", "v3/pipelines/deals") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    refused = answers[3]
    body = refused.json()
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["groupName"].startswith("publicapi:private_app-api-calls-ten-secondly:") and body["correlationId"]
    assert refused.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "400"

    search = [api(url, "POST", "v3/objects/deals/search", {}) for _ in range(3)]  # its own limit, not the window
    assert [r.status_code for r in search] == [200, 200, 429]
    assert search[2].json()["message"] == "You have reached your secondly limit."
    assert search[2].json()["category"] == "RATE_LIMITS"
    clock.sleep(0.45)
    assert api(url, "GET", "v3/pipelines/deals").status_code == 200
    assert sandbox.stats["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 1, "SECONDLY": 1}

    sandbox.configure(ten_second_limit=100, daily_limit=sandbox.limits.calls_today + 1)
    assert api(url, "GET", "v3/pipelines/deals").headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    daily = api(url, "GET", "v3/pipelines/deals")
    assert daily.status_code == 429 and daily.json()["policyName"] == "DAILY"
    assert daily.json()["message"] == "You have reached your daily limit."


def test_pipeline_defaults_and_control_api_over_http(hub):
    sandbox, url = hub
    stages = api(url, "GET", "v3/pipelines/deals").json()["results"][0]
    assert stages["id"] == "default" and [s["id"] for s in stages["stages"]] == [
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent",
        "closedwon", "closedlost"]
    config = requests.post(f"{url}/_sandbox/config", timeout=10, json={
        "latency": [0.05, 0.05], "fail_next": [{"path": "/crm/v3/objects/contacts/*", "status": 502}]}).json()
    assert config["latency"] == [0.05, 0.05] and len(config["fail_next"]) == 1
    assert requests.post(f"{url}/_sandbox/config", json={"nope": 1}, timeout=10).status_code == 422
    assert upsert_contacts(url, "a@example.com").status_code == 502
    start = time.monotonic()
    contact = upsert_contacts(url, "a@example.com").json()["results"][0]["id"]
    assert time.monotonic() - start >= 0.05
    seeded = requests.post(f"{url}/_sandbox/records/deals", json={"dealname": "Seeded", "hub_order_key": "s-1"},
                           timeout=10)
    assert seeded.status_code == 201
    api(url, "PUT", f"v4/objects/deal/{seeded.json()['id']}/associations/default/contact/{contact}")
    records = requests.get(f"{url}/_sandbox/records/contacts", timeout=10).json()
    assert [r["properties"]["email"] for r in records] == ["a@example.com"]
    linked = requests.get(f"{url}/_sandbox/associations/contacts/{contact}/deals", timeout=10).json()
    assert linked[0]["toObjectId"] == int(seeded.json()["id"])
    stats = requests.get(f"{url}/_sandbox/stats", timeout=10).json()
    assert stats["calls"]["POST v3/objects/contacts/batch/upsert"] == 2 and stats["errors"] == {"502": 1}
    assert stats["creates"] == {"contacts": 1, "deals": 1}
    assert requests.post(f"{url}/_sandbox/stats/reset", timeout=10).json()["calls"] == {}
