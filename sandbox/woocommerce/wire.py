"""What WooCommerce 11 puts on the wire, for the WooCommerce sandbox: WP_Error bodies, OAuth 1.0a
verification as ``WC_REST_Authentication`` does it, collection parameters and paging headers, and the
JSON shapes of products, variations and orders (built on the live 11.0.1 capture in the corpus and
the v3 controllers). Pure functions of the sandbox's records; the state lives in ``woocommerce.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlencode

OAUTH_WINDOW_S = 15 * 60  # WC accepts timestamps within 15 minutes and remembers nonces that long
MAX_PER_PAGE = 100  # WP collection schema: per_page 1..100
ALLOW = {"allow": ["GET", "POST", "PUT", "PATCH", "DELETE"]}  # targetHints on self links (WP 6.7+)
PRICE_HTML = ('<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol" '
              'translate="no">&#36;</span>{}</bdi></span>')
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
# wc_get_order_statuses() of WooCommerce 11, without "wc-", with wc_get_order_status_name()'s labels
ORDER_STATUSES = {"pending": "Pending payment", "processing": "Processing", "on-hold": "On hold",
                  "completed": "Completed", "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed",
                  "checkout-draft": "Draft"}
ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                  "country")


class WooError(Exception):
    """A WP_Error as the WP REST server renders it: {"code", "message", "data": {"status", ...}}."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


def invalid_param(param: str, code: str, message: str, data: Any = None) -> WooError:
    """WP_REST_Request::has_valid_params(): one 400 naming the bad argument."""
    return WooError("rest_invalid_param", f"Invalid parameter(s): {param}", 400, params={param: message},
                    details={param: {"code": code, "message": message, "data": data}})


def auth_error(message: str) -> WooError:
    return WooError("woocommerce_rest_authentication_error", message, 401)


def require(authed: bool, code: str, message: str) -> None:
    """A permission_callback for a visitor without an API key: rest_authorization_required_code() is 401."""
    if not authed:
        raise WooError(code, message, 401)


def php_json(obj: Any) -> bytes:
    # wp_json_encode: compact, ASCII-only, "/" escaped as "\/" ("/" only occurs inside JSON strings)
    return json.dumps(obj, separators=(",", ":")).replace("/", "\\/").encode()


def _rawurlencode(value: str) -> str:
    return quote(value, safe="")  # PHP rawurlencode / wc_rest_urlencode_rfc3986: only A-Za-z0-9-_.~ kept


def oauth_signature(method: str, url: str, params: dict[str, str], consumer_secret: str,
                    algo: Callable[..., Any] = hashlib.sha256) -> str:
    """The signature check_oauth_signature() expects: every query parameter but the signature, sorted by
    key, each ``key=value`` encoded twice, keyed by the consumer secret plus ``&`` (no token secret)."""
    pairs = [f"{_rawurlencode(k)}={_rawurlencode(v)}" for k, v in sorted(params.items()) if k != "oauth_signature"]
    base_string = f"{method}&{_rawurlencode(url)}&" + "%26".join(_rawurlencode(p) for p in pairs)
    digest = hmac.new(f"{consumer_secret}&".encode(), base_string.encode(), algo).digest()
    return base64.b64encode(digest).decode()


class OAuthVerifier:
    """perform_oauth_authentication(): parameters, key, signature, then timestamp and nonce, in that order."""

    def __init__(self) -> None:
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, method: str, url: str, params: dict[str, str], key: str, secret: str) -> bool:
        """True when signed by ``key``/``secret``; False when no OAuth parameter is present; else WooError."""
        missing = [name for name in OAUTH_PARAMS if not params.get(name)]
        if len(missing) == len(OAUTH_PARAMS):
            return False
        if missing:
            word = "parameter" if len(missing) == 1 else "parameters"
            raise WooError("woocommerce_rest_authentication_missing_parameter",
                           f"Missing OAuth {word} {', '.join(missing)}", 401)
        if params["oauth_consumer_key"] != key:
            raise auth_error("Consumer key is invalid.")
        algo = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(params["oauth_signature_method"])
        if algo is None:
            raise auth_error("Invalid signature - signature method is invalid.")
        given = unquote(params["oauth_signature"].replace(" ", "+"))  # $_GET decoded "+" to " ": Woo undoes it
        if not hmac.compare_digest(oauth_signature(method, url, params, secret, algo).encode(), given.encode()):
            raise auth_error("Invalid signature - provided signature does not match.")
        stamp = int(params["oauth_timestamp"]) if params["oauth_timestamp"].isdigit() else 0
        now = time.time()
        if abs(stamp - now) > OAUTH_WINDOW_S:
            raise auth_error("Invalid timestamp.")
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if t >= now - OAUTH_WINDOW_S}
            if params["oauth_nonce"] in self._nonces:
                raise auth_error("Invalid nonce - nonce has already been used.")
            self._nonces[params["oauth_nonce"]] = stamp
        return True


def wc_date(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # the site timezone is UTC: local == GMT


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def stock_amount(value: Any) -> int:
    """wc_stock_amount(): batch items skip schema validation, so Woo coerces whatever it is given."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def to_bool(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes"}  # wc_string_to_bool; "parent" -> False


@dataclass
class Item:
    """A product post: simple, variable (attributes: name -> options) or variation (name -> option)."""

    id: int
    name: str
    sku: str
    type: str
    price: Decimal
    parent_id: int = 0
    manage_stock: bool = False
    stock_quantity: int | None = None
    stock_status: str = "instock"  # what Woo keeps when stock is not managed
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)
    total_sales: int = 0
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)


@dataclass
class Note:
    """An order note (a WordPress comment): ``author`` is "system" unless added by the API key's user."""

    id: int
    note: str
    customer_note: bool
    author: str = "system"
    created: datetime = field(default_factory=now)


@dataclass
class Order:
    id: int
    key: str
    # item, quantity, line_id, attr_meta_ids, reduced_meta_id (None once restored), reduced (units Woo took
    # off the stock for it now), restock_meta_id / restocked (units a refund put back)
    lines: list[dict[str, Any]]
    status: str = "processing"
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)
    billing: dict[str, str] = field(default_factory=dict)
    shipping: dict[str, str] = field(default_factory=dict)
    payment_method: str = "cod"
    payment_method_title: str = ""  # what the client sent; the live capture's REST-created order has ""
    transaction_id: str = ""
    customer_note: str = ""
    date_paid: datetime | None = None
    date_completed: datetime | None = None
    notes: list[Note] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)  # newest first: id, reason, amount, created, lines


# ---- request side ---------------------------------------------------------------------------------

def int_param(params: dict[str, str], name: str, default: int, maximum: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise invalid_param(name, "rest_invalid_type", f"{name} is not of type integer.", {"param": name})
    value = int(raw)
    if maximum is not None and not 1 <= value <= maximum:
        raise invalid_param(name, "rest_out_of_bounds",
                            f"{name} must be between 1 (inclusive) and {maximum} (inclusive)")
    if value < 1:
        raise invalid_param(name, "rest_out_of_bounds", f"{name} must be greater than or equal to 1")
    return value


def paging(params: dict[str, str]) -> tuple[int, int]:
    return int_param(params, "page", 1, None), int_param(params, "per_page", 10, MAX_PER_PAGE)


def collection(items: list[Item], page: int, per_page: int, render: Callable[[Item], dict[str, Any]], url: str,
               params: dict[str, str], sort_key: Callable[[Any], Any] | None = None,
               descending: bool = True) -> tuple[list[Any], dict[str, str]]:
    """get_items(): newest first (orderby date, then ID; or ``sort_key``), X-WP-Total, X-WP-TotalPages and
    Link prev/next (WP repeats every query parameter in the links, OAuth ones included)."""
    items = sorted(items, key=sort_key or (lambda i: (i.created, i.id)), reverse=descending)
    total, pages = len(items), math.ceil(len(items) / per_page)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    if page > 1:
        links.append(f'<{url}?{urlencode({**params, "page": min(page - 1, pages)})}>; rel="prev"')
    if pages > page:
        links.append(f'<{url}?{urlencode({**params, "page": page + 1})}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return [render(i) for i in items[(page - 1) * per_page: page * per_page]], headers


def json_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400) from None
    return body if isinstance(body, dict) else {}


def item_body(raw: bytes) -> dict[str, Any]:
    """A single PUT goes through the item schema (batch items do not): stock_quantity is an integer."""
    body = json_body(raw)
    qty = body.get("stock_quantity")
    is_int = isinstance(qty, int) and not isinstance(qty, bool)
    if "stock_quantity" in body and not (is_int or (isinstance(qty, str) and re.fullmatch(r"-?\d+", qty))):
        raise invalid_param("stock_quantity", "rest_invalid_type", "stock_quantity is not of type integer.",
                            {"param": "stock_quantity"})
    return body


# ---- response bodies ------------------------------------------------------------------------------

def _dates(rec: Item | Order) -> dict[str, str]:
    c, m = wc_date(rec.created), wc_date(rec.modified)
    return {"date_created": c, "date_created_gmt": c, "date_modified": m, "date_modified_gmt": m}


def stock_status(item: Item, children: list[Item]) -> str:
    if item.type == "variable" and children:
        return "instock" if any(stock_status(c, []) == "instock" for c in children) else "outofstock"
    if item.manage_stock:
        return "instock" if (item.stock_quantity or 0) > 0 else "outofstock"
    return item.stock_status


def _prices(item: Item, children: list[Item]) -> tuple[str, str, str]:
    """(price, regular_price, price_html); a variable product shows its variations' range."""
    if item.type != "variable":
        return money(item.price), money(item.price), PRICE_HTML.format(money(item.price))
    low, high = min((c.price for c in children), default=item.price), max((c.price for c in children),
                                                                           default=item.price)
    html = PRICE_HTML.format(money(low)) + (f" &ndash; {PRICE_HTML.format(money(high))}" if high != low else "")
    return money(low), "", html


def _permalink(item: Item, parent: Item | None, base: str) -> str:
    if parent is None:
        return f"{base}/product/{slug(item.name)}/"
    query = "&".join(f"attribute_{slug(k)}={v}" for k, v in item.attributes.items())
    return f"{base}/product/{slug(parent.name)}/?{query}"


def product_body(item: Item, parent: Item | None, children: list[Item], base: str) -> dict[str, Any]:
    """The products-controller shape: GET products and product.updated (a variation's too, cf. corpus 006)."""
    api, is_var = f"{base}/wp-json/wc/v3", item.type == "variation"
    price, regular, html = _prices(item, children)
    if is_var:
        attributes = [{"id": 0, "name": k, "slug": slug(k), "option": v} for k, v in item.attributes.items()]
    else:
        attributes = [{"id": 0, "name": k, "slug": slug(k), "position": n, "visible": True, "variation": True,
                       "options": v} for n, (k, v) in enumerate(item.attributes.items())]
    links: dict[str, Any] = {"self": [{"href": f"{api}/products/{item.id}", "targetHints": ALLOW}],
                             "collection": [{"href": f"{api}/products"}]}
    if is_var:
        links["up"] = [{"href": f"{api}/products/{item.parent_id}"}]
    return {
        "id": item.id, "name": item.name, "slug": slug(item.name), "permalink": _permalink(item, parent, base),
        **_dates(item), "type": item.type, "status": "publish", "featured": False, "catalog_visibility": "visible",
        "description": "", "short_description": "", "sku": item.sku, "price": price, "regular_price": regular,
        "sale_price": "", "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None,
        "date_on_sale_to_gmt": None, "on_sale": False, "purchasable": True,
        "total_sales": "0" if is_var else item.total_sales,  # a string for variations, as captured
        "virtual": False, "downloadable": False, "downloads": [], "download_limit": -1, "download_expiry": -1,
        "external_url": "", "button_text": "", "tax_status": "taxable", "tax_class": "",
        "manage_stock": item.manage_stock, "stock_quantity": item.stock_quantity, "backorders": "no",
        "backorders_allowed": False, "backordered": False, "low_stock_amount": None, "sold_individually": False,
        "weight": "", "dimensions": {"length": "", "width": "", "height": ""}, "shipping_required": True,
        "shipping_taxable": True, "shipping_class": "", "shipping_class_id": 0, "reviews_allowed": not is_var,
        "average_rating": "0.00", "rating_count": 0, "upsell_ids": [], "cross_sell_ids": [],
        "parent_id": item.parent_id, "purchase_note": "",
        "categories": [] if is_var else [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}],
        "brands": [], "tags": [], "images": [], "attributes": attributes, "default_attributes": [],
        "variations": list(item.children), "grouped_products": [], "menu_order": 0, "price_html": html,
        "related_ids": [], "meta_data": [], "stock_status": stock_status(item, children),
        "has_options": item.type == "variable", "post_password": "", "global_unique_id": "", "_links": links}


def variation_body(item: Item, parent: Item, base: str) -> dict[str, Any]:
    """The variations-controller shape (products/<id>/variations[/<id>], variation batches): no ``type``."""
    api = f"{base}/wp-json/wc/v3/products/{item.parent_id}"
    price, regular, _ = _prices(item, [])
    return {
        "id": item.id, **_dates(item), "description": "", "permalink": _permalink(item, parent, base),
        "sku": item.sku, "global_unique_id": "", "price": price, "regular_price": regular, "sale_price": "",
        "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None,
        "date_on_sale_to_gmt": None, "on_sale": False, "status": "publish", "purchasable": True, "virtual": False,
        "downloadable": False, "downloads": [], "download_limit": -1, "download_expiry": -1,
        "tax_status": "taxable", "tax_class": "", "manage_stock": item.manage_stock,
        "stock_quantity": item.stock_quantity, "stock_status": stock_status(item, []), "backorders": "no",
        "backorders_allowed": False, "backordered": False, "low_stock_amount": None, "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""}, "shipping_class": "", "shipping_class_id": 0,
        "image": None, "attributes": [{"id": 0, "name": k, "option": v} for k, v in item.attributes.items()],
        "menu_order": 0, "meta_data": [], "name": item.name, "parent_id": item.parent_id,
        "_links": {"self": [{"href": f"{api}/variations/{item.id}", "targetHints": ALLOW}],
                   "collection": [{"href": f"{api}/variations"}], "up": [{"href": api}]}}


def _line_body(line: dict[str, Any], parent_name: str | None) -> dict[str, Any]:
    item, qty = line["item"], line["quantity"]
    is_var, total = item.type == "variation", item.price * qty
    meta = [{"id": mid, "key": slug(k), "value": v, "display_key": k, "display_value": v}
            for mid, (k, v) in zip(line["attr_meta_ids"], item.attributes.items(), strict=False)]
    if line["reduced_meta_id"]:
        reduced = str(line.get("reduced", qty))
        meta.append({"id": line["reduced_meta_id"], "key": "_reduced_stock", "value": reduced,
                     "display_key": "_reduced_stock", "display_value": reduced})
    if line.get("restock_meta_id"):  # wc_restock_refunded_items(), seen on WooCommerce 10.0.2
        restocked = str(line["restocked"])
        meta.append({"id": line["restock_meta_id"], "key": "_restock_refunded_items", "value": restocked,
                     "display_key": "_restock_refunded_items", "display_value": restocked})
    unit = total / qty  # PHP divides the stored total: an int when exact (10, as captured), else a float
    return {"id": line["line_id"], "name": item.name, "product_id": item.parent_id if is_var else item.id,
            "variation_id": item.id if is_var else 0, "quantity": qty, "tax_class": "", "subtotal": money(total),
            "subtotal_tax": "0.00", "total": money(total), "total_tax": "0.00", "taxes": [], "meta_data": meta,
            "sku": item.sku, "global_unique_id": "", "price": int(unit) if unit == int(unit) else float(unit),
            "image": {"id": 0 if is_var else "", "src": ""},  # "" vs 0 exactly as in the capture
            "parent_name": parent_name}


def address(given: dict[str, Any] | None, defaults: dict[str, str], billing: bool) -> dict[str, str]:
    """A billing (with email) or shipping address: every field present, unknown fields refused."""
    keys = (*ADDRESS_FIELDS, "email", "phone") if billing else (*ADDRESS_FIELDS, "phone")
    unknown = set(given or {}) - set(keys)
    if unknown:
        raise ValueError(f"unknown address field(s): {', '.join(sorted(unknown))}")
    return {k: str((given or {}).get(k, defaults.get(k, ""))) for k in keys}


def _opt_date(d: datetime | None) -> str | None:
    return wc_date(d) if d else None


def order_body(order: Order, parent_names: dict[int, str], base: str) -> dict[str, Any]:
    """The orders-controller shape of the live order.created capture (004)."""
    lines = [_line_body(line, parent_names.get(line["item"].parent_id)) for line in order.lines]
    c, m, url = wc_date(order.created), wc_date(order.modified), f"{base}/wp-json/wc/v3/orders"
    total = sum((Decimal(li["total"]) for li in lines), Decimal(0))
    return {
        "id": order.id, "parent_id": 0, "status": order.status, "currency": "USD", "version": "11.0.1",
        "prices_include_tax": False, "date_created": c, "date_modified": m, "discount_total": "0.00",
        "discount_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00", "cart_tax": "0.00",
        "total": money(total), "total_tax": "0.00", "customer_id": 0, "order_key": order.key,
        "billing": dict(order.billing), "shipping": dict(order.shipping), "payment_method": order.payment_method,
        "payment_method_title": order.payment_method_title, "transaction_id": order.transaction_id,
        "customer_ip_address": "", "customer_user_agent": "", "created_via": "checkout",
        "customer_note": order.customer_note, "date_completed": _opt_date(order.date_completed),
        "date_paid": _opt_date(order.date_paid), "cart_hash": "", "number": str(order.id),
        "meta_data": [], "line_items": lines, "tax_lines": [], "shipping_lines": [], "fee_lines": [],
        "coupon_lines": [],
        "refunds": [{"id": r["id"], "reason": r["reason"], "total": money(-r["amount"])} for r in order.refunds],
        "payment_url": f"{base}/checkout/order-pay/{order.id}/?pay_for_order=true&key={order.key}",
        "is_editable": order.status in {"pending", "on-hold", "checkout-draft"},
        "needs_payment": order.status in {"pending", "failed"} and total > 0, "needs_processing": True,
        "date_created_gmt": c, "date_modified_gmt": m, "date_completed_gmt": _opt_date(order.date_completed),
        "date_paid_gmt": _opt_date(order.date_paid), "currency_symbol": "$",
        "_links": {"self": [{"href": f"{url}/{order.id}", "targetHints": ALLOW}], "collection": [{"href": url}],
                   "email_templates": [{"embeddable": True, "href": f"{url}/{order.id}/actions/email_templates"}]}}


def refund_body(refund: dict[str, Any], order: Order, base: str) -> dict[str, Any]:
    """GET/POST orders/<id>/refunds: the shape WooCommerce 10.0.2 answered (line quantities negative)."""
    url = f"{base}/wp-json/wc/v3/orders/{order.id}/refunds"
    created = wc_date(refund["created"])
    lines = []
    for line_id, qty, line in refund["lines"]:
        item, each = line["item"], line["item"].price
        lines.append({"id": line_id, "name": item.name, "product_id": item.parent_id if item.type == "variation"
                      else item.id, "variation_id": item.id if item.type == "variation" else 0, "quantity": -qty,
                      "tax_class": "", "subtotal": money(-each * qty), "subtotal_tax": "0.00",
                      "total": money(-each * qty), "total_tax": "0.00", "taxes": [],
                      "meta_data": [{"id": line_id * 10, "key": "_refunded_item_id", "value": str(line["line_id"]),
                                     "display_key": "_refunded_item_id", "display_value": str(line["line_id"])}],
                      "sku": item.sku, "price": int(each) if each == int(each) else float(each),
                      "image": {"id": "", "src": ""}, "parent_name": None})
    return {"id": refund["id"], "date_created": created, "date_created_gmt": created, "amount": money(refund["amount"]),
            "reason": refund["reason"], "refunded_by": 1, "refunded_payment": False, "meta_data": [],
            "line_items": lines, "shipping_lines": [], "tax_lines": [], "fee_lines": [],
            "_links": {"self": [{"href": f"{url}/{refund['id']}", "targetHints": {"allow": ["GET", "DELETE"]}}],
                       "collection": [{"href": url}],
                       "up": [{"href": f"{base}/wp-json/wc/v3/orders/{order.id}"}]}}
