"""A hub exporting to an Odoo and a HubSpot sandbox, both served over HTTP, and the WooCommerce order
(corpus order 114) the export tests send it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from sandbox import signing
from sandbox.base import serve
from sandbox.hubspot import HubSpotSandbox
from sandbox.odoo import OdooSandbox

from . import SECRETS, post, run_worker, woo_order

DB, LOGIN, KEY = "shop", "hub@example.com", "odoo-key-5c1e-secret"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


@dataclass
class Env:
    app: Any
    erp: OdooSandbox
    crm: HubSpotSandbox

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    def deliver(self, body: dict, topic: str = "order.created", times: int = 1) -> None:
        raw = json.dumps(body).encode()
        with self.app.test_client() as client:
            for _ in range(times):
                assert post(client, "woo", signing.woocommerce(SECRETS["woo"][0], raw, topic)).status_code == 200

    def run(self) -> None:
        run_worker(self.app)

    def rows(self, table: Any) -> list:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(table).order_by(table.c.id)).all()

    def sale_orders(self) -> list[dict]:
        return self.erp.records("sale.order")


def erp_woo_order(status: str = "on-hold", payment_method: str = "bacs", modified: str = "2026-11-22T06:48:10",
                  skus: tuple[str, ...] = ("PW-000", "PT-M")) -> dict:
    """Corpus order 114 paid by ``payment_method``, its lines on the SKUs the ERP sandbox holds."""
    body = woo_order(status, modified)
    body.update(payment_method=payment_method)
    for line, sku in zip(body["line_items"], skus, strict=False):
        line["sku"] = sku
    return body


PRODUCTS = [{"sku": "PW-000", "name": "Peer Widget", "price": "10", "quantity": 50},
            {"sku": "PT-M", "name": "Peer Tee M", "price": "20", "quantity": 50}]


@contextmanager
def erp_crm_env(make_app, products: list[dict] = PRODUCTS, erp_timeout_s: float = 1.5,
                erp_journals: dict[str, str] | None = None, **overrides: Any) -> Iterator[Env]:
    """A hub (``overrides`` to its config) exporting to an Odoo sandbox holding ``products`` and a HubSpot
    sandbox, both served over HTTP. An injected ERP timeout sleeps past ``erp_timeout_s``; an ordinary call
    stays well within it even on a machine busy with the whole suite (at 0.3 s, one did not, in CI)."""
    erp = OdooSandbox(db=DB, login=LOGIN, api_key=KEY, timeout_sleep_s=erp_timeout_s + 0.3)
    erp.seed_products(products)
    crm = HubSpotSandbox(token=TOKEN, hub_properties=True)
    with serve(erp.app) as erp_url, serve(crm.app) as crm_url:
        app = make_app(erp={"kind": "odoo", "url": erp_url, "db": DB, "login": LOGIN, "api_key": KEY,
                            "timeout_s": erp_timeout_s, "pay_later_methods": ["cod"], "retry_base_s": 0,
                            "journals": erp_journals or {}},
                       crm={"kind": "hubspot", "url": crm_url, "token": TOKEN, "timeout_s": 5, "retry_base_s": 0},
                       **overrides)
        yield Env(app, erp, crm)
