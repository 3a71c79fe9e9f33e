"""The outage of issue 18 on Shopify's side, the hub running as processes (``hub run``) between a Shopify
and a WooCommerce sandbox: the hub is stopped while orders are placed on Shopify, whose deliveries fail
until Shopify deletes the subscriptions. Started again, the hub creates them again, backfills the
orders, and both shops show the stock the orders leave, Shopify never written over its own sales."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select

from sandbox.base import serve
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox
from store.models import stock_levels

from .support import ADMIN_TOKEN, SECRETS
from .support.real_woo import wait_for
from .support.run import free_port, hub_run

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SHOP_TOKEN, WOO_KEY, WOO_SECRET = "shpat_outage", "ck_outage", "cs_outage"
SKU, UNITS, MISSED = "OUT-1", 20, 5


def test_an_outage_that_made_shopify_delete_its_subscriptions_loses_nothing(tmp_path: Path):
    shop = ShopifySandbox(access_token=SHOP_TOKEN, webhook_secret=SECRETS["shop-eu"][0])
    woo = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET, webhook_secret=SECRETS["woo"][0])
    ids = shop.seed(locations=[{"name": "Main"}],
                    products=[{"title": "Outage", "variants": [{"sku": SKU, "available": {"Main": UNITS}}]}])
    woo.seed([{"name": "Outage", "sku": SKU, "stock_quantity": UNITS}])
    location = ids["locations"]["Main"].rsplit("/", 1)[-1]
    variant = ids["variants"][SKU]
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}"
    try:
        with serve(shop.app) as shop_url, serve(woo.app) as woo_url:
            config = tmp_path / "hub.yaml"
            config.write_text(json.dumps({
                "database_url": f"sqlite:///{tmp_path}/var/hub.db", "redis_url": "embedded",
                "var_dir": str(tmp_path / "var"), "admin_token": ADMIN_TOKEN, "stock_push_debounce_s": 0.2,
                "stock_reconcile_interval_s": 0, "public_url": hub_url, "subscription_check_s": 5,
                "channels": {
                    "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                                "access_token": SHOP_TOKEN, "api_url": shop_url, "locations": {location: "main"}},
                    "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": woo_url,
                            "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET,
                            "locations": {"default": "main"}}}}))

            def ledger() -> tuple[int, int]:
                engine = create_engine(f"sqlite:///{tmp_path}/var/hub.db")
                try:
                    with engine.connect() as conn:
                        row = conn.execute(select(stock_levels.c.on_hand, stock_levels.c.committed)
                                           .where(stock_levels.c.sku == SKU)).one()
                finally:
                    engine.dispose()
                return row.on_hand, row.committed

            def settled(committed: int, shown: int, timeout: float = 60) -> None:
                want = ((UNITS, committed), shown, shown)
                wait_for(f"ledger, Shopify, Woo at {want}", lambda: (
                    ledger(), sum(shop.levels()[SKU].values()), woo.levels()[SKU]) == want, timeout=timeout)

            with hub_run(tmp_path, config, port=port) as hub:
                shop.configure(webhook_url=f"{hub.url}/webhooks/shop-eu")
                woo.configure(webhook_url=f"{hub.url}/webhooks/woo")
                requests.post(f"{hub.url}/api/links", headers=AUTH, timeout=30, json=[{
                    "channel": "shop-eu", "sku": SKU, "product_id": str(variant["product_id"]),
                    "variant_id": str(variant["variant_id"]),
                    "inventory_item_id": str(variant["inventory_item_id"])}]).raise_for_status()
                requests.post(f"{hub.url}/api/stock/snapshot", headers=AUTH, timeout=30,
                              data=json.dumps({"sku": SKU, "on_hand": UNITS})).raise_for_status()
                settled(0, UNITS)
                woo.place_order([{"sku": SKU, "quantity": 1}], set_paid=True)  # the hub writes Shopify's count
                settled(1, UNITS - 1)
            shop.configure(delivery_attempts=2)  # each failing delivery retried once, not for 3 s
            time.sleep(1.02 - time.time() % 1)  # Shopify's clock has whole seconds: not the second of that write
            for _ in range(MISSED):  # the hub is down: every delivery fails, and Shopify deletes what failed
                shop.place_order([{"sku": SKU, "quantity": 1}])
            shop.wait_idle(60)
            gone = {s["topic"] for s in shop.subscriptions()}
            assert "orders/create" not in gone and "inventory_levels/update" not in gone
            assert (sum(shop.levels()[SKU].values()), woo.levels()[SKU]) == (UNITS - 1 - MISSED, UNITS - 1)
            shop.reset_stats()
            with hub_run(tmp_path, config, port=port) as hub:  # hub scheduler checks and backfills at its start
                settled(1 + MISSED, UNITS - 1 - MISSED, timeout=90)
                assert shop.stats["by_root_field"].get("inventorySetQuantities", 0) == 0  # its count was right
                back = {(s["topic"], s["uri"]) for s in shop.subscriptions()}
                assert {("orders/create", f"{hub_url}/webhooks/shop-eu"),
                        ("inventory_levels/update", f"{hub_url}/webhooks/shop-eu")} <= back
                alerts = requests.get(f"{hub.url}/api/alerts", headers=AUTH, timeout=30).json()["alerts"]
                assert any(a["kind"] == "subscription_repaired" and a["key"] == "shop-eu:orders/create"
                           for a in alerts)
                events = requests.get(f"{hub.url}/api/events?channel=shop-eu&limit=200", headers=AUTH,
                                      timeout=30).json()["events"]
                backfilled = [e for e in events if e["source"] == "backfill" and e["topic"] == "orders/create"]
                assert len(backfilled) == MISSED
                shop.place_order([{"sku": SKU, "quantity": 1}])  # and the webhooks deliver again
                settled(MISSED + 2, UNITS - MISSED - 2)
    finally:
        shop.close()
        woo.close()
