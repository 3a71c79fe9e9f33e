"""The orders an accountant checks the ERP against: every order body of the corpus, and orders built the way
Shopify and WooCommerce build them in EUR, JPY and USD, tax included and excluded, with line and order
discounts, taxed shipping, fees and a line without a SKU. Each is (id, channel, topic, body); the figures
of a built one add up the way its platform adds them, so the ERP must come to the same total."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from . import CORPUS, corpus_json

CENT = Decimal("0.01")


# what the adjustment line carries; everything else adds up from its own lines:
ADJUSTMENTS = {
    "orders.create.json": Decimal("-10.00"),  # the 2026-07 example's 10.00 order discount is on no line
    # 5.00 off 199.00 is 2.51 % at Odoo's two decimals of "Discount": 194.01 (test_erp_orders: a shop may raise it)
    "webhook_orders_docs_2022-04.json": Decimal("-0.01"), "webhook_orders_docs_2022-10.json": Decimal("-0.01"),
    # WooCommerce rounds tax per item (5.75 + 1.44 + 0.80 + 0.40), Odoo's fresh company once (8.38)
    "woo-eur-coupon-fee": Decimal("0.01"),
}


@dataclass(frozen=True)
class Case:
    id: str
    channel: str  # shop-eu (Shopify) or woo
    topic: str
    body: dict[str, Any]

    @property
    def order(self) -> dict[str, Any]:
        """The order itself (a legacy WooCommerce delivery wraps it: ``{"order": {...}}``)."""
        return self.body["order"] if set(self.body) == {"order"} else self.body

    @property
    def skus(self) -> set[str]:
        return {li["sku"] for li in self.order["line_items"] if li.get("sku")}

    @property
    def total(self) -> Decimal:
        return Decimal(str(self.order["total_price" if self.channel == "shop-eu" else "total"]))

    @property
    def ref(self) -> str:
        """The sale order's client_order_ref: ``<channel>:<order number>``."""
        return f"{self.channel}:{self.order.get('name') or self.order.get('number') or self.order['order_number']}"


def q(value: Decimal, step: Decimal = CENT) -> Decimal:
    return value.quantize(step, ROUND_HALF_UP)


def _strip_sets(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not k.endswith("_set")}


def shopify(order_id: int, currency: str, included: bool, rate: Decimal, lines: list[tuple[str | None, int, str, str]],
            shipping: str = "0", shipping_discount: str = "0", step: Decimal = CENT) -> dict[str, Any]:
    """A Shopify order as Shopify figures it: ``lines`` are (sku, quantity, unit price, discount on the line),
    prices with the tax when ``included``; tax per line, rounded, at ``rate`` percent (shipping too)."""
    body = _strip_sets(copy.deepcopy(corpus_json("shopify/webhook_orders_docs_2022-10.json")))
    r = rate / 100
    items, tax_total, line_total, discounts = [], Decimal(0), Decimal(0), Decimal(0)
    for n, (sku, qty, price, discount) in enumerate(lines, 1):
        after = Decimal(price) * qty - Decimal(discount)
        tax = q(after - after / (1 + r), step) if included else q(after * r, step)
        tax_total, line_total, discounts = tax_total + tax, line_total + Decimal(price) * qty, discounts + Decimal(
            discount)
        items.append({"id": order_id * 10 + n, "variant_id": None, "product_id": None, "title": f"Item {n}",
                      "name": f"Item {n}", "sku": sku, "quantity": qty, "price": price,
                      "total_discount": discount, "taxable": True, "requires_shipping": True,
                      "discount_allocations": [{"amount": discount, "discount_application_index": 0}]
                      if Decimal(discount) else [],
                      "tax_lines": [{"title": "VAT", "rate": str(r), "price": str(tax)}] if rate else []})
    ship_after = Decimal(shipping) - Decimal(shipping_discount)
    ship_tax = (q(ship_after - ship_after / (1 + r), step) if included else q(ship_after * r, step)) if rate else 0
    tax_total += ship_tax
    subtotal = line_total - discounts
    total = subtotal + ship_after + (0 if included else tax_total)
    body.update(id=order_id, name=f"#{order_id}", order_number=order_id, currency=currency,
                presentment_currency=currency, taxes_included=included, line_items=items,
                total_price=str(total), subtotal_price=str(subtotal), total_tax=str(tax_total),
                total_discounts=str(discounts + Decimal(shipping_discount)), total_line_items_price=str(line_total),
                cancelled_at=None, cancel_reason=None, financial_status="paid", fulfillment_status=None,
                fulfillments=[], refunds=[], email=f"buyer{order_id}@example.com", discount_applications=[],
                shipping_lines=[{"id": order_id, "title": "Standard", "code": "STD", "price": shipping,
                                 "discounted_price": str(ship_after), "discount_allocations": [],
                                 "tax_lines": [{"title": "VAT", "rate": str(r), "price": str(ship_tax)}]
                                 if rate else []}] if Decimal(shipping) else [],
                tax_lines=[{"title": "VAT", "rate": str(r), "price": str(tax_total)}] if rate else [])
    body["customer"] = {**body["customer"], "email": body["email"]}
    return body


def woo(order_id: int, currency: str, rate: Decimal, lines: list[tuple[str | None, int, str, str]],
        shipping: str = "0", fees: list[tuple[str, str]] = ()) -> dict[str, Any]:
    """A WooCommerce order as its REST API shows it: ``lines`` are (sku, quantity, unit price, coupon discount
    on the line), every amount without tax; taxes per item at ``rate`` percent, rounded to the cent as
    WooCommerce rounds them per item; ``fees``: (name, amount) fee lines, taxed too."""
    body = copy.deepcopy(corpus_json("woocommerce/live-11.0.1/004-order.created.body"))
    r, rate_id = rate / 100, 7
    items, taxes, sub = [], Decimal(0), Decimal(0)
    for n, (sku, qty, price, discount) in enumerate(lines, 1):
        subtotal = Decimal(price) * qty
        total = subtotal - Decimal(discount)
        tax = q(total * r)
        taxes, sub = taxes + tax, sub + total
        items.append({"id": order_id * 10 + n, "name": f"Item {n}", "product_id": 0, "variation_id": 0,
                      "quantity": qty, "tax_class": "", "subtotal": str(subtotal), "subtotal_tax": str(q(subtotal * r)),
                      "total": str(total), "total_tax": str(tax), "sku": sku or "", "price": float(total / qty),
                      "taxes": [{"id": rate_id, "total": str(tax), "subtotal": str(q(subtotal * r))}] if rate else [],
                      "meta_data": []})
    ship_tax = q(Decimal(shipping) * r)
    fee_lines = []
    for n, (name, amount) in enumerate(fees, 1):
        fee_tax = q(Decimal(amount) * r)
        taxes += fee_tax
        fee_lines.append({"id": order_id * 100 + n, "name": name, "tax_class": "", "tax_status": "taxable",
                          "total": amount, "total_tax": str(fee_tax),
                          "taxes": [{"id": rate_id, "total": str(fee_tax), "subtotal": ""}] if rate else []})
    discount = sum((Decimal(d) for *_, d in lines), Decimal(0))
    total = sub + Decimal(shipping) + sum((Decimal(a) for _, a in fees), Decimal(0)) + taxes + ship_tax
    body.update(id=order_id, number=str(order_id), currency=currency, status="processing", line_items=items,
                fee_lines=fee_lines, prices_include_tax=False, total=str(total), total_tax=str(taxes + ship_tax),
                shipping_total=shipping, shipping_tax=str(ship_tax), discount_total=str(discount),
                shipping_lines=[{"id": order_id, "method_title": "Flat rate", "method_id": "flat_rate",
                                 "total": shipping, "total_tax": str(ship_tax),
                                 "taxes": [{"id": rate_id, "total": str(ship_tax), "subtotal": ""}] if rate else []}]
                if Decimal(shipping) else [],
                tax_lines=[{"id": 1, "rate_code": "VAT", "rate_id": rate_id, "label": "VAT", "compound": False,
                            "tax_total": str(taxes), "shipping_tax_total": str(ship_tax), "rate_percent": float(rate)}]
                if rate else [])
    body["billing"] = {**body["billing"], "email": f"buyer{order_id}@example.com"}
    return body


def built_cases() -> list[Case]:
    return [
        Case("shopify-eur-vat-included", "shop-eu", "orders/create", shopify(
            8101, "EUR", True, Decimal(21), [("ACC-TEE", 2, "24.95", "4.99"), ("ACC-MUG", 1, "12.50", "0.00")],
            shipping="4.95")),
        Case("shopify-jpy-included", "shop-eu", "orders/create", shopify(
            8102, "JPY", True, Decimal(10), [("ACC-TEE", 3, "1280", "0"), ("ACC-MUG", 1, "990", "99")],
            shipping="600", step=Decimal(1))),
        Case("shopify-usd-excluded-custom-line", "shop-eu", "orders/create", shopify(
            8103, "USD", False, Decimal("8.875"), [("ACC-TEE", 2, "19.99", "3.00"), (None, 1, "7.49", "1.33"),
                                                   ("ACC-MUG", 3, "11.00", "4.95")], shipping="6.99",
            shipping_discount="1.99")),
        Case("woo-eur-coupon-fee", "woo", "order.created", woo(
            8201, "EUR", Decimal(19), [("ACC-TEE", 2, "16.81", "3.36"), ("ACC-MUG", 1, "8.40", "0.84")],
            shipping="4.20", fees=[("Gift wrap", "2.10")])),
        Case("woo-usd-untaxed-negative-fee", "woo", "order.created", woo(
            8202, "USD", Decimal(0), [("ACC-TEE", 1, "30.00", "0"), (None, 2, "4.50", "0")], shipping="5.00",
            fees=[("Loyalty discount", "-3.00")])),
        # the orders hub demo places (sandbox/demo.py): Ada's on WooCommerce, Grace's on Shopify
        Case("demo-woo", "woo", "order.created", woo(
            8301, "USD", Decimal(0), [("DEMO-MUG", 2, "12.00", "0"), ("DEMO-TEE-M", 1, "20.00", "0")])),
        Case("demo-shopify", "shop-eu", "orders/create", shopify(
            8302, "USD", False, Decimal(0), [("DEMO-CAP", 1, "15.00", "0.00")])),
    ]


def corpus_cases() -> list[Case]:
    """Every distinct order body of the corpus (Shopify webhook examples and docs, WooCommerce deliveries
    and REST examples)."""
    out: list[Case] = []
    for p in ["shopify/webhook-examples-2026-07/orders.create.json", "shopify/webhook_orders_docs_2022-04.json",
              "shopify/webhook_orders_docs_2022-10.json"]:
        body = corpus_json(p)
        body.update(cancelled_at=None, cancel_reason=None, financial_status="paid")  # live: it gets a sale order
        out.append(Case(Path(p).name, "shop-eu", "orders/create", body))
    out.append(Case("004-order.created.body", "woo", "order.created",
                    corpus_json("woocommerce/live-11.0.1/004-order.created.body")))
    for name in ("rest_v3_orders__batch_update_orders.json", "rest_v3_orders__list_all_orders.json"):
        raw = json.loads((CORPUS / "woocommerce" / name).read_text())
        items = raw if isinstance(raw, list) else raw.get("create", []) + raw.get("update", [])
        seen = set()
        for i, body in enumerate(items):
            if body.get("id") in seen or not body.get("line_items"):
                continue
            seen.add(body.get("id"))
            out.append(Case(f"{name}[{i}]", "woo", "order.updated", body))
    for p in sorted((CORPUS / "woocommerce").glob("webhook_delivery_log_*.json")):
        raw = json.loads(p.read_text())
        deliveries = raw if isinstance(raw, list) else raw.get("webhook_deliveries") or [raw.get("webhook_delivery",
                                                                                                 raw)]
        for i, d in enumerate(deliveries):
            topic = d["request_headers"]["X-WC-Webhook-Topic"]
            body = json.loads(d["request_body"])
            if topic.startswith("order.") and body.get("order", body).get("line_items"):
                out.append(Case(f"{p.name}[{i}]", "woo", topic, body))
    return out


def all_cases() -> list[Case]:
    """Corpus and built orders, the corpus ones renumbered (9001, ...) so that no two share an order number
    or id, in one ERP as in one hub."""
    out = []
    for n, case in enumerate(corpus_cases(), 9001):
        order = dict(case.order)
        if case.channel == "shop-eu":
            order.update(id=n, name=f"#{n}", order_number=n)
        else:
            order.update(id=n, number=str(n), order_number=n)
        out.append(Case(case.id, case.channel, case.topic, {"order": order} if "order" in case.body else order))
    return out + built_cases()


def refund(refund_id: int, order: dict, amount: str, lines: dict[str, int]) -> dict:
    """A Shopify refunds/create body: ``lines`` {sku: quantity} refunded and returned, ``amount`` paid back."""
    items = {li["sku"]: li for li in order["line_items"]}
    return {"id": refund_id, "order_id": order["id"], "note": "returned", "created_at": "2026-11-25T10:00:00Z",
            "refund_line_items": [{"id": refund_id * 10 + n, "line_item_id": items[sku]["id"], "quantity": qty,
                                   "restock_type": "return", "line_item": {"sku": sku, "price": items[sku]["price"]}}
                                  for n, (sku, qty) in enumerate(lines.items())],
            "transactions": [{"kind": "refund", "status": "success", "amount": amount,
                              "currency": order["currency"]}]}
