"""The hub keeps its webhook subscriptions alive: WooCommerce disables a webhook after 5 failed deliveries
in a row and never retries; the hub finds it and sets it right, and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from connectors.outbound import Subscription
from hub.models import alerts, events, tasks
from jobs.subscriptions import check, plan
from sandbox.base import serve
from sandbox.woocommerce import WooSandbox

from .support import SECRETS
from .support.run import free_port

KEY, CS = "ck_subs", "cs_subs"
HANDLED = ["customer.created", "customer.updated", "order.created", "order.deleted", "order.updated",
           "product.created", "product.updated"]


def test_plan_per_topic():
    url = "https://hub.example.com/webhooks/woo"
    subs = [Subscription("1", "order.created", url, True, "active"),
            Subscription("2", "order.updated", url, False, "disabled"),
            Subscription("3", "product.updated", "https://old.example.com/hook", True, "active")]
    got = [(f.topic, f.problem, s.id if s else None)
           for f, s in plan("woo", subs, ("order.created", "order.updated", "product.updated", "order.deleted"), url)]
    assert got == [("order.updated", "disabled (the platform stopped sending it)", "2"),
                   ("product.updated", "delivering to https://old.example.com/hook, not the hub", "3"),
                   ("order.deleted", "missing", None)]


@dataclass
class Env:
    app: Any
    woo: WooSandbox
    url: str  # the hub's public URL

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    def hooks(self) -> dict[str, tuple[str, str]]:
        """topic -> (status, delivery URL) of every webhook the shop holds."""
        return {w["topic"]: (w["status"], w["delivery_url"]) for w in self.woo.webhooks()}

    def rows(self, table: Any) -> list[Any]:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(table).order_by(table.c.id)).all()


@contextmanager
def woo_env(make_app, **overrides: Any) -> Iterator[Env]:
    woo = WooSandbox(consumer_key=KEY, consumer_secret=CS, webhook_secret=SECRETS["woo"][0])
    woo.seed([{"name": "Mug", "sku": "MUG", "stock_quantity": 10}])
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    try:
        with serve(woo.app) as woo_url:
            app = make_app(public_url=public, channels={"woo": {
                "kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": woo_url, "consumer_key": KEY,
                "consumer_secret": CS, "locations": {"default": "main"}}}, **overrides)
            with serve(app, port=port):
                yield Env(app, woo, public)
    finally:
        woo.close()


def test_missing_disabled_and_misdirected_webhooks_are_repaired_with_a_task_and_alerts(make_app):
    with woo_env(make_app) as env:
        env.woo.configure(webhook_url=f"{env.url}/webhooks/woo")  # the shop manager set up five of them
        hooks = {w["topic"]: w["id"] for w in env.woo.webhooks()}
        from woocommerce import API

        api = API(url=env.hub.config.channels["woo"].extra["url"], consumer_key=KEY, consumer_secret=CS,
                  version="wc/v3")
        api.put(f"webhooks/{hooks['order.created']}", {"status": "disabled"})  # as after 6 failed deliveries
        api.put(f"webhooks/{hooks['product.updated']}", {"delivery_url": "https://old-hub.example.com/hook"})
        api.delete(f"webhooks/{hooks['order.deleted']}", params={"force": True})
        env.woo.reset_stats()
        before = len(env.rows(events))
        findings = check(env.hub, "woo")
        assert env.woo.pings == 3 and len(env.rows(events)) == before  # Woo pings a new webhook: acknowledged
        assert sorted((f.topic, f.problem.split(" ")[0], f.done) for f in findings) == [
            ("customer.created", "missing", True), ("customer.updated", "missing", True),
            ("order.created", "disabled", True), ("order.deleted", "missing", True),
            ("product.updated", "delivering", True)]
        want = f"{env.url}/webhooks/woo"
        assert env.hooks() == {t: ("active", want) for t in HANDLED}
        assert env.woo.stats["calls"] == {"GET webhooks": 1, "POST webhooks": 3, "PUT webhooks/<id>": 2}
        (task,) = env.rows(tasks)
        assert (task.kind, task.channel, task.status) == ("check_subscriptions", "woo", "ok")
        assert len(task.detail["repaired"]) == 5
        assert sorted(a.key for a in env.rows(alerts) if a.kind == "subscription_repaired") == [
            f"woo:{t}" for t in ("customer.created", "customer.updated", "order.created", "order.deleted",
                                 "product.updated")]
        env.woo.reset_stats()
        assert check(env.hub, "woo") == []  # all well: one call to look
        assert env.woo.stats["calls"] == {"GET webhooks": 1}


def test_the_webhooks_woo_disabled_while_the_hub_was_down_come_back(make_app):
    """The outage: deliveries fail, Woo never retries, and after 6 failures it disables the order webhooks."""
    with woo_env(make_app) as env:
        env.woo.configure(webhook_url="http://127.0.0.1:9/webhooks/woo")  # the hub is unreachable
        for _ in range(7):
            env.woo.place_order([{"sku": "MUG", "quantity": 1}], set_paid=True)
        env.woo.wait_idle(10)
        assert env.hooks()["order.created"][0] == "disabled"
        check(env.hub, "woo")
        assert {t: s for t, (s, _) in env.hooks().items()} == {t: "active" for t in HANDLED}
        env.woo.place_order([{"sku": "MUG", "quantity": 1}], set_paid=True)
        env.woo.wait_idle(10)
        with env.hub.engine.connect() as conn:
            from hub.models import events

            got = conn.execute(select(events.c.topic)).scalars().all()
        assert "order.created" in got  # delivered to the hub again


def test_channels_subscribe_command_dry_run_and_repair(make_app, tmp_path, database_url, redis_url, monkeypatch):
    from hub.cli import cli

    with woo_env(make_app) as env:
        ch = env.hub.config.channels["woo"]
        cfg = tmp_path / "hub.yaml"
        cfg.write_text(json.dumps({"database_url": database_url, "redis_url": redis_url, "public_url": env.url,
                                   "channels": {"woo": {"kind": "woocommerce", "webhook_secrets": list(
                                       ch.webhook_secrets), "locations": ch.locations, **ch.extra}}}))
        for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL"):
            monkeypatch.delenv(var, raising=False)
        dry = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"woo: order.created: missing; would be created, delivering to {env.url}/webhooks/woo" in dry.output
        assert env.woo.webhooks() == []  # nothing changed
        done = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe"])
        assert done.exit_code == 0 and done.output.count("missing; created") == len(HANDLED), done.output
        again = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe", "--channel", "woo"])
        assert again.output.strip() == "woo: every webhook the hub needs is active"
        nope = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe", "--channel", "shop"])
        assert nope.exit_code == 1 and "not a channel whose webhooks the hub manages: shop" in nope.output
