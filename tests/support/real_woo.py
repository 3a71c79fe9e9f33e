"""The real WooCommerce of ../shared/peers/woocommerce (WordPress 6.8.8 + WooCommerce 10.0.2 on Debian's PHP
and this machine's MariaDB), started for a test run with its ``up.sh`` and driven as a shop would, with the
``woocommerce`` client over its REST API.

Outside CI the tests that need it skip, saying why, when PHP, the MariaDB client or the server is missing.
``.ci/run`` runs them in its second pass (``HUB_REAL_WOO=1``: there ``up.sh`` installs PHP and a missing piece
fails them); its first pass, the README's command as a fresh machine runs it, leaves them to that pass.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from woocommerce import API

from connectors.woocommerce.consts import USER_AGENT

from .run import free_port

PEER = Path(__file__).resolve().parents[3] / "shared" / "peers" / "woocommerce"
SHOP_AGENT = "peer-test-shop"  # the test's own REST calls, told apart from the hub's in rest.log
WEBHOOK_SECRET = "real-woo-hook-secret"
TOPICS = "order.created,order.updated,order.deleted,product.created,product.updated"


def missing() -> str | None:
    """Why the real WooCommerce cannot run here (None: it can)."""
    if not (PEER / "up.sh").exists():
        return f"no peer at {PEER}"
    if os.environ.get("HUB_REAL_WOO"):
        return None  # up.sh installs PHP; anything else missing must fail the run
    if os.environ.get("CI"):
        return "CI runs the real WooCommerce in its second pass (HUB_REAL_WOO=1)"
    if not shutil.which("php"):
        return "PHP is not installed (up.sh installs it: run it once, or run under CI)"
    if not shutil.which("mysql"):
        return "no MariaDB client (mysql)"
    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=1).close()
    except OSError:
        return "no MariaDB server on 127.0.0.1:3306"
    return None


@dataclass
class RealWoo:
    url: str
    consumer_key: str
    consumer_secret: str
    base: Path  # up.sh's BASE: logs under base/logs
    hub_port: int  # the port WordPress lets webhooks go to (http_allowed_safe_ports)
    api: API = field(init=False)

    def __post_init__(self) -> None:
        self.api = API(url=self.url, consumer_key=self.consumer_key, consumer_secret=self.consumer_secret,
                       version="wc/v3", timeout=60, user_agent=SHOP_AGENT)

    def call(self, method: str, endpoint: str, data: Any = None, **params: Any) -> Any:
        r = self.api.get(endpoint, params=params) if method == "GET" else getattr(self.api, method.lower())(endpoint,
                                                                                                           data)
        assert r.status_code < 300, (method, endpoint, r.status_code, r.text[:500])
        return r.json()

    def product(self, sku: str, quantity: int, price: str = "10.00") -> dict:
        return self.call("POST", "products", {"name": f"Product {sku}", "sku": sku, "regular_price": price,
                                              "manage_stock": True, "stock_quantity": quantity})

    def stock(self, product_id: int) -> int:
        return self.call("GET", f"products/{product_id}")["stock_quantity"]

    def variable(self, name: str, quantities: dict[str, int], price: str = "20.00") -> dict[str, tuple[int, int]]:
        """A variable product (attribute Size) with one variation per SKU, each managing its own stock;
        -> {sku: (parent id, variation id)}."""
        parent = self.call("POST", "products", {"name": name, "type": "variable", "attributes": [
            {"name": "Size", "options": list(quantities), "variation": True, "visible": True}]})
        return {sku: (parent["id"], self.call("POST", f"products/{parent['id']}/variations", {
            "sku": sku, "regular_price": price, "manage_stock": True, "stock_quantity": n,
            "attributes": [{"name": "Size", "option": sku}]})["id"]) for sku, n in quantities.items()}

    def set_stock(self, product_id: int, quantity: int, parent: int | None = None) -> dict:
        """The shop manager's edit of a product's (or a variation's) count through the REST API."""
        endpoint = f"products/{parent}/variations/{product_id}" if parent else f"products/{product_id}"
        return self.call("PUT", endpoint, {"manage_stock": True, "stock_quantity": quantity})

    def order(self, lines: list[tuple[int, ...]], paid: bool = True, status: str | None = None,
              payment_method: str | None = None) -> dict:
        """A customer's order of [(product id, units[, variation id])]: paid (processing) or awaiting payment
        (pending), or ``status`` as given (``on-hold`` with ``bacs``: a bank transfer not received yet)."""
        items = [{"product_id": p, "quantity": q, **({"variation_id": v[0]} if v else {})} for p, q, *v in lines]
        body = {"set_paid": paid, "status": status or ("processing" if paid else "pending"), "line_items": items}
        if payment_method:
            body["payment_method"] = payment_method
        return self.call("POST", "orders", body)

    def update_order(self, order: dict, **changes: Any) -> dict:
        """``PUT orders/<id>``: ``status=...`` as the shop manager sets it, ``set_paid=True`` as a payment does."""
        return self.call("PUT", f"orders/{order['id']}", changes)

    def refund(self, order: dict, units: dict[int, int], amount: str | None = None) -> dict:
        """A refund of {product id: units} of ``order`` (no money moves: ``api_refund`` false); no units: money only."""
        lines = [{"id": li["id"], "quantity": units[li["product_id"]],
                  "refund_total": str(float(li["price"]) * units[li["product_id"]])}
                 for li in order["line_items"] if units.get(li["product_id"])]
        total = amount or f"{sum(float(x['refund_total']) for x in lines):.2f}"
        return self.call("POST", f"orders/{order['id']}/refunds", {"amount": total, "api_refund": False,
                                                                    "restock_items": True, "line_items": lines})

    def hub_calls(self, since: float = 0.0) -> list[tuple[str, str]]:
        """(method, route) of every REST call the hub made since ``since`` (epoch seconds), from rest.log."""
        log = self.base / "logs" / "rest.log"
        out = []
        for line in log.read_text().splitlines() if log.exists() else []:
            at, method, route, *_ = line.split(" ", 3)
            if f"ua={USER_AGENT}" in line and float(at) >= since:
                out.append((method, route))
        return out

    def hub_writes(self, since: float = 0.0, under: str = "/wc/v3/products") -> list[tuple[str, Any]]:
        """(route, body) of every write the hub made since ``since`` (epoch seconds) to a route ``under``
        (default: products and variations, its stock writes), from rest-bodies.log."""
        log = self.base / "logs" / "rest-bodies.log"
        lines = log.read_text().splitlines() if log.exists() else []
        heads = [(head.split(" ", 3), body) for head, body in zip(lines[::2], lines[1::2], strict=True)]
        return [(route, json.loads(body)) for (at, _, route, rest), body in heads
                if f"ua={USER_AGENT}" in rest and float(at) >= since and route.startswith(under)]

    def deliveries(self) -> list[str]:
        """webhooks.log: every delivery Woo attempted, with its answer and the webhook's status."""
        log = self.base / "logs" / "webhooks.log"
        return log.read_text().splitlines() if log.exists() else []


@contextmanager
def real_woocommerce(work: Path) -> Iterator[RealWoo]:
    """A fresh WooCommerce (its own database and directory) whose webhooks go to ``hub_port``'s /webhooks/woo."""
    reason = missing()
    if reason:
        pytest.skip(f"real WooCommerce: {reason}")
    hub_port = free_port()
    env = {**os.environ, "BASE": str(work), "WP_PORT": str(free_port()), "HUB_PORTS": str(hub_port),
           "WP_DB": f"peer_woo_{uuid.uuid4().hex[:10]}", "WEBHOOK_URL": f"http://127.0.0.1:{hub_port}/webhooks/woo",
           "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_TOPICS": TOPICS}
    started = subprocess.run(["bash", str(PEER / "up.sh")], env=env, capture_output=True, text=True, timeout=900)
    try:
        assert started.returncode == 0, f"up.sh failed:\n{started.stderr[-3000:]}"
        info = json.loads(started.stdout.strip().splitlines()[-1])
        yield RealWoo(info["url"], info["consumer_key"], info["consumer_secret"], work, hub_port)
    finally:
        subprocess.run(["bash", str(PEER / "down.sh")], env={**env, "DROP": "1"}, capture_output=True, timeout=120)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.3) -> Any:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` and the last value."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"waited {timeout:.0f} s for {what}; last seen: {last!r}")
