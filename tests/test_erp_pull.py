"""The ERP pulls against the Odoo sandbox: done deliveries become shipments whose tracking reaches the
order's channel (once, whatever is re-read or re-run), stock counts set on_hand through the snapshot rule
and are published, the cursor lives in the store across restarts, and counts the ledger cannot take are
alerts rather than guesses."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from rq import Queue

from hub.cli import cli
from sandbox.emitters import carriers
from store.models import alerts, pull_cursors, shipments, stock_levels, stock_movements

from .support import OdooClock
from .support.story import story_env

PRODUCTS = [{"sku": "MUG", "name": "Mug", "price": "8.00"}, {"sku": "TEE-M", "name": "Tee M", "price": "20.00"}]
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def story(make_app, tmp_path):
    with story_env(make_app, tmp_path, PRODUCTS) as s:
        yield s


def levels(s) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r.sku, r.warehouse): (r.on_hand, r.committed) for r in s.rows(stock_levels)}


def paid_woo_order(s, quantity: int = 2) -> tuple[dict, dict]:
    """A paid Woo order, through the hub into the ERP (confirmed): (woo order, sale order)."""
    order = s.woo.place_order([{"sku": "MUG", "quantity": quantity}], billing=ADA, payment_method="stripe",
                              set_paid=True)
    s.settle()
    so = s.sale_order()
    assert so["state"] == "sale"
    return order, so


def test_done_delivery_is_pulled_once_and_its_tracking_reaches_woo(story, caplog):
    s = story
    assert s.pull() == {"deliveries": 0, "quants": 2}  # the first pull counts everything
    s.settle()
    assert levels(s) == {("MUG", "main"): (50, 0), ("TEE-M", "main"): (50, 0)}
    order, so = paid_woo_order(s)
    assert levels(s)[("MUG", "main")] == (50, 2)
    s.erp.deliver(so["name"], "9400TRACK1", "USPS")
    assert s.pull() == {"deliveries": 1, "quants": 1}  # shipped; the count of MUG went down
    s.settle()
    assert levels(s)[("MUG", "main")] == (48, 0)
    [ship] = s.rows(shipments)
    assert (ship.carrier, ship.tracking_number, ship.status, ship.push_error) == ("usps", "9400TRACK1",
                                                                                  "pre_transit", None)
    assert ship.pushed_at is not None and ship.order_id is not None
    woo = s.woo.order(order["id"])
    assert woo["status"] == "completed"  # the hub's push, then Woo's order.updated came back: nothing moved
    [note] = [n for n in woo["notes"] if n["customer_note"]]
    assert "9400TRACK1" in note["note"] and "USPS" in note["note"]
    assert s.notes()[-1] == f"Order {order['number']} shipped: USPS 9400TRACK1"

    caplog.set_level(logging.DEBUG, logger="jobs.erp_pull")
    for _ in range(3):  # run again, and again after a restart (a new app on the same store): nothing new
        assert s.pull() == {"deliveries": 0, "quants": 0}
    pulled = [r.levelno for r in caplog.records if r.getMessage() in ("erp deliveries pulled", "erp stock pulled")]
    assert pulled == [logging.DEBUG] * 6  # a pull that changed nothing is no line in `hub run`'s terminal
    with s.restart().app_context():
        from jobs.erp_pull import pull_deliveries, pull_quants

        assert (pull_deliveries(), pull_quants()) == (0, 0)
    s.settle()
    assert len(s.rows(shipments)) == 1 and len(s.notes()) == 3
    assert s.woo.stats["calls"]["POST orders/<id>/notes"] == 1 and s.woo.stats["calls"]["PUT orders/<id>"] == 1
    cursors = {r.name.split(":")[1]: r.value for r in s.rows(pull_cursors)}
    assert set(cursors) == {"deliveries", "quants"} and all(v.endswith("|") for v in cursors.values())
    reasons = [(m.sku, m.reason, m.delta, m.committed_delta) for m in s.rows(stock_movements) if m.sku == "MUG"]
    assert reasons == [("MUG", "erp_snapshot", 50, 0), ("MUG", "sale", 0, 2), ("MUG", "erp_delivery", 0, -2),
                       ("MUG", "erp_snapshot", -2, 0)]


@pytest.mark.parametrize("backorder", [True, False])
def test_a_partial_delivery_ships_only_what_left_the_warehouse(story, backorder):
    """The warehouse ships 2 of 3 mugs and no tee: the rest stays committed (the goods are still on the
    shelf, promised to this order), so the shops are not shown them. Its backorder ships the rest later;
    without a backorder the rest is never shipped and stays held for the order."""
    s = story
    s.pull()
    order = s.woo.place_order([{"sku": "MUG", "quantity": 3}, {"sku": "TEE-M", "quantity": 1}], billing=ADA,
                              payment_method="stripe", set_paid=True)
    s.settle()
    so = s.sale_order()
    s.erp.deliver(so["name"], "9400PART1", "USPS", quantities={"MUG": 2}, backorder=backorder)
    assert s.pull() == {"deliveries": 1, "quants": 1}
    s.settle()
    assert levels(s) == {("MUG", "main"): (48, 1), ("TEE-M", "main"): (50, 1)}
    assert s.woo.levels() == {"MUG": 47, "TEE-M": 49} and s.shop.levels()["TEE-M"] == {"Main": 49}
    assert s.pull() == {"deliveries": 0, "quants": 0}  # read again: nothing more leaves
    [ship] = s.rows(shipments)
    assert ship.lines == {"MUG": 2} and ship.pushed_at is not None
    woo = s.woo.order(order["id"])  # the shopper has the tracking; the order stays open for the rest
    assert woo["status"] == "processing" and any("9400PART1" in n["note"] for n in woo["notes"])
    pickings = {p["name"]: p for p in s.erp.records("stock.picking")}
    if not backorder:
        assert len(pickings) == 1
        return
    [rest] = [p for p in pickings.values() if p["backorder_id"]]
    assert rest["state"] == "assigned"
    s.erp.deliver(so["name"], "9400PART2", "USPS")  # the backorder: 1 mug, 1 tee
    pulled = s.pull()  # (the first delivery again too when both were done within one second: it ships the rest)
    assert pulled["deliveries"] in (1, 2) and pulled["quants"] == 2
    s.settle()
    assert levels(s) == {("MUG", "main"): (47, 0), ("TEE-M", "main"): (49, 0)}
    assert s.woo.levels() == {"MUG": 47, "TEE-M": 49}
    assert [r.lines for r in s.rows(shipments)] == [{"MUG": 2}, {"MUG": 1, "TEE-M": 1}]
    assert s.woo.order(order["id"])["status"] == "completed"  # everything shipped
    moves = [(m.sku, m.reason, m.committed_delta) for m in s.rows(stock_movements) if m.reason == "erp_delivery"]
    assert moves == [("MUG", "erp_delivery", -2), ("MUG", "erp_delivery", -1), ("TEE-M", "erp_delivery", -1)]


def test_a_shopify_order_delivered_in_two_parts_gets_two_fulfillments(story):
    s = story
    s.pull()
    placed = s.shop.place_order([{"sku": "MUG", "quantity": 3}, {"sku": "TEE-M", "quantity": 1}],
                                customer={"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"})
    s.settle()
    so = s.sale_order()
    assert so["state"] == "sale"
    s.erp.deliver(so["name"], "1ZPART1", "UPS", quantities={"MUG": 2})
    s.pull()
    s.settle()
    shopify = s.shop.order(placed["id"])
    assert shopify["fulfillment_status"] == "partial"
    assert levels(s) == {("MUG", "main"): (48, 1), ("TEE-M", "main"): (50, 1)}  # the shop's partial: nothing more
    s.erp.deliver(so["name"], "1ZPART2", "UPS")
    s.pull()
    s.settle()
    shopify = s.shop.order(placed["id"])
    assert shopify["fulfillment_status"] == "fulfilled"
    shipped = [(f["tracking_number"], sorted((li["sku"], li["quantity"]) for li in f["line_items"]))
               for f in shopify["fulfillments"]]
    assert shipped == [("1ZPART1", [("MUG", 2)]), ("1ZPART2", [("MUG", 1), ("TEE-M", 1)])]
    assert levels(s) == {("MUG", "main"): (47, 0), ("TEE-M", "main"): (49, 0)}
    assert s.shop.levels()["MUG"] == {"Main": 47} and s.woo.levels() == {"MUG": 47, "TEE-M": 49}


@pytest.mark.parametrize("first", ["quants", "deliveries"])
def test_counts_and_deliveries_agree_in_either_order(story, first):
    """Odoo's count already lacks a delivery the hub has not pulled yet (or the other way round): on_hand
    comes from the count, committed from the delivery, and neither is taken off twice."""
    from jobs.erp_pull import pull_deliveries, pull_quants

    s = story
    s.pull()
    _, so = paid_woo_order(s, 3)
    s.erp.deliver(so["name"], "9400TRACK2", "USPS")
    steps = [pull_quants, pull_deliveries] if first == "quants" else [pull_deliveries, pull_quants]
    with s.app.app_context():
        assert [step() for step in steps] == [1, 1]
    s.settle()
    assert levels(s)[("MUG", "main")] == (47, 0)
    assert s.woo.levels()["MUG"] == 47 and s.shop.levels()["MUG"] == {"Main": 47}  # published to both shops


def test_a_delivery_without_tracking_ships_the_stock_and_its_tracking_comes_later(story):
    s = story
    s.pull()
    _, so = paid_woo_order(s)
    s.erp.deliver(so["name"])  # validated without a tracking reference
    assert s.pull()["deliveries"] == 1  # the stock is shipped; nothing the shopper could follow
    assert s.rows(shipments) == [] and levels(s)[("MUG", "main")] == (48, 0)
    [picking] = s.erp.records("stock.picking")
    from jobs.erp_pull import erp_client

    erp_client(s.hub.config.erp).execute_kw("stock.picking", "write", [[picking["id"]],
                                                                      {"carrier_tracking_ref": "1ZLATE"}])
    assert s.pull()["deliveries"] == 1  # written again: pulled again, now with its tracking
    s.settle()
    [ship] = s.rows(shipments)
    assert (ship.carrier, ship.tracking_number, ship.pushed_at is not None) == ("unknown", "1ZLATE", True)
    assert levels(s)[("MUG", "main")] == (48, 0)


def test_a_carrier_report_first_gets_its_order_from_the_erp_delivery(story):
    s = story
    s.pull()
    order, so = paid_woo_order(s)
    s.carrier("easypost", "9400EARLY", "USPS", carriers.journey(START))
    s.flush()
    [early] = s.rows(shipments)
    assert (early.order_id, early.status) == (None, "delivered")
    s.erp.deliver(so["name"], "9400EARLY", "USPS")
    assert s.pull()["deliveries"] == 1
    s.settle()
    [ship] = s.rows(shipments)
    assert ship.id == early.id and ship.order_id is not None and ship.status == "delivered"
    assert s.api(f"/api/orders/{ship.order_id}")["status"] == "delivered"
    assert s.notes()[-2:] == [f"Order {order['number']} shipped: USPS 9400EARLY",
                              f"Order {order['number']} delivered: USPS 9400EARLY"]


def test_a_quant_written_twice_in_one_second_is_not_missed(make_app, tmp_path):
    clock = OdooClock()  # Odoo's now() stands still: every write lands in the same second
    with story_env(make_app, tmp_path, PRODUCTS, clock=clock) as s:
        assert s.pull()["quants"] == 2
        s.erp.set_quant("MUG", 40)
        assert s.pull()["quants"] == 1
        clock.at(900_000)  # later in the same second as the pull that saw 40
        s.erp.set_quant("MUG", 35)
        assert s.pull()["quants"] == 1
        assert s.pull()["quants"] == 0  # that second is read again, but it changes nothing
        assert levels(s)[("MUG", "main")] == (35, 0)


def test_counts_the_ledger_cannot_take_and_unmapped_locations_alert(make_app, tmp_path):
    with story_env(make_app, tmp_path, PRODUCTS) as s:
        s.restart(locations={"WH/Stock": "main"})
        s.erp.set_quant("MUG", 2.5)
        s.erp.set_quant("TEE-M", -3)
        s.erp.orm.begin()
        s.erp.orm.create("stock.location", {"name": "Annex", "complete_name": "Annex/Stock", "usage": "internal"})
        s.erp.orm.commit()
        s.erp.set_quant("TEE-M", 7, "Annex/Stock")
        assert s.pull()["quants"] == 0
        assert levels(s) == {}
        opened = {(a.kind, a.key): a.message for a in s.rows(alerts) if a.resolved_at is None}
        assert opened == {
            ("erp_stock", "MUG@main"): "ERP count of MUG at main is 2.5: on_hand must be a whole number >= 0; "
                                       "not applied",
            ("erp_stock", "TEE-M@main"): "ERP count of TEE-M at main is -3: on_hand must be a whole number >= 0; "
                                         "not applied",
            ("erp_location", "Annex/Stock"): "ERP location Annex/Stock is not in erp.locations: its stock is not "
                                             "counted"}
        s.erp.set_quant("MUG", 4)
        s.erp.set_quant("TEE-M", 0)
        assert s.pull()["quants"] == 1
        assert levels(s) == {("MUG", "main"): (4, 0)}  # TEE-M counts nothing at main: no level made for it
        assert {(a.kind, a.key) for a in s.rows(alerts) if a.resolved_at is None} == {("erp_location", "Annex/Stock")}
        # mapping the annex counts it from scratch (a new mapping is a new cursor) and closes its alert
        s.restart(locations={"WH/Stock": "main", "Annex": "annex"})
        assert s.pull()["quants"] == 1
        assert levels(s)[("TEE-M", "annex")] == (7, 0)
        assert [a for a in s.rows(alerts) if a.resolved_at is None] == []


def test_hub_erp_pull_command(story, tmp_path):
    s = story
    cfg = tmp_path / "hub.yaml"
    erp = s.hub.config.erp
    cfg.write_text(yaml.safe_dump({"database_url": s.hub.config.database_url, "redis_url": s.hub.config.redis_url,
                                   "erp": {"url": erp.url, "db": erp.db, "login": erp.login,
                                           "api_key": erp.api_key}}))
    runner = CliRunner(env={"HUB_DATABASE_URL": None, "HUB_REDIS_URL": None})  # the file's, as written
    res = runner.invoke(cli, ["--config", str(cfg), "erp", "pull", "--quants"])
    assert res.exit_code == 0, res.output
    assert said(res) == ["erp quants: 2 applied"]
    res = runner.invoke(cli, ["--config", str(cfg), "erp", "pull"])
    assert (res.exit_code, said(res)) == (0, ["erp deliveries: 0 applied", "erp quants: 0 applied"])
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"database_url": s.hub.config.database_url, "redis_url": s.hub.config.redis_url,
                                   "erp": {"url": "http://127.0.0.1:9", "db": erp.db, "login": erp.login,
                                           "api_key": erp.api_key, "timeout_s": 0.3}}))
    res = runner.invoke(cli, ["--config", str(bad), "erp", "pull", "--deliveries"])
    assert res.exit_code == 1 and "erp deliveries: odoo authenticate" in res.output and erp.api_key not in res.output


def said(res) -> list[str]:
    """The command's own lines (log lines may share the captured output)."""
    return [line for line in res.output.splitlines() if line.startswith("erp ")]


@pytest.mark.e2e
def test_hub_scheduler_queues_the_pull(story, tmp_path):
    s = story
    cfg = tmp_path / "hub.yaml"
    erp = s.hub.config.erp
    cfg.write_text(yaml.safe_dump({"database_url": s.hub.config.database_url, "redis_url": s.hub.config.redis_url,
                                   "erp": {"url": erp.url, "db": erp.db, "login": erp.login, "api_key": erp.api_key,
                                           "pull_interval_s": 3600}}))
    env = {**os.environ, "HUB_CONFIG": str(cfg)}
    env.pop("HUB_DATABASE_URL", None)
    env.pop("HUB_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "scheduler"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        queue = Queue("erp", connection=s.hub.redis.client)
        deadline = time.monotonic() + 20
        while not queue.get_jobs() and time.monotonic() < deadline:
            time.sleep(0.2)
        [job] = queue.get_jobs()
        assert job.func_name == "jobs.erp_pull.pull_erp"
    finally:
        proc.terminate()
        proc.wait(10)
    from .support import run_worker

    run_worker(s.app)
    assert job.get_status(refresh=True) == "finished" and job.return_value() == {"deliveries": 0, "quants": 2}


def test_units_the_erp_shipped_stay_shipped_when_a_later_order_version_says_paid(story):
    """The shop saves the order again (a note) after the ERP shipped it and before it hears of the shipment:
    that version still says processing, and must not commit the shipped units again."""
    from connectors.woocommerce.client import WooClient

    s = story
    s.pull()
    order, so = paid_woo_order(s)
    s.erp.deliver(so["name"], "9400TRACK3", "USPS")
    assert s.pull() == {"deliveries": 1, "quants": 1}
    WooClient(s.hub.config.channels["woo"]).call("PUT", f"orders/{order['id']}", "edit",
                                                 {"customer_note": "leave it at the door"})
    s.flush()  # the processing version first (events go first), then the tracking push
    assert s.woo.order(order["id"])["status"] == "completed"
    assert levels(s)[("MUG", "main")] == (48, 0)
    s.settle()
    assert levels(s)[("MUG", "main")] == (48, 0)
    moves = [(m.reason, m.delta, m.committed_delta) for m in s.rows(stock_movements) if m.sku == "MUG"]
    assert moves == [("erp_snapshot", 50, 0), ("sale", 0, 2), ("erp_delivery", 0, -2), ("erp_snapshot", -2, 0)]
