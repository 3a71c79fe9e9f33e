"""Shippo ``track_updated`` webhooks -> canonical ``Shipment``.

Shippo POSTs ``{"event": "track_updated", "test": bool, "data": {Track}}``; the Track holds the current
``tracking_status`` and the whole ``tracking_history`` (same shape, oldest first). One delivery maps to one
Shipment with every history entry normalised through one status table. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from . import Handler, MapContext, current_ctx, load_with
from .canonical import EventType, Mapped, Origin, Shipment, ShipmentStatus, TrackingEvent
from .common import Lenient, PlaceSchema, UtcDateTime, optional

# Track.tracking_status.status (and each tracking_history entry) -> canonical. Source: Shippo API reference,
# Track object, tracking_status.status enum (PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE, UNKNOWN) and
# the status descriptions in Shippo's tracking guide. Judgement calls:
# - UNKNOWN: the carrier has no scan for the parcel yet (label created, awaiting the item), which is
#   pre_transit; the corpus track shows exactly that ("...the USPS is awaiting the item." is UNKNOWN).
# - FAILURE: delivery failed (undeliverable, lost, ...): an operator must look, so exception.
# - RETURNED: on its way back or back with the sender, so returned.
# Shippo signals "out for delivery" only as a TRANSIT substatus, so out_for_delivery never comes from here.
# Any other value raises Unmappable: Shippo documents no meaning for it.
STATUSES: dict[str, ShipmentStatus] = {
    "UNKNOWN": ShipmentStatus.PRE_TRANSIT,
    "PRE_TRANSIT": ShipmentStatus.PRE_TRANSIT,
    "TRANSIT": ShipmentStatus.IN_TRANSIT,
    "DELIVERED": ShipmentStatus.DELIVERED,
    "RETURNED": ShipmentStatus.RETURNED,
    "FAILURE": ShipmentStatus.EXCEPTION,
}


def _status(value: Any) -> ShipmentStatus:
    if isinstance(value, str) and value in STATUSES:
        return STATUSES[value]
    raise ValidationError(f"unknown Shippo tracking status {value!r}")





class TrackingStatusSchema(Lenient):
    status = fields.Function(deserialize=_status, required=True)
    occurred_at = optional(UtcDateTime, data_key="status_date")
    message = optional(fields.String, data_key="status_details")
    location = fields.Nested(PlaceSchema, load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TrackingEvent:
        return TrackingEvent(**data)


class TrackSchema(Lenient):
    carrier = fields.String(required=True, validate=validate.Length(min=1))
    tracking_number = fields.String(required=True, validate=validate.Length(min=1))
    eta = optional(UtcDateTime)
    metadata = optional(fields.String)
    current = fields.Nested(TrackingStatusSchema, data_key="tracking_status", required=True)
    history = fields.List(fields.Nested(TrackingStatusSchema), data_key="tracking_history", load_default=list)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        current: TrackingEvent = data["current"]
        # Shippo's history ends with the current status; a webhook without history still carries that one.
        events: list[TrackingEvent] = data["history"] or [current]
        delivered = [e.occurred_at for e in events if e.status is ShipmentStatus.DELIVERED]
        carrier = data["carrier"].lower()
        return Shipment(
            carrier=carrier,
            tracking_number=data["tracking_number"],
            status=current.status,
            events=events,
            # A Track has no id of its own: Shippo addresses it as /tracks/{carrier}/{tracking_number}.
            origin=Origin(current_ctx().channel, f"{carrier}/{data['tracking_number']}"),
            # metadata is the shipper's free text (e.g. "Order 123"); kept raw, we cannot parse it reliably.
            order_reference=(data["metadata"] or "").strip() or None,
            estimated_delivery=data["eta"],
            delivered_at=delivered[-1] if current.status is ShipmentStatus.DELIVERED and delivered else None,
            source_updated_at=current.occurred_at,
        )


class TrackWebhookSchema(Lenient):
    """The webhook envelope: ``{"event": "track_updated", "test": bool, "data": {Track}}``."""

    data = fields.Nested(TrackSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        return data["data"]


def handle_track_updated(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    """``track_updated``: the Track as one Shipment with its full history."""
    return Mapped(EventType.SHIPMENT_UPDATED, [load_with(TrackWebhookSchema, payload, ctx)])


TOPICS: dict[str, Handler] = {
    "track_updated": handle_track_updated,
}
