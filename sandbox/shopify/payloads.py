"""Webhook bodies of the Shopify sandbox, in the REST shape Shopify delivers for API 2026-07:
``inventory_levels/update``, the order topics (``orders/create``, ``orders/cancelled``,
``orders/updated``, ``orders/fulfilled``, ``orders/partially_fulfilled``) and ``fulfillments/create`` /
``fulfillments/update``.

Orders start from Shopify's own documented example (corpus ``orders.create.json``) so every key a
real delivery carries is there; the sandbox fills in its ids, lines, money and timestamps.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sandbox.corpus import ORDER_TEMPLATE_REL, corpus_dir
from sandbox.shopify.fulfillment import Book, Fulfillment
from sandbox.shopify.model import Level, Order, OrderLine, Store, gid

CURRENCY = "USD"
# REST bodies carry times in the shop's zone; the sandbox shop sits at UTC-5, as Shopify's examples do
SHOP_TZ = timezone(timedelta(hours=-5))
BUYER_KEYS = ("email", "contact_email", "customer", "shipping_address", "billing_address", "payment_gateway_names")


def rest_time(moment: datetime) -> str:
    return moment.astimezone(SHOP_TZ).isoformat(timespec="seconds")


def level_body(store: Store, level: Level) -> dict:
    group = store.locations[level.location_id].group_id
    return {"inventory_item_id": level.item_id, "location_id": level.location_id, "available": level.available,
            "updated_at": rest_time(level.updated_at),
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{group}?inventory_item_id={level.item_id}"}


@functools.cache
def _order_template() -> str:
    return (corpus_dir() / ORDER_TEMPLATE_REL).read_text(encoding="utf-8")


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def _money_set(amount: Decimal) -> dict:
    value = {"amount": _money(amount), "currency_code": CURRENCY}
    return {"shop_money": dict(value), "presentment_money": dict(value)}


def _line_item(store: Store, book: Book, order: Order, line: OrderLine, template: dict, vendor: str) -> dict:
    variant = store.variants[line.variant_id]
    product = store.products[variant.product_id]
    price = Decimal(variant.price)
    cancelled = order.cancelled_at is not None
    shipped = book.shipped(order.id, line.id)
    item = copy.deepcopy(template)
    default_title = variant.title == "Default Title"
    item.update({
        "id": line.id, "admin_graphql_api_id": gid("LineItem", line.id), "attributed_staffs": [],
        "current_quantity": 0 if cancelled else line.quantity,
        "fulfillable_quantity": 0 if cancelled else line.quantity - shipped,
        "fulfillment_service": "manual",
        "fulfillment_status": None if shipped == 0 else "fulfilled" if shipped >= line.quantity else "partial",
        "gift_card": False, "grams": 0,
        "name": product.title if default_title else f"{product.title} - {variant.title}",
        "price": _money(price), "price_set": _money_set(price), "product_exists": True,
        "product_id": product.id, "properties": [], "quantity": line.quantity, "requires_shipping": True,
        "sales_line_item_group_id": None, "sku": variant.sku, "taxable": True, "title": product.title,
        "total_discount": "0.00", "total_discount_set": _money_set(Decimal(0)), "variant_id": variant.id,
        "variant_inventory_management": "shopify", "variant_title": None if default_title else variant.title,
        "vendor": vendor, "tax_lines": [], "duties": [], "discount_allocations": []})
    return item


def _address(template: dict, given: dict | None) -> dict:
    """The example's address with the given fields over it (unknown keys are refused, not dropped)."""
    if not given:
        return template
    unknown = set(given) - set(template)
    if unknown:
        raise ValueError(f"unknown address field(s): {', '.join(sorted(unknown))}")
    out = {**template, **given}
    out["name"] = f"{out.get('first_name') or ''} {out.get('last_name') or ''}".strip()
    return out


def _apply_buyer(body: dict, order: Order) -> None:
    buyer = order.buyer
    customer = body.get("customer")
    if customer:  # the example's id went through a JavaScript number; its gid keeps the real digits
        customer["id"] = int(customer["admin_graphql_api_id"].rsplit("/", 1)[1])
    given = buyer.get("customer")
    if customer and given:
        customer.update({k: given[k] for k in ("first_name", "last_name", "email") if k in given})
        customer["id"] = buyer["customer_id"]
        customer["admin_graphql_api_id"] = gid("Customer", buyer["customer_id"])
        body["email"] = body["contact_email"] = given.get("email", body["email"])
    shipping = _address(body["shipping_address"], buyer.get("shipping_address"))
    body["shipping_address"] = shipping
    body["billing_address"] = _address(body["billing_address"], buyer.get("billing_address") or
                                       buyer.get("shipping_address"))
    if customer and customer.get("default_address"):
        address = customer["default_address"]
        if buyer.get("shipping_address"):
            address.update({k: shipping[k] for k in address if k in shipping})
        address["customer_id"] = customer["id"]


def buyer_fields(order: Order) -> dict:
    """What the order's REST body says of its buyer (``BUYER_KEYS``): the documented example's customer,
    addresses and payment gateways, with what the buyer gave over them. The GraphQL views show the same."""
    body = json.loads(_order_template())
    _apply_buyer(body, order)
    return {key: body[key] for key in BUYER_KEYS}


def order_body(store: Store, book: Book, order: Order, shop: str) -> dict:
    """The REST order as the order topics deliver it (``orders/create``, ``/updated``, ``/fulfilled``, ...)."""
    body = json.loads(_order_template())
    template_line = body["line_items"][0]
    cancelled = order.cancelled_at is not None
    zero = Decimal(0)
    subtotal = sum((Decimal(store.variants[x.variant_id].price) * x.quantity for x in order.lines), zero)
    vendor = shop.split(".", 1)[0]  # a product's vendor defaults to the shop's name
    lines = [_line_item(store, book, order, line, template_line, vendor) for line in order.lines]
    current = zero if cancelled else subtotal
    paid = order.financial_status == "paid"
    financial = ("refunded" if paid else "voided") if cancelled else order.financial_status
    status = book.display_status(order)
    created = rest_time(order.created_at)
    updated = rest_time(order.updated_at or order.created_at)
    body.update({
        "id": order.id, "admin_graphql_api_id": gid("Order", order.id), "name": f"#{order.number}",
        "number": order.number - 1000, "order_number": order.number, "token": order.token,
        "confirmation_number": order.token[:9].upper(),
        "confirmed": True, "test": False, "created_at": created, "processed_at": created, "updated_at": updated,
        "cancelled_at": rest_time(order.cancelled_at) if cancelled else None,
        "cancel_reason": order.cancel_reason, "closed_at": updated if cancelled else None,
        "financial_status": financial,
        "fulfillment_status": {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(status),
        "currency": CURRENCY, "presentment_currency": CURRENCY, "location_id": None,
        "order_status_url": f"https://{shop}/orders/{order.token}/authenticate?key={order.token[:16]}",
        "line_items": lines, "shipping_lines": [], "tax_lines": [], "discount_codes": [],
        "discount_applications": [], "returns": [], "line_item_groups": [],
        "subtotal_price": _money(subtotal), "subtotal_price_set": _money_set(subtotal),
        "total_line_items_price": _money(subtotal), "total_line_items_price_set": _money_set(subtotal),
        "total_price": _money(subtotal), "total_price_set": _money_set(subtotal),
        "current_subtotal_price": _money(current), "current_subtotal_price_set": _money_set(current),
        "current_total_price": _money(current), "current_total_price_set": _money_set(current),
        "total_outstanding": "0.00" if paid or cancelled else _money(subtotal), "total_tip_received": "0.00",
        "total_weight": 0,
    })
    body.update(buyer_fields(order))
    body["fulfillments"] = [fulfillment_body(store, book, f, body) for f in book.orders_fulfillments(order.id)]
    body["refunds"] = [refund_body(store, order, r, {li["id"]: li for li in lines}) for r in order.refunds]
    for key in ("current_total_discounts", "current_total_tax", "total_discounts", "total_tax"):
        body[key] = "0.00"
    for key in ("current_shipping_price_set", "current_total_discounts_set", "current_total_tax_set",
                "total_discounts_set", "total_tax_set", "total_shipping_price_set",
                "total_cash_rounding_payment_adjustment_set", "total_cash_rounding_refund_adjustment_set"):
        body[key] = _money_set(zero)
    return body


def fulfillment_body(store: Store, book: Book, fulfillment: Fulfillment, order: dict) -> dict:
    """A REST fulfillment, as ``fulfillments/create`` delivers it and as it sits in an order's
    ``fulfillments``; ``order`` is that order's REST body (line items, email, shipping address)."""
    lines = {item["id"]: item for item in order["line_items"]}
    items = []
    for x in fulfillment.lines:
        item = copy.deepcopy(lines[x.line_id])
        item.update({"quantity": x.quantity, "fulfillment_status": "fulfilled"})
        items.append(item)
    numbers = [t.number for t in fulfillment.tracking if t.number]
    urls = [t.url for t in fulfillment.tracking if t.url]
    first = fulfillment.tracking[0] if fulfillment.tracking else None
    return {
        "id": fulfillment.id, "order_id": fulfillment.order_id, "status": fulfillment.status.lower(),
        "created_at": rest_time(fulfillment.created_at), "service": "manual",
        "updated_at": rest_time(fulfillment.updated_at), "tracking_company": first.company if first else None,
        "shipment_status": None, "location_id": fulfillment.location_id, "origin_address": {},
        "email": order["email"], "destination": order["shipping_address"], "line_items": items,
        "tracking_number": numbers[0] if numbers else None, "tracking_numbers": numbers,
        "tracking_url": urls[0] if urls else None, "tracking_urls": urls, "receipt": {},
        "name": f"{order['name']}.{fulfillment.number}",
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id)}


def refund_body(store: Store, order: Order, refund: dict, items: dict[int, dict]) -> dict:
    """A REST refund, as ``refunds/create`` delivers it and as it sits in its order's ``refunds``."""
    at = rest_time(refund["created_at"])
    lines = []
    for n, (line, qty, restock_type) in enumerate(refund["lines"]):
        amount = Decimal(store.variants[line.variant_id].price) * qty
        lines.append({"id": refund["id"] * 10 + n, "quantity": qty, "line_item_id": line.id,
                      "location_id": order.location_id if restock_type != "no_restock" else None,
                      "restock_type": restock_type, "subtotal": float(amount), "total_tax": 0,
                      "subtotal_set": _money_set(amount), "total_tax_set": _money_set(Decimal(0)),
                      "line_item": items.get(line.id)})
    return {"id": refund["id"], "order_id": order.id, "created_at": at, "note": refund["note"], "user_id": None,
            "processed_at": at, "duties": [], "total_duties_set": _money_set(Decimal(0)), "return": None,
            "refund_shipping_lines": [], "restock": any(r != "no_restock" for _, _, r in refund["lines"]),
            "admin_graphql_api_id": gid("Refund", refund["id"]), "order_adjustments": [],
            "refund_line_items": lines,
            "transactions": [{"id": refund["id"] + 1, "order_id": order.id, "kind": "refund", "gateway": "manual",
                              "status": "success", "message": "Refunded", "created_at": at, "test": False,
                              "authorization": None, "location_id": None, "user_id": None, "parent_id": None,
                              "processed_at": at, "device_id": None, "error_code": None, "source_name": "web",
                              "receipt": {}, "amount": _money(refund["amount"]), "currency": CURRENCY,
                              "payment_id": f"#{order.number}.{len(order.refunds)}",
                              "admin_graphql_api_id": gid("OrderTransaction", refund["id"] + 1)}]}
