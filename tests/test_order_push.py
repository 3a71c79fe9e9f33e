"""Shipments back to the shopper through the hub's real clients: ``ShopifyOrders`` (GraphQL over
requests with ShopifyAPI's session) and ``WooOrders`` (the ``woocommerce`` client, OAuth 1.0a) against the
in-process sandboxes. Outcomes a shopper or merchant would see: one fulfillment with the tracking, one
customer note, the order completed, the webhooks the shop sends (checked against Shopify's schemas)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket

import jsonschema
import pytest
import requests
from flask import Flask, request

from connectors.outbound import Permanent, Retryable, Throttled
from connectors.shopify.client import ShopifyOrders
from connectors.woocommerce.client import WooOrders
from hub.config import ChannelConfig
from sandbox.base import serve
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

from .support import ManualClock, corpus_json

SHOP_SECRET, WOO_SECRET = "shpss_orders", "s3cret"
WOO_KEY, WOO_CS = "ck_orders", "cs_orders"
SCHEMAS = "schemas/shopify/webhooks-2026-07/{topic}.schema.json"
TRACKING = "1Z999AA10123456784"
ADA = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}
ADA_ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 St James's Square", "city": "London",
               "zip": "SW1Y 4JH", "country": "United Kingdom", "country_code": "GB", "province": "England",
               "province_code": "ENG", "phone": "+44 20 7946 0000"}


@pytest.fixture(scope="module")
def receiver():
    got: list[tuple[dict, bytes]] = []
    app = Flask("receiver")

    @app.post("/hook")
    def hook():
        got.append((dict(request.headers), request.get_data()))
        return "", 200

    with serve(app) as url:
        yield url + "/hook", got


# ---- Shopify -------------------------------------------------------------------------------------

@pytest.fixture
def shopify(receiver):
    url, got = receiver
    got.clear()
    shop = ShopifySandbox(webhook_url=url, webhook_secret=SHOP_SECRET)
    shop.seed(locations=[{"name": "Main"}], products=[{"title": "Tee", "variants": [
        {"sku": "TEE-S", "price": "20.00", "title": "S", "available": {"Main": 5}},
        {"sku": "TEE-M", "price": "20.00", "title": "M", "available": {"Main": 5}}]}])
    with serve(shop.app) as base:
        yield shop, base, got
    shop.close()


def shop_client(shop: ShopifySandbox, base: str, http: requests.Session | None = None,
                token: str | None = None) -> ShopifyOrders:
    channel = ChannelConfig(id="shop-eu", kind="shopify", timeout_s=5.0, extra={
        "shop": shop.shop, "access_token": token or shop.access_token, "api_url": base})
    return ShopifyOrders(channel, http=http)


def shopify_hooks(shop: ShopifySandbox, got: list) -> list[tuple[str, dict]]:
    """(topic, body) of every delivery, each checked: signed as Shopify signs, valid for its topic's schema."""
    shop.wait_idle(10)
    out = []
    for headers, raw in got:
        digest = base64.b64encode(hmac.new(SHOP_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], digest)
        topic, body = headers["X-Shopify-Topic"], json.loads(raw)
        jsonschema.validate(body, corpus_json(SCHEMAS.format(topic=topic.replace("/", "."))))
        out.append((topic, body))
    return out


def test_shopify_fulfil_once_with_tracking_and_webhooks(shopify):
    shop, base, got = shopify
    order = shop.place_order([{"sku": "TEE-S", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}],
                             customer=ADA, shipping_address=ADA_ADDRESS)
    client = shop_client(shop, base)
    before = client.order_status(order["id"])
    assert (before["fulfillment_status"], before["financial_status"], before["fulfillments"]) == (
        "UNFULFILLED", "PAID", [])
    assert len(before["open_fulfillment_orders"]) == 1

    ids = {client.fulfill(order["id"], TRACKING, "UPS") for _ in range(3)}
    assert len(ids) == 1
    assert shop.stats["by_root_field"]["fulfillmentCreate"] == 1  # the 2nd and 3rd call only read

    after = client.order_status(order["id"])
    assert after["fulfillment_status"] == "FULFILLED" and after["open_fulfillment_orders"] == []
    (fulfillment,) = after["fulfillments"]
    assert fulfillment["id"] == ids.pop() and fulfillment["name"] == "#1001-F1"
    assert fulfillment["tracking"] == [{"number": TRACKING, "company": "UPS",
                                        "url": f"https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums="
                                               f"{TRACKING}"}]
    rest = shop.order(order["id"])
    assert (rest["fulfillment_status"], rest["fulfillments"][0]["tracking_number"]) == ("fulfilled", TRACKING)
    assert [li["fulfillable_quantity"] for li in rest["line_items"]] == [0, 0]

    hooks = shopify_hooks(shop, got)
    assert [t for t, _ in hooks if t != "inventory_levels/update"] == [
        "orders/create", "fulfillments/create", "orders/fulfilled", "orders/updated"]
    created = dict(hooks)["orders/create"]
    assert (created["email"], created["customer"]["first_name"], created["shipping_address"]["city"]) == (
        "ada@example.com", "Ada", "London")
    shipped = dict(hooks)["fulfillments/create"]
    assert (shipped["order_id"], shipped["tracking_number"], shipped["tracking_company"], shipped["status"]) == (
        order["id"], TRACKING, "UPS", "success")
    assert [(li["sku"], li["quantity"]) for li in shipped["line_items"]] == [("TEE-S", 2), ("TEE-M", 1)]
    assert shipped["destination"]["name"] == "Ada Lovelace" and shipped["email"] == "ada@example.com"
    assert dict(hooks)["orders/fulfilled"]["fulfillments"][0]["id"] == shipped["id"]
    # shipping takes the units out of committed: available (what channels sell from) does not move
    assert shop.levels() == {"TEE-S": {"Main": 3}, "TEE-M": {"Main": 4}}


class RacingSession(requests.Session):
    """The merchant ships the order in the Shopify admin while the hub's fulfillmentCreate is in flight."""

    def __init__(self, shop: ShopifySandbox, order_id: int) -> None:
        super().__init__()
        self.shop, self.order_id = shop, order_id

    def post(self, url, **kw):  # noqa: ANN001, ANN003, ANN201
        if "fulfillmentCreate" in (kw.get("json") or {}).get("query", ""):
            self.shop.fulfill(self.order_id, "MERCHANT-1", "USPS")
        return super().post(url, **kw)


def test_shopify_refusals_are_permanent_with_shopifys_message(shopify):
    shop, base, got = shopify
    raced = shop.place_order([{"sku": "TEE-S", "quantity": 1}])
    with pytest.raises(Permanent, match=r"fulfillment: Fulfillment order \d+ has an unfulfillable status= closed"):
        shop_client(shop, base, http=RacingSession(shop, raced["id"])).fulfill(raced["id"], TRACKING, "UPS")

    client = shop_client(shop, base)
    with pytest.raises(Permanent, match="nothing left to fulfil"):  # shipped already, under another number
        client.fulfill(raced["id"], "OTHER-2", "UPS")
    merchants = client.order_status(raced["id"])["fulfillments"][0]["id"]
    assert client.fulfill(raced["id"], "MERCHANT-1", "USPS") == merchants  # the admin's own, same number

    cancelled = shop.place_order([{"sku": "TEE-M", "quantity": 1}])
    shop.cancel_order(cancelled["id"])
    with pytest.raises(Permanent, match="cancelled"):
        client.fulfill(cancelled["id"], TRACKING, "UPS")
    with pytest.raises(Permanent, match="no such order"):
        client.order_status(1)
    with pytest.raises(Permanent, match="HTTP 401"):
        shop_client(shop, base, token="shpat_wrong").order_status(raced["id"])
    assert shop.stats["by_root_field"]["fulfillmentCreate"] == 1


def test_shopify_throttled_calls_wait_and_network_failures_retry(shopify, monkeypatch):
    shop, base, got = shopify
    order = shop.place_order([{"sku": "TEE-S", "quantity": 1}])
    clock = ManualClock()  # the bucket refills only while the client waits, however slow the machine
    monkeypatch.setattr("connectors.shopify.client.time.sleep", clock.sleep)
    # a state read asks 25 points and keeps 5 after the refund
    shop.configure(bucket_size=30, restore_rate=10, clock=clock)
    client = shop_client(shop, base)
    client.order_status(order["id"])
    client.order_status(order["id"])
    client.fulfill(order["id"], TRACKING, "UPS")  # its read finds 20 points: THROTTLED, waited out
    assert shop.stats["throttled"] >= 1 and shop.stats["over_limit"] == 0
    assert client.order_status(order["id"])["fulfillment_status"] == "FULFILLED"

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Retryable) as err:
        shop_client(shop, dead).fulfill(order["id"], TRACKING, "UPS")
    assert not isinstance(err.value, Throttled)


# ---- WooCommerce ---------------------------------------------------------------------------------

@pytest.fixture
def woo(receiver):
    url, got = receiver
    got.clear()
    shop = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_CS, webhook_url=url, webhook_secret=WOO_SECRET)
    shop.seed([{"name": "Mug", "sku": "MUG", "price": "8.00", "stock_quantity": 10}])
    with serve(shop.app) as base:
        shop.configure(base_url=base)
        yield shop, base, got
    shop.close()


def woo_client(base: str, secret: str = WOO_CS) -> WooOrders:
    return WooOrders(ChannelConfig(id="woo", kind="woocommerce", timeout_s=5.0, extra={
        "url": base, "consumer_key": WOO_KEY, "consumer_secret": secret}))


def test_woo_one_customer_note_and_complete_once(woo):
    shop, base, got = woo
    order = shop.place_order([{"sku": "MUG", "quantity": 2}], billing={"first_name": "Ada", "last_name": "Lovelace",
                                                                       "email": "ada@example.com"},
                             payment_method="stripe", payment_method_title="Credit card", set_paid=True)
    client = woo_client(base)
    note_ids = {client.add_tracking(order["id"], TRACKING, "UPS", "https://ups.example/t/1Z999") for _ in range(3)}
    finals = [client.complete(order["id"]) for _ in range(3)]

    assert len(note_ids) == 1
    customer_notes = client.notes(order["id"], "customer")
    assert [(str(n["id"]), n["customer_note"], n["author"]) for n in customer_notes] == [(note_ids.pop(), True,
                                                                                          "system")]
    assert TRACKING in customer_notes[0]["note"] and "UPS" in customer_notes[0]["note"]
    assert set(customer_notes[0]) == {"id", "author", "date_created", "date_created_gmt", "note", "customer_note",
                                      "_links"}
    assert {f["status"] for f in finals} == {"completed"} and finals[0]["date_completed"]
    stats = shop.stats
    assert stats["calls"]["POST orders/<id>/notes"] == 1 and stats["calls"]["PUT orders/<id>"] == 1
    internal = [n["note"] for n in client.notes(order["id"], "internal")]
    assert internal == ["Order status changed from Processing to Completed.",
                        "Stock levels reduced: Mug (MUG) 10&rarr;8"]

    shop.wait_idle(10)
    topics = [(h["X-Wc-Webhook-Topic"], json.loads(raw).get("status")) for h, raw in got]
    assert topics == [("order.created", "processing"), ("product.updated", "publish"), ("order.updated", "completed")]
    assert json.loads(got[0][1])["billing"]["email"] == "ada@example.com"


def test_woo_refusals_and_failures_map_to_the_retry_table(woo):
    shop, base, got = woo
    client = woo_client(base)
    with pytest.raises(Permanent, match="HTTP 404"):
        client.add_tracking(424242, TRACKING, "UPS")
    order = shop.place_order([{"sku": "MUG", "quantity": 1}])
    shop.cancel_order(order["id"])
    with pytest.raises(Permanent, match="is cancelled"):
        client.complete(order["id"])
    with pytest.raises(Permanent, match="HTTP 401"):
        woo_client(base, secret="cs_wrong").order(order["id"])
    shop.configure(rate_limit=1)
    with pytest.raises(Throttled):
        for _ in range(3):
            client.order(order["id"])
    shop.configure(rate_limit=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Retryable):
        woo_client(dead).add_tracking(order["id"], TRACKING, "UPS")
    assert "POST orders/<id>/notes" not in shop.stats["calls"]
