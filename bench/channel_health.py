"""Channel health on a large store: how long ``GET /api/channels`` and the console's Channels page take,
beside the other console pages, with ``--events`` deliveries in the table.

The store is filled directly (this measures reading, not ingest): three channels (WooCommerce with its
webhooks kept and backfilled, Shopify, Stripe), deliveries spread evenly over the last ``--days`` days
(``--days 1``: every one of them in the 24 hours the counts cover, the worst case), 3 % of WooCommerce's
order deliveries stored by the backfill, a backfill run and a subscription check every 5 minutes over those
days, some failed event processings and open repair alerts (PostgreSQL: then ``VACUUM ANALYZE``, as autovacuum
would). Then each page is asked ``--runs`` times through Flask's test client (no network), after a warm-up;
prints the median and the slowest, and the SQL statements ``GET /api/channels`` runs.

    .venv/bin/python bench/channel_health.py [--events 100000] [--days 7] [--runs 20] [--postgres [--no-vacuum]]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TOKEN, backends  # noqa: E402
from hub import create_app  # noqa: E402
from store.db import make_engine, upgrade  # noqa: E402
from store.deliveries import utcnow  # noqa: E402
from store.models import alerts, events, pull_cursors, tasks  # noqa: E402

TOPICS = {"woo": ["order.created", "order.updated", "product.updated"],
          "shop": ["orders/create", "orders/updated", "inventory_levels/update", "products/update"],
          "stripe": ["payment_intent.succeeded", "charge.succeeded", "charge.refunded"]}
SHARE = {"woo": 0.5, "shop": 0.35, "stripe": 0.15}
BACKFILLED = 0.03  # of WooCommerce's order deliveries
RUN_EVERY = timedelta(minutes=5)  # backfill runs and subscription checks
RUN_S = 2.0  # a backfill run's length
PAGES = ["/api/channels", "/admin/channels", "/admin/", "/admin/events", "/admin/tasks", "/admin/orders"]
CHUNK = 5000


def fill(url: str, n: int, days: int, body_bytes: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now, rnd, body = utcnow(), random.Random(7), b"x" * body_bytes
    span_s = days * 86400
    starts = [now - timedelta(days=days) + k * RUN_EVERY for k in range(int(timedelta(days=days) / RUN_EVERY))]
    with engine.begin() as conn:
        rows = []
        for i in range(n):
            channel = rnd.choices(list(SHARE), weights=list(SHARE.values()))[0]
            topic = rnd.choice(TOPICS[channel])
            at = now - timedelta(seconds=rnd.uniform(0, span_s))
            read = channel == "woo" and topic.startswith("order") and rnd.random() < BACKFILLED
            if read:  # the backfill stores while it runs
                at = rnd.choice(starts) + timedelta(seconds=rnd.uniform(0, RUN_S))
            rows.append({"channel": channel, "kind": channel, "topic": topic, "dedupe_key": f"k{i}", "received_at": at,
                         "occurred_at": at, "status": "processed", "updated_at": at, "body": body,
                         "headers": {"X-Hub-Source": "backfill"} if read else {"X-WC-Webhook-Topic": topic}})
            if len(rows) == CHUNK:
                conn.execute(insert(events), rows)
                rows = []
        if rows:
            conn.execute(insert(events), rows)
        runs = []
        for at in starts:
            detail = {"since": "2026-01-01T00:00:00", "read": 3, "stored": 1 if rnd.random() < .1 else 0, "known": 2,
                      "calls": 1, "resource": "orders", "watermark": "2026-01-01T00:00:00"}
            runs.append({"kind": "backfill", "channel": "woo", "entity": "channel:woo", "attempt": 1, "status": "ok",
                         "started_at": at, "finished_at": at + timedelta(seconds=RUN_S), "detail": detail})
            runs.append({"kind": "check_subscriptions", "channel": "woo", "entity": "channel:woo", "attempt": 1,
                         "status": "ok", "started_at": at, "finished_at": at, "detail": {"checked": 7, "repaired": []}})
        runs += [{"kind": "process_event", "channel": "shop", "entity": f"event:{i}", "attempt": 1, "status": "failed",
                  "error_class": "permanent", "error": "bad", "started_at": now - timedelta(hours=i % 100),
                  "finished_at": now} for i in range(5000)]
        runs = sorted(({"detail": None, "error_class": None, "error": None, **r} for r in runs),
                      key=lambda r: r["started_at"])
        for i in range(0, len(runs), CHUNK):
            conn.execute(insert(tasks), runs[i:i + CHUNK])
        conn.execute(insert(alerts), [{"kind": "subscription_repaired", "key": f"woo:{t}", "message": "repaired",
                                       "detail": {"channel": "woo", "topic": t, "problem": "missing",
                                                  "action": "created"}, "created_at": now - timedelta(days=2),
                                       "updated_at": now - timedelta(days=2)} for t in ("customer.created",
                                                                                         "order.deleted")])
        conn.execute(insert(pull_cursors).values(name="backfill:woo:orders", value="2026-01-01T00:00:00",
                                                 updated_at=now))
    engine.dispose()


def pg_schema() -> tuple[str, Callable[[], None]]:
    """A schema of its own on the PostgreSQL server, and what drops it."""
    from sqlalchemy import create_engine, text

    pg = os.environ.get("HUB_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options=-csearch_path%3D{schema}", drop


def timed(client, path: str, runs: int, headers: dict[str, str]) -> tuple[float, float]:
    for _ in range(3):
        assert client.get(path, headers=headers).status_code == 200, path
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        client.get(path, headers=headers)
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), max(ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--body-bytes", type=int, default=1024)
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL ($HUB_DATABASE_URL or the local server)")
    ap.add_argument("--no-vacuum", action="store_true", help="PostgreSQL: measure right after the bulk load, before "
                    "VACUUM ANALYZE (autovacuum's work) sets the visibility map: every index-only scan reads the heap")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db_url, redis_url, cleanup = backends(True, work)  # embedded Redis either way: a server's is shared
        drop = None
        if args.postgres:
            db_url, drop = pg_schema()
        try:
            t = time.perf_counter()
            fill(db_url, args.events, args.days, args.body_bytes)
            if args.postgres and not args.no_vacuum:
                engine = make_engine(db_url)
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
                engine.dispose()
            print(f"{args.events} deliveries over {args.days} d, {'PostgreSQL' if args.postgres else 'SQLite'}: "
                  f"filled in {time.perf_counter() - t:.1f} s")
            app = create_app({"database_url": db_url, "redis_url": redis_url, "admin_token": TOKEN,
                              "public_url": "https://hub.example.com", "var_dir": str(work / "var"),
                              "channels": {
                                  "woo": {"kind": "woocommerce", "webhook_secrets": ["s"], "url": "http://woo.invalid",
                                          "consumer_key": "ck", "consumer_secret": "cs"},
                                  "shop": {"kind": "shopify", "webhook_secrets": ["s"]},
                                  "stripe": {"kind": "stripe", "webhook_secrets": ["s"]}}})
            client = app.test_client()
            page = client.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            client.post("/admin/login", data={"csrf_token": token, "token": TOKEN})
            auth = {"Authorization": f"Bearer {TOKEN}"}
            engine = app.extensions["hub"].engine
            seen: list[str] = []

            def count(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001
                seen.append(statement)

            sa_event.listen(engine, "before_cursor_execute", count)
            client.get("/api/channels", headers=auth)
            sa_event.remove(engine, "before_cursor_execute", count)
            print(f"GET /api/channels: {len(seen)} SQL statements")
            for path in PAGES:
                med, worst = timed(client, path, args.runs, auth if path.startswith("/api") else {})
                print(f"  {path:<18} median {med:7.1f} ms   slowest {worst:7.1f} ms")
            engine.dispose()
        finally:
            cleanup()
            if drop:
                drop()


if __name__ == "__main__":
    main()
