"""Read API for the canonical store (orders, customers, payments, shipments, stock) and the
links API, under /api behind the admin token. Money is rendered as a decimal string with its
currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, request
from marshmallow import ValidationError
from sqlalchemy import Connection, Row, and_, func, or_, select

from domain.orders import reference_forms
from hub.state import current_hub
from mappings.canonical import currency_exponent
from store.deliveries import event_source, iso
from store.links import Link, LinkError, add_links, list_links
from store.models import (
    customer_links,
    customers,
    event_records,
    events,
    order_lines,
    orders,
    payments,
    returns,
    shipments,
    stock_levels,
    stock_movements,
)

from .admin import require_token
from .schemas import (
    CustomersQuery,
    LinkIn,
    LinksQuery,
    OrdersQuery,
    PaymentsQuery,
    ShipmentsQuery,
    StockQuery,
    describe,
    load_query,
)

bp = Blueprint("records", __name__, url_prefix="/api")
bp.before_request(require_token)


def money(amount: Decimal | None, currency: str | None) -> dict[str, str] | None:
    """``{"amount": "10.00", "currency": "EUR"}``: the currency's minor units, or more if the value has them."""
    if amount is None:
        return None
    places = currency_exponent(currency or "")
    exact = amount.normalize()
    shown = exact if -exact.as_tuple().exponent > places else amount.quantize(Decimal(1).scaleb(-places))
    return {"amount": str(shown), "currency": currency or ""}


def _order_summary(r: Row[Any]) -> dict[str, Any]:
    out = {k: r._mapping[k] for k in ("id", "channel", "external_id", "number", "status", "email", "customer_id",
                                      "payment_method")}
    for key in ("subtotal", "shipping", "tax", "discount", "total"):
        out[key] = money(r._mapping[key], r.currency)
    out["presentment_total"] = money(r.presentment_total, r.presentment_currency)
    out.update(placed_at=iso(r.placed_at), updated_at=iso(r.source_updated_at))
    return out


def list_orders(conn: Connection, *, channel: str | None = None, status: str | None = None, q: str | None = None,
                limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """Newest first; ``q`` is an order number, an external id or an email; ``before`` an id cursor."""
    query = select(orders).order_by(orders.c.id.desc()).limit(limit)
    if channel:
        query = query.where(orders.c.channel == channel)
    if status:
        query = query.where(orders.c.status == status)
    if before:
        query = query.where(orders.c.id < before)
    if q and q.strip():
        term = q.strip()
        query = query.where(or_(orders.c.number == term, orders.c.number == term.lstrip("#"),
                                orders.c.external_id == term, orders.c.email == term.lower()))
    return [_order_summary(r) for r in conn.execute(query)]


@bp.get("/orders")
def orders_list():  # noqa: ANN201
    """Orders, newest first.
    ---
    get:
      summary: List orders
      tags: [orders]
      parameters: [{in: query, schema: OrdersQuery}]
      responses:
        200: {description: Orders, content: {application/json: {schema: OrderList}}}
        400: BadRequest
    """
    args = load_query(OrdersQuery)
    with current_hub().engine.connect() as conn:
        return {"orders": list_orders(conn, channel=args.get("channel"), status=args.get("status"), q=args.get("q"),
                                      limit=args["limit"])}


def order_detail(conn: Connection, order_id: int) -> dict[str, Any] | None:
    """One order with its lines, customer, payments, shipments and the events that built it."""
    row = conn.execute(select(orders).where(orders.c.id == order_id)).one_or_none()
    if row is None:
        return None
    out = _order_summary(row)
    out["shipping_address"], out["billing_address"] = row.shipping_address, row.billing_address
    out["lines"] = [{"sku": li.sku, "title": li.title, "quantity": li.quantity,
                     "unit_price": money(li.unit_price, row.currency), "tax": money(li.tax, row.currency),
                     "discount": money(li.discount, row.currency)}
                    for li in conn.execute(select(order_lines).where(order_lines.c.order_id == order_id)
                                           .order_by(order_lines.c.position))]
    cust = conn.execute(select(customers).where(customers.c.id == row.customer_id)).one_or_none()
    out["customer"] = _customer(conn, cust) if cust else None
    out["payments"] = [_payment(p) for p in conn.execute(select(payments).where(payments.c.order_id == order_id))]
    out["shipments"] = [_shipment(s) for s in conn.execute(select(shipments).where(shipments.c.order_id == order_id))]
    out["returns"] = order_returns(conn, row)
    out["events"] = [{"id": e.id, "topic": e.topic, "channel": e.channel, "effect": e.effect,
                      "received_at": iso(e.received_at), "source": event_source(e.headers)}
                     for e in conn.execute(select(events.c.id, events.c.topic, events.c.channel,
                                                  events.c.received_at, events.c.headers, event_records.c.effect)
                                           .join(event_records, event_records.c.event_id == events.c.id)
                                           .where(event_records.c.kind == "order",
                                                  event_records.c.record_id == order_id)
                                           .order_by(events.c.id))]
    return out


def order_returns(conn: Connection, order: Row[Any]) -> list[dict[str, Any]]:
    """The order's returns, with those that named it before the hub had it (their order found on reading)."""
    forms = sorted(reference_forms(order.external_id) | reference_forms(order.number))
    rows = conn.execute(select(returns).where(or_(returns.c.order_id == order.id, and_(
        returns.c.order_id.is_(None), returns.c.channel == order.channel, returns.c.order_reference.in_(forms))))
        .order_by(returns.c.id))
    return [{"id": r.id, "channel": r.channel, "external_id": r.external_id, "name": r.name, "status": r.status,
             "lines": r.lines or [], "created_at": iso(r.created_at), "updated_at": iso(r.updated_at),
             "closed_at": iso(r.closed_at)} for r in rows]


@bp.get("/orders/<int:order_id>")
def orders_show(order_id: int):  # noqa: ANN201
    """One order with its lines, customer, payments, shipments and the events that built it.
    ---
    get:
      summary: One order
      tags: [orders]
      responses:
        200: {description: The order, content: {application/json: {schema: OrderDetail}}}
        404: NotFound
    """
    with current_hub().engine.connect() as conn:
        out = order_detail(conn, order_id)
    if out is None:
        abort(404, description="no such order")
    return out


def _customer(conn: Any, c: Row[Any]) -> dict[str, Any]:
    out = {k: c._mapping[k] for k in ("id", "email", "first_name", "last_name", "phone", "accepts_marketing",
                                      "addresses")}
    out["channels"] = [{"channel": link.channel, "external_id": link.external_id} for link in conn.execute(
        select(customer_links).where(customer_links.c.customer_id == c.id))]
    return out


@bp.get("/customers")
def customers_list():  # noqa: ANN201
    """Customers, newest first, with the channels that know them.
    ---
    get:
      summary: List customers
      tags: [orders]
      parameters: [{in: query, schema: CustomersQuery}]
      responses:
        200: {description: Customers, content: {application/json: {schema: CustomerList}}}
        400: BadRequest
    """
    args = load_query(CustomersQuery)
    q = select(customers).order_by(customers.c.id.desc()).limit(args["limit"])
    if args.get("email"):
        q = q.where(customers.c.email == args["email"].strip().lower())
    with current_hub().engine.connect() as conn:
        return {"customers": [_customer(conn, c) for c in conn.execute(q)]}


def _payment(p: Row[Any]) -> dict[str, Any]:
    out = {k: p._mapping[k] for k in ("id", "provider", "channel", "external_id", "order_id", "order_reference",
                                      "status", "customer_email")}
    out.update(amount=money(p.amount, p.currency), refunded=money(p.refunded, p.currency),
               occurred_at=iso(p.occurred_at), matched_at=iso(p.matched_at))
    return out


def list_payments(conn: Connection, *, unmatched: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first; ``unmatched``: only the payments no order has been found for yet."""
    q = select(payments).order_by(payments.c.id.desc()).limit(limit)
    if unmatched:
        q = q.where(payments.c.order_id.is_(None))
    return [_payment(p) for p in conn.execute(q)]


@bp.get("/payments")
def payments_list():  # noqa: ANN201
    """Payments, newest first; ``?unmatched=1``: those still waiting for their order.
    ---
    get:
      summary: List payments
      tags: [orders]
      parameters: [{in: query, schema: PaymentsQuery}]
      responses:
        200: {description: Payments, content: {application/json: {schema: PaymentList}}}
        400: BadRequest
    """
    args = load_query(PaymentsQuery)
    with current_hub().engine.connect() as conn:
        return {"payments": list_payments(conn, unmatched=args["unmatched"], limit=args["limit"])}


def _shipment(s: Row[Any]) -> dict[str, Any]:
    out = {k: s._mapping[k] for k in ("id", "carrier", "tracking_number", "status", "channel", "order_id",
                                      "order_reference", "events")}
    out.update(estimated_delivery=iso(s.estimated_delivery), delivered_at=iso(s.delivered_at),
               shipped_at=iso(s.shipped_at), promised_at=iso(s.promised_at), promised_by=s.promised_by,
               pushed_at=iso(s.pushed_at), push_ref=s.push_ref, push_error=s.push_error, lines=s.lines)
    return out


@bp.get("/shipments")
def shipments_list():  # noqa: ANN201
    """Shipments, newest first, with their scans, promise and push to the order's channel.
    ---
    get:
      summary: List shipments
      tags: [orders]
      parameters: [{in: query, schema: ShipmentsQuery}]
      responses:
        200: {description: Shipments, content: {application/json: {schema: ShipmentList}}}
        400: BadRequest
    """
    args = load_query(ShipmentsQuery)
    q = select(shipments).order_by(shipments.c.id.desc()).limit(args["limit"])
    if args.get("status"):
        q = q.where(shipments.c.status == args["status"])
    with current_hub().engine.connect() as conn:
        return {"shipments": [_shipment(s) for s in conn.execute(q)]}


@bp.get("/stock")
def stock_list():  # noqa: ANN201
    """Stock levels per SKU and warehouse; with ``?sku=``, that SKU's levels and its ledger.
    ---
    get:
      summary: Stock levels (and one SKU's ledger)
      tags: [stock]
      parameters: [{in: query, schema: StockQuery}]
      responses:
        200: {description: Levels, content: {application/json: {schema: Stock}}}
        400: BadRequest
    """
    q = select(stock_levels).order_by(stock_levels.c.sku, stock_levels.c.warehouse)
    sku = load_query(StockQuery).get("sku")
    if sku:
        q = q.where(stock_levels.c.sku == sku)
    with current_hub().engine.connect() as conn:
        levels = [{"sku": r.sku, "warehouse": r.warehouse, "on_hand": r.on_hand, "committed": r.committed,
                   "available": r.on_hand - r.committed, "updated_at": iso(r.updated_at)} for r in conn.execute(q)]
        moves = []
        if sku:
            moves = [{"warehouse": m.warehouse, "delta": m.delta, "committed_delta": m.committed_delta,
                      "reason": m.reason, "channel": m.channel,
                      "event_id": m.source_event, "at": iso(m.created_at)}
                     for m in conn.execute(select(stock_movements).where(stock_movements.c.sku == sku)
                                           .order_by(stock_movements.c.id))]
        total = conn.execute(select(func.count()).select_from(stock_levels)).scalar()
    return {"levels": levels, "movements": moves, "skus_total": total}


@bp.get("/links")
def links_list():  # noqa: ANN201
    """SKU and location links per channel.
    ---
    get:
      summary: List links
      tags: [stock]
      parameters: [{in: query, schema: LinksQuery}]
      responses:
        200: {description: Links, content: {application/json: {schema: Links}}}
        400: BadRequest
    """
    args = load_query(LinksQuery)
    with current_hub().engine.connect() as conn:
        return list_links(conn, channel=args.get("channel"), sku=args.get("sku"))


@bp.post("/links")
def links_add():  # noqa: ANN201
    """One link or a list: ``{"channel", "sku", "product_id", "variant_id", "inventory_item_id"}``
    and/or ``{"channel", "location_id", "warehouse"}``. All or nothing; parked events resume.
    ---
    post:
      summary: Add or change links
      tags: [stock]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf: [LinkIn, {type: array, items: LinkIn, minItems: 1}]
      responses:
        201: {description: Stored, content: {application/json: {schema: LinksStored}}}
        400: BadRequest
    """
    hub = current_hub()
    body = request.get_json(silent=True)
    items = body if isinstance(body, list) and body else [body]
    try:
        links = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise LinkError(f"item {i}: an object with keys from {sorted(LinkIn().fields)}")
            try:
                values = LinkIn().load(item)
            except ValidationError as exc:
                raise LinkError(f"item {i}: {describe(exc.messages)}") from None
            if values["channel"] not in hub.config.channels:
                raise LinkError(f"item {i}: unknown channel {values['channel']!r}")
            links.append(Link(**values))
        resumed = add_links(hub.engine, links, hub.queues.enqueue_event)
    except LinkError as exc:
        abort(400, description=str(exc))
    return {"stored": len(links), "resumed_events": resumed}, 201
