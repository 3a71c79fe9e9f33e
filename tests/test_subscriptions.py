"""The hub keeps its webhook subscriptions alive: WooCommerce disables a webhook after 5 failed deliveries
in a row and never retries, Shopify deletes a subscription whose deliveries still fail after its retries; the
hub finds it and sets it right, and says so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connectors import subscription_target
from connectors.outbound import Permanent, Subscription
from connectors.shopify.subscriptions import topic_enum
from jobs.subscriptions import check, plan
from mappings import shopify
from sandbox.base import serve
from sandbox.shopify import ShopifySandbox
from sandbox.shopify.graphql_schema import admin_schema
from sandbox.shopify.subscriptions import SENT_TOPICS
from sandbox.woocommerce import WooSandbox
from store.models import alerts, events, tasks

from .support import SECRETS, cli_config
from .support.run import free_port

KEY, CS = "ck_subs", "cs_subs"
HANDLED = ["customer.created", "customer.updated", "order.created", "order.deleted", "order.updated",
           "product.created", "product.updated"]
SHOP_TOKEN = "shpat_subs"
SHOP_HANDLED = sorted(shopify.TOPICS)


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
            from store.models import events

            got = conn.execute(select(events.c.topic)).scalars().all()
        assert "order.created" in got  # delivered to the hub again


def test_channels_subscribe_command_dry_run_and_repair(make_app, tmp_path, monkeypatch):
    from hub.cli import cli

    with woo_env(make_app) as env:
        cfg = cli_config(tmp_path / "hub.yaml", env.hub, ["woo"], monkeypatch, public_url=env.url)
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


# ---- Shopify ---------------------------------------------------------------------------------------

@dataclass
class ShopEnv:
    app: Any
    shop: ShopifySandbox
    url: str  # the hub's public URL, served only inside ``serving()``
    port: int

    @property
    def hub(self) -> Any:
        return self.app.extensions["hub"]

    @property
    def hook(self) -> str:
        return f"{self.url}/webhooks/shop-eu"

    def serving(self) -> Any:
        """The hub answering at its public URL for the duration of the block (down outside it)."""
        return serve(self.app, port=self.port)

    def subs(self) -> dict[str, list[str]]:
        """topic -> the addresses of its subscriptions on the shop."""
        out: dict[str, list[str]] = {}
        for s in self.shop.subscriptions():
            out.setdefault(s["topic"], []).append(s["uri"])
        return out

    def rows(self, table: Any) -> list[Any]:
        with self.hub.engine.connect() as conn:
            return conn.execute(select(table).order_by(table.c.id)).all()


@contextmanager
def shop_env(make_app) -> Iterator[ShopEnv]:
    shop = ShopifySandbox(access_token=SHOP_TOKEN, webhook_secret=SECRETS["shop-eu"][0])
    ids = shop.seed(locations=[{"name": "Main"}],
                    products=[{"title": "Mug", "variants": [{"sku": "MUG", "available": {"Main": 10}}]}])
    location = ids["locations"]["Main"].rsplit("/", 1)[-1]
    port = free_port()
    try:
        with serve(shop.app) as shop_url:
            app = make_app(public_url=f"http://127.0.0.1:{port}", channels={"shop-eu": {
                "kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                "access_token": SHOP_TOKEN, "api_url": shop_url, "locations": {location: "main"}}})
            yield ShopEnv(app, shop, f"http://127.0.0.1:{port}", port)
    finally:
        shop.close()


def test_every_shopify_topic_the_hub_maps_is_a_subscription_topic_of_the_pinned_schema():
    values = admin_schema().get_type("WebhookSubscriptionTopic").values
    for topic in SHOP_HANDLED:
        value = values.get(topic_enum(topic))
        assert value is not None, topic
        assert f"`{topic}`" in value.description and not value.deprecation_reason, topic


def test_a_shopify_subscription_deleted_for_failing_is_created_again(make_app):
    """Shopify retries a failed delivery 8 times over 4 hours, then deletes the subscription (the sandbox: one
    delivery still failing after its retries); the topic is then missing, and the hub subscribes it again."""
    with shop_env(make_app) as env:
        with env.serving():
            env.shop.configure(webhook_url=env.hook)  # the merchant subscribed the hub to what the shop sends
            check(env.hub, "shop-eu")  # and the hub the rest of what it handles
        assert env.subs() == {t: [env.hook] for t in SHOP_HANDLED}
        env.shop.place_order([{"sku": "MUG", "quantity": 1}])  # the hub is down: both webhooks fail
        env.shop.wait_idle(60)
        assert sorted(set(SHOP_HANDLED) - set(env.subs())) == ["inventory_levels/update", "orders/create"]

        with env.serving():
            env.shop.reset_stats()
            findings = check(env.hub, "shop-eu")
            assert [(f.topic, f.problem, f.action, f.done) for f in findings] == [
                (t, "missing", f"created, delivering to {env.hook}", True)
                for t in ("inventory_levels/update", "orders/create")]
            assert env.subs() == {t: [env.hook] for t in SHOP_HANDLED}
            assert env.shop.stats["by_root_field"] == {"webhookSubscriptions": 1, "webhookSubscriptionCreate": 2}
            task = env.rows(tasks)[-1]
            assert (task.kind, task.channel, task.status) == ("check_subscriptions", "shop-eu", "ok")
            assert [r["topic"] for r in task.detail["repaired"]] == ["inventory_levels/update", "orders/create"]
            said = {a.key: a.message for a in env.rows(alerts) if a.kind == "subscription_repaired"}
            assert said["shop-eu:orders/create"] == (f"shop-eu webhook orders/create: missing; created, delivering "
                                                     f"to {env.hook}")
            assert "shop-eu:inventory_levels/update" in said

            env.shop.place_order([{"sku": "MUG", "quantity": 2}])
            env.shop.wait_idle(60)
            got = [(e.channel, e.topic) for e in env.rows(events)]
            assert got.count(("shop-eu", "orders/create")) == 1  # the order placed after the repair
            assert ("shop-eu", "inventory_levels/update") in got


def test_a_misdirected_shopify_subscription_is_pointed_at_the_hub(make_app):
    old = "https://old-hub.example.com/webhooks/shop"
    with shop_env(make_app) as env, env.serving():
        env.shop.configure(webhook_url=old)  # the merchant's subscriptions still name the hub's old address
        ids = {s["topic"]: s["id"] for s in env.shop.subscriptions()}
        env.shop.reset_stats()
        findings = {f.topic: (f.problem, f.action) for f in check(env.hub, "shop-eu")}
        assert findings == {t: (f"delivering to {old}, not the hub", f"pointed at {env.hook}") if t in SENT_TOPICS
                            else ("missing", f"created, delivering to {env.hook}") for t in SHOP_HANDLED}
        assert env.subs() == {t: [env.hook] for t in SHOP_HANDLED}
        assert {s["topic"]: s["id"] for s in env.shop.subscriptions() if s["topic"] in ids} == ids  # re-pointed
        assert env.shop.stats["by_root_field"] == {"webhookSubscriptions": 1, "webhookSubscriptionUpdate": 15,
                                                   "webhookSubscriptionCreate": 7}
        assert len(SHOP_HANDLED) == 22 and "returns/request" in SHOP_HANDLED  # 14 topics, and 8 of returns
        env.shop.reset_stats()
        assert check(env.hub, "shop-eu") == []  # all well: one GraphQL call to look
        assert (env.shop.stats["requests"], env.shop.stats["by_root_field"]) == (1, {"webhookSubscriptions": 1})


def test_an_app_without_read_returns_keeps_every_other_topic_and_says_which_it_could_not(make_app):
    """The returns/* topics need the read_returns scope: a shop whose app was installed before the hub listened to
    returns refuses them. The first refusal stopped the check, so the topics after it were never repaired."""
    with shop_env(make_app) as env:
        env.shop.access_scopes = [s for s in env.shop.access_scopes if s != "read_returns"]
        with pytest.raises(Permanent, match=r"shop-eu: 8 webhook subscription\(s\) refused: returns/approve: "):
            check(env.hub, "shop-eu")
        assert sorted(env.subs()) == [t for t in SHOP_HANDLED if not t.startswith("returns/")]
        with env.hub.engine.connect() as conn:
            [task] = conn.execute(select(tasks).where(tasks.c.kind == "check_subscriptions")).all()
        assert task.status == "failed" and "Access denied for topic RETURNS_REQUEST" in task.error
        assert len(task.detail["repaired"]) == len(SHOP_HANDLED) - 8
        env.shop.access_scopes.append("read_returns")  # the merchant grants it: the next check makes them
        assert {f.topic for f in check(env.hub, "shop-eu")} == {t for t in SHOP_HANDLED if t.startswith("returns/")}
        assert sorted(env.subs()) == SHOP_HANDLED


def test_shopify_subscriptions_are_listed_page_by_page_and_refusals_are_permanent(make_app):
    with shop_env(make_app) as env:
        env.shop.configure(webhook_url=env.hook)
        target = subscription_target(env.hub.config.channels["shop-eu"])
        target.page_size = 4
        subs = target.subscriptions()
        assert (len(subs), target.calls) == (15, 4)
        assert {s.topic for s in subs} == set(SENT_TOPICS) and {s.status for s in subs} == {"active"}
        with pytest.raises(Permanent, match="Address for this topic has already been taken"):
            target.subscribe("orders/create", env.hook, "unused")
        with pytest.raises(Permanent, match="Address protocol ftp:// is not supported"):
            target.repair(subs[0], "ftp://hub.example.com/webhooks/shop-eu", "unused")


def test_channels_subscribe_dry_run_lists_shopify_findings(make_app, tmp_path, monkeypatch):
    from hub.cli import cli

    with shop_env(make_app) as env, env.serving():
        cfg = cli_config(tmp_path / "hub.yaml", env.hub, ["shop-eu"], monkeypatch, public_url=env.url)
        env.shop.configure(webhook_url="https://old-hub.example.com/webhooks/shop")
        before = env.shop.subscriptions()
        dry = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert f"shop-eu: orders/paid: missing; would be created, delivering to {env.hook}" in dry.output
        assert (f"shop-eu: orders/create: delivering to https://old-hub.example.com/webhooks/shop, not the hub; "
                f"would be pointed at {env.hook}") in dry.output
        assert dry.output.count("shop-eu: ") == len(SHOP_HANDLED)
        assert env.shop.subscriptions() == before  # nothing changed
        done = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe", "--channel", "shop-eu"])
        assert done.exit_code == 0 and done.output.count("shop-eu: ") == len(SHOP_HANDLED), done.output
        again = CliRunner().invoke(cli, ["--config", str(cfg), "channels", "subscribe"])
        assert again.output.strip() == "shop-eu: every webhook the hub needs is active"
