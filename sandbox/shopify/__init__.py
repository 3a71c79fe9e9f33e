"""Shopify sandbox: the Admin GraphQL API as the hub uses it (locations, product variants and
inventory by SKU, ``inventorySetQuantities`` with compare-and-set and ``@idempotent``), validated
against Shopify's official 2026-07 schema, priced and throttled by Shopify's calculated query cost
and leaky bucket, plus the webhooks a shop sends (``inventory_levels/update`` on every change of
available, ``orders/create`` and ``orders/cancelled``), signed as Shopify signs them and sent to each of
the app's webhook subscriptions of their topic (``subscriptions``: the subscription API, retries,
removal after failed deliveries). Orders ship through fulfillment orders and ``fulfillmentCreate``
(``fulfillment``), which sends ``fulfillments/create``, ``orders/fulfilled`` (or
``orders/partially_fulfilled``) and ``orders/updated``.

Tests drive it in-process (``seed``, ``place_order``, ``fulfill``, ``cancel_order``, ``set_available``, ...); run
as a process (``python -m sandbox.shopify``) the same controls are served under ``/_sandbox/``.
The GraphQL machinery lives in ``graphql_schema``, the shop's state in ``model`` and
``fulfillment``, the resolvers in ``resolvers``, ``order_views`` and
``subscriptions``, the webhook bodies in ``payloads``.
"""

from __future__ import annotations

import argparse
import functools
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from flask import Flask, Response, request
from graphql import execute
from werkzeug.serving import run_simple

from sandbox import signing
from sandbox.base import Emitter, Latency
from sandbox.shopify import fulfillment as ful
from sandbox.shopify import returns as ret
from sandbox.shopify.errors import MAX_QUERY_COST, cost_extension, max_cost_error, throttled_error
from sandbox.shopify.graphql_schema import (
    ActualCost,
    Bucket,
    CostCalculator,
    Prepared,
    QueryMissing,
    RequestErrors,
    admin_schema,
    as_number,
    prepare,
)
from sandbox.shopify.model import Level, Store, gid
from sandbox.shopify.order_views import ShopRoot
from sandbox.shopify.payloads import fulfillment_body, level_body, order_body
from sandbox.shopify.resolvers import resolve_field, resolve_type
from sandbox.shopify.subscriptions import Registry

logger = logging.getLogger(__name__)

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
QUERY_MISSING = {"query": "Required parameter missing or invalid"}
VERSION_FORMAT = re.compile(r"^(?:\d{4}-(?:01|04|07|10)|unstable)$")
JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_PORT = 8081
DEFAULT_SHOP = "hub-sandbox.myshopify.com"
DEFAULT_TOKEN = "shpat_sandbox_token"  # a sandbox credential, not a secret
# the Admin API access scopes the sandbox's custom app was installed with
GRANTED_SCOPES = ("read_products", "read_inventory", "write_inventory", "read_locations", "read_orders",
                  "write_orders", "read_merchant_managed_fulfillment_orders",
                  "write_merchant_managed_fulfillment_orders", "read_fulfillments", "write_fulfillments",
                  "read_returns")


def _fresh_stats() -> dict[str, Any]:
    return {"requests": 0, "by_operation": {}, "by_root_field": {}, "mutations": 0, "throttled": 0,
            "max_cost_exceeded": 0, "errors": 0, "auth_failures": 0, "max_requested_cost": 0, "over_limit": 0}


class ShopifySandbox:
    """One simulated shop. Thread-safe: one lock around its state (the server is threaded)."""

    def __init__(self, shop: str = DEFAULT_SHOP, access_token: str = DEFAULT_TOKEN,
                 api_version: str = "2026-07", bucket_size: float = 1000.0, restore_rate: float = 50.0,
                 latency: tuple[float, float] = (0.0, 0.0), webhook_url: str | None = None,
                 webhook_secret: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.shop, self.access_token, self.api_version = shop, access_token, api_version
        self._clock = clock  # the bucket's time
        self._lock = threading.RLock()
        self._store = Store()
        self._book = ful.Book()
        self._idempotency: dict[tuple[str, str], tuple[str, dict]] = {}
        self._bucket = Bucket(bucket_size, restore_rate, bucket_size, clock(), clock)
        self._latency = Latency(*latency)
        self._emitter = Emitter()
        self._webhooks = Registry()
        # what the custom app was granted (``currentAppInstallation.accessScopes``); a test takes some away
        self.access_scopes: list[str] = list(GRANTED_SCOPES)
        self._webhook_url: str | None = None
        self._webhook_secret: str | None = None
        self._returns: dict[int, ret.Return] = {}
        self._stats = _fresh_stats()
        self._sent_baseline: dict[str, Any] = {"sent": 0, "failed": 0, "by_topic": {}}
        self.configure(webhook_url=webhook_url, webhook_secret=webhook_secret)
        self.app = self._build_app()

    # --- control API (tests in-process; the same under /_sandbox/ over HTTP) ---------------------

    def seed(self, locations: Iterable[dict] = (), products: Iterable[dict] = ()) -> dict:
        """Add locations ({name, id?}) and products (no webhooks); returns their ids by location name and SKU."""
        with self._lock:
            return self._store.seed(list(locations), list(products))

    def place_order(self, lines: list[dict], location: str | None = None, financial_status: str = "paid",
                    customer: dict | None = None, shipping_address: dict | None = None,
                    billing_address: dict | None = None) -> dict:
        """A customer's order (``financial_status`` paid, pending or authorized): stock moves from available
        to committed and one fulfillment order opens; ValueError if short. ``customer`` takes email,
        first_name, last_name; the addresses take the REST address fields (billing defaults to shipping)."""
        with self._lock:
            buyer = {"customer": customer, "shipping_address": shipping_address, "billing_address": billing_address}
            if customer:
                buyer["customer_id"] = self._store.next_id("Customer")
            order, changed = self._store.place_order(lines, location, financial_status, buyer)
            ful.open_for(self._store, self._book, order)
            body = self._order_body(order)
            self._emit("orders/create", body)
            self._emit_levels(changed)
            return body

    def cancel_order(self, order_id: int, reason: str = "customer") -> dict:
        """Cancel and restock; KeyError for an unknown order, ValueError once anything shipped."""
        with self._lock:
            if self._book.orders_fulfillments(int(order_id)):  # Shopify's own message (captured)
                raise ValueError("Cannot cancel an order that has outstanding fulfillments")
            order, changed = self._store.cancel_order(int(order_id), reason)
            ful.close_for_cancel(self._book, order)
            body = self._order_body(order)
            self._emit("orders/cancelled", body)
            self._emit_levels(changed)
            return body

    def refund(self, order_id: int, lines: list[dict], restock_type: str = "return", note: str | None = None) -> dict:
        """A refund in the Shopify admin of ``lines`` [{sku, quantity}]: ``restock_type`` cancel (unshipped
        units back to available), return (shipped units back) or no_restock. Sends refunds/create, the levels
        it moved, then orders/updated (financial status partially_refunded or refunded); returns the refund."""
        with self._lock:
            order = self._store.orders[int(order_id)]
            by_sku = {self._store.variants[line.variant_id].sku: line.id for line in order.lines}
            wanted = [(by_sku[li["sku"]], int(li["quantity"])) for li in lines]
            shipped = {line.id: self._book.shipped(order.id, line.id) for line in order.lines}
            refund, changed = self._store.refund(order.id, wanted, restock_type, shipped, note)
            if restock_type == "cancel":
                for line_id, qty in wanted:
                    ful.refund_unshipped(self._book, order, line_id, qty)
            body = self._order_body(order)
            created = next(r for r in body["refunds"] if r["id"] == refund["id"])
            self._emit("refunds/create", created)
            self._emit_levels(changed)
            self._emit("orders/updated", body)
            return created

    def request_return(self, order_id: int, lines: list[dict], reason: str = "unwanted",
                       note: str | None = None) -> dict:
        """The customer asks to send back ``lines`` [{sku, quantity}] of what was fulfilled: returns/request;
        -> its body. ValueError for more than was shipped (Shopify returns fulfilled items only)."""
        with self._lock:
            order = self._store.orders[int(order_id)]
            by_sku = {self._store.variants[line.variant_id].sku: line.id for line in order.lines}
            shipped = [x for f in self._book.orders_fulfillments(order.id) for x in f.lines]
            made = []
            for li in lines:
                line_id, qty = by_sku[li["sku"]], int(li["quantity"])
                fline = next((x for x in shipped if x.line_id == line_id and x.quantity >= qty), None)
                if fline is None:
                    raise ValueError(f"{li['sku']}: {qty} not fulfilled, cannot be returned")
                made.append(ret.ReturnLine(self._store.next_id("ReturnLineItem"), fline.id, line_id, qty, reason,
                                           note))
            number = sum(1 for r in self._returns.values() if r.order_id == order.id) + 1
            r = ret.Return(self._store.next_id("Return"), order.id, f"#{order.number}-R{number}", lines=made)
            self._returns[r.id] = r
            body = ret.with_lines(r)
            self._emit("returns/request", body)
            return body

    def set_return_status(self, return_id: int, status: str) -> dict:
        """The merchant approves (open), declines, closes, cancels or reopens a return: its returns/* webhook;
        -> its body."""
        topics = {"open": "returns/approve", "declined": "returns/decline", "closed": "returns/close",
                  "canceled": "returns/cancel"}
        with self._lock:
            r = self._returns[int(return_id)]
            topic = "returns/reopen" if status == "open" and r.status != "requested" else topics[status]
            r.status = status
            body = ret.with_lines(r) if topic == "returns/approve" else ret.status_only(r)
            self._emit(topic, body)
            return body

    def fulfill(self, order_id: int, tracking_number: str | None = None, company: str | None = None,
                url: str | None = None, notify_customer: bool = False) -> dict:
        """The merchant ships everything left on the order in the Shopify admin: one fulfillment, the same
        webhooks as ``fulfillmentCreate``; returns the REST fulfillment. KeyError/ValueError if it cannot."""
        with self._lock:
            order = self._store.orders[int(order_id)]
            fos = self._book.orders_fos(order.id)
            fos = [fo for fo in fos if fo.status in ful.FULFILLABLE] or fos  # none open: say why, as Shopify does
            groups = [{"fulfillmentOrderId": gid("FulfillmentOrder", fo.id)} for fo in fos]
            tracking = {"number": tracking_number, "company": company, "url": url}
            created, errors = ful.create(self._store, self._book, {
                "lineItemsByFulfillmentOrder": groups, "notifyCustomer": notify_customer,
                "trackingInfo": {k: v for k, v in tracking.items() if v is not None}})
            if created is None:
                raise ValueError(errors[0]["message"])
            self._emit_shipped(created, True)
            return fulfillment_body(self._store, self._book, created, self._order_body(order))

    def order(self, order_id: int) -> dict:
        """The order as Shopify's REST API shows it (statuses, fulfillments with tracking); KeyError if unknown."""
        with self._lock:
            return self._order_body(self._store.orders[int(order_id)])

    def orders(self) -> list[dict]:
        """Every order, oldest first, as the admin's order list shows it (id, name, statuses, total)."""
        with self._lock:
            bodies = [self._order_body(o) for o in self._store.orders.values()]
        return [{k: b.get(k) for k in ("id", "name", "email", "financial_status", "fulfillment_status", "cancelled_at",
                                       "total_price", "currency")} for b in bodies]

    def set_available(self, sku: str, available: int, location: str | None = None) -> dict:
        """A merchant's edit in the Shopify admin (default: the first location stocking the SKU)."""
        with self._lock:
            level = self._store.level_for(sku, location)
            changed = self._store.set_available(level, int(available))
            if changed:
                self._emit_levels([level])
            return {"sku": sku, "location": self._store.locations[level.location_id].name,
                    "available": level.available, "changed": changed}

    def levels(self) -> dict[str, dict[str, int]]:
        """``{sku: {location name: available}}``."""
        with self._lock:
            return self._store.snapshot()

    @property
    def stats(self) -> dict[str, Any]:
        """API call counters since ``reset_stats``, the bucket now, and the webhooks sent."""
        with self._lock:
            out = json.loads(json.dumps(self._stats))
            self._bucket.refill()
            out["throttle_status"] = self._bucket.status()
        sent = asdict(self._emitter.stats)
        base = self._sent_baseline
        out["webhooks"] = {"sent": sent["sent"] - base["sent"], "failed": sent["failed"] - base["failed"],
                           "by_topic": {t: n - base["by_topic"].get(t, 0) for t, n in sent["by_topic"].items()
                                        if n - base["by_topic"].get(t, 0)}}
        return out

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = _fresh_stats()
            self._sent_baseline = asdict(self._emitter.stats)

    def configure(self, bucket_size: float | None = None, restore_rate: float | None = None,
                  latency: tuple[float, float] | None = None, webhook_url: str | None = None,
                  webhook_secret: str | None = None, access_token: str | None = None,
                  clock: Callable[[], float] | None = None, remove_after_failures: int | None = None,
                  delivery_attempts: int | None = None, strict_addresses: bool | None = None) -> dict:
        """Change limits, latency or the webhooks; a new bucket size starts full. A new ``access_token`` is
        the merchant rotating the app's token: the old one gets 401 from then on. ``clock`` (in-process only)
        is the bucket's time from now on. ``webhook_url`` is the merchant subscribing the hub to every topic
        the sandbox sends ("" deletes those subscriptions); ``remove_after_failures``, ``delivery_attempts``
        and ``strict_addresses`` are the subscriptions' rules (``subscriptions``)."""
        with self._lock:
            if clock is not None:
                self._bucket.refill()
                self._clock = self._bucket.clock = clock
                self._bucket.stamp = clock()
            if access_token is not None:
                self.access_token = access_token
            if bucket_size is not None:
                self._bucket = Bucket(float(bucket_size), self._bucket.rate, float(bucket_size), self._clock(),
                                      self._clock)
            if restore_rate is not None:
                self._bucket.refill()
                self._bucket.rate = float(restore_rate)
            if latency is not None:
                self._latency = Latency(*latency)
            if webhook_secret is not None:
                self._webhook_secret = webhook_secret
            self._configure_webhooks(webhook_url, remove_after_failures, delivery_attempts, strict_addresses)
            return {"shop": self.shop, "api_version": self.api_version, "bucket_size": as_number(self._bucket.size),
                    "restore_rate": as_number(self._bucket.rate),
                    "latency": [self._latency.low_s, self._latency.high_s], "webhook_url": self._webhook_url,
                    "remove_after_failures": self._webhooks.remove_after, "delivery_attempts": self._emitter.attempts,
                    "strict_addresses": self._webhooks.strict_addresses}

    def _configure_webhooks(self, url: str | None, remove_after: int | None, attempts: int | None,
                            strict: bool | None) -> None:
        if url is not None:
            if url and not self._webhook_secret:
                raise ValueError("a webhook_url needs a webhook_secret to sign with")
            self._webhook_url = url or None
            self._webhooks.point(self._webhook_url)
        for name, value in (("remove_after_failures", remove_after), ("delivery_attempts", attempts)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1")
        if remove_after is not None:
            self._webhooks.remove_after = remove_after
        if attempts is not None:
            self._emitter.attempts = attempts
        if strict is not None:
            self._webhooks.strict_addresses = bool(strict)

    def subscriptions(self) -> list[dict]:
        """Every webhook subscription (topic as its webhooks carry it, uri, failed deliveries in a row)."""
        with self._lock:
            return self._webhooks.listing()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every webhook emitted so far was delivered (or given up)."""
        self._emitter.wait_idle(timeout)

    def close(self) -> None:
        self._emitter.close()

    # --- the Admin API ----------------------------------------------------------------------------

    def _call(self, payload: dict) -> tuple[int, dict]:
        """One GraphQL call after authentication: (HTTP status, body)."""
        schema = admin_schema()
        try:
            req = prepare(schema, payload.get("query"), payload.get("variables"), payload.get("operationName"))
        except QueryMissing:
            return 400, {"errors": QUERY_MISSING}
        except RequestErrors as exc:  # Shopify answers these before pricing: no cost extension
            with self._lock:
                self._stats["errors"] += 1
            return 200, {"errors": exc.errors}
        calc = CostCalculator(schema, req)
        requested = calc.requested()
        with self._lock:
            self._count(req, requested)
            bucket = self._bucket
            bucket.refill()
            if requested > MAX_QUERY_COST:  # refused before it runs, nothing charged
                self._stats["max_cost_exceeded"] += 1
                return 200, {"errors": [max_cost_error(requested)],
                             "extensions": cost_extension(requested, None, bucket.status())}
            if requested > bucket.available:  # nothing charged; retry once the bucket holds the cost
                self._stats["throttled"] += 1
                return 200, {"errors": [throttled_error()],
                             "extensions": cost_extension(requested, None, bucket.status())}
            bucket.available -= requested
            if calc.oversized:  # Shopify keeps the charge for these (captured answers)
                self._stats["errors"] += 1
                return 200, {"errors": calc.oversized, "extensions": cost_extension(requested, None, bucket.status())}
            return 200, self._run(schema, req, requested)

    def _count(self, req: Prepared, requested: int) -> None:
        stats = self._stats
        stats["by_operation"][req.name] = stats["by_operation"].get(req.name, 0) + 1
        for name in req.root_fields():
            stats["by_root_field"][name] = stats["by_root_field"].get(name, 0) + 1
        stats["max_requested_cost"] = max(stats["max_requested_cost"], requested)

    def _run(self, schema: Any, req: Prepared, requested: int) -> dict:
        if self._bucket.available < 0:  # charged more than the bucket held: the throttle failed, must stay 0
            self._stats["over_limit"] += 1
        root, meter = ShopRoot(self._store, self._idempotency, self._book), ActualCost(schema)
        root.webhooks, root.api_version = self._webhooks, self.api_version
        root.currentAppInstallation = {"accessScopes": [{"handle": h, "description": h} for h in self.access_scopes]}
        result = execute(schema, req.document, root_value=root, variable_values=req.raw_variables,
                         operation_name=req.operation.name.value if req.operation.name else None,
                         field_resolver=resolve_field, type_resolver=resolve_type, middleware=[meter])
        actual = min(meter.total, requested)
        self._bucket.available = min(self._bucket.size, self._bucket.available + requested - actual)  # refund
        if req.is_mutation:
            self._stats["mutations"] += 1
        self._emit_levels(root.changed)  # Shopify reports the hub's own writes back too
        for fulfillment, created in root.shipped:
            self._emit_shipped(fulfillment, created)
        for order in root.paid:
            body = self._order_body(order)
            self._emit("orders/paid", body)
            self._emit("orders/updated", body)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        body["data"] = result.data
        body["extensions"] = cost_extension(requested, actual, self._bucket.status())
        return body

    # --- webhooks ----------------------------------------------------------------------------------

    def _emit_levels(self, levels: list[Level]) -> None:
        for level in levels:
            self._emit("inventory_levels/update", level_body(self._store, level))

    def _order_body(self, order: Any) -> dict:
        return order_body(self._store, self._book, order, self.shop)

    def _emit_shipped(self, fulfillment: ful.Fulfillment, created: bool) -> None:
        """A new fulfillment: fulfillments/create, orders/fulfilled (or partially_fulfilled), orders/updated;
        a tracking update: fulfillments/update."""
        order = self._order_body(self._store.orders[fulfillment.order_id])
        body = fulfillment_body(self._store, self._book, fulfillment, order)
        if not created:
            self._emit("fulfillments/update", body)
            return
        self._emit("fulfillments/create", body)
        self._emit("orders/fulfilled" if order["fulfillment_status"] == "fulfilled" else "orders/partially_fulfilled",
                   order)
        self._emit("orders/updated", order)

    def _emit(self, topic: str, body: dict) -> None:
        """One delivery per subscription of ``topic``, each to its URI, all signed with the app's secret and
        carrying the same event id."""
        targets = self._webhooks.targets(topic)
        if not targets or not self._webhook_secret:
            return
        raw, event_id = json.dumps(body).encode(), str(uuid.uuid4())
        for sub in targets:
            self._emitter.emit(topic, signing.shopify(self._webhook_secret, raw, topic, event_id=event_id,
                                                      shop=self.shop, api_version=self.api_version),
                               url=sub.uri, answered=functools.partial(self._answered, sub.id))

    def _answered(self, sub_id: int, status: int | None) -> None:
        with self._lock:
            self._webhooks.answered(sub_id, status)

    # --- HTTP ----------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/admin/api/<version>/graphql.json", "graphql", self._http_graphql, methods=["POST"])
        controls: list[tuple[str, str, Callable[..., Any]]] = [
            ("/_sandbox/seed", "POST", lambda b: self.seed(b.get("locations", ()), b.get("products", ()))),
            ("/_sandbox/orders", "POST", lambda b: self.place_order(
                _need(b, "lines"), b.get("location"), b.get("financial_status", "paid"), b.get("customer"),
                b.get("shipping_address"), b.get("billing_address"))),
            ("/_sandbox/orders", "GET", lambda b: self.orders()),
            ("/_sandbox/orders/<int:order_id>", "GET", lambda b, order_id: self.order(order_id)),
            ("/_sandbox/orders/<int:order_id>/fulfill", "POST", lambda b, order_id: self.fulfill(
                order_id, b.get("tracking_number"), b.get("company"), b.get("url"), b.get("notify_customer", False))),
            ("/_sandbox/orders/<int:order_id>/cancel", "POST",
             lambda b, order_id: self.cancel_order(order_id, b.get("reason", "customer"))),
            ("/_sandbox/orders/<int:order_id>/refund", "POST", lambda b, order_id: self.refund(
                order_id, _need(b, "lines"), b.get("restock_type", "return"), b.get("note"))),
            ("/_sandbox/orders/<int:order_id>/returns", "POST", lambda b, order_id: self.request_return(
                order_id, _need(b, "lines"), b.get("reason", "unwanted"), b.get("note"))),
            ("/_sandbox/returns/<int:return_id>/status", "POST",
             lambda b, return_id: self.set_return_status(return_id, _need(b, "status"))),
            ("/_sandbox/stock", "POST",
             lambda b: self.set_available(_need(b, "sku"), _need(b, "available"), b.get("location"))),
            ("/_sandbox/stock", "GET", lambda b: self.levels()),
            ("/_sandbox/stats", "GET", lambda b: self.stats),
            ("/_sandbox/subscriptions", "GET", lambda b: self.subscriptions()),
            ("/_sandbox/stats/reset", "POST", lambda b: (self.reset_stats(), self.stats)[1]),
            ("/_sandbox/config", "POST", lambda b: self.configure(**b)),
        ]
        for rule, method, handler in controls:
            app.add_url_rule(rule, f"{method} {rule}", _control_view(handler), methods=[method])
        return app

    def _http_graphql(self, version: str) -> Response:
        self._latency.wait()  # outside the lock: slow calls overlap as they do against Shopify
        headers = {"X-Request-Id": str(uuid.uuid4())}
        if not VERSION_FORMAT.match(version):
            return _json(404, {"errors": "Not Found"}, headers)
        # Shopify answers a version it no longer serves with the oldest one it does, and says which in
        # this header; the sandbox holds one schema, so any well-formed version gets that one.
        headers["X-Shopify-API-Version"] = self.api_version
        token = request.headers.get("X-Shopify-Access-Token", "")
        with self._lock:
            self._stats["requests"] += 1
            if not hmac.compare_digest(token.encode(), self.access_token.encode()):
                self._stats["auth_failures"] += 1
                return _json(401, {"errors": INVALID_TOKEN}, headers)
        if request.mimetype == "application/graphql":
            payload: Any = {"query": request.get_data(as_text=True)}
        else:
            payload = request.get_json(silent=True)
        status, body = self._call(payload if isinstance(payload, dict) else {})
        return _json(status, body, headers)


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type=JSON_TYPE)


def _need(body: dict, key: str) -> Any:
    if key not in body:
        raise ValueError(f"missing field {key!r}")
    return body[key]


def _control_view(handler: Callable[..., Any]) -> Callable[..., Response]:
    def view(**params: Any) -> Response:
        body = request.get_json(silent=True) if request.method == "POST" else {}
        if not isinstance(body, dict):
            return _json(400, {"error": "expected a JSON object"})
        try:
            return _json(200, handler(body, **params))
        except KeyError as exc:
            return _json(404, {"error": f"not found: {exc}"})
        except (ValueError, TypeError) as exc:
            return _json(422, {"error": str(exc)})
    return view


def main(argv: list[str] | None = None) -> None:
    """Serve one sandbox shop over HTTP (Admin API plus ``/_sandbox/`` controls)."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--access-token", default=DEFAULT_TOKEN)
    parser.add_argument("--bucket-size", type=float, default=1000.0)
    parser.add_argument("--restore-rate", type=float, default=50.0)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args(argv)
    sandbox = ShopifySandbox(access_token=args.access_token, bucket_size=args.bucket_size,
                             restore_rate=args.restore_rate, webhook_url=args.webhook_url,
                             webhook_secret=args.webhook_secret)
    logger.info("shopify sandbox on http://%s:%s/admin/api/%s/graphql.json", args.host, args.port,
                sandbox.api_version)
    run_simple(args.host, args.port, sandbox.app, threaded=True)


if __name__ == "__main__":
    main()
