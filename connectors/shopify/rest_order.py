"""A Shopify order read through Admin GraphQL, rebuilt in the REST shape its ``orders/*`` webhooks deliver.

``ORDER_FRAGMENTS`` is the selection the hub reads (``connectors.shopify.orders``); ``rest_order`` turns
one such ``Order`` node into the REST body, so a backfilled order goes through ``mappings.shopify`` like a
webhook. It carries every field the mapper reads, named and shaped as in REST: numeric ids, the status
words of ``financial_status`` / ``fulfillment_status``, the ``*_set`` money bags (``shop_money`` /
``presentment_money``), addresses in REST keys, ``line_items``, ``fulfillments`` with their status and
``line_items[{id, quantity}]``, ``refunds[].refund_line_items[{line_item_id, quantity, restock_type}]``.
Most of what the hub does not read is left out: the body is a subset of a webhook's, not a copy.

A line item's money is read in the shop's currency only (the mapper reads no other; each further money
object adds a point per line to the query's cost). The order's customer is read without its times:
Shopify's documented order bodies carry them null, so the hub takes that customer as undated either way
(it fills in only what it lacks). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

_MONEY = "fragment HubMoney on MoneyBag { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
_SHOP_MONEY = "fragment HubShopMoney on MoneyBag { shopMoney { amount currencyCode } }"
_ADDRESS = """
fragment HubAddress on MailingAddress {
  firstName lastName name company address1 address2 city province provinceCode zip country countryCodeV2 phone
}"""
_LINE = """
fragment HubLine on LineItem {
  id sku title name variantTitle quantity currentQuantity
  originalUnitPriceSet { ...HubShopMoney }
  totalDiscountSet { ...HubShopMoney }
  taxLines { title rate priceSet { ...HubShopMoney } }
  variant { id }
  product { id }
}"""
_FULFILLMENT_LINE = "fragment HubFulfillmentLine on FulfillmentLineItem { quantity lineItem { id } }"
_REFUND_LINE = "fragment HubRefundLine on RefundLineItem { quantity restockType lineItem { id } }"
_ORDER = """
fragment HubOrder on Order {
  id name number email currencyCode presentmentCurrencyCode createdAt processedAt updatedAt cancelledAt cancelReason
  displayFinancialStatus displayFulfillmentStatus paymentGatewayNames
  totalPriceSet { ...HubMoney }
  subtotalPriceSet { ...HubMoney }
  totalShippingPriceSet { ...HubMoney }
  totalTaxSet { ...HubMoney }
  totalDiscountsSet { ...HubMoney }
  customer {
    id firstName lastName
    defaultEmailAddress { emailAddress }
    defaultPhoneNumber { phoneNumber }
    defaultAddress { ...HubAddress }
  }
  shippingAddress { ...HubAddress }
  billingAddress { ...HubAddress }
  lineItems(first: $lines) { nodes { ...HubLine } pageInfo { hasNextPage endCursor } }
  fulfillments {
    id status
    fulfillmentLineItems(first: $lines) { nodes { ...HubFulfillmentLine } pageInfo { hasNextPage endCursor } }
  }
  refunds {
    id createdAt
    refundLineItems(first: $lines) { nodes { ...HubRefundLine } pageInfo { hasNextPage endCursor } }
  }
}"""
# Each operation must use every fragment it sends: the sets below go with the queries that spread them.
ORDER_FRAGMENTS = "\n".join((_ORDER, _MONEY, _SHOP_MONEY, _ADDRESS, _LINE, _FULFILLMENT_LINE, _REFUND_LINE))
LINE_FRAGMENTS = "\n".join((_LINE, _SHOP_MONEY))
FULFILLMENT_LINE_FRAGMENTS = _FULFILLMENT_LINE
REFUND_LINE_FRAGMENTS = _REFUND_LINE

# OrderDisplayFulfillmentStatus -> REST fulfillment_status; the other values (UNFULFILLED, OPEN, ON_HOLD,
# SCHEDULED, ...) are all an order nothing of which has shipped: REST says null
FULFILLMENT_STATUS = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked"}
# (REST key, Order field); REST also has the plain amount for all but shipping
ORDER_MONEY = (("total_price", "totalPriceSet"), ("subtotal_price", "subtotalPriceSet"),
               ("total_shipping_price", "totalShippingPriceSet"), ("total_tax", "totalTaxSet"),
               ("total_discounts", "totalDiscountsSet"))
NO_PLAIN_AMOUNT = frozenset({"total_shipping_price"})


def legacy_id(gid: str) -> int:
    """``gid://shopify/Order/123`` -> 123, the id REST bodies carry."""
    return int(gid.rsplit("/", 1)[-1].split("?", 1)[0])


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """One ``Order`` node selected with ``HubOrder`` (its connections complete) -> the REST order."""
    order_id = legacy_id(node["id"])
    body: dict[str, Any] = {
        "id": order_id, "admin_graphql_api_id": node["id"], "name": node["name"], "order_number": node.get("number"),
        "email": node.get("email"), "contact_email": node.get("email"), "currency": node["currencyCode"],
        "presentment_currency": node.get("presentmentCurrencyCode"), "created_at": node["createdAt"],
        "processed_at": node.get("processedAt"), "updated_at": node["updatedAt"],
        "cancelled_at": node.get("cancelledAt"), "cancel_reason": _lower(node.get("cancelReason")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": FULFILLMENT_STATUS.get(node.get("displayFulfillmentStatus") or ""),
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "customer": _customer(node.get("customer")),
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": [_line(li) for li in node["lineItems"]["nodes"]],
        "fulfillments": [_fulfillment(f, order_id) for f in node.get("fulfillments") or []],
        "refunds": [_refund(r, order_id) for r in node.get("refunds") or []],
    }
    for key, field in ORDER_MONEY:
        bag = node.get(field)
        body[f"{key}_set"] = _money_set(bag)
        if key not in NO_PLAIN_AMOUNT:
            body[key] = _amount(bag)
    return body


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _money(money: dict[str, Any]) -> dict[str, Any]:
    return {"amount": money["amount"], "currency_code": money["currencyCode"]}


def _money_set(bag: dict[str, Any] | None) -> dict[str, Any] | None:
    if not bag:
        return None
    out = {"shop_money": _money(bag["shopMoney"])}
    if bag.get("presentmentMoney"):
        out["presentment_money"] = _money(bag["presentmentMoney"])
    return out


def _amount(bag: dict[str, Any] | None) -> str | None:
    return bag["shopMoney"]["amount"] if bag else None


def _address(a: dict[str, Any] | None) -> dict[str, Any] | None:
    if not a:
        return None
    return {"first_name": a.get("firstName"), "last_name": a.get("lastName"), "name": a.get("name"),
            "company": a.get("company"), "address1": a.get("address1"), "address2": a.get("address2"),
            "city": a.get("city"), "province": a.get("province"), "province_code": a.get("provinceCode"),
            "zip": a.get("zip"), "country": a.get("country"), "country_code": a.get("countryCodeV2"),
            "phone": a.get("phone")}


def _customer(c: dict[str, Any] | None) -> dict[str, Any] | None:
    if not c:
        return None
    return {"id": legacy_id(c["id"]), "admin_graphql_api_id": c["id"], "first_name": c.get("firstName"),
            "last_name": c.get("lastName"), "email": (c.get("defaultEmailAddress") or {}).get("emailAddress"),
            "phone": (c.get("defaultPhoneNumber") or {}).get("phoneNumber"),
            "default_address": _address(c.get("defaultAddress"))}


def _line(li: dict[str, Any]) -> dict[str, Any]:
    variant, product = li.get("variant"), li.get("product")
    return {"id": legacy_id(li["id"]), "admin_graphql_api_id": li["id"], "sku": li.get("sku"),
            "title": li.get("title"), "name": li.get("name"), "variant_title": li.get("variantTitle"),
            "quantity": li["quantity"], "current_quantity": li.get("currentQuantity"),
            "price": _amount(li.get("originalUnitPriceSet")), "price_set": _money_set(li.get("originalUnitPriceSet")),
            "total_discount": _amount(li.get("totalDiscountSet")),
            "total_discount_set": _money_set(li.get("totalDiscountSet")),
            "tax_lines": [{"title": t.get("title"), "rate": t.get("rate"), "price": _amount(t.get("priceSet")),
                           "price_set": _money_set(t.get("priceSet"))} for t in li.get("taxLines") or []],
            "product_id": legacy_id(product["id"]) if product else None,
            "variant_id": legacy_id(variant["id"]) if variant else None}


def _fulfillment(f: dict[str, Any], order_id: int) -> dict[str, Any]:
    return {"id": legacy_id(f["id"]), "admin_graphql_api_id": f["id"], "order_id": order_id,
            "status": _lower(f.get("status")),
            "line_items": [{"id": legacy_id(item["lineItem"]["id"]), "quantity": item.get("quantity")}
                           for item in f["fulfillmentLineItems"]["nodes"]]}


def _refund(r: dict[str, Any], order_id: int) -> dict[str, Any]:
    return {"id": legacy_id(r["id"]), "admin_graphql_api_id": r["id"], "order_id": order_id,
            "created_at": r.get("createdAt"),
            "refund_line_items": [{"line_item_id": legacy_id(item["lineItem"]["id"]), "quantity": item["quantity"],
                                   "restock_type": _lower(item.get("restockType"))}
                                  for item in r["refundLineItems"]["nodes"]]}
