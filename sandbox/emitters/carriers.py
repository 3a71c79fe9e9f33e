"""Carrier webhook emitters: EasyPost, Shippo and AfterShip drive one parcel through its statuses
(pre_transit -> in_transit -> out_for_delivery -> delivered, or an exception), each update signed
as the carrier signs it and posted to a hub URL.

Every body carries the whole history so far, as the carriers send it (EasyPost Tracker
``tracking_details``, Shippo ``tracking_history``, AfterShip ``checkpoints``), in the shape of the
corpus examples (carriers/easypost_event_tracker_updated.json and the platforms' docs), with the
carrier's estimate (EasyPost ``est_delivery_date``, Shippo ``eta``, AfterShip ``expected_delivery``)
when one is given.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from sandbox import signing

# canonical status -> each carrier's own word for it
EASYPOST = {"pre_transit": "pre_transit", "in_transit": "in_transit", "out_for_delivery": "out_for_delivery",
            "delivered": "delivered", "exception": "failure", "returned": "return_to_sender"}
SHIPPO = {"pre_transit": "PRE_TRANSIT", "in_transit": "TRANSIT", "out_for_delivery": "TRANSIT",
          "delivered": "DELIVERED", "exception": "FAILURE", "returned": "RETURNED"}
AFTERSHIP = {"pre_transit": "InfoReceived", "in_transit": "InTransit", "out_for_delivery": "OutForDelivery",
             "delivered": "Delivered", "exception": "Exception", "returned": "Exception"}
MESSAGES = {"pre_transit": "Shipping label created", "in_transit": "Arrived at carrier facility",
            "out_for_delivery": "Out for delivery", "delivered": "Delivered, front door",
            "exception": "Delivery attempt failed: business closed", "returned": "Returned to sender"}
HAPPY_PATH = ("pre_transit", "in_transit", "out_for_delivery", "delivered")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Step:
    status: str  # canonical
    at: datetime


def journey(start: datetime, statuses: Iterable[str] = HAPPY_PATH,
            every: timedelta = timedelta(hours=20)) -> list[Step]:
    return [Step(s, start + i * every) for i, s in enumerate(statuses)]


def easypost_body(tracking: str, carrier: str, steps: list[Step], estimate: datetime | None = None,
                  tracker_id: str | None = None) -> dict[str, Any]:
    """``tracker.updated`` (``tracker.created`` for the first step) with the history up to the last step."""
    last = steps[-1]
    details = [{"object": "TrackingDetail", "message": MESSAGES[s.status], "description": MESSAGES[s.status],
                "status": EASYPOST[s.status], "datetime": _iso(s.at), "source": carrier,
                "tracking_location": {"object": "TrackingLocation", "city": "ORLANDO", "state": "FL",
                                      "country": "US", "zip": "32809"}} for s in steps]
    tracker = {"id": tracker_id or f"trk_{uuid.uuid5(uuid.NAMESPACE_URL, tracking).hex[:24]}", "object": "Tracker",
               "mode": "test", "tracking_code": tracking, "status": EASYPOST[last.status],
               "created_at": _iso(steps[0].at), "updated_at": _iso(last.at), "carrier": carrier,
               "est_delivery_date": _iso(estimate) if estimate else None, "tracking_details": details}
    return {"description": "tracker.created" if len(steps) == 1 else "tracker.updated", "mode": "test",
            "created_at": _iso(last.at), "updated_at": _iso(last.at), "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "Event", "status": "pending", "result": tracker}


def shippo_body(tracking: str, carrier: str, steps: list[Step], estimate: datetime | None = None,
                metadata: str | None = None) -> dict[str, Any]:
    history = [{"object_id": uuid.uuid4().hex, "status": SHIPPO[s.status], "status_details": MESSAGES[s.status],
                "status_date": _iso(s.at), "location": {"city": "San Francisco", "state": "CA", "zip": "94103",
                                                        "country": "US"}} for s in steps]
    return {"event": "track_updated", "test": True, "data": {
        "carrier": carrier, "tracking_number": tracking, "eta": _iso(estimate) if estimate else None,
        "metadata": metadata, "tracking_status": history[-1], "tracking_history": history}}


def aftership_body(tracking: str, slug: str, steps: list[Step], estimate: datetime | None = None,
                   order_id: str | None = None) -> dict[str, Any]:
    checkpoints = [{"slug": slug, "tag": AFTERSHIP[s.status], "message": MESSAGES[s.status],
                    "checkpoint_time": _iso(s.at), "city": "Louisville", "state": "KY", "country_iso3": "USA"}
                   for s in steps]
    last = steps[-1]
    msg = {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{slug}/{tracking}").hex, "tracking_number": tracking, "slug": slug,
           "tag": AFTERSHIP[last.status], "checkpoints": checkpoints, "order_id": order_id,
           "expected_delivery": _iso(estimate) if estimate else None, "updated_at": _iso(last.at),
           "shipment_delivery_date": _iso(last.at) if last.status == "delivered" else None}
    return {"event": "tracking_update", "event_id": str(uuid.uuid4()), "is_tracking_first_tag": len(steps) == 1,
            "msg": msg, "ts": int(last.at.timestamp())}


BUILDERS = {"easypost": easypost_body, "shippo": shippo_body, "aftership": aftership_body}


@dataclass
class CarrierEmitter:
    """Posts carrier updates to ``{hub_url}/webhooks/{channel}`` signed with the channel's secret."""

    hub_url: str
    secrets: dict[str, str]  # kind -> secret (Shippo: the URL token)
    channels: dict[str, str] = field(default_factory=lambda: {k: k for k in BUILDERS})  # kind -> hub channel id
    session: requests.Session = field(default_factory=requests.Session)

    def bodies(self, kind: str, tracking: str, carrier: str, steps: list[Step], **kw: Any) -> list[bytes]:
        """One body per step, each with the history up to it (what the carrier sends as the parcel moves)."""
        return [json.dumps(BUILDERS[kind](tracking, carrier, steps[:i + 1], **kw)).encode()
                for i in range(len(steps))]

    def post(self, kind: str, body: bytes) -> requests.Response:
        signer = {"easypost": signing.easypost, "shippo": signing.shippo, "aftership": signing.aftership}[kind]
        req = signer(self.secrets[kind], body)
        return self.session.post(f"{self.hub_url.rstrip('/')}/webhooks/{self.channels[kind]}", data=req.body,
                                 headers=req.headers, params=req.query, timeout=10)

    def drive(self, kind: str, tracking: str, carrier: str, steps: list[Step], **kw: Any) -> list[int]:
        """Every update in order; returns the HTTP statuses."""
        return [self.post(kind, b).status_code for b in self.bodies(kind, tracking, carrier, steps, **kw)]
