"""How many SQL statements one event costs, per kind: the event workers' throughput is mostly
round trips to the database, so these are budgets (counted, deterministic), not timings."""

from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy import select

from jobs.events import process_event
from jobs.push import push_dirty
from store.models import events

from .support import ADMIN_TOKEN
from .support.stock import stock_env

# measured 2026-12-03 on PostgreSQL and SQLite (the same statements); lower them, never raise them silently
BUDGET = {"order.created": 20, "orders/create": 22, "product.updated": 18, "inventory_levels/update": 14}
ECHO_BUDGET = 4  # the event, the SKU's sync row (the fingerprint names the SKU: no link lookup), its status, history
PUSH_BUDGET = 8  # dirty rows, last movement, targets, links, own moves since, own orders not said taken (a plain set
# channel: ledger.may_take); one executemany per kind of change


class Statements:
    """Counts the statements run on ``engine`` while it is active (an executemany counts once), but for
    the transaction set-up each backend does its own way."""

    def __init__(self, engine) -> None:
        self.engine, self.seen = engine, []

    def _count(self, _conn, _cursor, statement: str, *_args) -> None:
        if not statement.startswith(("BEGIN", "SET LOCAL")):  # SQLite's BEGIN IMMEDIATE, PostgreSQL's async commit
            self.seen.append(statement)

    def __enter__(self) -> Statements:
        sa_event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc) -> None:
        sa_event.remove(self.engine, "before_cursor_execute", self._count)


def count_statements(env) -> list[tuple[str, str, int]]:
    """Process every received event one by one: (topic, status, statements) each."""
    with env.hub.engine.connect() as conn:
        rows = conn.execute(select(events.c.id, events.c.topic).where(events.c.status == "received")
                            .order_by(events.c.id)).all()
    out = []
    with env.app.app_context(), Statements(env.hub.engine) as counter:
        for r in rows:
            counter.seen.clear()
            status = process_event(r.id)
            out.append((r.topic, status, len(counter.seen)))
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


def test_a_push_costs_the_same_statements_for_one_sku_or_many(make_app):
    """What a push records per SKU goes in one executemany per kind of change, not a statement per SKU."""
    skus = [f"S{i}" for i in range(40)]
    with stock_env(make_app, skus, 100) as env:
        counted = []
        for changed, on_hand in ((skus[:1], 89), (skus, 50)):
            counts = "\n".join(f'{{"sku": "{s}", "on_hand": {on_hand}}}' for s in changed)
            with env.app.test_client() as c:
                r = c.post("/api/stock/snapshot", data=counts, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                assert r.status_code == 200, r.json
            with env.app.app_context(), Statements(env.hub.engine) as counter:
                report = push_dirty(env.hub, "woo")
            assert report.written == len(changed), report
            counted.append(len(counter.seen))
        assert counted[0] == counted[1] <= PUSH_BUDGET, counted
        env.settle()
        assert env.woo.levels() == dict.fromkeys(skus, 50)
