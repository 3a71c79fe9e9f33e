"""Stock sync benchmark: orders at a steady rate on two channels; how soon does every channel agree?

A Shopify and a WooCommerce sandbox (in this process) hold ``--skus`` SKUs, answer each API call
after 50-150 ms and rate-limit as the platforms do (Shopify's calculated-cost bucket, optionally a
host limit on Woo). Orders of ``--lines`` units are placed on either shop at ``--rate`` per second
for ``--duration`` seconds; each shop drops its own stock and sends its signed webhooks.

Two runs, the same load:

- **hub**: the running hub (``hub web``, ``hub relay``, ``--workers`` x ``hub worker``) on
  PostgreSQL + Redis (``--embedded``: SQLite + embedded Redis) receives the webhooks and keeps
  the other channel in step with its batched, debounced push.
- **naive**: a one-call-per-change integration: every order line received sets the other channel
  to the new count at once, one API call each (same client libraries, same sandboxes).

Convergence of an order line = from the moment its order webhook was accepted (the 2xx) until both
channels show the quantity it leaves, and keep showing it or less. Prints p50/p95/p99, API calls
per 1,000 changes for both runs and their ratio; then checks that every SKU ended exactly right.

    .venv/bin/python bench/stock_sync.py [--rate 50] [--duration 60] [--workers 3] [--embedded] [--cpu-hogs N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    ROOT,
    SHOP_SECRET,
    SHOP_TOKEN,
    TOKEN,
    WOO_HOOK_SECRET,
    WOO_KEY,
    WOO_SECRET,
    CpuMeter,
    backends,
    bootstrap,
    free_port,
    hub_env,
    start,
    stop,
    two_shops,
    wait_ready,
)

sys.path.insert(0, str(ROOT))
from sandbox.base import serve  # noqa: E402
from sandbox.shopify import ShopifySandbox  # noqa: E402
from sandbox.woocommerce import WooSandbox  # noqa: E402

CHANNELS = ("shop", "woo")
LEVEL_TOPICS = {"inventory_levels/update", "product.updated"}
ORDER_TOPICS = {"orders/create", "order.created"}
DRAIN_TIMEOUT_S = 90.0


@dataclass
class Line:
    """One unit sold: where, which order, and the count it leaves (the hub's truth afterwards)."""

    channel: str
    order_id: str
    sku: str
    target: int


@dataclass
class Tracker:
    """Times every stock change the sandboxes make and every order delivery the receiver accepts."""

    item_skus: dict[str, str]  # Shopify inventory item id -> SKU (its level webhooks carry no SKU)
    levels: dict[str, dict[str, list[tuple[float, int]]]] = field(
        default_factory=lambda: {c: defaultdict(list) for c in CHANNELS})
    accepted: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observer(self, channel: str):  # noqa: ANN201 - sandbox.base.Observer
        def observe(stage: str, topic: str, req: Any) -> None:
            now = time.monotonic()
            if stage == "emitted" and topic in LEVEL_TOPICS:
                body = json.loads(req.body)
                if channel == "shop":
                    sku, value = self.item_skus.get(str(body["inventory_item_id"])), body["available"]
                else:
                    sku, value = body.get("sku"), body.get("stock_quantity")
                if sku is not None and value is not None:
                    with self.lock:
                        self.levels[channel][sku].append((now, int(value)))
            elif stage == "delivered" and topic in ORDER_TOPICS:
                with self.lock:
                    self.accepted.setdefault((channel, str(json.loads(req.body)["id"])), now)
        return observe

    def settled_at(self, channel: str, sku: str, target: int) -> float | None:
        """When ``channel`` came to show ``target`` or less for good (None: it does not yet)."""
        with self.lock:
            series = list(self.levels[channel][sku])
        above = [i for i, (_, v) in enumerate(series) if v > target]
        last = above[-1] if above else -1
        return series[last + 1][0] if last + 1 < len(series) else None

    def breakdown(self, lines: list[Line], t0: float, slow_s: float) -> list[str]:
        """Where the late lines were: by the channel that showed them last, and by when they were sold."""
        by_channel: dict[str, list[float]] = defaultdict(list)
        slow_by_second: dict[int, int] = defaultdict(int)
        for ln in lines:
            accepted = self.accepted.get((ln.channel, ln.order_id))
            times = {c: self.settled_at(c, ln.sku, ln.target) for c in CHANNELS}
            if accepted is None or None in times.values():
                continue
            last = max(times, key=lambda c: times[c])
            lat = max(0.0, times[last] - accepted)
            by_channel[f"{ln.channel}->{last}"].append(lat)
            if lat > slow_s:
                slow_by_second[int(accepted - t0)] += 1
        out = [f"  sold on -> shown last on {k}: {len(v)} lines, p50 {percentile(v, 50, 0):.2f} s, "
               f"p99 {percentile(v, 99, 0):.2f} s" for k, v in sorted(by_channel.items())]
        out.append(f"  lines later than {slow_s:g} s by second of the run: "
                   + (", ".join(f"{k}s: {v}" for k, v in sorted(slow_by_second.items())) or "none"))
        return out

    def latencies(self, lines: list[Line]) -> tuple[list[float], int]:
        """Convergence seconds per line, and how many lines have not converged."""
        out, open_ = [], 0
        for ln in lines:
            accepted = self.accepted.get((ln.channel, ln.order_id))
            times = [self.settled_at(c, ln.sku, ln.target) for c in CHANNELS]
            if accepted is None or None in times:
                open_ += 1
                continue
            out.append(max(0.0, max(times) - accepted))
        return out, open_


@dataclass
class Shops:
    shop: ShopifySandbox
    woo: WooSandbox
    location: str
    shop_ids: dict[str, dict[str, Any]]
    woo_ids: dict[str, int]
    shop_url: str = ""
    woo_url: str = ""

    def calls(self) -> dict[str, int]:
        return {"shop": self.shop.stats["requests"], "woo": sum(self.woo.stats["calls"].values())}

    def levels(self) -> dict[str, dict[str, int]]:
        return {"shop": {s: sum(v.values()) for s, v in self.shop.levels().items()}, "woo": self.woo.levels()}

    def close(self) -> None:
        self.shop.close()
        self.woo.close()


def make_shops(args: argparse.Namespace, skus: list[str]) -> Shops:
    latency = tuple(float(x) for x in args.latency.split(","))
    shop = ShopifySandbox(access_token=SHOP_TOKEN, bucket_size=args.shopify_bucket, restore_rate=args.shopify_restore,
                          latency=latency, webhook_secret=SHOP_SECRET)
    woo = WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET, webhook_secret=WOO_HOOK_SECRET,
                     latency=latency, rate_limit=args.woo_rate_limit)
    ids = shop.seed(locations=[{"name": "Main"}],
                    products=[{"title": f"Product {s}", "variants": [{"sku": s, "available": {"Main": args.stock}}]}
                              for s in skus])
    woo_ids = woo.seed([{"name": f"Product {s}", "sku": s, "stock_quantity": args.stock} for s in skus])
    return Shops(shop, woo, ids["locations"]["Main"].rsplit("/", 1)[-1], ids["variants"],
                 {s: v["product_id"] for s, v in woo_ids.items()})


def drive(shops: Shops, skus: list[str], args: argparse.Namespace, rng: random.Random) -> tuple[list[Line], float]:
    """Place orders at ``args.rate`` per second for ``args.duration`` s; -> lines sold, seconds taken."""
    remaining = {s: args.stock for s in skus}
    lines: list[Line] = []
    interval, t0, n = 1.0 / args.rate, time.monotonic(), 0
    while time.monotonic() - t0 < args.duration:
        due = t0 + n * interval
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        channel = rng.choice(CHANNELS)
        picked = rng.sample(skus, args.lines)
        order = [{"sku": s, "quantity": 1} for s in picked]
        body = shops.shop.place_order(order) if channel == "shop" else shops.woo.place_order(order)
        for s in picked:
            remaining[s] -= 1
            lines.append(Line(channel, str(body["id"]), s, remaining[s]))
        n += 1
        if n % max(1, int(args.rate) * 10) == 0:
            print(f"  {time.monotonic() - t0:5.0f}s  {n} orders placed", file=sys.stderr)
    return lines, time.monotonic() - t0


def wait_converged(tracker: Tracker, lines: list[Line], timeout: float) -> float:
    """Wait until every line converged (or ``timeout``); -> seconds waited after the load stopped."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if tracker.latencies(lines[-200:])[1] == 0 and tracker.latencies(lines)[1] == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def percentile(values: list[float], p: float, missing: int) -> float:
    """The p-th percentile, counting ``missing`` (never converged) values as infinitely late."""
    ranked = sorted(values) + [float("inf")] * missing
    if not ranked:
        return float("nan")
    return ranked[min(len(ranked) - 1, int(p / 100 * len(ranked)))]


# --- the hub -------------------------------------------------------------------------------------------

def run_hub(args: argparse.Namespace, skus: list[str], work: Path) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from store.db import normalise_url

    shops = make_shops(args, skus)
    db_url, redis_url, cleanup = backends(args.embedded, work, redis_db=13)
    procs = []
    try:
        with serve(shops.shop.app) as shop_url, serve(shops.woo.app) as woo_url:
            config = work / "hub.yaml"
            config.write_text(json.dumps({
                "database_url": db_url, "redis_url": redis_url, "admin_token": TOKEN, "log_level": "WARNING",
                "var_dir": str(work / "var"), "stock_push_debounce_s": args.debounce,
                "stock_report_hold_s": args.report_hold,
                "stock_reconcile_interval_s": 0,
                "channels": two_shops(shops.shop.shop, shop_url, shops.location, woo_url)}))
            env = hub_env(config)
            hub = [sys.executable, "-m", "hub.cli"]
            subprocess.run(hub + ["db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
            port = free_port()
            procs.append(start(hub + ["web", "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers)],
                               env, ROOT, stderr=subprocess.DEVNULL))
            procs.append(start(hub + ["relay"], env, ROOT, stderr=None))
            procs += [start(hub + ["worker"], env, ROOT, stderr=None) for _ in range(args.workers)]
            meter = CpuMeter({"hub web (gunicorn)": [procs[0].pid], "hub relay": [procs[1].pid],
                              "hub workers": [p.pid for p in procs[2:]],
                              "bench: sandboxes + load": [__import__("os").getpid()]},
                             {"postgres": ("postgres",), "redis": ("redis-server",)})
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz")
            shops.shop.configure(webhook_url=f"{base}/webhooks/shop")
            shops.woo.configure(webhook_url=f"{base}/webhooks/woo")
            engine = create_engine(normalise_url(db_url))

            def dirty() -> int:
                with engine.connect() as c:
                    return c.execute(text("SELECT count(*) FROM stock_sync WHERE dirty")).scalar() + \
                        c.execute(text("SELECT count(*) FROM events WHERE status = 'received'")).scalar()

            bootstrap(base, shops.shop_ids, skus, args.stock)
            settle(shops, dirty, "bootstrap")
            tracker = Tracker({str(v["inventory_item_id"]): s for s, v in shops.shop_ids.items()})
            shops.shop._emitter.observer = tracker.observer("shop")  # noqa: SLF001 - the bench's tap
            shops.woo.emitter.observer = tracker.observer("woo")
            shops.shop.reset_stats()
            shops.woo.reset_stats()
            print(f"hub: {args.rate} orders/s for {args.duration}s ...", file=sys.stderr)
            monitor = Backlog(redis_url, work)
            with cpu_hogs(args.cpu_hogs) as hogs:
                if hogs:
                    meter.roots["competing busy processes"] = hogs
                meter.start()
                t_load, load_started = time.monotonic(), datetime.now(UTC)
                lines, took = drive(shops, skus, args, random.Random(args.seed))
                meter.stop()
            monitor.stop()
            drained = wait_converged(tracker, lines, DRAIN_TIMEOUT_S)
            settle(shops, dirty, "drain")
            result = summarise("hub", tracker, lines, took, drained, shops)
            result["backlog_max"] = monitor.peak
            result["breakdown"] = tracker.breakdown(lines, t_load, slow_s=1.5)
            result["cpu"] = meter.lines(len({(ln.channel, ln.order_id) for ln in lines}), "order")
            with engine.connect() as c:
                result["events"] = dict(c.execute(text(
                    "SELECT status, count(*) FROM events GROUP BY status")).all())
                result["to_ledger"] = ledger_delays(c)
                result["held"] = c.execute(text(  # (the bootstrap before the load is left out of both)
                    "SELECT count(*) FROM event_history WHERE note LIKE 'held until %' AND at >= :t"),
                    {"t": load_started}).scalar()
                result["pushes"] = push_figures(c, load_started)
            engine.dispose()
    finally:
        for p in procs:
            stop(p)
        shops.close()
        cleanup()
    return result


def _burn(stop: Any) -> None:
    while not stop.is_set():
        sum(range(1000))


@contextlib.contextmanager
def cpu_hogs(n: int) -> Iterator[list[int]]:
    """``n`` busy processes on the same cores while the load runs (the hub on a slower or busier
    machine); yields their pids."""
    import multiprocessing

    stop = multiprocessing.Event()
    procs = [multiprocessing.Process(target=_burn, args=(stop,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield [p.pid for p in procs]
    finally:
        stop.set()
        for p in procs:
            p.join(5)


def push_figures(conn: Any, since: datetime) -> dict[str, dict[str, int]]:
    """Per channel, from the records of the pushes that started ``since``: pushes, calls, SKUs written,
    compare-and-sets lost."""
    from sqlalchemy import text

    out: dict[str, dict[str, int]] = {}
    for channel, detail in conn.execute(text("SELECT channel, detail FROM tasks WHERE kind = 'push_stock' "
                                             "AND started_at >= :t"), {"t": since}):
        d = json.loads(detail) if isinstance(detail, str) else (detail or {})
        f = out.setdefault(channel, {"pushes": 0, "calls": 0, "written": 0, "lost": 0})
        f["pushes"] += 1
        f["calls"] += d.get("calls", 0)
        f["written"] += d.get("written", 0)
        f["lost"] += len(d.get("deferred", []))
    return out


def ledger_delays(conn: Any) -> list[float]:
    """Seconds from each order delivery's acceptance to its movement in the ledger (the rest of a
    line's latency is the debounce, the push and the channel's call)."""
    from sqlalchemy import text

    rows = conn.execute(text(
        "SELECT e.received_at, min(m.created_at) FROM events e JOIN stock_movements m ON m.source_event = e.id "
        "WHERE e.topic IN ('orders/create', 'order.created') GROUP BY e.id, e.received_at")).all()
    return [max(0.0, (_aware(done) - _aware(got)).total_seconds()) for got, done in rows]


def _aware(value: Any) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Backlog(threading.Thread):
    """Samples the events queue (relayed + not yet relayed) every second; prints it every 5 s."""

    def __init__(self, redis_url: str, work: Path) -> None:
        super().__init__(daemon=True)
        import redis

        from jobs.queueing import EVENTS_QUEUE, INBOX_KEY

        self.client = redis.Redis.from_url(redis_url)
        self.keys = (f"rq:queue:{EVENTS_QUEUE}", INBOX_KEY)
        self.peak, self._stop, self._t0 = 0, threading.Event(), time.monotonic()
        self.start()

    def run(self) -> None:
        n = 0
        while not self._stop.wait(1.0):
            depth = self.client.llen(self.keys[0]) + self.client.llen(self.keys[1])
            self.peak = max(self.peak, depth)
            n += 1
            if n % 5 == 0:
                print(f"  {time.monotonic() - self._t0:5.0f}s  events waiting: {depth}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()


def settle(shops: Shops, dirty: Any, what: str, timeout: float = 300) -> None:
    """Wait until no webhook is in flight, no delivery waits and no SKU is dirty, twice in a row."""
    deadline, calm = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        shops.shop.wait_idle(timeout)
        shops.woo.wait_idle(timeout)
        calm = calm + 1 if dirty() == 0 else 0
        if calm >= 3:
            return
        time.sleep(0.5)
    raise SystemExit(f"{what}: the hub did not settle in {timeout:.0f}s")


# --- the naive integration -------------------------------------------------------------------------------

def run_naive(args: argparse.Namespace, skus: list[str]) -> dict[str, Any]:
    """Every order line received -> one call setting the other channel to the new count."""
    from flask import Flask, request

    from connectors.outbound import LevelWrite, Listing, SyncError
    from hub.config import load_config_dict
    from jobs.push import make_target

    shops = make_shops(args, skus)
    remaining = {s: args.stock for s in skus}
    lock = threading.Lock()
    local = threading.local()
    pool = ThreadPoolExecutor(max_workers=args.naive_threads)
    try:
        with serve(shops.shop.app) as shop_url, serve(shops.woo.app) as woo_url:
            cfg = load_config_dict({"admin_token": TOKEN,
                                    "channels": two_shops(shops.shop.shop, shop_url, shops.location, woo_url)},
                                   environ={})
            listings = {
                "shop": {s: Listing(s, str(v["inventory_item_id"])) for s, v in shops.shop_ids.items()},
                "woo": {s: Listing(s, str(pid), str(pid)) for s, pid in shops.woo_ids.items()}}

            def push(channel: str, sku: str) -> None:
                targets = getattr(local, "targets", None)
                if targets is None:
                    targets = local.targets = {c: make_target(cfg.channels[c]) for c in CHANNELS}
                for _ in range(50):
                    with lock:
                        value = remaining[sku]
                    try:
                        targets[channel].push_levels([LevelWrite(listings[channel][sku], value, None)], key="")
                        return
                    except SyncError:
                        time.sleep(0.5)

            app = Flask("naive")

            @app.post("/<channel>")
            def receive(channel: str):  # noqa: ANN202
                topic = request.headers.get("X-Shopify-Topic") or request.headers.get("X-WC-Webhook-Topic")
                if topic in ORDER_TOPICS:
                    other = "woo" if channel == "shop" else "shop"
                    for item in request.get_json()["line_items"]:
                        with lock:
                            remaining[item["sku"]] -= int(item["quantity"])
                        pool.submit(push, other, item["sku"])
                return {"ok": True}

            with serve(app) as naive_url:
                shops.shop.configure(webhook_url=f"{naive_url}/shop")
                shops.woo.configure(webhook_url=f"{naive_url}/woo")
                tracker = Tracker({str(v["inventory_item_id"]): s for s, v in shops.shop_ids.items()})
                shops.shop._emitter.observer = tracker.observer("shop")  # noqa: SLF001
                shops.woo.emitter.observer = tracker.observer("woo")
                print(f"naive: {args.rate} orders/s for {args.duration}s ...", file=sys.stderr)
                lines, took = drive(shops, skus, args, random.Random(args.seed))
                drained = wait_converged(tracker, lines, DRAIN_TIMEOUT_S)
                result = summarise("naive", tracker, lines, took, drained, shops)
                pool.shutdown(wait=False, cancel_futures=True)
    finally:
        shops.close()
    return result


# --- figures -----------------------------------------------------------------------------------------------

def summarise(name: str, tracker: Tracker, lines: list[Line], took: float, drained: float,
              shops: Shops) -> dict[str, Any]:
    lat, open_ = tracker.latencies(lines)
    calls = shops.calls()
    orders = len({(ln.channel, ln.order_id) for ln in lines})
    expected = {}
    for ln in lines:
        expected[ln.sku] = min(expected.get(ln.sku, ln.target), ln.target)
    levels = shops.levels()
    wrong_skus = sorted(s for s, v in expected.items() if any(levels[c].get(s) != v for c in CHANNELS))
    for s in wrong_skus[:5]:
        print(f"  {name}: {s} should be {expected[s]}: shop {levels['shop'].get(s)}, woo {levels['woo'].get(s)}",
              file=sys.stderr)
    wrong = len(wrong_skus)
    return {"name": name, "orders": orders, "changes": len(lines), "rate": orders / took, "open": open_,
            "p50": percentile(lat, 50, open_), "p95": percentile(lat, 95, open_), "p99": percentile(lat, 99, open_),
            "max": max(lat) if lat and not open_ else float("inf"), "mean": statistics.fmean(lat) if lat else 0,
            "calls": calls, "per_1000": sum(calls.values()) * 1000 / max(1, len(lines)), "drain_s": drained,
            "wrong_skus": wrong, "throttled": shops.shop.stats["throttled"],
            "over_limit": shops.shop.stats["over_limit"], "woo_429": shops.woo.stats["rate_limited"]}


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    backend = "SQLite + embedded Redis" if args.embedded else "PostgreSQL + Redis"
    print(f"\nstock sync benchmark: {args.skus} SKUs, {args.rate} orders/s x {args.duration}s, {args.lines} unit(s) "
          f"per order, API latency {args.latency} s, Shopify bucket {args.shopify_bucket:g} restoring "
          f"{args.shopify_restore:g}/s, Woo limit {args.woo_rate_limit or 'none'}; hub on {backend}, "
          f"{args.web_workers} web + {args.workers} RQ workers, push debounce {args.debounce}s; "
          f"all on {__import__('os').cpu_count()} cores"
          + (f", with {args.cpu_hogs} busy process(es) competing during the hub's load" if args.cpu_hogs else ""))

    def sec(v: float) -> str:
        return f">{DRAIN_TIMEOUT_S:.0f}" if v == float("inf") else f"{v:.2f}"

    print(f"{'push':<7}{'orders/s':>9}{'changes':>9}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}{'max s':>8}"
          f"{'calls':>8}{'(shop+woo)':>12}{'/1000':>8}{'unconv.':>9}{'wrong':>7}{'throttled':>10}")
    for r in results:
        c = r["calls"]
        print(f"{r['name']:<7}{r['rate']:>9.1f}{r['changes']:>9}{sec(r['p50']):>8}{sec(r['p95']):>8}"
              f"{sec(r['p99']):>8}{sec(r['max']):>8}{sum(c.values()):>8}{c['shop']:>6}+{c['woo']:<5}"
              f"{r['per_1000']:>8.1f}{r['open']:>9}{r['wrong_skus']:>7}{r['throttled']:>10}")
    by = {r["name"]: r for r in results}
    if "hub" in by and "naive" in by:
        print(f"naive / hub API calls: {by['naive']['per_1000'] / max(by['hub']['per_1000'], 1e-9):.0f}x")
    if "hub" in by:
        print(f"hub events: {by['hub'].get('events')}; most events waiting at once: {by['hub']['backlog_max']}; "
              f"stock reports held for their channel's orders: {by['hub'].get('held')}")
        pushes = sorted(by["hub"]["pushes"].items())
        print("pushes: " + "; ".join(f"{ch} {f['pushes']} pushes, {f['calls']} calls, {f['written']} SKUs written, "
                                    f"{f['lost']} lost a compare-and-set" for ch, f in pushes))
        print("\n".join(by["hub"]["breakdown"]))
        if delays := by["hub"].get("to_ledger"):
            print(f"  order delivery accepted -> in the ledger: p50 {percentile(delays, 50, 0):.2f} s, "
                  f"p99 {percentile(delays, 99, 0):.2f} s ({len(delays)} orders); then the debounce and the push")
        print("CPU while the load ran (processes on this machine, by role):")
        print("\n".join(by["hub"]["cpu"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50, help="orders per second")
    ap.add_argument("--duration", type=float, default=60, help="seconds of load per run")
    ap.add_argument("--lines", type=int, default=1, help="units (distinct SKUs) per order")
    ap.add_argument("--skus", type=int, default=1000)
    ap.add_argument("--stock", type=int, default=1000, help="starting quantity of every SKU")
    ap.add_argument("--latency", default="0.05,0.15", help="API call latency range, seconds")
    ap.add_argument("--shopify-bucket", type=float, default=1000.0)
    ap.add_argument("--shopify-restore", type=float, default=50.0, help="points per second")
    ap.add_argument("--woo-rate-limit", type=float, default=None, help="requests/s a host allows Woo (none)")
    ap.add_argument("--workers", type=int, default=3, help="RQ worker processes")
    ap.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument("--debounce", type=float, default=1.0, help="stock_push_debounce_s")
    ap.add_argument("--report-hold", type=float, default=2.0, help="stock_report_hold_s (0: reports judged at once)")
    ap.add_argument("--cpu-hogs", type=int, default=0,
                    help="busy processes competing for the cores while the hub's load runs (a slower machine)")
    ap.add_argument("--naive-threads", type=int, default=16, help="concurrent calls of the naive integration")
    ap.add_argument("--only", choices=("hub", "naive"), help="run one side only")
    ap.add_argument("--embedded", action="store_true", help="SQLite + embedded Redis instead of the servers")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the sandboxes' access log
    skus = [f"SKU-{i:05d}" for i in range(args.skus)]
    work = Path(tempfile.mkdtemp(prefix="hub-bench-stock-"))
    results = []
    try:
        if args.only in (None, "hub"):
            results.append(run_hub(args, skus, work))
        if args.only in (None, "naive"):
            results.append(run_naive(args, skus))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, args)


if __name__ == "__main__":
    main()
