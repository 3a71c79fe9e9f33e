"""The real WooCommerce of ../shared/peers/woocommerce (WordPress 6.8.8 + WooCommerce 10.0.2 on Debian's PHP
and this machine's MariaDB), started for a test run with its ``up.sh`` and driven as a shop would, with the
``woocommerce`` client over its REST API.

Outside CI the tests that need it skip, saying why, when PHP, the MariaDB client or the server is missing;
under CI (``CI`` set) ``up.sh`` installs PHP and a missing piece fails them.
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
    if os.environ.get("CI"):
        return None  # up.sh installs PHP; anything else missing must fail the run
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

    def order(self, lines: list[tuple[int, int]], paid: bool = True) -> dict:
        """A customer's order of [(product id, units)]: paid (processing) or awaiting payment (pending)."""
        return self.call("POST", "orders", {"set_paid": paid, "status": "processing" if paid else "pending",
                                            "line_items": [{"product_id": p, "quantity": q} for p, q in lines]})

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
