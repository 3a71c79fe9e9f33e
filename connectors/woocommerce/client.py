"""WooCommerce REST v3, one function per call the hub makes, through the ``woocommerce`` client.

The client signs OAuth 1.0a over plain http and uses Basic auth over https, exactly as Woo
expects. Woo has no compare-and-set: a stock write sets the value, so the hub writes only what
differs from what it last knew the shop held. Batches take at most ``BATCH_LIMIT`` items; a
variation is written through its parent's ``variations/batch``. ``WooOrders`` tells the shopper their
order shipped: one customer note with the tracking, then the status ``completed``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import requests
from woocommerce import API

from connectors.base import ChannelSettings
from connectors.outbound import (
    Change,
    LevelWrite,
    Listing,
    Permanent,
    PushResult,
    Subscription,
    call_failed,
    error_for_status,
    json_answer,
)

from .consts import API_VERSION, BATCH_LIMIT, CLOSED_STATUSES, PAGE_LIMIT, PAID_STATUSES, USER_AGENT


class WooClient:
    """One WooCommerce channel's REST transport: the ``woocommerce`` client and the retry table."""

    def __init__(self, channel: ChannelSettings) -> None:
        x = channel.extra
        self.channel = channel.id
        self.api = API(url=x["url"], consumer_key=x["consumer_key"], consumer_secret=x["consumer_secret"],
                       version=API_VERSION, timeout=channel.timeout_s, user_agent=USER_AGENT)
        self.calls = 0

    def call(self, method: str, endpoint: str, what: str, data: Any = None, params: dict | None = None) -> Any:
        self.calls += 1
        try:
            if method == "GET":
                r = self.api.get(endpoint, params=params or {})
            else:
                r = getattr(self.api, method.lower())(endpoint, data)
        except requests.RequestException as exc:
            raise call_failed(exc, f"woocommerce {what}") from exc
        if (err := error_for_status(r.status_code, r.text, r.headers, f"woocommerce {what}")) is not None:
            raise err
        return json_answer(r, f"woocommerce {what}")

    def _pages(self, endpoint: str, params: dict[str, Any], what: str) -> list[dict[str, Any]]:
        out, page = [], 1
        while True:
            batch = self.call("GET", endpoint, what, params={**params, "per_page": PAGE_LIMIT, "page": page})
            out += batch
            if len(batch) < PAGE_LIMIT:
                return out
            page += 1



class WooStock(WooClient):
    """StockTarget for one WooCommerce channel (a shop has one stock location: ``default``)."""

    batch_size = BATCH_LIMIT
    cheap_reads = True  # 100 products per GET, no query cost
    compare_and_set = False  # stock_quantity is set, whatever Woo shows by then

    def find(self, skus: list[str]) -> dict[str, Listing]:
        found: dict[str, Listing] = {}
        for i in range(0, len(skus), PAGE_LIMIT):
            chunk = skus[i:i + PAGE_LIMIT]
            for p in self._pages("products", {"sku": ",".join(chunk)}, "find products"):
                if p.get("sku") in chunk and p.get("type") != "variable":
                    found[p["sku"]] = _listing(p)
        return found

    def read(self, listings: list[Listing]) -> dict[str, int]:
        out: dict[str, int] = {}
        simple = [li for li in listings if not li.variant_id]
        for i in range(0, len(simple), PAGE_LIMIT):
            chunk = {li.item_id: li.sku for li in simple[i:i + PAGE_LIMIT]}
            for p in self._pages("products", {"include": ",".join(chunk)}, "read products"):
                if str(p["id"]) in chunk and p.get("stock_quantity") is not None:
                    out[chunk[str(p["id"])]] = int(p["stock_quantity"])
        for parent, group in _by_parent(li for li in listings if li.variant_id).items():
            chunk = {li.item_id: li.sku for li in group}
            for v in self._pages(f"products/{parent}/variations", {"include": ",".join(chunk)}, "read variations"):
                if str(v["id"]) in chunk and v.get("stock_quantity") is not None:
                    out[chunk[str(v["id"])]] = int(v["stock_quantity"])
        return out

    def push_levels(self, writes: list[LevelWrite], key: str) -> PushResult:
        """``key`` is unused: Woo has no idempotency keys, and setting a value twice is harmless."""
        result = PushResult()
        groups: dict[str, list[LevelWrite]] = defaultdict(list)
        for w in writes:
            groups[f"products/{w.listing.product_id}/variations/batch" if w.listing.variant_id
                   else "products/batch"].append(w)
        for endpoint, group in groups.items():
            for i in range(0, len(group), self.batch_size):
                chunk = group[i:i + self.batch_size]
                by_id = {w.listing.item_id: w for w in chunk}
                before = self.calls
                answer = self.call("POST", endpoint, "stock batch", data={"update": [
                    {"id": int(w.listing.item_id), "manage_stock": True, "stock_quantity": w.quantity} for w in chunk]})
                result.calls += self.calls - before
                for item in answer.get("update") or []:
                    w = by_id.get(str(item.get("id")))
                    if w is None:
                        continue
                    if item.get("error"):
                        result.failed[w.listing.sku] = f"woocommerce refused: {item['error'].get('message')}"
                    else:
                        result.written[w.listing.sku] = int(item.get("stock_quantity", w.quantity))
        return result


class WooWebhooks(WooClient):
    """SubscriptionTarget for one WooCommerce channel: ``/wc/v3/webhooks``."""

    def subscriptions(self) -> list[Subscription]:
        return [_subscription(w) for w in self._pages("webhooks", {}, "list webhooks")]

    def subscribe(self, topic: str, url: str, secret: str) -> Subscription:
        return _subscription(self.call("POST", "webhooks", "create webhook", data={
            "name": f"integration hub: {topic}", "topic": topic, "delivery_url": url, "secret": secret,
            "status": "active"}))

    def repair(self, sub: Subscription, url: str, secret: str) -> Subscription:
        """Active again (WooCommerce disables a webhook after 5 failed deliveries in a row), to ``url``."""
        return _subscription(self.call("PUT", f"webhooks/{sub.id}", "update webhook", data={
            "status": "active", "delivery_url": url, "secret": secret}))


def _subscription(w: dict[str, Any]) -> Subscription:
    return Subscription(str(w["id"]), str(w.get("topic") or ""), str(w.get("delivery_url") or ""),
                        w.get("status") == "active", str(w.get("status") or ""))


def _listing(p: dict[str, Any]) -> Listing:
    is_variation = p.get("type") == "variation" and p.get("parent_id")
    q = p.get("stock_quantity")
    return Listing(sku=p["sku"], item_id=str(p["id"]), product_id=str(p["parent_id"] if is_variation else p["id"]),
                   variant_id=str(p["id"]) if is_variation else None, quantity=int(q) if q is not None else None)


def _by_parent(listings: Any) -> dict[str, list[Listing]]:
    out: dict[str, list[Listing]] = defaultdict(list)
    for li in listings:
        out[str(li.product_id)].append(li)
    return out


class WooOrders(WooClient):
    """One WooCommerce channel's orders: what changed (a ChangeSource, ``resource`` orders), and shipments
    back to the shopper (Woo has no fulfilment objects: the tracking goes to the customer as an order note,
    and the order is completed)."""

    resource = "orders"

    def order(self, order_id: str | int) -> dict[str, Any]:
        """The order as ``GET orders/<id>`` returns it; Permanent (404) if the shop has no such order."""
        return self.call("GET", f"orders/{order_id}", "get order")

    def changed_since(self, since: str) -> Iterator[list[Change]]:
        """ChangeSource: orders modified after ``since`` (UTC, ``YYYY-MM-DDTHH:MM:SS``), oldest change first, a
        page (100) per call: ``GET orders?modified_after=..&dates_are_gmt=true&orderby=modified&order=asc``.
        The REST order is the body WooCommerce's order webhooks deliver."""
        page = 1
        while True:
            batch = self.call("GET", "orders", "list changed orders", params={
                "modified_after": since, "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
                "per_page": PAGE_LIMIT, "page": page})
            yield [Change("order.updated", f"order:{o.get('id')}", str(o.get("date_modified_gmt") or "")[:19], o,
                          order_id=str(o.get("id")), topic_if_new="order.created") for o in batch]
            if len(batch) < PAGE_LIMIT:
                return
            page += 1

    def refund_lines(self, order_id: str | int) -> dict[str, dict[str, int]]:
        """OrderTarget: {refund id: {sku: units}} of the order's refunds (``GET orders/<id>/refunds``: the units
        a refund names are negative quantities on its line items); lines without a SKU are left out."""
        out: dict[str, dict[str, int]] = {}
        for refund in self.call("GET", f"orders/{order_id}/refunds", "list order refunds"):
            units = out.setdefault(str(refund["id"]), {})
            for li in refund.get("line_items") or []:
                if li.get("sku") and li.get("quantity"):
                    units[li["sku"]] = units.get(li["sku"], 0) + abs(int(li["quantity"]))
        return out

    def notes(self, order_id: str | int, kind: str = "any") -> list[dict[str, Any]]:
        """The order's notes, newest first; ``kind`` any, customer or internal."""
        return self.call("GET", f"orders/{order_id}/notes", "list order notes", params={"type": kind})

    def tell_customer(self, order_id: str, text: str, key: str) -> str:
        """OrderTarget: a customer note (WooCommerce emails it to the shopper), once per ``key`` in its text."""
        for note in self.notes(order_id, "customer"):
            if key in note.get("note", ""):
                return str(note["id"])
        note = self.call("POST", f"orders/{order_id}/notes", "add order note", data={"note": text,
                                                                                   "customer_note": True})
        return str(note["id"])

    def add_tracking(self, order_id: str | int, tracking_number: str, carrier: str, url: str | None = None) -> str:
        """One customer-visible note (WooCommerce emails it to the shopper) with the carrier and tracking;
        returns the note's id. Idempotent: a customer note already naming ``tracking_number`` is returned."""
        for note in self.notes(order_id, "customer"):
            if tracking_number in note.get("note", ""):
                return str(note["id"])
        text = f"Your order is on its way with {carrier}. Tracking number: {tracking_number}."
        if url:
            text += f" Track it at {url}"
        note = self.call("POST", f"orders/{order_id}/notes", "add order note",
                         data={"note": text, "customer_note": True})
        return str(note["id"])

    def send_tracking(self, order_id: str, tracking_number: str, carrier: str,
                      lines: dict[str, int] | None = None) -> str:
        """OrderTarget: the customer note with the tracking; the order completed when nothing is left to ship."""
        note = self.add_tracking(order_id, tracking_number, carrier)
        if lines is None:
            self.complete(order_id)
        return note

    def current(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Refresher: the order, product or variation an ``order.*`` / ``product.*`` event was about, as now."""
        item = payload.get("id")
        if item is None:
            raise Permanent(f"the stored {topic} names no {topic.split('.')[0]} id")
        if topic.startswith("order."):
            return self.order(item)
        if payload.get("parent_id"):
            return self.call("GET", f"products/{payload['parent_id']}/variations/{item}", "get variation")
        return self.call("GET", f"products/{item}", "get product")

    def current_order(self, order_id: str) -> tuple[str, dict[str, Any]]:
        return "order.updated", self.order(order_id)

    def mark_paid(self, order_id: str, reference: str) -> str:
        """OrderTarget: a pending or failed order ``set_paid`` (WooCommerce's payment_complete(): processing, or
        completed for an order with nothing to ship; ``date_paid`` set), the gateway's payment id as its
        transaction id. WooCommerce ignores ``set_paid`` on an on-hold order (it does not "need payment"): that
        one is moved to processing, which sets ``date_paid`` too."""
        order = self.order(order_id)
        if order["status"] in PAID_STATUSES or order.get("date_paid_gmt"):
            return f"already {order['status']}"
        if order["status"] in CLOSED_STATUSES - {"failed"}:
            raise Permanent(f"woocommerce order {order_id} is {order['status']}: not marking it paid")
        change = {"status": "processing"} if order["status"] == "on-hold" else {"set_paid": True}
        done = self.call("PUT", f"orders/{order_id}", "mark order paid", data={**change, "transaction_id": reference})
        return f"{order['status']} -> {done['status']}"

    def complete(self, order_id: str | int) -> dict[str, Any]:
        """Status ``completed`` (a no-op if it already is); Permanent for a cancelled, refunded or failed order."""
        order = self.order(order_id)
        if order["status"] == "completed":
            return order
        if order["status"] in CLOSED_STATUSES:
            raise Permanent(f"woocommerce order {order_id} is {order['status']}: not completing it")
        return self.call("PUT", f"orders/{order_id}", "complete order", data={"status": "completed"})
