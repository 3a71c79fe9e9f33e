"""WooCommerce REST API v3 simulator: the calls the hub makes, answered as WooCommerce 11 answers them.

Products, variations and orders live in memory behind one lock. ``/wp-json/wc/v3/`` authenticates as
``WC_REST_Authentication`` does (OAuth 1.0a one-legged in the query string; HTTP Basic and
``consumer_key``/``consumer_secret`` query parameters are accepted over http too, which real WooCommerce
only does over https) and answers with its bodies and WP_Error objects (``wire``). Every
stock change is delivered as a signed ``product.updated`` webhook through ``base.Emitter``, orders as
``order.created`` / ``order.updated``; orders, their status changes and notes are in ``orders``.
Tests drive the shop in-process (``seed``, ``place_order``, ``set_stock``, ...); the same controls are
served as JSON under ``/_sandbox/`` for a sandbox run as a process (``python -m sandbox.woocommerce``).
"""

from __future__ import annotations

import argparse
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import run_simple

from sandbox import signing
from sandbox.base import Emitter, Latency
from sandbox.woocommerce import wire
from sandbox.woocommerce.orders import OrderRoutes
from sandbox.woocommerce.webhooks import Webhook, WebhookRoutes
from sandbox.woocommerce.wire import Item, Order, WooError

RATE_WINDOW_S = 1.0
EDITABLE = {"POST", "PUT", "PATCH"}  # WP_REST_Server::EDITABLE
DEFAULT_BASE = "http://woo.sandbox"
CANNOT_EDIT = ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
CANNOT_VIEW = ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
CANNOT_LIST = ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
CANNOT_BATCH = ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource.")
# prepare_object_for_database() of the products routes refuses a variation (404), HTML-escaped as WooCommerce sends it
VARIATION_ROUTE = ("woocommerce_rest_invalid_product_id", "To manipulate product variations you should use the "
                   "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.")

# (methods, route under /wp-json/, template for stats, handler); anything else is rest_no_route
ROUTES = [
    ({"GET"}, r"wc/v3/products", "products", "_list_products"),
    (EDITABLE, r"wc/v3/products/batch", "products/batch", "_batch_products"),
    ({"GET"}, r"wc/v3/products/(\d+)", "products/<id>", "_get_product"),
    (EDITABLE, r"wc/v3/products/(\d+)", "products/<id>", "_put_product"),
    ({"GET"}, r"wc/v3/products/(\d+)/variations", "products/<id>/variations", "_list_variations"),
    (EDITABLE, r"wc/v3/products/(\d+)/variations/batch", "products/<id>/variations/batch", "_batch_variations"),
    ({"GET"}, r"wc/v3/products/(\d+)/variations/(\d+)", "products/<id>/variations/<id>", "_get_variation"),
    (EDITABLE, r"wc/v3/products/(\d+)/variations/(\d+)", "products/<id>/variations/<id>", "_put_variation"),
    ({"GET"}, r"wc/v3/orders", "orders", "_list_orders"),
    ({"GET"}, r"wc/v3/orders/(\d+)", "orders/<id>", "_get_order"),
    (EDITABLE, r"wc/v3/orders/(\d+)", "orders/<id>", "_put_order"),
    ({"GET"}, r"wc/v3/orders/(\d+)/notes", "orders/<id>/notes", "_list_notes"),
    ({"POST"}, r"wc/v3/orders/(\d+)/notes", "orders/<id>/notes", "_create_note"),
    ({"GET"}, r"wc/v3/orders/(\d+)/refunds", "orders/<id>/refunds", "_list_refunds"),
    ({"GET"}, r"wc/v3/webhooks", "webhooks", "_list_webhooks"),
    ({"POST"}, r"wc/v3/webhooks", "webhooks", "_create_webhook"),
    ({"GET"}, r"wc/v3/webhooks/(\d+)", "webhooks/<id>", "_get_webhook"),
    (EDITABLE, r"wc/v3/webhooks/(\d+)", "webhooks/<id>", "_put_webhook"),
    ({"DELETE"}, r"wc/v3/webhooks/(\d+)", "webhooks/<id>", "_delete_webhook"),
    ({"POST"}, r"wc/v3/orders/(\d+)/refunds", "orders/<id>/refunds", "_create_refund"),
]


@dataclass
class _Stats:
    calls: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    batch_items_max: int = 0
    rate_limited: int = 0


class WooSandbox(OrderRoutes, WebhookRoutes):
    """An in-memory WooCommerce shop speaking REST API v3; ``.app`` is its WSGI (Flask) app."""

    def __init__(self, consumer_key: str = "ck_sandbox", consumer_secret: str = "cs_sandbox",  # noqa: S107
                 latency: tuple[float, float] = (0.0, 0.0), webhook_url: str | None = None,
                 webhook_secret: str | None = None, batch_limit: int = 100, rate_limit: float | None = None,
                 base_url: str | None = None) -> None:
        self.consumer_key, self.consumer_secret, self.batch_limit = consumer_key, consumer_secret, batch_limit
        self.key_permissions = "read_write"  # the key's Permissions in WooCommerce: read, write or read_write
        self.latency = Latency(*latency)
        self.webhook_secret = webhook_secret
        self.rate_limit = rate_limit
        self.base_url = base_url  # None: learnt from the first API request's Host (webhook source, links)
        self.emitter = Emitter(attempts=1)  # WooCommerce never retries a delivery (woocommerce_webhooks)
        self._lock = threading.RLock()
        self._webhooks: dict[int, Webhook] = {}
        self._hook_ids = iter(range(1, 10**9))
        self.pings = 0
        self._webhook_url = webhook_url
        self._point_webhooks(webhook_url)
        self._items: dict[int, Item] = {}
        self._orders: dict[int, Order] = {}
        self._ids = iter(range(10, 10**9))  # products, variations and orders share WordPress's post ids
        self._meta_ids = iter(range(1, 10**9))
        self._init_orders()
        self._oauth = wire.OAuthVerifier()
        self._hits: deque[float] = deque()
        self._stats = _Stats()
        self._emit_base: tuple[int, int, dict[str, int]] = (0, 0, {})
        self.app = self._build_app()

    # ---- control API ------------------------------------------------------------------------------

    def seed(self, products: list[dict[str, Any]]) -> dict[str, dict[str, int | None]]:
        """Create products (no webhooks, like an import); returns {sku: {product_id, variation_id}}."""
        out: dict[str, dict[str, int | None]] = {}
        with self._lock:
            for spec in products:
                kind = spec.get("type", "simple")
                if kind not in {"simple", "variable"}:
                    raise ValueError(f"seed: type must be simple or variable, not {kind!r}")
                parent = self._new_item(spec, kind, Decimal(str(spec.get("price", "10.00"))), out)
                if parent.sku:
                    out[parent.sku] = {"product_id": parent.id, "variation_id": None}
                for vspec in spec.get("variations", []) if kind == "variable" else []:
                    attrs = {str(k): str(v) for k, v in vspec.get("attributes", {}).items()}
                    name = f"{parent.name} - {', '.join(attrs.values())}" if attrs else parent.name
                    v = self._new_item({**vspec, "name": name}, "variation",
                                       Decimal(str(vspec.get("price", parent.price))), out)
                    v.parent_id, v.attributes = parent.id, attrs
                    parent.children.append(v.id)
                    for attr, option in attrs.items():
                        options = parent.attributes.setdefault(attr, [])
                        options += [] if option in options else [option]
                    if v.sku:
                        out[v.sku] = {"product_id": parent.id, "variation_id": v.id}
        return out

    def set_stock(self, sku: str, quantity: int) -> dict[str, Any]:
        """The shop manager's edit in wp-admin (turning stock management on); product.updated if it changed."""
        with self._lock:
            item = self._by_sku(sku)
            item.manage_stock = True
            self._set_quantity(item, int(quantity))
            return self._product_body(item)

    def levels(self) -> dict[str, int | None]:
        with self._lock:
            return {i.sku: i.stock_quantity for i in self._items.values() if i.sku}

    @property
    def stats(self) -> dict[str, Any]:
        """API calls by method + route template, writes (authenticated PUT/POST/batch calls), the largest
        batch asked for, 429s, and the webhooks sent/failed since ``reset_stats()``."""
        with self._lock:
            sent, failed, topics = self._emit_base
            e = self.emitter.stats
            by_topic = {t: n - topics.get(t, 0) for t, n in e.by_topic.items() if n > topics.get(t, 0)}
            return {"calls": dict(self._stats.calls), "writes": self._stats.writes,
                    "batch_items_max": self._stats.batch_items_max, "rate_limited": self._stats.rate_limited,
                    "webhooks": {"sent": e.sent - sent, "failed": e.failed - failed, "by_topic": by_topic}}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = _Stats()
            e = self.emitter.stats  # the emitter's counters are its own: keep a baseline instead
            self._emit_base = (e.sent, e.failed, dict(e.by_topic))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change latency=(low_s, high_s), webhook_url, webhook_secret, rate_limit, base_url, or the API key
        (consumer_key / consumer_secret: the shop manager revoking or regenerating the hub's key)."""
        unknown = set(changes) - {"latency", "webhook_url", "webhook_secret", "rate_limit", "base_url",
                                  "consumer_key", "consumer_secret", "key_permissions"}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "latency" in changes:
                self.latency = Latency(*changes["latency"])
            for name in ("webhook_secret", "rate_limit", "base_url", "consumer_key", "consumer_secret",
                         "key_permissions"):
                if name in changes:
                    setattr(self, name, changes[name])
            if "webhook_url" in changes or "webhook_secret" in changes:
                self._webhook_url = changes.get("webhook_url", self._webhook_url)
                self._point_webhooks(self._webhook_url)
            return {"latency": [self.latency.low_s, self.latency.high_s], "webhook_url": self._webhook_url,
                    "rate_limit": self.rate_limit, "base_url": self.base_url, "batch_limit": self.batch_limit}

    def wait_idle(self, timeout: float = 30.0) -> None:
        self.emitter.wait_idle(timeout)

    def close(self) -> None:
        self.emitter.close()

    # ---- state (callers hold the lock) ------------------------------------------------------------

    def _new_item(self, spec: dict[str, Any], kind: str, price: Decimal, seen: dict[str, Any]) -> Item:
        sku = str(spec.get("sku", ""))
        if sku and (sku in seen or any(i.sku == sku for i in self._items.values())):
            raise ValueError(f"duplicate SKU {sku!r}")  # Woo keeps SKUs unique across products and variations
        qty = spec.get("stock_quantity")
        item = Item(next(self._ids), str(spec.get("name") or sku), sku, kind, price,
                    manage_stock=kind != "variable" and bool(spec.get("manage_stock", qty is not None)),
                    stock_quantity=None if qty is None or kind == "variable" else int(qty))
        self._items[item.id] = item
        return item

    def _by_sku(self, sku: str) -> Item:
        for item in self._items.values():
            if item.sku == sku:
                return item
        raise KeyError(f"no product with SKU {sku!r}")

    def _set_quantity(self, item: Item, quantity: int | None) -> None:
        """Every stock write ends here, so product.updated goes out exactly when the quantity changed."""
        if item.stock_quantity != quantity:
            item.stock_quantity, item.modified = quantity, wire.now()
            self._emit("product.updated", self._product_body(item))

    def _apply_update(self, item: Item, fields: dict[str, Any]) -> None:
        """The stock part of prepare_object_for_database(): a quantity counts only while managing stock."""
        if fields.get("manage_stock") is not None and item.type != "variable":
            item.manage_stock = wire.to_bool(fields["manage_stock"])
        if fields.get("stock_status") in {"instock", "outofstock", "onbackorder"}:
            item.stock_status = fields["stock_status"]
        quantity = item.stock_quantity
        if not item.manage_stock:
            quantity = None
        elif fields.get("stock_quantity") is not None:
            quantity = wire.stock_amount(fields["stock_quantity"])
        elif fields.get("inventory_delta") is not None:
            quantity = (quantity or 0) + wire.stock_amount(fields["inventory_delta"])
        self._set_quantity(item, quantity)

    def _emit(self, topic: str, body: dict[str, Any]) -> None:
        # Under the lock, so deliveries queue in the order the changes happened. Real Woo builds the body
        # when it delivers (a late delivery carries the latest state); the sandbox snapshots the change.
        raw = wire.php_json(body)
        self._deliver(topic, raw, lambda secret, hook_id: signing.woocommerce(
            secret, raw, topic, webhook_id=hook_id, source=f"{self._base()}/"))

    def _base(self) -> str:
        return (self.base_url or DEFAULT_BASE).rstrip("/")

    def _product_body(self, item: Item) -> dict[str, Any]:
        return wire.product_body(item, self._items.get(item.parent_id), [self._items[c] for c in item.children],
                                 self._base())

    def _variation_body(self, item: Item) -> dict[str, Any]:
        return wire.variation_body(item, self._items[item.parent_id], self._base())

    def _order_body(self, order: Order) -> dict[str, Any]:
        names = {p: self._items[p].name for line in order.lines if (p := line["item"].parent_id)}
        return wire.order_body(order, names, self._base())

    # ---- REST API -------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/wp-json/<path:route>", "api", self._api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        _control_routes(app, self)
        return app

    def _api(self, route: str) -> Response:
        if self._over_rate_limit():
            # The host's limiter in front of WordPress answers before PHP runs: no latency, no auth.
            return _reply({"code": "too_many_requests", "message": "Too many requests. Please wait and try again.",
                           "data": {"status": 429}}, 429, {"Retry-After": "1"})
        self.latency.wait()
        params: dict[str, str] = {}
        for k, v in request.args.items(multi=True):
            params[k] = v  # PHP's $_GET keeps the last value (the woocommerce client repeats its params)
        target = _match(request.method, route.rstrip("/"))
        with self._lock:
            self.base_url = self.base_url or request.host_url.rstrip("/")
            if target:
                key = f"{request.method} {target[0]}"
                self._stats.calls[key] = self._stats.calls.get(key, 0) + 1
        try:
            authed = self._authenticate(params)  # rest_authentication_errors runs before routing
            if authed:
                self._check_permissions(request.method)
            if target is None:
                raise WooError("rest_no_route", "No route was found matching the URL and request method.", 404)
            if authed and request.method in EDITABLE:
                with self._lock:
                    self._stats.writes += 1
            data, headers, *status = getattr(self, target[1])(params, authed, *target[2])
            return _reply(data, status[0] if status else 200, headers)
        except WooError as err:
            return _reply(err.body(), err.status)

    def _over_rate_limit(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        with self._lock:
            while self._hits and now - self._hits[0] >= RATE_WINDOW_S:
                self._hits.popleft()
            if len(self._hits) >= self.rate_limit:
                self._stats.rate_limited += 1
                return True
            self._hits.append(now)
            return False

    def _check_permissions(self, method: str) -> None:
        """WC_REST_Authentication::check_permissions(), before the route runs: a Read key may only GET (and HEAD),
        a Write key only POST, PUT, PATCH and DELETE (each seen on WooCommerce 10.0.2)."""
        if self.key_permissions == "read" and method not in ("GET", "HEAD"):
            raise WooError("woocommerce_rest_authentication_error",
                           "The API key provided does not have write permissions.", 401)
        if self.key_permissions == "write" and method in ("GET", "HEAD"):
            raise WooError("woocommerce_rest_authentication_error",
                           "The API key provided does not have read permissions.", 401)

    def _authenticate(self, params: dict[str, str]) -> bool:
        """WC_REST_Authentication::authenticate(): basic credentials, then OAuth. False = anonymous."""
        key, secret = params.get("consumer_key"), params.get("consumer_secret")
        basic = request.authorization
        if not (key and secret) and basic and basic.type == "basic":
            key, secret = basic.username, basic.password
        error = None
        if key and secret and key == self.consumer_key:  # an unknown key is no error here, just no user
            if hmac.compare_digest(secret.encode(), self.consumer_secret.encode()):
                return True
            error = wire.auth_error("Consumer secret is invalid.")
        # get_home_url(null, path, scheme): the host the client addressed plus the raw request path
        url = f"{request.scheme}://{request.host}{request.environ.get('RAW_URI', request.full_path).split('?')[0]}"
        if self._oauth.check(request.method, url, params, self.consumer_key, self.consumer_secret):
            return True
        if error:
            raise error
        return False

    # ---- handlers: (params, authed, *ids) -> (data, headers) -------------------------------------

    def _list_products(self, params: dict[str, str], authed: bool) -> tuple[Any, dict[str, str]]:
        page, per_page = wire.paging(params)  # arguments are validated before the permission check
        wire.require(authed, *CANNOT_LIST)
        with self._lock:
            items = list(self._items.values())
            if params.get("sku"):  # a comma list (plus the whole string); a SKU search covers variations
                skus = params["sku"].split(",")
                skus += [params["sku"]] if len(skus) > 1 else []
                items = [i for i in items if i.sku in skus]
            else:
                items = [i for i in items if i.type != "variation"]
            if params.get("type"):
                items = [i for i in items if i.type == params["type"]]
            if params.get("include"):
                wanted = {int(x) for x in params["include"].replace(" ", ",").split(",") if x.isdigit()}
                items = [i for i in items if i.id in wanted]
            return wire.collection(items, page, per_page, self._product_body,
                                   f"{self._base()}/wp-json/wc/v3/products", params)

    def _list_variations(self, params: dict[str, str], authed: bool, product_id: int) -> tuple[Any, dict[str, str]]:
        page, per_page = wire.paging(params)
        wire.require(authed, *CANNOT_LIST)
        with self._lock:
            items = [i for i in self._items.values() if i.type == "variation" and i.parent_id == product_id]
            return wire.collection(items, page, per_page, self._variation_body,
                                   f"{self._base()}/wp-json/wc/v3/products/{product_id}/variations", params)

    def _get_product(self, params: dict[str, str], authed: bool, item_id: int) -> tuple[Any, dict[str, str]]:
        with self._lock:
            item = self._items.get(item_id)
            if item:  # the permission check only bites on an object that exists; a missing one is a 404
                wire.require(authed, *CANNOT_VIEW)
                return self._product_body(item), {}
        raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)

    def _get_variation(self, params: dict[str, str], authed: bool, product_id: int,
                       item_id: int) -> tuple[Any, dict[str, str]]:
        with self._lock:
            item = self._items.get(item_id)
            if item and item.type == "variation" and item.parent_id == product_id:
                wire.require(authed, *CANNOT_VIEW)
                return self._variation_body(item), {}
        raise WooError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)

    def _put_product(self, params: dict[str, str], authed: bool, item_id: int) -> tuple[Any, dict[str, str]]:
        fields = wire.item_body(request.get_data())
        with self._lock:
            item = self._items.get(item_id)
            if item:
                wire.require(authed, *CANNOT_EDIT)
            return self._update(item, fields, None), {}

    def _put_variation(self, params: dict[str, str], authed: bool, product_id: int,
                       item_id: int) -> tuple[Any, dict[str, str]]:
        fields = wire.item_body(request.get_data())
        with self._lock:
            item = self._items.get(item_id)
            if item:
                wire.require(authed, *CANNOT_EDIT)
                if item.parent_id != product_id:  # a logged-in key: rest_authorization_required_code() is 403
                    raise WooError(CANNOT_EDIT[0], "Parent product does not match current variation.", 403)
            return self._update(item, fields, product_id), {}

    def _update(self, item: Item | None, fields: dict[str, Any], product_id: int | None) -> dict[str, Any]:
        """update_item(): products routes write products and refuse a variation (404, seen on WooCommerce
        10.0.2: it is read there, written only through its own route), variation routes only variations of
        ``product_id``; an id that is no product is the post type's invalid_id (400)."""
        if product_id is None:
            if item is None:
                raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 400)
            if item.type == "variation":
                raise WooError(*VARIATION_ROUTE, 404)
            self._apply_update(item, fields)
            return self._product_body(item)
        if item is None or item.type != "variation" or item.parent_id != product_id:
            raise WooError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 400)
        self._apply_update(item, fields)
        return self._variation_body(item)

    def _batch_products(self, params: dict[str, str], authed: bool) -> tuple[Any, dict[str, str]]:
        return self._batch(authed, None), {}

    def _batch_variations(self, params: dict[str, str], authed: bool, product_id: int) -> tuple[Any, dict[str, str]]:
        return self._batch(authed, product_id), {}

    def _batch(self, authed: bool, product_id: int | None) -> Any:
        """WC_REST_Controller::batch_items(): the limit counts create+update+delete; then one entry per
        item, an item's failure being its entry; only the non-empty lists come back."""
        wire.require(authed, *CANNOT_BATCH)
        body = wire.json_body(request.get_data())
        lists = {k: body[k] for k in ("create", "update", "delete") if isinstance(body.get(k), list) and body[k]}
        total = sum(len(v) for v in lists.values())
        with self._lock:
            self._stats.batch_items_max = max(self._stats.batch_items_max, total)
        if total > self.batch_limit:
            raise WooError("woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {self.batch_limit} items for this request.", 413)
        with self._lock:
            out = {verb: [self._batch_item(verb, e, product_id) for e in entries] for verb, entries in lists.items()}
        return out or []  # an empty PHP array encodes as []

    def _batch_item(self, verb: str, entry: Any, product_id: int | None) -> Any:
        if verb != "update":  # the hub only updates stock; creating and deleting are not simulated
            return {"id": 0 if verb == "create" else entry, "error": {
                "code": "sandbox_not_implemented", "message": f"The sandbox does not {verb} products.",
                "data": {"status": 501}}}
        entry = entry if isinstance(entry, dict) else {}
        try:
            return self._update(self._items.get(wire.stock_amount(entry.get("id"))), entry, product_id)
        except WooError as err:
            return {"id": entry.get("id"), "error": {"code": err.code, "message": err.message,
                                                     "data": {"status": err.status}}}


_COMPILED = [(methods, re.compile(rx), template, handler) for methods, rx, template, handler in ROUTES]


def _match(method: str, route: str) -> tuple[str, str, list[int]] | None:
    for methods, pattern, template, handler in _COMPILED:
        m = pattern.fullmatch(route)
        if m and method in methods:
            return template, handler, [int(g) for g in m.groups()]
    return None


def _reply(data: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(wire.php_json(data), status, {"Content-Type": "application/json; charset=UTF-8",
                                                  "X-Content-Type-Options": "nosniff", **(headers or {})})


def _control_routes(app: Flask, shop: WooSandbox) -> None:
    """The control API as JSON under /_sandbox/ (no auth): 404 for an unknown SKU/order, 422 if refused."""

    def call(fn: Callable[..., Any], *args: Any, status: int = 200) -> tuple[Any, int]:
        try:
            return fn(*args), status
        except KeyError as err:
            return {"error": str(err.args[0])}, 404
        except (ValueError, TypeError) as err:
            return {"error": str(err)}, 422

    def body() -> dict[str, Any]:
        return request.get_json(silent=True) or {}

    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("POST", "/_sandbox/seed", lambda: call(lambda: shop.seed(body().get("products", [])))),
        ("POST", "/_sandbox/orders", lambda: call(lambda: shop.place_order(
            body().get("lines", []), body().get("billing"), body().get("shipping"), body().get("payment_method", "cod"),
            body().get("payment_method_title", ""), bool(body().get("set_paid", False))), status=201)),
        ("GET", "/_sandbox/orders", lambda: call(shop.orders)),
        ("GET", "/_sandbox/orders/<int:order_id>", lambda order_id: call(shop.order, order_id)),
        ("POST", "/_sandbox/orders/<int:order_id>/cancel", lambda order_id: call(shop.cancel_order, order_id)),
        ("POST", "/_sandbox/orders/<int:order_id>/refund", lambda order_id: call(
            shop.refund_order, order_id, body().get("lines", []), body().get("amount"),
            str(body().get("reason", "")), status=201)),
        ("POST", "/_sandbox/orders/<int:order_id>/pay", lambda order_id: call(
            shop.pay_order, order_id, str(body().get("transaction_id", "")))),
        ("POST", "/_sandbox/stock", lambda: call(lambda: shop.set_stock(body()["sku"], body()["quantity"]))),
        ("GET", "/_sandbox/stock", lambda: call(shop.levels)),
        ("GET", "/_sandbox/stats", lambda: call(lambda: shop.stats)),
        ("POST", "/_sandbox/stats/reset", lambda: call(lambda: shop.reset_stats() or shop.stats)),
        ("POST", "/_sandbox/config", lambda: call(lambda: shop.configure(**body()))),
    ]
    for n, (method, rule, view) in enumerate(routes):
        app.add_url_rule(rule, f"sandbox_{n}", view, methods=[method])


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox as a process: ``python -m sandbox.woocommerce --port 8091 --webhook-url URL``."""

    ap = argparse.ArgumentParser(description="WooCommerce REST API v3 sandbox")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--webhook-url")
    ap.add_argument("--webhook-secret")
    ap.add_argument("--rate-limit", type=float)
    args = ap.parse_args(argv)
    shop = WooSandbox(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret, rate_limit=args.rate_limit)
    run_simple(args.host, args.port, shop.app, threaded=True)


if __name__ == "__main__":
    main()
