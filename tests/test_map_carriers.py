"""Carrier mappers (EasyPost, Shippo, AfterShip) against the corpus's real tracking bodies.

Every tracking body in ``carriers/`` is mapped: EasyPost's webhook Event as it is; its bare Tracker, Shippo's
Track objects and AfterShip's Tracking objects (API responses) wrapped the way each platform's webhook
delivers them. Not mapped, because they are no tracking webhook: ``shippo_transaction_*.json`` (label
purchases; their tracking fields are empty), ``easypost_shipment_buy/refund_create/webhook_create`` and
``aftership_create_tracking_request.json``. Every mapped Shipment is round-tripped through the canonical
schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from mappings import MapContext, Unmappable, aftership, easypost, shippo
from mappings.canonical import EventType, Mapped, Origin, Shipment, ShipmentSchema, ShipmentStatus, validate_record

from .support import AFTERSHIP_BODY, SHIPPO_BODY, corpus_json

S = ShipmentStatus
EP_EVENT = "carriers/easypost_event_tracker_updated.json"
EP_TRACKER = "carriers/easypost_tracker_create_response.json"
EP_EVENTS = "carriers/easypost_events_list_response.json"
SHIPPO_STATUS = "carriers/shippo_track_get_status_response.json"
SHIPPO_REGISTER = "carriers/shippo_track_register_response.json"
AS_GET = "carriers/aftership_get_tracking_response.json"
AS_CREATE = "carriers/aftership_create_tracking_response.json"
AS_UPDATE = "carriers/aftership_update_tracking_response.json"
AS_LAST = "carriers/aftership_last_checkpoint_response.json"
AS_LIST = "carriers/aftership_list_trackings_response.json"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


# ---- builders: corpus objects wrapped as the platforms' webhooks deliver them ----------------------------


def easypost_event(tracker: dict, description: str = "tracker.created") -> dict:
    return {"description": description, "object": "Event", "result": tracker}


def shippo_webhook(track: dict) -> dict:
    return {"event": "track_updated", "test": False, "data": track}


def aftership_webhook(tracking: dict) -> dict:
    return {"event": "tracking_update", "event_id": "evt-test", "msg": tracking, "ts": 1700000000}


def aftership_trackings(rel: str) -> list[dict]:
    """API responses hold one tracking (``data.tracking``) or a page of them (``data.trackings``)."""
    data = corpus_json(rel)["data"]
    return data["trackings"] if "trackings" in data else [data["tracking"]]


def aftership_last_checkpoint() -> dict:
    """GET /last_checkpoint answers ``data: {id, slug, tracking_number, tag, checkpoint}``: a tracking whose
    history is that one checkpoint."""
    data = dict(corpus_json(AS_LAST)["data"])
    return {**data, "checkpoints": [data.pop("checkpoint")]}


def shipment_of(mapped: Mapped) -> Shipment:
    """The one Shipment of a mapping, after proving it fits the canonical schema unchanged."""
    assert mapped.event_type is EventType.SHIPMENT_UPDATED
    [shipment] = mapped.records
    assert isinstance(shipment, Shipment)
    assert validate_record(ShipmentSchema(), shipment) == shipment
    return shipment


def run(topics: dict, topic: str, payload: dict, channel: str) -> Shipment:
    return shipment_of(topics[topic](payload, MapContext(channel)))


# ---- every corpus tracking body maps -------------------------------------------------------------------


def corpus_cases() -> list[tuple[str, dict, str, dict]]:
    cases = [
        ("easypost tracker.updated event", easypost.TOPICS, "tracker.updated", corpus_json(EP_EVENT)),
        ("easypost bare tracker", easypost.TOPICS, "tracker.created", easypost_event(corpus_json(EP_TRACKER))),
        ("shippo get status", shippo.TOPICS, "track_updated", shippo_webhook(corpus_json(SHIPPO_STATUS))),
        ("shippo register", shippo.TOPICS, "track_updated", shippo_webhook(corpus_json(SHIPPO_REGISTER))),
        ("aftership last checkpoint", aftership.TOPICS, "tracking_update",
         aftership_webhook(aftership_last_checkpoint())),
    ]
    for rel in (AS_GET, AS_CREATE, AS_UPDATE, AS_LIST):
        for i, tracking in enumerate(aftership_trackings(rel)):
            name = f"{rel.split('/')[-1]}[{i}]"
            cases.append((name, aftership.TOPICS, "tracking_update", aftership_webhook(tracking)))
    return cases


CORPUS_CASES = corpus_cases()


@pytest.mark.parametrize(("name", "topics", "topic", "payload"), CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
def test_every_corpus_tracking_body_maps_to_a_canonical_shipment(name, topics, topic, payload):
    shipment = run(topics, topic, payload, "chan-1")
    assert shipment.tracking_number and shipment.carrier == shipment.carrier.lower()
    assert shipment.origin is not None and shipment.origin.channel == "chan-1" and shipment.origin.external_id
    times = [e.occurred_at for e in shipment.events] + [shipment.source_updated_at, shipment.estimated_delivery]
    assert all(t.utcoffset().total_seconds() == 0 for t in times if t is not None)
    assert (shipment.delivered_at is not None) == (shipment.status is S.DELIVERED)


# ---- EasyPost -------------------------------------------------------------------------------------------


def test_easypost_tracker_updated_event_field_by_field():
    shipment = run(easypost.TOPICS, "tracker.updated", corpus_json(EP_EVENT), "easypost-us")
    assert shipment.carrier == "fedex"  # "FedEx" lower-cased
    assert shipment.tracking_number == "1"
    assert shipment.status is S.IN_TRANSIT
    assert shipment.origin == Origin("easypost-us", "trk_1")
    assert shipment.order_reference is None
    assert shipment.estimated_delivery == at("2024-08-05T00:00:00Z")
    assert shipment.delivered_at is None
    assert shipment.source_updated_at == at("2024-08-02T19:26:51Z")
    assert [e.message for e in shipment.events] == [
        "Shipment information sent to FedEx", "Picked up", "Arrived at FedEx location", "Departed FedEx location",
        "On the way", "On the way", "Arrived at FedEx location"]
    first, last = shipment.events[0], shipment.events[-1]
    assert (first.status, first.occurred_at, first.location) == (S.PRE_TRANSIT, at("2024-07-31T15:00:00Z"), "US")
    assert (last.status, last.occurred_at) == (S.IN_TRANSIT, at("2024-08-02T18:50:00Z"))
    assert last.location == "EDISON, NJ, US"
    assert shipment.events[1].location == "ORLANDO, FL, US"


def test_easypost_bare_tracker_maps_as_tracker_created():
    shipment = run(easypost.TOPICS, "tracker.created", easypost_event(corpus_json(EP_TRACKER)), "easypost")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("usps", "EZ1000000001", S.PRE_TRANSIT)
    assert shipment.origin == Origin("easypost", "trk_e7e8f143f3eb40d38be9562e3767c36a")
    assert shipment.estimated_delivery == at("2025-03-06T19:48:26Z")
    assert shipment.source_updated_at == at("2025-03-06T19:48:26Z")
    assert [(e.status, e.occurred_at, e.message, e.location) for e in shipment.events] == [
        (S.PRE_TRANSIT, at("2025-02-06T19:48:26Z"), "Pre-Shipment Info Sent to USPS", None),  # all-null location
        (S.PRE_TRANSIT, at("2025-02-07T08:25:26Z"), "Shipping Label Created", "HOUSTON, TX"),
    ]
    assert shipment.delivered_at is None


def test_easypost_events_list_entries_carry_no_tracker_so_they_are_unmappable_or_ignored():
    """GET /events lists Events without their ``result``: a tracker.* entry cannot be mapped (and says why);
    batch.updated has no handler, so the hub ignores it."""
    events = corpus_json(EP_EVENTS)["events"]
    seen = {e["description"] for e in events}
    assert seen == {"tracker.created", "batch.updated"}
    for event in events:
        if event["description"] in easypost.TOPICS:
            with pytest.raises(Unmappable, match=r"^result: Missing data for required field\.$"):
                easypost.TOPICS[event["description"]](event, MapContext("easypost"))
        else:
            assert event["description"] == "batch.updated"


def test_easypost_source_updated_at_falls_back_to_the_event_time():
    payload = corpus_json(EP_EVENT)
    del payload["result"]["updated_at"]
    shipment = run(easypost.TOPICS, "tracker.updated", payload, "easypost")
    assert shipment.source_updated_at == at("2024-08-02T19:26:52Z")


def test_easypost_a_result_that_is_not_a_tracker_is_unmappable():
    payload = easypost_event({**corpus_json(EP_TRACKER), "object": "Batch"})
    with pytest.raises(Unmappable, match=r"result\.object: not a Tracker: 'Batch'"):
        easypost.handle_tracker(payload, MapContext("easypost"))


# ---- Shippo ---------------------------------------------------------------------------------------------


def test_shippo_track_field_by_field():
    shipment = run(shippo.TOPICS, "track_updated", shippo_webhook(corpus_json(SHIPPO_STATUS)), "shippo")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("usps", "9205590164917337534322",
                                                                             S.DELIVERED)
    assert shipment.origin == Origin("shippo", "usps/9205590164917337534322")
    assert shipment.order_reference == "metadata"  # the raw free-text metadata
    assert shipment.estimated_delivery == at("2016-12-08T00:00:00Z")
    assert shipment.source_updated_at == at("2016-12-08T15:19:00Z")
    assert shipment.delivered_at == at("2016-12-08T15:19:00Z")
    assert len(shipment.events) == 11
    assert [e.status for e in shipment.events] == [S.PRE_TRANSIT] * 2 + [S.IN_TRANSIT] * 8 + [S.DELIVERED]
    first, last = shipment.events[0], shipment.events[-1]
    assert (first.occurred_at, first.location) == (at("2016-12-07T00:00:00Z"), None)
    assert first.message == "The USPS has received the electronic shipment information and is awaiting the item."
    assert (last.occurred_at, last.location) == (at("2016-12-08T15:19:00Z"), "Berkeley, CA, US")
    assert last.message == "Your shipment has been delivered at the destination mailbox."
    assert [e.occurred_at for e in shipment.events] == sorted(e.occurred_at for e in shipment.events)


def test_shippo_register_response_maps_to_the_same_shipment():
    """The two fixtures differ only in object_ids, which the canonical model does not keep."""
    status = run(shippo.TOPICS, "track_updated", shippo_webhook(corpus_json(SHIPPO_STATUS)), "shippo")
    register = run(shippo.TOPICS, "track_updated", shippo_webhook(corpus_json(SHIPPO_REGISTER)), "shippo")
    assert register == status


def test_shippo_webhook_without_history_keeps_the_current_status_as_its_event():
    shipment = run(shippo.TOPICS, "track_updated", json.loads(SHIPPO_BODY), "shippo")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("usps", "9205590164917312751089",
                                                                             S.IN_TRANSIT)
    assert [(e.status, e.occurred_at, e.message) for e in shipment.events] == [
        (S.IN_TRANSIT, at("2026-11-20T10:00:00Z"), "Arrived at facility")]
    assert (shipment.order_reference, shipment.estimated_delivery) == (None, None)


def test_shippo_blank_metadata_is_no_order_reference():
    track = {**corpus_json(SHIPPO_STATUS), "metadata": "  "}
    assert run(shippo.TOPICS, "track_updated", shippo_webhook(track), "shippo").order_reference is None


# ---- AfterShip ------------------------------------------------------------------------------------------


def test_aftership_tracking_field_by_field():
    [tracking] = aftership_trackings(AS_GET)
    shipment = run(aftership.TOPICS, "tracking_update", aftership_webhook(tracking), "aftership")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("fedex", "111111111111", S.DELIVERED)
    assert shipment.origin == Origin("aftership", "5b7658cec7c33c0e007de3c5")
    assert shipment.order_reference is None  # order_id is null
    assert shipment.estimated_delivery is None  # expected_delivery and aftership EDD are null
    assert shipment.source_updated_at == at("2018-08-17T05:10:46+00:00")
    assert len(shipment.events) == 14
    first, last = shipment.events[0], shipment.events[-1]
    assert (first.status, first.occurred_at, first.location) == (S.PRE_TRANSIT, at("2018-07-23T06:21:39Z"), None)
    assert first.message == "Shipment information sent to FedEx"
    assert (last.status, last.occurred_at, last.message) == (S.DELIVERED, at("2018-07-25T01:10:00Z"), "Delivered")
    assert last.location == "SAPPORO JP"  # no city/state: AfterShip's raw location beats the bare country
    assert shipment.events[-2].status is S.OUT_FOR_DELIVERY
    assert shipment.delivered_at == at("2018-07-25T10:10:00+09:00")


def test_aftership_naive_checkpoint_times_are_utc():
    """The update response writes checkpoint_time without offset; the list response holds the same tracking
    with offsets. Taking naive as UTC gives the same instants."""
    [naive] = aftership_trackings(AS_UPDATE)
    offset = aftership_trackings(AS_LIST)[0]
    assert naive["checkpoints"][0]["checkpoint_time"] == "2018-07-31T14:33:00"
    assert offset["checkpoints"][0]["checkpoint_time"] == "2018-07-31T10:33:00-04:00"
    a = run(aftership.TOPICS, "tracking_update", aftership_webhook(naive), "aftership")
    b = run(aftership.TOPICS, "tracking_update", aftership_webhook(offset), "aftership")
    assert a.events == b.events
    assert len(a.events) == 11
    assert [e.status for e in a.events].count(S.EXCEPTION) == 1  # "Barcode label unreadable and replaced"
    assert a.events[1].location == "BROOKLYN, NY"
    assert a.delivered_at == b.delivered_at == at("2018-08-01T17:19:47Z")


def test_aftership_list_trackings():
    delivered, ups, usps = (run(aftership.TOPICS, "tracking_update", aftership_webhook(t), "aftership")
                            for t in aftership_trackings(AS_LIST))
    assert (delivered.carrier, delivered.status) == ("fedex", S.DELIVERED)
    # aftership_estimated_delivery_date.estimated_delivery_date "2018-08-01": a bare date is midnight UTC
    assert delivered.estimated_delivery == at("2018-08-01T00:00:00Z")
    assert delivered.source_updated_at == at("2018-08-16T03:50:54+00:00")
    assert [(s.carrier, s.tracking_number, s.status, s.events) for s in (ups, usps)] == [
        ("ups", "2222222222222", S.EXCEPTION, []), ("usps", "1231231231231", S.EXCEPTION, [])]  # Expired


def test_aftership_new_tracking_is_pending_without_events():
    [tracking] = aftership_trackings(AS_CREATE)
    shipment = run(aftership.TOPICS, "tracking_update", aftership_webhook(tracking), "aftership")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("fedex", "1111111111111", S.PRE_TRANSIT)
    assert (shipment.events, shipment.delivered_at, shipment.estimated_delivery) == ([], None, None)
    assert shipment.origin == Origin("aftership", "5b766a5cc7c33c0e007de3c9")


def test_aftership_last_checkpoint_as_a_one_event_tracking():
    shipment = run(aftership.TOPICS, "tracking_update", aftership_webhook(aftership_last_checkpoint()), "aftership")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("fedex", "111111111111", S.DELIVERED)
    [event] = shipment.events
    assert (event.status, event.occurred_at, event.location) == (S.DELIVERED, at("2018-08-01T17:19:47Z"), "Deal, NJ")
    assert shipment.delivered_at == event.occurred_at
    assert shipment.source_updated_at is None  # the checkpoint answer carries no updated_at


def test_aftership_sample_webhook_and_its_order_and_delivery_estimates():
    payload = json.loads(AFTERSHIP_BODY)
    shipment = run(aftership.TOPICS, "tracking_update", payload, "aftership")
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("ups", "1Z999AA10123456784", S.IN_TRANSIT)
    assert shipment.events == [] and shipment.source_updated_at == at("2026-11-20T10:00:00+00:00")

    payload["msg"] |= {"order_id": "1001", "expected_delivery": "2026-11-22",
                       "courier_estimated_delivery_date": {"estimated_delivery_date": "2026-11-23"}}
    shipment = run(aftership.TOPICS, "tracking_update", payload, "aftership")
    assert shipment.order_reference == "1001"
    assert shipment.estimated_delivery == at("2026-11-22T00:00:00Z")  # expected_delivery wins
    payload["msg"]["expected_delivery"] = None
    assert run(aftership.TOPICS, "tracking_update", payload, "aftership").estimated_delivery == at("2026-11-23T00:00Z")


def test_aftership_delivered_without_checkpoints_uses_shipment_delivery_date():
    payload = json.loads(AFTERSHIP_BODY)
    payload["msg"] |= {"tag": "Delivered", "shipment_delivery_date": "2026-11-21T09:30:00+01:00"}
    shipment = run(aftership.TOPICS, "tracking_update", payload, "aftership")
    assert shipment.delivered_at == at("2026-11-21T08:30:00Z")


# ---- status tables: every documented carrier status, and an undocumented one --------------------------

# The decisions, written out once more so a change to a table has to change this too.
EASYPOST_EXPECTED = {
    "unknown": S.PRE_TRANSIT, "pre_transit": S.PRE_TRANSIT, "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY, "available_for_pickup": S.OUT_FOR_DELIVERY, "delivered": S.DELIVERED,
    "return_to_sender": S.RETURNED, "failure": S.EXCEPTION, "cancelled": S.EXCEPTION, "error": S.EXCEPTION,
}
SHIPPO_EXPECTED = {
    "UNKNOWN": S.PRE_TRANSIT, "PRE_TRANSIT": S.PRE_TRANSIT, "TRANSIT": S.IN_TRANSIT, "DELIVERED": S.DELIVERED,
    "RETURNED": S.RETURNED, "FAILURE": S.EXCEPTION,
}
AFTERSHIP_EXPECTED = {
    "Pending": S.PRE_TRANSIT, "InfoReceived": S.PRE_TRANSIT, "InTransit": S.IN_TRANSIT,
    "OutForDelivery": S.OUT_FOR_DELIVERY, "AvailableForPickup": S.OUT_FOR_DELIVERY, "AttemptFail": S.EXCEPTION,
    "Delivered": S.DELIVERED, "Exception": S.EXCEPTION, "Expired": S.EXCEPTION,
}


def easypost_with(status: str) -> tuple[dict, str]:
    payload = corpus_json(EP_EVENT)
    payload["result"]["status"] = payload["result"]["tracking_details"][-1]["status"] = status
    return payload, "tracker.updated"


def shippo_with(status: str) -> tuple[dict, str]:
    track = corpus_json(SHIPPO_STATUS)
    track["tracking_status"]["status"] = track["tracking_history"][-1]["status"] = status
    return shippo_webhook(track), "track_updated"


def aftership_with(status: str) -> tuple[dict, str]:
    tracking = aftership_trackings(AS_GET)[0]
    tracking["tag"] = tracking["checkpoints"][-1]["tag"] = status
    return aftership_webhook(tracking), "tracking_update"


CARRIERS: dict[str, tuple[Any, dict[str, ShipmentStatus], Callable[[str], tuple[dict, str]]]] = {
    "easypost": (easypost, EASYPOST_EXPECTED, easypost_with),
    "shippo": (shippo, SHIPPO_EXPECTED, shippo_with),
    "aftership": (aftership, AFTERSHIP_EXPECTED, aftership_with),
}
STATUS_CASES = [(carrier, status, want)
                for carrier, (_, table, _) in CARRIERS.items() for status, want in table.items()]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_status_table_covers_exactly_the_documented_vocabulary(carrier):
    module, expected, _ = CARRIERS[carrier]
    assert module.STATUSES == expected


@pytest.mark.parametrize(("carrier", "status", "want"), STATUS_CASES, ids=[f"{c}-{s}" for c, s, _ in STATUS_CASES])
def test_every_documented_status_maps(carrier, status, want):
    module, _, build = CARRIERS[carrier]
    payload, topic = build(status)
    shipment = run(module.TOPICS, topic, payload, carrier)
    assert shipment.status is want
    assert shipment.events[-1].status is want
    if want is S.DELIVERED:
        assert shipment.delivered_at == shipment.events[-1].occurred_at
    else:
        assert shipment.delivered_at is None


UNKNOWN_CASES = [
    ("easypost", lambda p: p["result"].__setitem__("status", "lost"), r"result\.status: .*'lost'"),
    ("easypost", lambda p: p["result"]["tracking_details"][2].__setitem__("status", "lost"),
     r"result\.tracking_details\.2\.status: .*'lost'"),
    ("shippo", lambda p: p["data"]["tracking_status"].__setitem__("status", "LOST"),
     r"data\.tracking_status\.status: .*'LOST'"),
    ("shippo", lambda p: p["data"]["tracking_history"][0].__setitem__("status", "LOST"),
     r"data\.tracking_history\.0\.status: .*'LOST'"),
    ("aftership", lambda p: p["msg"].__setitem__("tag", "Lost"), r"msg\.tag: .*'Lost'"),
    ("aftership", lambda p: p["msg"]["checkpoints"][3].__setitem__("tag", "in_transit"),
     r"msg\.checkpoints\.3\.tag: .*'in_transit'"),
]


@pytest.mark.parametrize(("carrier", "spoil", "message"), UNKNOWN_CASES, ids=[f"{c}-{i}" for i, (c, _, _) in
                                                                              enumerate(UNKNOWN_CASES)])
def test_an_undocumented_status_is_unmappable_and_named(carrier, spoil, message):
    module, table, build = CARRIERS[carrier]
    payload, topic = build(next(iter(table)))
    spoil(payload)
    with pytest.raises(Unmappable, match=message):
        module.TOPICS[topic](payload, MapContext(carrier))


MISSING_CASES = [
    ("easypost", lambda p: p["result"].pop("tracking_code"), "result.tracking_code: Missing data for required field."),
    ("shippo", lambda p: p["data"].pop("tracking_number"), "data.tracking_number: Missing data for required field."),
    ("aftership", lambda p: p["msg"].pop("tracking_number"), "msg.tracking_number: Missing data for required field."),
    ("shippo", lambda p: p["data"].__setitem__("tracking_number", ""), "data.tracking_number: Shorter than minimum"),
]


@pytest.mark.parametrize(("carrier", "spoil", "message"), MISSING_CASES, ids=[f"{c}-{i}" for i, (c, _, _) in
                                                                              enumerate(MISSING_CASES)])
def test_a_payload_without_tracking_number_is_unmappable_and_names_the_field(carrier, spoil, message):
    module, table, build = CARRIERS[carrier]
    payload, topic = build(next(iter(table)))
    spoil(payload)
    with pytest.raises(Unmappable) as err:
        module.TOPICS[topic](payload, MapContext(carrier))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_payload_without_its_envelope_is_unmappable(carrier):
    module, table, build = CARRIERS[carrier]
    payload, topic = build(next(iter(table)))
    inner = next(v for v in payload.values() if isinstance(v, dict))
    with pytest.raises(Unmappable, match="Missing data for required field"):
        module.TOPICS[topic](inner, MapContext(carrier))
