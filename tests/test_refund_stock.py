"""Refunds that put goods back: the units leave the order's commitment (or, once shipped, come back on
hand), every other channel gets them, and the channel that restocked them is not written back."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from store.models import stock_levels, stock_movements

from .support.stock import stock_env


def ledger(env, sku: str) -> tuple[int, int]:
    with env.hub.engine.connect() as conn:
        row = conn.execute(select(stock_levels.c.on_hand, stock_levels.c.committed)
                           .where(stock_levels.c.sku == sku)).one()
    return row.on_hand, row.committed


def next_second() -> None:
    """Woo dates are whole seconds: a change in the same second as the last value the hub knows cannot be
    placed before or after it, and the push writes once too often by design (see ledger.shown_by_channel).
    Refunds come seconds apart in a shop; here the test waits for the next second."""
    time.sleep(1.02 - time.time() % 1)


def reasons(env) -> list[str]:
    with env.hub.engine.connect() as conn:
        return conn.execute(select(stock_movements.c.reason).order_by(stock_movements.c.id)).scalars().all()


@pytest.mark.parametrize("authority", ["hub", "channel"])
def test_woo_refunds_with_restock_release_the_units_and_woo_is_not_written_back(make_app, authority):
    """Seen on the real WooCommerce: a refunded unit went back on Woo's count, the hub kept it committed,
    and pushed Woo back down by one: a sellable unit lost on every channel per refund."""
    # Woo sends the level before the order (as the real one does): the report waits for it, as in production
    with stock_env(make_app, ["A"], 5, woo_authority=authority, stock_report_hold_s=2.0) as env:
        order = env.woo.place_order([{"sku": "A", "quantity": 2}], set_paid=True)
        env.settle()
        assert ledger(env, "A") == (5, 2) and env.shop_levels() == {"A": 3} and env.woo.levels() == {"A": 3}
        env.woo.reset_stats()
        next_second()
        env.woo.refund_order(order["id"], [{"sku": "A", "quantity": 1}])  # partial: the order stays processing
        env.settle()
        assert ledger(env, "A") == (5, 1)
        assert env.woo.levels() == {"A": 4} and env.shop_levels() == {"A": 4}
        next_second()
        env.woo.refund_order(order["id"], [{"sku": "A", "quantity": 1}])  # the rest: refunded
        env.settle()
        assert ledger(env, "A") == (5, 0)
        assert env.woo.levels() == {"A": 5} and env.shop_levels() == {"A": 5}
        assert env.writes()[1] == 0  # Woo put the units back itself: the hub wrote nothing there
        assert reasons(env)[-2:] == ["cancel", "cancel"]


def test_a_woo_refund_of_money_only_leaves_the_stock_held(make_app):
    with stock_env(make_app, ["A"], 5) as env:
        order = env.woo.place_order([{"sku": "A", "quantity": 1}], set_paid=True)
        env.settle()
        env.woo.refund_order(order["id"], [], amount="10.00")  # refunded, nothing put back on Woo's count
        env.settle()
        assert ledger(env, "A") == (5, 1)
        assert env.woo.levels() == {"A": 4} and env.shop_levels() == {"A": 4}


def test_shopify_refunds_cancel_restock_releases_return_restock_comes_back_on_hand(make_app):
    """Only a full refund released stock: a partial refund with restock left the units committed, and
    Shopify's own count (raised by the restock) was written back down."""
    with stock_env(make_app, ["A", "B"], 5, stock_report_hold_s=2.0) as env:
        order = env.shop.place_order([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])
        env.settle()
        assert ledger(env, "A") == (5, 2) and env.woo.levels() == {"A": 3, "B": 4}
        mutations = env.writes()[0]
        next_second()
        env.shop.refund(order["id"], [{"sku": "A", "quantity": 1}], restock_type="cancel")  # not shipped yet
        env.settle()
        assert ledger(env, "A") == (5, 1)
        assert env.shop_levels() == {"A": 4, "B": 4} and env.woo.levels() == {"A": 4, "B": 4}
        env.shop.fulfill(order["id"])  # the rest ships: A 1, B 1
        env.settle()
        assert ledger(env, "A") == (4, 0) and ledger(env, "B") == (4, 0)
        next_second()
        env.shop.refund(order["id"], [{"sku": "B", "quantity": 1}], restock_type="return")  # B comes back
        env.settle()
        assert ledger(env, "B") == (5, 0) and reasons(env)[-1] == "return"
        assert env.shop_levels() == {"A": 4, "B": 5} and env.woo.levels() == {"A": 4, "B": 5}
        next_second()
        env.shop.refund(order["id"], [{"sku": "A", "quantity": 1}], restock_type="no_restock")  # money only
        env.settle()
        assert ledger(env, "A") == (4, 0)
        assert env.shop_levels() == {"A": 4, "B": 5} and env.woo.levels() == {"A": 4, "B": 5}
        assert env.writes()[0] == mutations  # Shopify moved its own count: never written back
