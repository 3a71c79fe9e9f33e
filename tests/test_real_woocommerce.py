"""The hub against the real WooCommerce 10.0.2 (../shared/peers/woocommerce), the hub running as processes
(``hub run``) beside a Shopify sandbox: what the real shop sends and does is what the hub must keep up with."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from hub.models import stock_levels
from sandbox.base import serve
from sandbox.shopify import ShopifySandbox

from .support import ADMIN_TOKEN, SECRETS
from .support.real_woo import WEBHOOK_SECRET, RealWoo, real_woocommerce, wait_for
from .support.run import RunningHub, hub_run

pytestmark = [pytest.mark.e2e, pytest.mark.real_woo]
SHOP_TOKEN = "shpat_real_woo_test"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Stack:
    woo: RealWoo
    shop: ShopifySandbox
    hub: RunningHub
    work: Path
    woo_ids: dict[str, int]  # SKU -> Woo product id
    config: Path

    def ledger(self, sku: str) -> tuple[int, int]:
        """(on_hand, committed) in the hub's ledger."""
        engine = create_engine(f"sqlite:///{self.work}/var/hub.db")
        try:
            with engine.connect() as conn:
                row = conn.execute(select(stock_levels.c.on_hand, stock_levels.c.committed)
                                   .where(stock_levels.c.sku == sku)).one()
        finally:
            engine.dispose()
        return row.on_hand, row.committed

    def shop_stock(self, sku: str) -> int:
        return sum(self.shop.levels()[sku].values())

    def woo_stock(self, sku: str) -> int:
        return self.woo.stock(self.woo_ids[sku])

    def settled(self, sku: str, on_hand: int, committed: int, shown: int, timeout: float = 60) -> None:
        """Wait until the ledger holds (on_hand, committed) and both shops show ``shown``."""
        want = ((on_hand, committed), shown, shown)
        deadline, now = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            now = (self.ledger(sku), self.woo_stock(sku), self.shop_stock(sku))
            if now == want:
                return
            time.sleep(0.3)
        raise AssertionError(f"{sku}: want (ledger, woo, shopify) {want}, still {now} after {timeout:.0f} s")


@contextmanager
def stack(tmp_path: Path, skus: dict[str, int]) -> Iterator[Stack]:
    """The real WooCommerce and a Shopify sandbox holding ``skus`` (SKU -> units), the hub running on both."""
    with real_woocommerce(tmp_path / "woo") as woo:
        shop = ShopifySandbox(access_token=SHOP_TOKEN, webhook_secret=SECRETS["shop-eu"][0])
        ids = shop.seed(locations=[{"name": "Main"}], products=[
            {"title": f"Product {s}", "variants": [{"sku": s, "available": {"Main": n}}]} for s, n in skus.items()])
        location = ids["locations"]["Main"].rsplit("/", 1)[-1]
        woo_ids = {s: woo.product(s, n)["id"] for s, n in skus.items()}
        work = tmp_path / "hub"
        work.mkdir()
        try:
            with serve(shop.app) as shop_url:
                config = work / "hub.yaml"
                config.write_text(json.dumps({
                    "database_url": f"sqlite:///{work}/var/hub.db", "redis_url": "embedded",
                    "var_dir": str(work / "var"), "admin_token": ADMIN_TOKEN, "stock_push_debounce_s": 0.2,
                    "stock_reconcile_interval_s": 0, "public_url": f"http://127.0.0.1:{woo.hub_port}",
                    "subscription_check_s": 5,
                    "channels": {
                        "woo": {"kind": "woocommerce", "webhook_secrets": [WEBHOOK_SECRET], "url": woo.url,
                                "consumer_key": woo.consumer_key, "consumer_secret": woo.consumer_secret,
                                "locations": {"default": "main"}},
                        "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                                    "access_token": SHOP_TOKEN, "api_url": shop_url,
                                    "locations": {location: "main"}}}}))
                with hub_run(work, config, port=woo.hub_port) as hub:
                    shop.configure(webhook_url=f"{hub.url}/webhooks/shop-eu")
                    links = [{"channel": "shop-eu", "sku": s, "product_id": str(v["product_id"]),
                              "variant_id": str(v["variant_id"]), "inventory_item_id": str(v["inventory_item_id"])}
                             for s, v in ids["variants"].items()]
                    requests.post(f"{hub.url}/api/links", json=links, headers=AUTH, timeout=30).raise_for_status()
                    counts = "\n".join(json.dumps({"sku": s, "on_hand": n}) for s, n in skus.items())
                    requests.post(f"{hub.url}/api/stock/snapshot", data=counts, headers=AUTH,
                                  timeout=30).raise_for_status()
                    env = Stack(woo, shop, hub, work, woo_ids, config)
                    for s, n in skus.items():
                        env.settled(s, n, 0, n)
                    yield env
        finally:
            shop.close()


def test_refunds_on_the_real_woocommerce_release_the_units_and_woo_is_never_written_back(tmp_path):
    """Seen on the real WooCommerce: a full refund with restock put the unit back on Woo's count, the hub
    kept it committed and pushed Woo back down by one. Partial then full, and a money-only refund."""
    with stack(tmp_path, {"RW-A": 5, "RW-B": 5}) as env:
        order = env.woo.order([(env.woo_ids["RW-A"], 2), (env.woo_ids["RW-B"], 1)])
        env.settled("RW-A", 5, 2, 3)
        env.settled("RW-B", 5, 1, 4)
        since = time.time()
        time.sleep(1.1)  # Woo's clock has whole seconds: the refund is not in the same second as the order
        env.woo.refund(order, {env.woo_ids["RW-A"]: 1})  # partial: the order stays processing
        env.settled("RW-A", 5, 1, 4)
        time.sleep(1.1)
        env.woo.refund(order, {env.woo_ids["RW-A"]: 1})
        env.settled("RW-A", 5, 0, 5)
        time.sleep(1.1)
        env.woo.refund(order, {}, amount="10.00")  # the rest, money only: refunded, B stays sold
        assert env.woo.call("GET", f"orders/{order['id']}")["status"] == "refunded"
        time.sleep(3)  # what the hub does with it (nothing should move)
        env.settled("RW-B", 5, 1, 4)
        # Woo put its units back itself: nothing to write there. Its level webhook comes before the order's;
        # when Action Scheduler sends them more than stock_report_hold_s apart (a busy machine), the level
        # is judged alone and written over, then set right by the order: not a unit lost in the end.
        writes = [c for c in env.woo.hub_calls(since) if c[0] != "GET"]
        assert len(writes) <= 4, writes


def test_an_outage_that_made_woo_disable_its_webhooks_loses_nothing(tmp_path):
    """The issue's outage on the real WooCommerce: the hub stopped while orders were placed; Woo never
    retried and disabled its order webhooks after 6 failures. Started again, the hub sets the webhooks
    active, backfills every order, and both shops show the stock the orders leave, not one unit written
    over a sale."""
    with stack(tmp_path, {"RW-O": 20}) as env:
        env.hub.stop()
        product = env.woo_ids["RW-O"]
        for _ in range(7):
            env.woo.order([(product, 1)])
        disabled = wait_for("Woo to disable its order.created webhook", lambda: [
            w for w in env.woo.call("GET", "webhooks") if w["topic"] == "order.created" and w["status"] == "disabled"],
            timeout=120)
        assert env.woo_stock("RW-O") == 13 and env.shop_stock("RW-O") == 20
        since = time.time()
        with hub_run(env.work, env.config, port=env.woo.hub_port) as hub:  # hub scheduler checks both at its start
            env.hub = hub
            env.settled("RW-O", 20, 7, 13, timeout=90)
            # a delivery Woo had queued during the outage can still fail and disable a webhook again after the
            # repair (its runner saves the webhook it loaded before): the next check sets it right
            wait_for("every webhook active at the hub", lambda: all(
                (w["status"], w["delivery_url"]) == ("active", f"{hub.url}/webhooks/woo")
                for w in env.woo.call("GET", "webhooks")), timeout=60)
            alerts = requests.get(f"{hub.url}/api/alerts", headers=AUTH, timeout=30).json()["alerts"]
            assert any(a["kind"] == "subscription_repaired" and a["key"] == "woo:order.created" for a in alerts)
            assert [c for c in env.woo.hub_calls(since) if c[1].startswith("/wc/v3/products")
                    and c[0] != "GET"] == []  # Woo's own count was right: never written over
            env.woo.order([(product, 1)])  # and the webhooks deliver again
            env.settled("RW-O", 20, 8, 12)
        assert disabled
