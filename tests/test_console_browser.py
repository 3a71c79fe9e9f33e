"""The console in a real browser: Debian's headless Chromium driven by Playwright against the hub served
for real (werkzeug on a free port) with the real database, Redis, RQ worker and the platform sandboxes.

A screenshot of every page visited is saved under the run's basetemp (or ``--screenshots DIR``); the run's
summary prints where. Without Chromium (or Playwright) these tests are skipped, except under CI (``CI``
set), where that is a failure: CI must run them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from jobs import queueing
from store.models import orders, tasks

from .support import ADMIN_TOKEN, corpus_json, deliver, event_rows, live_server, run_worker
from .support.erp_crm import PRODUCTS, Env, erp_crm_env
from .support.erp_crm import erp_woo_order as woo_order
from .support.stock import WOO_SECRET, stock_env

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000
BULK = 200  # failed stock pushes replayed in bulk


def _missing() -> str | None:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HUB_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture
def browser(tmp_path, screenshots_dir, request) -> Iterator[Browser]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        context.set_default_timeout(WAIT_MS)
        try:
            yield Browser(context.new_page(), screenshots_dir / request.node.name)
        finally:
            context.close()


class Browser:
    """One page and where its screenshots go (one folder per test)."""

    def __init__(self, page, shots: Path) -> None:  # noqa: ANN001
        self.page = page
        self.shots = shots
        self.base = ""
        self.n = 0
        shots.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> Path:
        self.n += 1
        path = self.shots / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def go(self, path: str, name: str | None = None) -> None:
        self.page.goto(self.base + path)
        if name:
            self.shot(name)

    def login(self, base: str) -> None:
        self.base = base
        self.go("/admin/")
        assert "/admin/login" in self.page.url
        self.shot("login")
        self.page.fill("#token", ADMIN_TOKEN)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(r"/admin/$"))
        assert self.page.locator("h1").inner_text() == "Dashboard"


def erp_env(make_app):  # noqa: ANN201
    """The ERP knows PW-000 only: order 114's PT-M line makes its export fail (needs_mapping)."""
    return erp_crm_env(make_app, [PRODUCTS[0]], erp_timeout_s=5)


def failed_export(env: Env) -> dict:
    """Order 114 asks for PT-M, a SKU the ERP does not know: its export fails (needs_mapping)."""
    env.deliver(woo_order())
    env.run()
    with env.hub.engine.connect() as conn:
        (row,) = conn.execute(select(tasks).where(tasks.c.kind == "export_order")).all()
    assert (row.status, row.error_class) == ("failed", "needs_mapping") and "PT-M" in row.error
    return row._asdict()


def test_login_and_every_page(make_app, browser):
    with erp_env(make_app) as env:
        failed_export(env)
        with live_server(env.app) as base:
            b = browser
            page = b.page
            b.login(base)
            b.shot("dashboard")
            assert page.locator("#failures").get_by_role("link", name="needs_mapping").is_visible()
            assert page.locator("svg rect.bar-deliveries").count() == 24
            b.go("/admin/events", "events")
            page.click("#events a >> nth=0")
            page.wait_for_url(re.compile(r"/admin/events/\d+$"))
            page.click("#technical > summary")  # the raw body, one click away
            assert '"line_items"' in page.locator("#body").inner_text()
            b.shot("event")
            b.go("/admin/tasks", "failed-tasks")
            b.go("/admin/needs-mapping", "needs-mapping")
            assert "SKU PT-M is not a product in Odoo" in page.locator("#refused").inner_text()
            b.go("/admin/stock", "stock")
            assert page.locator("#stock").get_by_text("PT-M").is_visible()
            b.go("/admin/orders", "orders")
            page.click("#orders a >> nth=0")
            page.wait_for_url(re.compile(r"/admin/orders/\d+$"))
            assert page.locator("#timeline").get_by_text("order 114 placed, 40.00 USD").is_visible()
            b.shot("order")
            b.go("/admin/reports", "reports")
            assert not page.locator("#oversell").get_by_text("PT-M").count()  # sold, never counted: not oversold
            page.click("header form button")  # sign out
            page.wait_for_url(re.compile(r"/admin/login"))
            b.go("/admin/stock")
            assert "/admin/login" in page.url


def test_open_a_failed_task_replay_it_and_see_it_succeed(make_app, browser):
    with erp_env(make_app) as env:
        task = failed_export(env)
        with live_server(env.app) as base:
            b = browser
            page = b.page
            b.login(base)
            b.go("/admin/tasks?error_class=needs_mapping")
            page.click(f"#tasks a[href='/admin/tasks/{task['id']}']")
            page.wait_for_url(re.compile(rf"/admin/tasks/{task['id']}$"))
            assert "PT-M" in page.locator("#reason").inner_text()
            assert not page.locator("#traceback").is_visible()  # the technical detail, one click away
            page.click("#technical > summary")
            assert page.locator("#traceback").is_visible()
            assert page.locator("b.plan").inner_text().startswith("re-read #114 (woo) from woo, then create ERP")
            b.shot("failed-task")
            env.erp.seed_products([PRODUCTS[1]])  # the cause is fixed: the ERP knows PT-M now
            page.select_option("#replay select[name=mode]", "payload")  # this Woo channel has no API keys
            page.click("#replay button")
            page.wait_for_url(re.compile(r"/admin/replays/\d+$"))
            b.shot("replay-queued")
            run_worker(env.app)  # the page reloads itself meanwhile
            page.locator("#status").filter(has_text="done").wait_for()
            assert page.locator("#counts").inner_text() == "1 of 1 action(s) done, 0 failed"
            assert page.locator("#replay-tasks .badge.ok").count() == 1
            b.shot("replay-done")
            page.click(f"#replay-tasks a[href='/admin/tasks/{task['id']}']")
            page.wait_for_url(re.compile(rf"/admin/tasks/{task['id']}$"))
            page.get_by_text("A later attempt succeeded").wait_for()  # visible, or a timeout
            b.shot("task-fixed")
        assert len(env.sale_orders()) == 1  # one sale order, whatever was tried before


def test_bulk_replay_of_200_failed_stock_pushes_with_preview_and_progress(make_app, browser):
    skus = [f"SKU-{i:03d}" for i in range(BULK)]
    with stock_env(make_app, skus, 10) as env:
        hub = env.hub
        env.woo.configure(consumer_secret="cs_revoked")  # the shop manager revoked the hub's key
        with env.app.test_client() as c:
            snapshot = "\n".join(f'{{"sku": "{s}", "on_hand": 7}}' for s in skus)
            assert c.post("/api/stock/snapshot", data=snapshot,
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
        for _ in range(BULK - 1):  # every later change scheduled a push of its own while the key was wrong
            hub.queues.schedule_push("woo", delay_s=0, force=True)
        run_worker(env.app)
        with hub.engine.connect() as conn:
            failed = conn.execute(select(tasks.c.id).where(tasks.c.kind == "push_stock", tasks.c.channel == "woo",
                                                           tasks.c.status == "failed")).all()
        assert len(failed) == BULK
        assert set(env.woo.levels().values()) == {10}
        env.woo.configure(consumer_secret=WOO_SECRET)  # the key is fixed: now replay
        with live_server(env.app) as base:
            browser.login(base)
            bulk_replay(env, browser)


def bulk_replay(env, b: Browser) -> None:
    page = b.page
    b.go("/admin/tasks?kind=push_stock&channel=woo", "failed-stock-tasks")
    assert page.locator("#tasks .badge.permanent").count() == 50  # a page of them
    page.click("#bulk button")
    page.wait_for_url(re.compile(r"/admin/replays/preview"))
    assert page.locator("#covers").inner_text().startswith(f"{BULK} failed task attempt(s) in 1 action(s)")
    assert page.locator("#plan .plan").inner_text() == (
        f"update stock of {BULK} SKUs on woo (read from woo first, then the ledger's current quantities)")
    b.shot("bulk-preview")
    page.click("#start button")
    page.wait_for_url(re.compile(r"/admin/replays/\d+$"))
    assert page.locator("#percent").inner_text() == "0%"
    b.shot("bulk-progress-0")
    run_worker(env.app)  # the page reloads itself meanwhile
    page.locator("#percent").filter(has_text="100%").wait_for()
    assert page.locator("#status").inner_text() == "done"
    assert page.locator("#progress").get_attribute("value") == page.locator("#progress").get_attribute("max")
    b.shot("bulk-progress-100")
    assert set(env.woo.levels().values()) == {7}  # the current quantity, published once
    b.go("/admin/tasks?kind=push_stock&channel=woo")
    assert page.get_by_text("No tasks match.").is_visible()  # every failure is fixed by the replay
    b.go("/admin/stock?q=SKU-00", "stock-after-replay")
    cells = page.locator("#stock tr", has_text="SKU-001").locator("td").all_inner_texts()
    assert cells[:4] == ["SKU-001", "7", "0", "7"] and cells[4] == "7" and cells[9] == "7"  # both channels: 7


def test_add_a_missing_link_on_the_needs_mapping_page_and_see_the_event_processed(make_app, browser):
    app = make_app()
    with app.test_client() as c:
        deliver(c, "shop-eu", "inventory_levels/update",
                corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json"))
    run_worker(app)
    (row,) = event_rows(app)
    assert row.status == "needs_mapping"
    with live_server(app) as base:
        b = browser
        page = b.page
        b.login(base)
        b.go("/admin/needs-mapping", "needs-mapping-parked")
        item = page.locator("#parked tr", has_text="271878346596884000")
        item.locator("input[name=value]").fill("SKU-AVIATOR")
        item.locator("button").click()
        page.locator(".flash.ok").wait_for()
        location = page.locator("#parked tr", has_text="24826418")
        location.locator("input[name=value]").fill("main")
        location.locator("button").click()
        page.locator(".flash.ok", has_text="1 parked event(s) queued again").wait_for()
        b.shot("needs-mapping-linked")
        run_worker(app)
        b.go(f"/admin/events/{row.id}")
        assert page.locator("h1 .badge").inner_text() == "processed"
        assert "SKU-AVIATOR" in page.locator("#history").inner_text()
        b.shot("event-processed")
        b.go("/admin/needs-mapping")
        assert page.get_by_text("Nothing is waiting for a link.").is_visible()
        b.go("/admin/stock?q=SKU-AVIATOR", "stock-after-link")


# what an operator must not meet on a page before opening its technical detail: the hub's job functions, raw
# entity keys ("order:5") and JSON. Checked in the page's rendered text (innerText: what shows, the closed
# <details> of the technical detail left out)
JOB_NAMES = sorted({getattr(queueing, n).rsplit(".", 1)[1] for n in dir(queueing)
                    if isinstance(getattr(queueing, n), str) and getattr(queueing, n).startswith("jobs.")})
INTERNAL = re.compile(r"\b(" + "|".join(JOB_NAMES) + r")\b"
                      r"|\b(order|sku|event|channel|task|replay):[\w-]+|\{\s*\"\w+\":")


def test_every_console_page_speaks_the_shops_words_first(make_app, browser):
    """Every GET page of the console (from the app's own routes, so a new one cannot be left out), filled from a
    story with a failed export, a parked event, a replay: screenshotted, and no job name, raw entity key or
    JSON before the technical detail is opened."""
    with erp_env(make_app) as env:
        task = failed_export(env)
        app = env.app
        with app.test_client() as c:
            auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            replay = c.post(f"/api/tasks/{task['id']}/replay", json={"mode": "payload"}, headers=auth).json
        run_worker(app)
        [event_id] = [e.id for e in event_rows(app)][:1]
        with env.hub.engine.connect() as conn:
            order_id = conn.execute(select(orders.c.id)).scalars().first()
        ids = {"event_id": event_id, "order_id": order_id, "task_id": task["id"], "replay_id": replay["id"]}
        pages = sorted({rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("console.")
                        and "GET" in rule.methods and rule.rule != "/admin/login"})
        with live_server(app) as base:
            b = browser
            b.login(base)
            leaks = {}
            for rule in pages:
                path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)
                if rule == "/admin/replays/preview":
                    path += f"?task_id={task['id']}"
                b.go(path, path.strip("/").replace("/", "-") or "admin")
                assert b.page.locator("h1").count() == 1, path
                found = sorted({m.group(0) for m in INTERNAL.finditer(b.page.locator("body").inner_text())})
                if found:
                    leaks[path] = found
            assert leaks == {}, "\n".join(f"{p}: {f}" for p, f in leaks.items())
            assert len(pages) >= 12
