"""AfterShip ``tracking_update`` webhooks -> canonical ``Shipment``.

AfterShip POSTs ``{"event": "tracking_update", "event_id": ..., "msg": {Tracking}, "ts": ...}``; the Tracking
holds the current ``tag`` and every ``checkpoints[]`` entry (oldest first). One delivery maps to one Shipment
with every checkpoint normalised through one status table. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate

from . import Handler, MapContext, current_ctx, load_with
from .canonical import EventType, Mapped, Origin, Shipment, ShipmentStatus, TrackingEvent
from .common import Lenient, UtcDateTime, optional

# Tracking.tag and Checkpoint.tag -> canonical. Source: AfterShip Tracking API, "Delivery Statuses" enum
# (aftership.com/docs/tracking/2025-01/enum/delivery-statuses, the 9 documented tags). Judgement calls:
# - AvailableForPickup: "arrived at a pickup point ... available for pickup"; AfterShip itself files
#   "ready to pickup" under OutForDelivery, so out_for_delivery.
# - AttemptFail: "attempted to deliver but failed ... will try to deliver again". The parcel is still with
#   the carrier, but the delivery promise is broken and the customer usually has to act (notice, re-arrange),
#   so exception: that is what an operator must see.
# - Exception: "custom hold, undelivered, returned shipment to sender or any shipping exceptions" -- the tag
#   does not tell a return from other trouble, so exception rather than returned.
# - Expired: "no tracking information for 30 days since added"; tracking has stopped, so exception.
# Any other value raises Unmappable: AfterShip documents no meaning for it.
STATUSES: dict[str, ShipmentStatus] = {
    "Pending": ShipmentStatus.PRE_TRANSIT,
    "InfoReceived": ShipmentStatus.PRE_TRANSIT,
    "InTransit": ShipmentStatus.IN_TRANSIT,
    "OutForDelivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "AvailableForPickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "AttemptFail": ShipmentStatus.EXCEPTION,
    "Delivered": ShipmentStatus.DELIVERED,
    "Exception": ShipmentStatus.EXCEPTION,
    "Expired": ShipmentStatus.EXCEPTION,
}


def _status(value: Any) -> ShipmentStatus:
    if isinstance(value, str) and value in STATUSES:
        return STATUSES[value]
    raise ValidationError(f"unknown AfterShip tag {value!r}")





class EstimatedDeliverySchema(Lenient):
    """``courier_estimated_delivery_date`` / ``aftership_estimated_delivery_date``: ``{estimated_delivery_date,
    ..._min, ..._max}``; the point estimate is what we keep."""

    estimated_delivery_date = optional(UtcDateTime)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> datetime | None:
        return data["estimated_delivery_date"]


class CheckpointSchema(Lenient):
    status = fields.Function(data_key="tag", deserialize=_status, required=True)
    occurred_at = optional(UtcDateTime, data_key="checkpoint_time")
    message = optional(fields.String)
    city = optional(fields.String)
    state = optional(fields.String)
    country_name = optional(fields.String)
    country_iso3 = optional(fields.String)
    raw_location = optional(fields.String, data_key="location")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TrackingEvent:
        return TrackingEvent(data["status"], data["occurred_at"], data["message"], _location(data))


def _location(data: dict[str, Any]) -> str | None:
    """City, State, Country joined from what is present; when the carrier gave no city or state AfterShip
    often still has its raw ``location`` ("DONGGUAN CN"), which says more than the country alone."""
    country = data["country_name"] or data["country_iso3"]
    if not (data["city"] or data["state"]) and data["raw_location"]:
        return data["raw_location"]
    return ", ".join(part for part in (data["city"], data["state"], country) if part) or None


class TrackingSchema(Lenient):
    id = fields.String(required=True, validate=validate.Length(min=1))
    slug = fields.String(required=True, validate=validate.Length(min=1))
    tracking_number = fields.String(required=True, validate=validate.Length(min=1))
    status = fields.Function(data_key="tag", deserialize=_status, required=True)
    events = fields.List(fields.Nested(CheckpointSchema), data_key="checkpoints", load_default=list)
    order_id = optional(fields.String)
    expected_delivery = optional(UtcDateTime)
    courier_edd = fields.Nested(EstimatedDeliverySchema, data_key="courier_estimated_delivery_date",
                                load_default=None, allow_none=True)
    aftership_edd = fields.Nested(EstimatedDeliverySchema, data_key="aftership_estimated_delivery_date",
                                  load_default=None, allow_none=True)
    shipment_delivery_date = optional(UtcDateTime)
    updated_at = optional(UtcDateTime)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        events: list[TrackingEvent] = data["events"]
        is_delivered = data["status"] is ShipmentStatus.DELIVERED
        delivered = [e.occurred_at for e in events if e.status is ShipmentStatus.DELIVERED]
        return Shipment(
            carrier=data["slug"].lower(),
            tracking_number=data["tracking_number"],
            status=data["status"],
            events=events,
            origin=Origin(current_ctx().channel, data["id"]),
            order_reference=data["order_id"] or None,
            # Carrier-reported dates (expected_delivery, then the courier EDD) before AfterShip's own prediction.
            estimated_delivery=data["expected_delivery"] or data["courier_edd"] or data["aftership_edd"],
            # No Delivered checkpoint (a trimmed webhook): AfterShip's own shipment_delivery_date says when.
            delivered_at=(delivered[-1] if delivered else data["shipment_delivery_date"]) if is_delivered else None,
            source_updated_at=data["updated_at"],
        )


class TrackingWebhookSchema(Lenient):
    """The webhook envelope: ``{"event": "tracking_update", "event_id": ..., "msg": {Tracking}, "ts": ...}``."""

    msg = fields.Nested(TrackingSchema, required=True)

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Shipment:
        return data["msg"]


def handle_tracking_update(payload: dict[str, Any], ctx: MapContext) -> Mapped:
    """``tracking_update``: the Tracking as one Shipment with its full checkpoint history."""
    return Mapped(EventType.SHIPMENT_UPDATED, [load_with(TrackingWebhookSchema, payload, ctx)])


TOPICS: dict[str, Handler] = {
    "tracking_update": handle_tracking_update,
}
