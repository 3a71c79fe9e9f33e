"""The channel health view (``GET /api/channels`` and the console's Channels page), from the records the real
jobs make: a WooCommerce sandbox whose webhooks WooCommerce disabled while the hub was down, the subscription
check that repairs them, the backfill that reads what they missed, and webhooks posted to the receiver."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.api.schemas import ChannelList
from hub.channel_health import changes, channel_health, of_resource, span, was
from hub.console.pages import render_channels
from jobs.backfill import backfill, watermark
from jobs.subscriptions import check
from sandbox.base import serve
from sandbox.woocommerce import WooSandbox
from store.deliveries import iso, utcnow
from store.models import events, tasks

from .support import ADMIN_TOKEN, SECRETS, post, run_worker, signed
from .support.run import free_port

KEY, CS = "ck_health", "cs_health"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HANDLED = ["customer.created", "customer.updated", "order.created", "order.deleted", "order.updated",
           "product.created", "product.updated"]


@dataclass
class Env:
    app: Any
    woo: WooSandbox
    url: str  # the hub's public URL
    port: int

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    def channels(self) -> dict[str, dict[str, Any]]:
        """``GET /api/channels``, checked against its schema, by channel id."""
        with self.app.test_client() as c:
            answer = c.get("/api/channels", headers=AUTH)
        assert answer.status_code == 200, answer.text
        ChannelList().load(answer.json)
        return {ch["id"]: ch for ch in answer.json["channels"]}

    def order(self) -> dict[str, Any]:
        return self.woo.place_order([{"sku": "MUG", "quantity": 1}], set_paid=True)

    def woo_events(self, topic: str) -> tuple[list[Any], list[Any]]:
        """The channel's stored deliveries of ``topic``: (sent by WooCommerce, read by the backfill)."""
        with self.hub.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.channel == "woo", events.c.topic == topic)
                                .order_by(events.c.id)).all()
        return ([r for r in rows if "X-Hub-Source" not in r.headers],
                [r for r in rows if r.headers.get("X-Hub-Source") == "backfill"])


@contextmanager
def woo_env(make_app) -> Iterator[Env]:
    """A WooCommerce sandbox and a hub that keeps its webhooks (``public_url``), not serving yet; a Stripe
    channel beside it, and a Shopify one that never sends anything."""
    woo = WooSandbox(consumer_key=KEY, consumer_secret=CS, webhook_secret=SECRETS["woo"][0])
    woo.seed([{"name": "Mug", "sku": "MUG", "stock_quantity": 100}])
    port = free_port()
    try:
        with serve(woo.app) as woo_url:
            app = make_app(public_url=f"http://127.0.0.1:{port}", channels={
                "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": woo_url, "consumer_key": KEY,
                        "consumer_secret": CS, "locations": {"default": "main"}},
                "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"]},
                "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"]}})
            yield Env(app, woo, f"http://127.0.0.1:{port}", port)
    finally:
        woo.close()


def test_wording_helpers():
    assert [was(p) for p in ("disabled (the platform stopped sending it)", "missing",
                             "delivering to https://old.example.com/hook, not the hub")] == [
        "disabled", "missing", "delivering to https://old.example.com/hook"]
    assert [of_resource(t, "orders") for t in ("order.created", "orders/create", "product.updated", "ordering")] == [
        True, True, False, False]
    assert of_resource("charge.refunded", "events") and changes("events", 2) == "2 event(s)"
    assert changes("orders", 7) == "7 order change(s)"
    assert [span(s) for s in (5, 600, 3 * 3600, 47 * 3600, 5 * 86400)] == ["5 s", "10 min", "3 h", "47 h", "5 d"]


def test_an_outage_the_hub_repaired_and_backfilled_then_lost_webhooks_then_a_failing_backfill(make_app):
    with woo_env(make_app) as env:
        env.woo.configure(webhook_url=f"{env.url}/webhooks/woo")  # the shop manager's webhooks, to the hub
        with serve(env.app, port=env.port):
            env.order()
            env.woo.wait_idle(10)
        run_worker(env.app)
        (first,), _ = env.woo_events("order.created")
        with env.app.test_client() as c:
            assert post(c, "stripe", signed("stripe")).status_code == 200

        # the hub is down: WooCommerce never retries and disables a webhook after more than 5 failures in a row
        for _ in range(7):
            env.order()
        env.woo.wait_idle(10)
        stopped = sorted(w["topic"] for w in env.woo.webhooks() if w["status"] == "disabled")
        assert stopped == ["order.created", "product.updated"]

        with serve(env.app, port=env.port):
            findings = check(env.hub, "woo")  # the hub is back: it repairs them (and queues a backfill)
            report = backfill(env.hub, "woo")  # reads what WooCommerce did not send
            run_worker(env.app)  # processes it; the queued backfill finds nothing more
            assert report.stored >= 7 and {w["status"] for w in env.woo.webhooks()} == {"active"}
            got = env.channels()

            woo, stripe, shop = got["woo"], got["stripe"], got["shop-eu"]
            repaired = [(f.topic, f.problem) for f in findings]
            assert woo["health"] == {"status": "warning", "reason": (
                "webhooks repaired just now: order.created was disabled, product.updated was disabled, "
                f"customer.created was missing and 1 more; the backfill then found {report.stored} order change(s)")}
            subs = woo["subscriptions"]
            assert subs["managed"] is True and subs["topics"] == HANDLED
            with env.hub.engine.connect() as conn:
                (check_task,) = conn.execute(select(tasks.c.id).where(tasks.c.kind == "check_subscriptions")).scalars()
                # before them, the first order's level (no count of Woo's yet) had its own backfill
                *_, first_run, second_run = conn.execute(select(tasks.c.id).where(tasks.c.kind == "backfill")
                                                         .order_by(tasks.c.id)).scalars().all()
            last = subs["last_check"]
            assert (last["task_id"], last["status"], last["checked"]) == (check_task, "ok", len(HANDLED))
            assert [(f["topic"], f["problem"]) for f in last["repaired"]] == repaired
            assert subs["last_repair"]["task_id"] == check_task
            assert [(f["topic"], f["problem"]) for f in subs["last_repair"]["repaired"]] == repaired
            assert subs["last_repair"]["backfilled_after"] == report.stored
            assert sorted(a["key"] for a in subs["open_alerts"]) == sorted(f"woo:{t}" for t, _ in repaired)

            webhooks, read = env.woo_events("order.created")
            topics = {t["topic"]: t for t in woo["deliveries"]["topics"]}
            assert sorted(topics) == HANDLED  # the ones it keeps, delivered or not
            assert topics["order.created"] == {"topic": "order.created", "last_at": iso(first.received_at),
                                              "webhooks_24h": 1, "backfilled_24h": len(read)}
            assert len(read) >= 7 and topics["order.deleted"]["last_at"] is None

            fill = woo["backfill"]
            assert (fill["enabled"], fill["resource"], fill["watermark"]) == (True, "orders", watermark(env.hub, "woo"))
            assert fill["last_run"]["task_id"] == second_run and fill["last_run"]["stored"] == 0
            stored = fill["last_stored"]
            assert (stored["task_id"], stored["status"], stored["since"], stored["read"], stored["stored"],
                    stored["known"], stored["calls"]) == (first_run, "ok", report.since, report.read, report.stored,
                                                          report.known, report.calls)
            assert fill["missed"] == 0  # what came before the repair is explained by it

            assert stripe["health"] == {"status": "ok", "reason": "ok"}
            assert stripe["subscriptions"]["managed"] is False and stripe["backfill"]["enabled"] is False
            assert [t["webhooks_24h"] for t in stripe["deliveries"]["topics"]] == [1]
            assert shop["health"] == {"status": "unknown", "reason": "no delivery yet"}

            env.order()  # delivered again
            env.woo.wait_idle(10)
            assert env.channels()["woo"]["deliveries"]["topics"][2]["webhooks_24h"] == 2

            # the webhooks are lost again, silently (deleted in wp-admin): only the backfill sees the orders
            env.woo.configure(webhook_url="")
            time.sleep(1.02 - time.time() % 1)  # WooCommerce's clock has whole seconds: after the last webhook's
            env.order()
            env.order()
            lost = backfill(env.hub, "woo")  # the two, and the last delivered one again (its version's second)
            assert lost.stored >= 2
        now = env.channels()["woo"]
        assert now["backfill"]["missed"] == 0 and now["health"]["status"] == "warning"  # the webhook may be late
        three_h = utcnow() + timedelta(hours=3)
        later = {c["id"]: c for c in channel_health(env.hub, three_h)}
        assert later["woo"]["backfill"]["missed"] == 2
        assert later["woo"]["health"] == {"status": "failing", "reason": (
            "no order webhook for 3 h while the backfill found 2 order change(s); webhooks repaired 3 h ago: "
            "order.created was disabled, product.updated was disabled, customer.created was missing and 1 more; "
            f"the backfill then found {report.stored + lost.stored} order change(s)")}
        with env.app.test_request_context("/admin/channels"):
            page = render_channels(list(later.values()), three_h)
        woo_card = page.split('id="channel-woo"')[1].split("</section>")[0]
        assert re.search(r'WooCommerce has sent no order webhook since <time datetime="[^"]+">3 h ago</time> '
                         r'<span class="muted">\([0-9: -]+ UTC\)</span>,\s+yet the hub found <b>2</b> changed orders '
                         r'there that no webhook brought: its webhooks are not arriving.', woo_card), woo_card
        assert "needs attention" in woo_card and "repaired recently" not in woo_card

        # the shop manager regenerates the hub's API key: the backfill cannot read the shop any more
        env.woo.configure(consumer_secret="cs_regenerated")
        with pytest.raises(Exception, match="401"):
            backfill(env.hub, "woo")
        failing = env.channels()["woo"]
        assert failing["health"]["status"] == "failing"
        assert failing["health"]["reason"].startswith("backfill failing: woocommerce list changed orders")
        assert failing["backfill"]["last_stored"]["stored"] == lost.stored

        from .support import login

        with env.app.test_client() as c:
            login(c)
            page = c.get("/admin/channels").text
        assert 'href="/admin/channels" class="on">Channels' in page
        woo_card = page.split('id="channel-woo"')[1].split("</section>")[0]
        assert "needs attention" in woo_card and "The hub could not read WooCommerce's orders" in woo_card
        assert "order.created</b>: WooCommerce had turned it off (disabled): the hub turned it back on" in woo_card
        assert "customer.created</b>: WooCommerce had no such webhook: the hub added it" in woo_card
        assert f'href="/admin/tasks/{check_task}">the check that fixed it' in woo_card
        assert f'href="/admin/tasks/{failing["backfill"]["last_stored"]["task_id"]}"' in woo_card
        assert re.search(r'<td>order.created</td><td><time datetime="[^"]+">(just now|\d+ min ago)</time> '
                         r'<span class="muted">\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)</span></td>\s*'
                         r'<td class="num">2</td>', woo_card)
        assert "It has read up to " in woo_card and f"{lost.stored} of them" in woo_card
        stripe_card = page.split('id="channel-stripe"')[1].split("</section>")[0]
        assert "webhooks arriving" in stripe_card and "Stripe's webhooks are arriving: the last one" in stripe_card
        assert "The hub cannot read Stripe's changes itself" in stripe_card
        assert "Nothing has come from Shopify yet." in page
