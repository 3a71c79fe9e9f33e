"""EasyPost tracker webhooks -> canonical ``Shipment``.

EasyPost POSTs an Event whose ``result`` is a Tracker: ``tracker.created`` when the tracker is made,
``tracker.updated`` on every carrier scan. The Tracker carries the whole history (``tracking_details``),
so each delivery maps to one Shipment with its current status and every event, both normalised
through one status table. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from . import Handler, MapContext, current_ctx, load_with
from .canonical import EventType, Mapped, Origin, Shipment, ShipmentStatus, TrackingEvent
from .common import Lenient, PlaceSchema, UtcDateTime, optional

# Tracker.status and TrackingDetail.status -> canonical. Source: EasyPost API reference, Tracker object
# ("status ... Possible values", docs.easypost.com/docs/trackers) and the definitions in EasyPost's support
# article "Understanding Trackers" (support.easypost.com/hc/en-us/articles/360044353091). Judgement calls:
# - unknown: "the carrier has no available tracking information" -- nothing has been scanned, which is what
#   pre_transit means here; EasyPost does not say the parcel is moving, so not in_transit, and a fresh
#   tracker is routinely unknown, so not exception.
# - available_for_pickup: waiting at a carrier location for the recipient to collect it. The last leg is the
#   recipient's; the nearest canonical state is out_for_delivery (delivered follows with the pickup scan).
# - failure / cancelled / error: the parcel will not arrive as planned or cannot be tracked; an operator must
#   look, so exception.
# Any other value raises Unmappable: EasyPost documents no meaning for it.
STATUSES: dict[str, ShipmentStatus] = {
    "unknown": ShipmentStatus.PRE_TRANSIT,
    "pre_transit": ShipmentStatus.PRE_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "return_to_sender": ShipmentStatus.RETURNED,
    "failure": ShipmentStatus.EXCEPTION,
    "cancelled": ShipmentStatus.EXCEPTION,
    "error": ShipmentStatus.EXCEPTION,
}


def _status(value: Any) -> ShipmentStatus:
    if isinstance(value, str) and value in STATUSES:
        return STATUSES[value]
    raise ValidationError(f"unknown EasyPost tracker status {value!r}")





class TrackingDetailSchema(Lenient):
    status = fields.Function(deserialize=_status, required=True)
    occurred_at = optional(UtcDateTime, data_key="datetime")
    message = optional(fields.String)
    location = fields.Nested(PlaceSchema, data_key="tracking_location", load_default=None,
                             allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TrackingEvent:
        return TrackingEvent(**data)


class TrackerSchema(Lenient):
    id = fields.String(required=True, validate=validate.Length(min=1))
    object = fields.String(load_default="Tracker", validate=validate.Equal("Tracker", error="not a Tracker: {input!r}"))
    tracking_number = fields.String(data_key="tracking_code", required=True, validate=validate.Length(min=1))
    carrier = fields.String(required=True, validate=validate.Length(min=1))
    status = fields.Function(deserialize=_status, required=True)
    estimated_delivery = optional(UtcDateTime, data_key="est_delivery_date")
    updated_at = optional(UtcDateTime)
    events = fields.List(fields.Nested(TrackingDetailSchema), data_key="tracking_details", load_default=list)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        events: list[TrackingEvent] = data["events"]
        delivered = [e.occurred_at for e in events if e.status is ShipmentStatus.DELIVERED]
        return Shipment(
            carrier=data["carrier"].lower(),
            tracking_number=data["tracking_number"],
            status=data["status"],
            events=events,
            origin=Origin(current_ctx().channel, data["id"]),
            order_reference=None,  # the Shipment's reference is not part of the Tracker
            estimated_delivery=data["estimated_delivery"],
            delivered_at=delivered[-1] if data["status"] is ShipmentStatus.DELIVERED and delivered else None,
            source_updated_at=data["updated_at"],
        )


class TrackerEventSchema(Lenient):
    """The webhook Event envelope: ``{"description": "tracker.updated", "result": {Tracker}, ...}``."""

    result = fields.Nested(TrackerSchema, required=True)
    updated_at = optional(UtcDateTime)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        shipment: Shipment = data["result"]
        if shipment.source_updated_at is None:
            shipment.source_updated_at = data["updated_at"]
        return shipment


def handle_tracker(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    """``tracker.created`` / ``tracker.updated``: the Tracker as one Shipment with its full history."""
    return Mapped(EventType.SHIPMENT_UPDATED, [load_with(TrackerEventSchema, payload, ctx)])


TOPICS: dict[str, Handler] = {
    "tracker.created": handle_tracker,
    "tracker.updated": handle_tracker,
}
