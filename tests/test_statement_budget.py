"""How many SQL statements one event costs, per kind: the event workers' throughput is mostly
round trips to the database, so these are budgets (counted, deterministic), not timings."""

from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy import select

from hub.models import events
from jobs.events import process_event
from jobs.push import push_dirty

from .stock_env import stock_env

# measured 2026-11-22 on PostgreSQL (SQLite runs the same statements); lower them, never raise them silently
BUDGET = {"order.created": 22, "orders/create": 24, "product.updated": 19, "inventory_levels/update": 15}
ECHO_BUDGET = 8


def count_statements(env) -> list[tuple[str, str, int]]:
    """Process every received event one by one: (topic, status, statements) each."""
    with env.hub.engine.connect() as conn:
        rows = conn.execute(select(events.c.id, events.c.topic).where(events.c.status == "received")
                            .order_by(events.c.id)).all()
    seen: list[str] = []

    def count(*_args) -> None:
        seen.append("x")

    sa_event.listen(env.hub.engine, "before_cursor_execute", count)
    out = []
    try:
        with env.app.app_context():
            for r in rows:
                seen.clear()
                status = process_event(r.id)
                out.append((r.topic, status, len(seen)))
    finally:
        sa_event.remove(env.hub.engine, "before_cursor_execute", count)
    return out


def test_statements_per_event_stay_within_budget(make_app):
    with stock_env(make_app, [f"S{i}" for i in range(5)], 100) as env:
        env.woo.place_order([{"sku": "S1", "quantity": 1}])  # order.created + product.updated (its own level)
        env.shop.place_order([{"sku": "S2", "quantity": 1}])  # orders/create + inventory_levels/update
        env.shop.wait_idle(60)
        env.woo.wait_idle(60)
        counted = count_statements(env)
        assert sorted(t for t, _, _ in counted) == sorted(BUDGET)
        assert all(status == "processed" for _, status, _ in counted), counted
        over = [(t, n, BUDGET[t]) for t, _, n in counted if n > BUDGET[t]]
        assert not over, f"statements over budget (topic, counted, budget): {over}"

        with env.app.app_context():  # each shop is told of the other's sale; the writes come back as echoes
            for channel in ("shop-eu", "woo"):
                push_dirty(env.hub, channel)
        env.shop.wait_idle(60)
        env.woo.wait_idle(60)
        echoes = count_statements(env)
        assert sorted((t, s) for t, s, _ in echoes) == [("inventory_levels/update", "ignored"),
                                                       ("product.updated", "ignored")]
        assert max(n for _, _, n in echoes) <= ECHO_BUDGET, echoes
