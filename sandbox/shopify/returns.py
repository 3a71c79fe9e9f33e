"""Returns in the simulated shop, as Shopify's returns/* webhooks carry them: returns/request and returns/approve
name the order as ``order: {id}`` and list ``return_line_items``, each naming its order line through the
fulfillment line item it sends back; returns/close, decline, cancel and reopen carry ``id``, ``order_id`` and
``status`` only (lower case, as the REST webhooks write Shopify's ReturnStatus)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import gid


@dataclass
class ReturnLine:
    id: int
    fulfillment_line_id: int
    line_id: int
    quantity: int
    reason: str
    note: str | None


@dataclass
class Return:
    id: int
    order_id: int
    name: str  # "#1001-R1"
    status: str = "requested"
    lines: list[ReturnLine] = field(default_factory=list)


def with_lines(r: Return) -> dict:
    """The body of returns/request and returns/approve."""
    return {"id": r.id, "admin_graphql_api_id": gid("Return", r.id), "status": r.status,
            "order": {"id": r.order_id, "admin_graphql_api_id": gid("Order", r.order_id)},
            "total_return_line_items": sum(x.quantity for x in r.lines), "name": r.name,
            "return_line_items": [{
                "id": x.id, "admin_graphql_api_id": gid("ReturnLineItem", x.id),
                "fulfillment_line_item": {"id": x.fulfillment_line_id,
                                          "admin_graphql_api_id": gid("FulfillmentLineItem", x.fulfillment_line_id),
                                          "line_item": {"id": x.line_id, "admin_graphql_api_id": gid("LineItem",
                                                                                                     x.line_id)}},
                "quantity": x.quantity, "return_reason": x.reason, "return_reason_note": "",
                "customer_note": x.note} for x in r.lines],
            "return_shipping_fees": [], "exchange_line_items": [], "total_exchange_line_items": 0}


def status_only(r: Return) -> dict:
    """The body of returns/close, decline, cancel and reopen."""
    return {"id": r.id, "admin_graphql_api_id": gid("Return", r.id), "order_id": r.order_id, "status": r.status}
