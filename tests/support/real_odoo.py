"""The real Odoo 19 Community of ../shared/peers/odoo, started for a test with its ``up.sh`` on a fresh copy of
its installed database, and read over JSON-RPC as an accountant would check it.

The install (about 75 s: a venv from PyPI, sale_management, account, stock and delivery into a template
database) lives in ``$HUB_ODOO_PEER_BASE`` (default ``~/.cache/hub/peer-odoo``); ``.ci/run`` makes it before
its second pass, which sets ``HUB_REAL_ODOO=1``: there a missing install fails the test. Elsewhere the test
skips, saying how to install it, until the install exists.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.odoo.client import OdooClient

from .run import free_port

PEER = Path(__file__).resolve().parents[3] / "shared" / "peers" / "odoo"
# up.sh keeps its installed template as <DB>_template; .ci/run names its own, so that no other run on this
# machine's PostgreSQL drops it under CI
DB = os.environ.get("HUB_ODOO_PEER_DB") or "hub_peer_odoo"


def peer_base() -> Path:
    return Path(os.environ.get("HUB_ODOO_PEER_BASE") or Path.home() / ".cache" / "hub" / "peer-odoo")


def missing() -> str | None:
    """Why the real Odoo cannot run here (None: it can)."""
    if not (PEER / "up.sh").exists():
        return f"no peer at {PEER}"
    if os.environ.get("HUB_REAL_ODOO"):
        return None  # .ci/run installed it; anything missing must fail the run
    if not (peer_base() / "venv" / ".ok").exists():
        return (f"not installed in {peer_base()} (about 75 s, once: BASE={peer_base()} ODOO_DB={DB} "
                f"bash {PEER / 'up.sh'}; or run .ci/run)")
    return None


@dataclass
class RealOdoo:
    url: str
    db: str
    login: str
    password: str

    def client(self) -> OdooClient:
        return OdooClient(self.url, self.db, self.login, self.password, timeout_s=60)

    def read(self, model: str, domain: list, fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        return self.client().search_read(model, domain, fields, **kw)

    def count(self, model: str, domain: list | None = None) -> int:
        return int(self.client().execute_kw(model, "search_count", [domain or []]))

    def deliver(self, ref: str) -> None:
        """The sale order's delivery shipped, as the warehouse does it: every move picked in full, validated."""
        client = self.client()
        [order] = client.search_read("sale.order", [("client_order_ref", "=", ref)], ["picking_ids"])
        for picking in order["picking_ids"]:
            for move in client.search_read("stock.move", [("picking_id", "=", picking)], ["product_uom_qty"]):
                client.execute_kw("stock.move", "write", [[move["id"]], {"quantity": move["product_uom_qty"],
                                                                         "picked": True}])
            # a customer with a phone: stock_sms asks whether to text them unless told not to
            answer = client.execute_kw("stock.picking", "button_validate", [[picking]],
                                       {"context": {"skip_sms": True}})
            [done] = client.search_read("stock.picking", [("id", "=", picking)], ["state"])
            assert done["state"] == "done", f"{ref}: the delivery is {done['state']} after validating: {answer}"

    def products(self, skus: set[str]) -> None:
        """Storable products with these internal references."""
        client = self.client()
        have = client.product_ids(sorted(skus))
        for sku in sorted(skus - set(have)):
            client.execute_kw("product.product", "create", [{"name": sku, "default_code": sku, "type": "consu",
                                                             "is_storable": True}])


@contextmanager
def real_odoo() -> Iterator[RealOdoo]:
    """The peer on a free port, serving a fresh copy of its installed database; stopped afterwards."""
    reason = missing()
    if reason:
        pytest.skip(f"real Odoo: {reason}")
    env = {**os.environ, "BASE": str(peer_base()), "ODOO_PORT": str(free_port()), "ODOO_DB": DB, "RESET": "1"}
    started = subprocess.run(["bash", str(PEER / "up.sh")], env=env, capture_output=True, text=True, timeout=900)
    try:
        assert started.returncode == 0, f"up.sh failed:\n{started.stderr[-3000:]}"
        info = json.loads(started.stdout.strip().splitlines()[-1])
        yield RealOdoo(info["url"], info["db"], info["login"], info["password"])
    finally:
        subprocess.run(["bash", str(PEER / "down.sh")], env=env, capture_output=True, timeout=120)
