"""Backfill: orders whose webhooks never came are read from the shop and go through the same pipeline."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from sqlalchemy import select

from jobs.backfill import backfill, watermark
from store.models import events, orders, stock_levels

from .support import cli_config, post, signed
from .support.stock import stock_env


def ledger(env) -> dict[str, tuple[int, int]]:
    with env.hub.engine.connect() as conn:
        return {r.sku: (r.on_hand, r.committed) for r in conn.execute(select(stock_levels))}


def order_rows(env, channel: str = "woo") -> dict[str, tuple[str, object]]:
    with env.hub.engine.connect() as conn:
        return {r.external_id: (r.status, r.source_updated_at)
                for r in conn.execute(select(orders).where(orders.c.channel == channel))}


def test_orders_whose_webhooks_were_lost_are_backfilled_and_later_webhooks_change_nothing(make_app):
    with stock_env(make_app, ["A", "B"], 600) as env:
        hook = env.woo.configure()["webhook_url"]
        env.woo.configure(webhook_url="")  # the shop's webhooks are lost (disabled, deleted, hub down)
        time.sleep(1.02 - time.time() % 1)  # not the second of the hub's last write (see test_refund_stock)
        placed = [env.woo.place_order([{"sku": "A" if n % 2 else "B", "quantity": 1}], set_paid=True)
                  for n in range(500)]
        env.woo.reset_stats()
        report = backfill(env.hub, "woo")
        assert (report.read, report.stored, report.known) == (500, 500, 0)
        assert report.calls == env.woo.stats["calls"]["GET orders"] <= 6  # 100 a page
        env.settle()
        assert ledger(env) == {"A": (600, 250), "B": (600, 250)}
        assert env.shop_levels() == {"A": 350, "B": 350} and env.woo.levels() == {"A": 350, "B": 350}
        assert env.writes()[1] == 0  # Woo took its own orders off its count: nothing to write back there
        before = order_rows(env)
        assert len(before) == 500
        with env.hub.engine.connect() as conn:
            sources = conn.execute(select(events.c.headers).where(events.c.dedupe_key.like("backfill:%"))).all()
        assert len(sources) == 500 and all(h["X-Hub-Source"] == "backfill" for (h,) in sources)
        # the same versions arrive as webhooks after all (the shop manager re-enabled them and resent)
        with env.app.test_client() as c:
            for o in placed[:50]:
                body = json.dumps(env.woo.order(o["id"]) | {"notes": None}).encode()
                assert post(c, "woo", signed("woo", body=body, topic="order.updated")).status_code == 200
        env.settle()
        assert ledger(env) == {"A": (600, 250), "B": (600, 250)} and order_rows(env) == before
        env.woo.configure(webhook_url=hook)
        again = backfill(env.hub, "woo")  # what it read again (the overlap before its watermark) it has
        assert again.stored == 0 and watermark(env.hub, "woo") == again.watermark == report.watermark


def test_a_backfill_with_nothing_new_is_one_call(make_app):
    """It re-reads the changes of the last OVERLAP_S seconds before its watermark (same-second saves):
    one page, as long as a shop saves fewer than 100 orders in that time."""
    with stock_env(make_app, ["A"], 10) as env:
        env.woo.place_order([{"sku": "A", "quantity": 1}], set_paid=True)
        env.settle()
        first = backfill(env.hub, "woo")
        env.woo.reset_stats()
        again = backfill(env.hub, "woo")
        assert (again.calls, again.stored) == (1, 0) and env.woo.stats["calls"] == {"GET orders": 1}
        assert first.watermark == again.watermark


def test_a_cancel_missed_while_webhooks_were_down_is_backfilled(make_app, auth):
    """... and the events list and the order's timeline say it was read from the shop, not sent by it."""
    from .support import login

    with stock_env(make_app, ["A"], 10) as env:
        order = env.woo.place_order([{"sku": "A", "quantity": 2}], set_paid=True)
        env.settle()
        backfill(env.hub, "woo")  # the watermark: everything so far is known
        env.woo.configure(webhook_url="")
        env.woo.cancel_order(order["id"])
        env.woo.configure(webhook_url=env.shop_webhook_url.replace("shop-eu", "woo"))
        report = backfill(env.hub, "woo")
        assert (report.stored, report.calls) == (1, 1)
        env.settle()
        assert ledger(env) == {"A": (10, 0)} and env.shop_levels() == {"A": 10} and env.woo.levels() == {"A": 10}
        with env.app.test_client() as c:
            listed = c.get("/api/events?channel=woo", headers=auth).json["events"]
            assert listed[0]["source"] == "backfill" and listed[-1]["source"] == "webhook"  # newest first
            (hub_order,) = c.get("/api/orders?channel=woo", headers=auth).json["orders"]
            detail = c.get(f"/api/orders/{hub_order['id']}", headers=auth).json
            assert detail["events"][0]["source"] == "webhook" and detail["events"][-1]["source"] == "backfill"
            assert detail["status"] == "cancelled"
            login(c)
            page = c.get(f"/admin/orders/{hub_order['id']}").text
            assert "read from the channel: its webhook never came" in page
            assert ">backfill</td>" in c.get("/admin/events?channel=woo").text


def test_backfill_command(make_app, tmp_path, monkeypatch):
    from hub.cli import cli

    with stock_env(make_app, ["A"], 10) as env:
        env.woo.configure(webhook_url="")
        env.woo.place_order([{"sku": "A", "quantity": 1}], set_paid=True)
        cfg = cli_config(tmp_path / "hub.yaml", env.hub, ["woo"], monkeypatch)
        res = CliRunner().invoke(cli, ["--config", str(cfg), "backfill", "--since", "1h"])
        assert res.exit_code == 0, res.output
        assert "woo: 1 change(s) to orders since" in res.output and "1 new to the hub, 0 already known" in res.output
        bad = CliRunner().invoke(cli, ["--config", str(cfg), "backfill", "--since", "yesterday"])
        assert bad.exit_code == 2 and "give 2h, 30m, 3d or an ISO time" in bad.output
        nope = CliRunner().invoke(cli, ["--config", str(cfg), "backfill", "--channel", "shop-eu"])
        assert nope.exit_code == 1 and "not a channel the hub can backfill: shop-eu" in nope.output


def test_no_stock_is_written_to_a_channel_before_its_backfill_has_run(make_app, auth):
    """Seen on the real WooCommerce: started after an outage, the hub pushed its count to Woo before it had
    read the orders placed there meanwhile, and wrote the sold units back (sellable again: an oversell).
    hub scheduler's start (and a webhook repair) closes the channel's gate until its backfill has run."""
    from jobs.backfill import backfill_channel
    from jobs.push import push_stock
    from jobs.queueing import backfill_due_key

    with stock_env(make_app, ["A"], 10) as env:
        backfill(env.hub, "woo")
        env.woo.configure(webhook_url="")  # the hub was down: these orders never reached it
        time.sleep(1.02 - time.time() % 1)
        env.woo.place_order([{"sku": "A", "quantity": 3}], set_paid=True)
        # what hub scheduler's start and a repair do: gate shut, a backfill queued
        env.hub.queues.request_backfill("woo")
        with env.app.test_client() as c:  # a warehouse count arrives meanwhile: 2 more on hand
            assert c.post("/api/stock/snapshot", data='{"sku": "A", "on_hand": 12}', headers=auth).status_code == 200
        env.woo.reset_stats()
        with env.app.app_context():
            assert push_stock("woo") == "woo: waiting for its backfill"
            assert env.woo.levels() == {"A": 7} and env.woo.stats["writes"] == 0
            assert "1 new to the hub" in backfill_channel("woo")  # applied at once; the gate opens
            assert not env.hub.redis.client.exists(backfill_due_key("woo"))
            push_stock("woo")
        assert ledger(env) == {"A": (12, 3)} and env.woo.levels() == {"A": 9}


def test_a_push_whose_backfill_was_lost_runs_it_itself(make_app, auth):
    """The gate shut and no backfill on its way (its retry waited for RQ's scheduler, which a Redis outage had
    killed: the fault benchmark's pushes waited 5 minutes): the push backfills the channel itself, then
    writes what is right."""
    from jobs.push import push_stock
    from jobs.queueing import backfill_due_key

    with stock_env(make_app, ["A"], 10) as env:
        backfill(env.hub, "woo")
        env.woo.configure(webhook_url="")
        time.sleep(1.02 - time.time() % 1)
        env.woo.place_order([{"sku": "A", "quantity": 3}], set_paid=True)
        env.hub.redis.client.set(backfill_due_key("woo"), 1, ex=600)  # the gate, and no job to open it
        with env.app.test_client() as c:
            assert c.post("/api/stock/snapshot", data='{"sku": "A", "on_hand": 12}', headers=auth).status_code == 200
        env.woo.reset_stats()
        with env.app.app_context():
            assert push_stock("woo").startswith("woo: 1 dirty, 1 written")
        assert not env.hub.redis.client.exists(backfill_due_key("woo"))
        assert ledger(env) == {"A": (12, 3)} and env.woo.levels() == {"A": 9} and env.woo.stats["writes"] == 1


def test_shopify_orders_whose_webhooks_were_lost_are_backfilled_and_later_webhooks_change_nothing(make_app):
    """Shopify's own orders, read through ``orders(query: "updated_at:>...", sortKey: UPDATED_AT)``, a page of
    ORDERS_PAGE per call, each stored as its orders/create or orders/updated webhook would have been."""
    from connectors.shopify.consts import ORDERS_PAGE

    with stock_env(make_app, ["A", "B"], 100) as env:
        env.shop.configure(webhook_url="")  # the app's subscriptions are gone (Shopify removed them; hub down)
        time.sleep(1.02 - time.time() % 1)  # not the second of the hub's last write (see test_refund_stock)
        placed = [env.shop.place_order([{"sku": "A" if n % 2 else "B", "quantity": 1}])["id"] for n in range(20)]
        for order_id in placed[:2]:
            env.shop.cancel_order(order_id)
        for order_id in placed[2:6]:
            env.shop.fulfill(order_id, f"1Z999AA1012345678{order_id % 10}", "UPS")
        env.shop.reset_stats()
        report = backfill(env.hub, "shop-eu")
        stats = env.shop.stats
        assert (report.read, report.stored, report.known) == (20, 20, 0)
        pages = -(-20 // ORDERS_PAGE)
        # every call is an orders page; a THROTTLED answer is waited out and asked again (a call too)
        assert report.calls == stats["by_root_field"]["orders"] == pages + stats["throttled"] == stats["requests"]
        assert stats["max_requested_cost"] == 2 + ORDERS_PAGE * 100 < 1000 and stats["over_limit"] == 0
        env.settle()
        # A and B: 10 orders each, one cancelled, two shipped (they left on hand), seven committed
        assert ledger(env) == {"A": (98, 7), "B": (98, 7)}
        assert env.shop_levels() == {"A": 91, "B": 91} and env.woo.levels() == {"A": 91, "B": 91}
        before = order_rows(env, "shop-eu")
        assert len(before) == 20 and sorted(status for status, _ in before.values()) == (
            ["cancelled"] * 2 + ["fulfilled"] * 4 + ["paid"] * 14)
        with env.hub.engine.connect() as conn:
            sources = conn.execute(select(events.c.topic, events.c.headers).where(
                events.c.channel == "shop-eu", events.c.dedupe_key.like("backfill:%"))).all()
        assert sorted(t for t, _ in sources) == ["orders/create"] * 20  # new to the hub: its "created" topic
        assert all(h["X-Hub-Source"] == "backfill" for _, h in sources)
        # the same versions arrive as webhooks after all (the merchant subscribed the app again; Shopify resent)
        with env.app.test_client() as c:
            for order_id in placed:
                body = json.dumps(env.shop.order(order_id)).encode()
                for topic in ("orders/create", "orders/updated"):
                    assert post(c, "shop-eu", signed("shop-eu", body=body, topic=topic)).status_code == 200
        env.settle()
        assert ledger(env) == {"A": (98, 7), "B": (98, 7)} and order_rows(env, "shop-eu") == before
        again = backfill(env.hub, "shop-eu")  # what it reads again (the overlap before its watermark) it has
        assert again.stored == 0 and watermark(env.hub, "shop-eu") == again.watermark == report.watermark


def test_a_shopify_backfill_with_nothing_new_is_one_call(make_app):
    with stock_env(make_app, ["A"], 10) as env:
        env.shop.place_order([{"sku": "A", "quantity": 1}])
        env.settle()
        first = backfill(env.hub, "shop-eu")
        env.shop.reset_stats()
        again = backfill(env.hub, "shop-eu")
        assert (again.calls, again.stored, again.known) == (1, 0, 1)
        assert env.shop.stats["by_root_field"] == {"orders": 1}
        assert first.watermark == again.watermark


def test_a_failed_scheduled_backfill_is_tried_again_without_holding_pushes_back(make_app):
    """A periodic backfill that fails (the shop unreachable, its key revoked) says nothing of sales the hub missed:
    it is queued again, and the channel's stock pushes go on meanwhile (holding them for the retry held every
    Shopify push for ~3 minutes in the fault benchmark)."""
    from jobs.backfill import backfill_all
    from jobs.queueing import backfill_due_key

    with stock_env(make_app, ["A"], 10) as env:
        backfill(env.hub, "woo")
        env.woo.configure(consumer_key="ck_regenerated")  # the hub's key no longer works
        with env.app.app_context():
            out = backfill_all()
        assert any(line.startswith("woo: failed, trying again") for line in out)
        assert not env.hub.redis.client.exists(backfill_due_key("woo"))
        queued = env.hub.queues.events_queue.get_job_ids()
        assert "backfill-woo" in queued
