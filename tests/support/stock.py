"""A hub wired to a Shopify and a WooCommerce sandbox, both sending their webhooks to it over
HTTP and taking its stock writes through the real client libraries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from woocommerce import API

from sandbox.base import serve
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox
from store.models import stock_sync

from . import SECRETS, live_server, run_worker

WOO_KEY, WOO_SECRET = "ck_hub_test", "cs_hub_test"
SHOP_TOKEN = "shpat_hub_test"


@dataclass
class StockEnv:
    app: Any
    shop: ShopifySandbox
    woo: WooSandbox
    location: str  # the Shopify location's numeric id
    shop_webhook_url: str = ""  # where the Shopify sandbox sends its webhooks (the hub's receiver)
    bootstrap: dict | None = None  # the sandboxes' stats for the first sync, before the test's changes

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    def settle(self, rounds: int = 10) -> int:
        """Deliver every webhook, process every event and push, until nothing moves; -> rounds."""
        for n in range(1, rounds + 1):
            self.shop.wait_idle(60)
            self.woo.wait_idle(60)
            before = self.shop.stats["webhooks"]["sent"] + self.woo.stats["webhooks"]["sent"]
            run_worker(self.app)
            self.shop.wait_idle(60)
            self.woo.wait_idle(60)
            after = self.shop.stats["webhooks"]["sent"] + self.woo.stats["webhooks"]["sent"]
            if after == before and not self.dirty():
                return n
        raise AssertionError(f"stock did not settle in {rounds} rounds: dirty {self.dirty()[:10]}")

    def dirty(self) -> list[tuple[str, str]]:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(stock_sync.c.channel, stock_sync.c.sku)
                                .where(stock_sync.c.dirty.is_(True))).all()

    def shop_levels(self) -> dict[str, int]:
        return {sku: sum(by_loc.values()) for sku, by_loc in self.shop.levels().items()}

    def writes(self) -> tuple[int, int]:
        return self.shop.stats["mutations"], self.woo.stats["writes"]

    def woo_api(self) -> Any:
        """The WooCommerce client library on the hub's Woo keys, as a shop's admin would use it."""
        woo = self.hub.config.channels["woo"].extra
        return API(url=woo["url"], consumer_key=woo["consumer_key"], consumer_secret=woo["consumer_secret"],
                   version="wc/v3")

    def pause_woo_order_webhooks(self) -> None:
        """Woo's order webhooks paused (its product ones still come): its sales reach the hub as levels only."""
        api = self.woo_api()
        for hook in self.woo.webhooks():
            if hook["topic"].startswith("order."):
                api.put(f"webhooks/{hook['id']}", {"status": "paused"}).raise_for_status()


@contextmanager
def stock_env(make_app, skus: list[str], quantity: int, woo_authority: str = "hub", shop_authority: str = "hub",
              bucket_size: float = 1000.0, restore_rate: float = 50.0, woo_push: str = "live",
              **overrides: Any) -> Iterator[StockEnv]:
    """Both shops hold ``skus`` at ``quantity``; the hub's ledger starts from the same count."""
    shop = ShopifySandbox(access_token=SHOP_TOKEN, bucket_size=bucket_size, restore_rate=restore_rate,
                          webhook_secret=SECRETS["shop-eu"][0])
    woo = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET, webhook_secret=SECRETS["woo"][0])
    ids = shop.seed(locations=[{"name": "Main"}],
                    products=[{"title": f"Product {s}", "variants": [{"sku": s, "available": {"Main": quantity}}]}
                              for s in skus])
    location = ids["locations"]["Main"].rsplit("/", 1)[-1]
    woo.seed([{"name": f"Product {s}", "sku": s, "stock_quantity": quantity} for s in skus])
    try:
        with serve(shop.app) as shop_url, serve(woo.app) as woo_url:
            channels = {
                "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                            "access_token": SHOP_TOKEN, "api_url": shop_url, "locations": {location: "main"},
                            "stock_authority": shop_authority},
                "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": woo_url,
                        "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET, "locations": {"default": "main"},
                        "stock_authority": woo_authority, **({"push": woo_push} if woo_push != "live" else {})},
            }
            app = make_app(channels=channels, stock_push_debounce_s=0, **overrides)
            with live_server(app) as hub_url:
                shop.configure(webhook_url=f"{hub_url}/webhooks/shop-eu")
                woo.configure(webhook_url=f"{hub_url}/webhooks/woo")
                env = StockEnv(app, shop, woo, location, f"{hub_url}/webhooks/shop-eu")
                counts = "\n".join(f'{{"sku": "{s}", "on_hand": {quantity}}}' for s in skus)
                # Shopify's ids come as links (what products/create or `hub links import` gives a
                # real hub: looking 1,000 SKUs up by GraphQL costs ~5,000 points); Woo's are found by SKU
                links = [{"channel": "shop-eu", "sku": sku, "product_id": str(v["product_id"]),
                          "variant_id": str(v["variant_id"]), "inventory_item_id": str(v["inventory_item_id"])}
                         for sku, v in ids["variants"].items()]
                with app.test_client() as c:
                    for i in range(0, len(links), 200):  # within the test app's max_body_bytes
                        assert c.post("/api/links", json=links[i:i + 200], headers=_auth()).status_code == 201
                    lines = counts.splitlines()
                    for i in range(0, len(lines), 1000):
                        r = c.post("/api/stock/snapshot", data="\n".join(lines[i:i + 1000]), headers=_auth())
                        assert r.status_code == 200, r.json
                env.settle()
                env.bootstrap = {"shop": shop.stats, "woo": woo.stats}
                shop.reset_stats()
                woo.reset_stats()
                yield env
    finally:
        shop.close()
        woo.close()


def _auth() -> dict[str, str]:
    from . import ADMIN_TOKEN

    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
