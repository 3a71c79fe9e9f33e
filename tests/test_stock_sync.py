"""Stock sync end to end: sandboxes send real webhooks to a live hub, the hub writes back through
ShopifyAPI's session + GraphQL and the woocommerce client. Counts asserted are the platforms'."""

from __future__ import annotations

from sqlalchemy import select

from hub.models import events

from .stock_env import stock_env


def statuses(env) -> list[tuple[str, str, str]]:
    with env.hub.engine.connect() as conn:
        return [(r.topic, r.status, r.status_reason or "") for r in conn.execute(
            select(events.c.topic, events.c.status, events.c.status_reason).order_by(events.c.id))]


def test_bootstrap_reads_and_writes_nothing_when_channels_already_agree(make_app):
    with stock_env(make_app, ["A", "B"], 5) as env:
        assert env.writes() == (0, 0)
        assert env.shop_levels() == {"A": 5, "B": 5} and env.woo.levels() == {"A": 5, "B": 5}


def test_an_order_on_one_channel_lowers_the_other(make_app):
    with stock_env(make_app, ["A", "B"], 5) as env:
        env.woo.place_order([{"sku": "A", "quantity": 2}])
        env.settle()
        assert env.shop_levels() == {"A": 3, "B": 5} and env.woo.levels() == {"A": 3, "B": 5}
        assert env.writes() == (1, 0)  # Shopify only: Woo already shows its own sale
        env.shop.place_order([{"sku": "B", "quantity": 1}])
        env.settle()
        assert env.shop_levels() == {"A": 3, "B": 4} and env.woo.levels() == {"A": 3, "B": 4}
        assert env.writes() == (1, 1)
        echoes = [s for s in statuses(env) if s[1] == "ignored" and s[2].startswith("echo")]
        assert len(echoes) == 2  # Shopify's inventory_levels/update for A, Woo's product.updated for B


def test_manual_edit_propagates_from_an_authoritative_channel(make_app):
    with stock_env(make_app, ["A"], 5, woo_authority="channel") as env:
        env.woo.set_stock("A", 9)
        env.settle()
        assert env.shop_levels() == {"A": 9} and env.woo.levels() == {"A": 9}


def test_manual_edit_is_overwritten_in_a_hub_channel(make_app):
    with stock_env(make_app, ["A"], 5) as env:
        env.shop.set_available("A", 9)
        env.settle()
        assert env.shop_levels() == {"A": 5} and env.woo.levels() == {"A": 5}
        assert env.writes() == (1, 0)
