"""The whole back office in one test process: a hub wired to the Shopify, WooCommerce, Odoo and HubSpot
sandboxes (served over HTTP, reached through the hub's real clients), with the platforms' webhooks
captured as they send them (signed) and handed to the hub's receiver when the test says: in order, or
duplicated and shuffled. Stripe, PayPal and carrier webhooks are signed as those platforms sign them."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, request
from sqlalchemy import select

from sandbox import signing
from sandbox.base import serve
from sandbox.emitters import carriers
from sandbox.emitters.paypal import PayPalCertServer
from sandbox.hubspot import HubSpotSandbox
from sandbox.odoo import OdooSandbox
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

from . import PAYPAL_WEBHOOK_ID, SECRETS, run_worker

DB, LOGIN, KEY = "shop", "hub@example.com", "odoo-key-5c1e-secret"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
WOO_KEY, WOO_SECRET = "ck_story", "cs_story"
SHOP_TOKEN = "shpat_story"
SKIP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "accept", "user-agent"}


@dataclass(frozen=True)
class Delivery:
    """One webhook as a platform sent it: the hub channel it is for, its headers and raw body."""

    channel: str
    label: str  # topic or event type, for the test's own bookkeeping
    headers: dict[str, str]
    body: bytes
    query: dict[str, str] = field(default_factory=dict)


class Outbox:
    """What the shops sent, kept until the test hands it to the hub (a Flask app the shops post to)."""

    def __init__(self) -> None:
        self.waiting: list[Delivery] = []
        self._lock = threading.Lock()
        self.app = Flask("outbox")
        self.app.add_url_rule("/<channel>", "hook", self._hook, methods=["POST"])

    def _hook(self, channel: str) -> tuple[str, int]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP_HEADERS}
        label = request.headers.get("X-Shopify-Topic") or request.headers.get("X-WC-Webhook-Topic") or "?"
        with self._lock:
            self.waiting.append(Delivery(channel, label, headers, request.get_data()))
        return "", 200

    def add(self, channel: str, label: str, req: signing.SignedRequest) -> None:
        """A webhook built by the test (payments, carriers), after everything the shops sent before it."""
        with self._lock:
            self.waiting.append(Delivery(channel, label, dict(req.headers), req.body, dict(req.query or {})))

    def take(self) -> list[Delivery]:
        with self._lock:
            out, self.waiting = self.waiting, []
        return out


@dataclass
class Story:
    app: Any
    erp: OdooSandbox
    crm: HubSpotSandbox
    shop: ShopifySandbox
    woo: WooSandbox
    certs: PayPalCertServer
    outbox: Outbox
    make_app: Any = None
    settings: dict[str, Any] = field(default_factory=dict)  # the app's config overrides
    delivered: list[Delivery] = field(default_factory=list)

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    def restart(self, **erp: Any) -> Any:
        """A new app on the same store and Redis (a restarted hub), its ``erp:`` config changed by ``erp``."""
        self.settings = {**self.settings, "erp": {**self.settings["erp"], **erp}}
        self.app = self.make_app(**self.settings)
        return self.app

    # ---- webhooks in -------------------------------------------------------------------------------

    def quiet(self) -> None:
        """Every webhook the shops sent so far is in the outbox (their senders are threads): the outbox
        keeps the order things happened in, so a seeded shuffle of it is the same on every run."""
        self.shop.wait_idle(10)
        self.woo.wait_idle(10)

    def stripe(self, event: dict) -> None:
        self.quiet()
        self.outbox.add("stripe", event["type"], signing.stripe(SECRETS["stripe"][0], json.dumps(event).encode()))

    def paypal(self, event: dict) -> None:
        self.quiet()
        self.outbox.add("paypal", event["event_type"], self.certs.sign(PAYPAL_WEBHOOK_ID, json.dumps(event).encode()))

    def carrier(self, kind: str, tracking: str, carrier: str, steps: list[carriers.Step], **kw: Any) -> None:
        """Every update of a parcel's journey, as the carrier sends them (each with the history so far)."""
        self.quiet()
        emitter = carriers.CarrierEmitter("http://unused", {})
        signer = {"easypost": signing.easypost, "shippo": signing.shippo, "aftership": signing.aftership}[kind]
        for step, body in zip(steps, emitter.bodies(kind, tracking, carrier, steps, **kw), strict=True):
            self.outbox.add(kind, f"{kind}:{step.status}", signer(SECRETS[kind][0], body))

    def flush(self, times: int = 1, rng: random.Random | None = None, work: bool = True) -> list[Delivery]:
        """Hand every waiting webhook to the hub's receiver ``times`` over (shuffled by ``rng``), with the
        worker running between deliveries at the shuffle's whim (so events are processed in the order they
        arrive), then once more at the end."""
        self.quiet()
        batch = self.outbox.take() * times
        if rng is not None:
            rng.shuffle(batch)
        with self.app.test_client() as client:
            for d in batch:
                r = client.post(f"/webhooks/{d.channel}", data=d.body, headers=d.headers, query_string=d.query)
                assert r.status_code == 200, (d.label, r.status_code, r.get_data(as_text=True))
                if work and rng is not None and rng.random() < 0.3:
                    run_worker(self.app)
        self.delivered += batch
        if work:
            run_worker(self.app)
        return batch

    def settle(self, times: int = 1, rng: random.Random | None = None, rounds: int = 8) -> None:
        """Deliver and process until the shops send nothing more (the hub's writes make them send)."""
        for _ in range(rounds):
            run_worker(self.app)
            self.quiet()
            if not self.outbox.waiting:
                return
            self.flush(times, rng)
        raise AssertionError("the shops kept sending webhooks")

    # ---- the ERP's side ------------------------------------------------------------------------------

    def pull(self) -> dict[str, int]:
        from jobs.erp_pull import pull_erp

        with self.app.app_context():
            return pull_erp()

    def sale_order(self) -> dict:
        [so] = self.erp.records("sale.order")
        return so

    # ---- reading the hub ----------------------------------------------------------------------------

    def rows(self, table: Any) -> list:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(table).order_by(*table.primary_key.columns)).all()

    def api(self, path: str) -> Any:
        from . import ADMIN_TOKEN

        with self.app.test_client() as client:
            r = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert r.status_code == 200, r.get_data(as_text=True)
            return r.json

    def notes(self) -> list[str]:
        return [n["properties"]["hs_note_body"] for n in self.crm.records("notes")]


@contextmanager
def story_env(make_app, tmp_path, products: list[dict[str, Any]], quantity: int = 50,
              clock: Any = None) -> Iterator[Story]:
    """The sandboxes hold ``products`` ({sku, name, price}) at ``quantity``; the hub starts with an empty
    store (its stock comes from the ERP's first pull). Shops send their webhooks to the outbox."""
    erp = OdooSandbox(db=DB, login=LOGIN, api_key=KEY, timeout_sleep_s=0.6, **({"clock": clock} if clock else {}))
    erp.seed_products([{**p, "quantity": quantity} for p in products])
    crm = HubSpotSandbox(token=TOKEN, hub_properties=True)
    shop = ShopifySandbox(access_token=SHOP_TOKEN, webhook_secret=SECRETS["shop-eu"][0])
    ids = shop.seed(locations=[{"name": "Main"}], products=[{"title": p["name"], "variants": [
        {"sku": p["sku"], "price": str(p["price"]), "available": {"Main": quantity}}]} for p in products])
    location = ids["locations"]["Main"].rsplit("/", 1)[-1]
    woo = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET, webhook_secret=SECRETS["woo"][0])
    woo.seed([{"name": p["name"], "sku": p["sku"], "price": str(p["price"]), "stock_quantity": quantity}
              for p in products])
    certs = PayPalCertServer(tmp_path / "paypal")
    certs.start()
    outbox = Outbox()
    try:
        with ExitStack() as stack:
            erp_url, crm_url, shop_url, woo_url, outbox_url = (
                stack.enter_context(serve(a)) for a in (erp.app, crm.app, shop.app, woo.app, outbox.app))
            woo.configure(base_url=woo_url, webhook_url=f"{outbox_url}/woo")
            shop.configure(webhook_url=f"{outbox_url}/shop-eu")
            channels = {
                "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                            "access_token": SHOP_TOKEN, "api_url": shop_url, "locations": {location: "main"}},
                "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": woo_url,
                        "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET, "locations": {"default": "main"}},
                "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"], "match": {"channel": "woo"}},
                "paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID, "cert_hosts": ["localhost"],
                           "cert_ca_bundle": str(certs.ca_bundle), "match": {"channel": "shop-eu"}},
                "easypost": {"kind": "easypost", "webhook_secrets": SECRETS["easypost"]},
                "aftership": {"kind": "aftership", "webhook_secrets": SECRETS["aftership"]},
                "shippo": {"kind": "shippo", "webhook_secrets": SECRETS["shippo"]},
            }
            settings = {"channels": channels, "stock_push_debounce_s": 0,
                        "erp": {"url": erp_url, "db": DB, "login": LOGIN, "api_key": KEY, "timeout_s": 5,
                                "retry_base_s": 0},
                        "crm": {"url": crm_url, "token": TOKEN, "timeout_s": 5, "retry_base_s": 0}}
            yield Story(make_app(**settings), erp, crm, shop, woo, certs, outbox, make_app, settings)
    finally:
        certs.stop()
        shop.close()
        woo.close()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)
