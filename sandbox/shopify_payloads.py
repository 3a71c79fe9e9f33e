"""Webhook bodies of the Shopify sandbox, in the REST shape Shopify delivers for API 2026-07:
``inventory_levels/update`` and ``orders/create`` / ``orders/cancelled``.

Orders start from Shopify's own documented example (corpus ``orders.create.json``) so every key a
real delivery carries is there; the sandbox fills in its ids, lines, money and timestamps.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .shopify_graphql import corpus_dir
from .shopify_model import Level, Order, Store, gid

ORDER_TEMPLATE_REL = "shopify/webhook-examples-2026-07/orders.create.json"
CURRENCY = "USD"
# REST bodies carry times in the shop's zone; the sandbox shop sits at UTC-5, as Shopify's examples do
SHOP_TZ = timezone(timedelta(hours=-5))


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


def order_body(store: Store, order: Order, shop: str) -> dict:
    """The REST order as ``orders/create`` (or, once cancelled, ``orders/cancelled``) delivers it."""
    body = json.loads(_order_template())
    template_line = body["line_items"][0]
    cancelled = order.cancelled_at is not None
    zero, subtotal = Decimal(0), Decimal(0)
    lines = []
    for line in order.lines:
        variant = store.variants[line.variant_id]
        product = store.products[variant.product_id]
        price = Decimal(variant.price)
        subtotal += price * line.quantity
        item = copy.deepcopy(template_line)
        default_title = variant.title == "Default Title"
        item.update({
            "id": line.id, "admin_graphql_api_id": gid("LineItem", line.id), "attributed_staffs": [],
            "current_quantity": 0 if cancelled else line.quantity,
            "fulfillable_quantity": 0 if cancelled else line.quantity,
            "fulfillment_service": "manual", "fulfillment_status": None, "gift_card": False, "grams": 0,
            "name": product.title if default_title else f"{product.title} - {variant.title}",
            "price": _money(price), "price_set": _money_set(price), "product_exists": True,
            "product_id": product.id, "properties": [], "quantity": line.quantity, "requires_shipping": True,
            "sales_line_item_group_id": None, "sku": variant.sku, "taxable": True, "title": product.title,
            "total_discount": "0.00", "total_discount_set": _money_set(zero), "variant_id": variant.id,
            "variant_inventory_management": "shopify", "variant_title": None if default_title else variant.title,
            "vendor": None, "tax_lines": [], "duties": [], "discount_allocations": []})
        lines.append(item)
    current = zero if cancelled else subtotal
    created = rest_time(order.created_at)
    updated = rest_time(order.cancelled_at or order.created_at)
    body.update({
        "id": order.id, "admin_graphql_api_id": gid("Order", order.id), "name": f"#{order.number}",
        "number": order.number - 1000, "order_number": order.number, "token": order.token,
        "confirmation_number": order.token[:9].upper(),
        "confirmed": True, "test": False, "created_at": created, "processed_at": created, "updated_at": updated,
        "cancelled_at": rest_time(order.cancelled_at) if cancelled else None,
        "cancel_reason": order.cancel_reason, "closed_at": updated if cancelled else None,
        "financial_status": "refunded" if cancelled else "paid", "fulfillment_status": None,
        "currency": CURRENCY, "presentment_currency": CURRENCY, "location_id": None,
        "order_status_url": f"https://{shop}/orders/{order.token}/authenticate?key={order.token[:16]}",
        "line_items": lines, "shipping_lines": [], "tax_lines": [], "discount_codes": [],
        "discount_applications": [], "fulfillments": [], "refunds": [], "returns": [], "line_item_groups": [],
        "subtotal_price": _money(subtotal), "subtotal_price_set": _money_set(subtotal),
        "total_line_items_price": _money(subtotal), "total_line_items_price_set": _money_set(subtotal),
        "total_price": _money(subtotal), "total_price_set": _money_set(subtotal),
        "current_subtotal_price": _money(current), "current_subtotal_price_set": _money_set(current),
        "current_total_price": _money(current), "current_total_price_set": _money_set(current),
        "total_outstanding": "0.00", "total_tip_received": "0.00", "total_weight": 0,
    })
    customer = body.get("customer")
    if customer:  # the example's id went through a JavaScript number; its gid keeps the real digits
        customer["id"] = int(customer["admin_graphql_api_id"].rsplit("/", 1)[1])
        if customer.get("default_address"):
            customer["default_address"]["customer_id"] = customer["id"]
    for key in ("current_total_discounts", "current_total_tax", "total_discounts", "total_tax"):
        body[key] = "0.00"
    for key in ("current_shipping_price_set", "current_total_discounts_set", "current_total_tax_set",
                "total_discounts_set", "total_tax_set", "total_shipping_price_set",
                "total_cash_rounding_payment_adjustment_set", "total_cash_rounding_refund_adjustment_set"):
        body[key] = _money_set(zero)
    return body
