"""README command 1 and `hub demo` end to end: `hub run` on the example config (free ports, embedded stores,
a temp dir) serves the hub and its sandboxes; `hub demo` plays the whole story against them and exits 0.
The outcomes are read again here from the sandboxes and the hub's API, not only from the narration. Then
`hub run` stops on SIGTERM, every child with it; a sandbox that cannot start stops the whole run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
import yaml

from .support import ADMIN_TOKEN
from .support.run import HUB, example_config, free_port, hub_env, hub_run, processes_in

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _urls(config) -> dict[str, str]:
    cfg = yaml.safe_load(config.read_text())
    return {"shop": cfg["channels"]["shop-eu"]["api_url"], "woo": cfg["channels"]["woo"]["url"],
            "odoo": cfg["erp"]["url"], "crm": cfg["crm"]["url"],
            "emitter": f"http://127.0.0.1:{cfg['sandbox']['emitter_port']}"}


def _refused(url: str) -> bool:
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_hub_run_serves_the_sandboxes_and_hub_demo_plays_the_story(tmp_path):
    config = example_config(tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["erp"]["pull_interval_s"] = 1  # the scheduler pulls Odoo's deliveries every second
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    urls = _urls(config)
    with hub_run(tmp_path, config) as hub:
        started = time.monotonic()
        demo = _demo_killing_the_worker(hub, when="1. Ada Lovelace orders")
        demo_s = time.monotonic() - started
        out = demo.stdout
        assert demo.returncode == 0, out + demo.stderr
        for fact in [
            "seeded Shopify (and the hub's links to its variants), WooCommerce, Odoo, the hub's ledger",
            "stock on both shops: DEMO-MUG 10 -> 8, DEMO-TEE-M 10 -> 9",
            "status pending, 44.00 USD",
            "left in draft: not confirmed while unpaid",
            "at stage decisionmakerboughtin, note \"Order ",
            "which is now paid",
            "confirmed (state sale): released to the warehouse",
            "ok  Odoo: invoice INV/2026/00001 (44.00) posted and paid by pi_",
            "is processing: the hub marked it paid with Stripe's payment (transaction stripe:pi_",
            "is completed, with a note to the customer: \"Your order is on its way with USPS. Tracking number: 9400",
            "shipped: USPS 9400",
            "ok  hub: shipment 1 in_transit",
            "ok  hub: shipment 1 delivered at ",
            "ok  hub: order 1 is delivered: complete",
            "delivered: USPS 9400",
            "stock on both shops: DEMO-CAP 10 -> 9",
            "hub: order 2 paid; Odoo: S00002 confirmed",
            "already on Shopify: nothing pushed back), order fulfilled; HubSpot: deal won, 3 notes",
            "hub          2 orders (1 delivered, 1 fulfilled), 2 customers, 2 payments, 2 shipments",
            "Odoo         2 customers, 2 sale orders (2 confirmed), 2 invoices (2 paid), 2 payments, 1 delivery done",
            "HubSpot      2 contacts, 2 deals, 7 notes",
            "stock        DEMO-MUG 8, DEMO-TEE-M 9, DEMO-CAP 9 available: the same on the hub, Shopify and WooCommerce",
            "The story is complete.",
        ]:
            assert fact in out, f"{fact!r} not in:\n{out}"

        # the same outcomes, read here from each system
        orders = requests.get(f"{hub.url}/api/orders", headers=AUTH, timeout=10).json()["orders"]
        assert sorted((o["channel"], o["status"]) for o in orders) == [("shop-eu", "fulfilled"), ("woo", "delivered")]
        shipments = requests.get(f"{hub.url}/api/shipments", headers=AUTH, timeout=10).json()["shipments"]
        assert sorted((s["carrier"], s["status"], bool(s["pushed_at"])) for s in shipments) == [
            ("ups", "pre_transit", True), ("usps", "delivered", True)]
        [woo_order] = [o for o in orders if o["channel"] == "woo"]
        [parcel] = [s for s in shipments if s["carrier"] == "usps"]
        delivered, placed = (datetime.fromisoformat(t) for t in (parcel["delivered_at"], woo_order["placed_at"]))
        assert delivered >= placed  # was 3 h before it: the timeline showed "delivered" before "order placed"
        sale_orders = requests.get(f"{urls['odoo']}/_sandbox/records/sale.order", timeout=10).json()
        assert sorted((so["client_order_ref"], so["state"]) for so in sale_orders) == [
            ("shop-eu:#1001", "sale"), (f"woo:{orders[-1]['number']}", "sale")]
        [woo_order] = requests.get(f"{urls['woo']}/_sandbox/orders", timeout=10).json()
        assert (woo_order["status"], woo_order["customer_notes"]) == ("completed", 1)
        [shop_order] = requests.get(f"{urls['shop']}/_sandbox/orders", timeout=10).json()
        assert shop_order["fulfillment_status"] == "fulfilled"
        deals = requests.get(f"{urls['crm']}/_sandbox/records/deals", timeout=10).json()
        assert sorted(d["properties"]["dealstage"] for d in deals) == ["closedwon", "closedwon"]
        assert len(requests.get(f"{urls['crm']}/_sandbox/records/notes", timeout=10).json()) == 7

        stopping = time.monotonic()
        code, log = hub.stop()
        stop_s = time.monotonic() - stopping
    assert code == 0, log
    assert "did not stop within" not in log  # every child stopped by itself, none was killed
    assert processes_in(tmp_path / "var") == []  # the embedded Redis too
    assert "sandboxes  shopify      " + urls["shop"] in log and "try: hub --config" in log
    for url in [hub.url, *urls.values()]:  # every child is gone, its port free
        assert _refused(url), url
    # every child stopped by itself (checked above); the time only rules out a stall (RQ's 60 s pubsub wait,
    # the 20 s grace): on a machine this busy it took 6.2 s once, ~1 s when calm
    assert demo_s < 150 and stop_s < 15, (demo_s, stop_s)
    # the worker killed during the demo was started again, and said so; the demo still ended ok (above)
    assert "hub run: worker exited (code -9); starting it again in 1 s" in log
    assert "hub run: worker started again (pid " in log

    # run again: var/ keeps the hub's records, the sandboxes start empty. The demo says so and what to run,
    # before it writes anything (it used to wait 30 s, and the hub wrote the old stock to the new Woo)
    with hub_run(tmp_path, config) as hub:
        assert "the hub's records under var/ are kept between runs, but the sandboxes start empty" in hub.log()
        again = hub.hub("demo", "--hub-url", hub.url, "--timeout", "30", timeout=120)
        assert again.returncode == 1, again.stdout + again.stderr
        assert ("the hub remembers DEMO-MUG, DEMO-TEE-M, DEMO-CAP from an earlier run (its records under var/ are "
                "kept), but the sandboxes started empty (they keep nothing between runs): stop the hub (Ctrl-C) and "
                f"start both clean with: hub --config {config} run --fresh") in again.stderr, again.stderr
        assert requests.get(f"{urls['woo']}/_sandbox/stock", timeout=10).json() == {}
        assert hub.stop()[0] == 0
    with hub_run(tmp_path, config, "--fresh") as hub:
        assert f"--fresh: cleared {tmp_path / 'var'} (" in hub.log()
        fresh = hub.hub("demo", "--hub-url", hub.url, "--timeout", "30", timeout=180)
        assert fresh.returncode == 0, fresh.stdout + fresh.stderr
        assert "seeded Shopify (and the hub's links to its variants), WooCommerce, Odoo, the hub's" in fresh.stdout
        assert "HubSpot      2 contacts, 2 deals, 7 notes" in fresh.stdout  # the earlier run's records are gone
        assert hub.stop()[0] == 0


def _demo_killing_the_worker(hub, when: str) -> subprocess.CompletedProcess:
    """`hub demo`, with hub run's worker killed (SIGKILL) once the demo has printed ``when``."""
    out, err = hub.cwd / "demo.out", hub.cwd / "demo.err"
    with open(out, "w") as o, open(err, "w") as e:
        # a delivery the kill caught before the relay queued it waits for the outbox sweep (outbox_grace_s 30 s
        # and its interval 30 s): each effect is given that long, not the demo's usual 30 s
        demo = subprocess.Popen([*HUB, "--config", str(hub.config), "demo", "--hub-url", hub.url, "--timeout", "75"],
                                cwd=hub.cwd, env=hub.env, stdout=o, stderr=e, text=True)
    deadline = time.monotonic() + 120
    while when not in out.read_text() and demo.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    [worker] = [pid for pid in _children(hub.proc.pid) if b"\0worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    os.kill(worker, signal.SIGKILL)
    demo.wait(timeout=180)
    return subprocess.CompletedProcess(demo.args, demo.returncode, out.read_text(), err.read_text())


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_hub_run_refuses_to_start_when_a_sandbox_port_is_taken(tmp_path):
    config = example_config(tmp_path)
    port = int(_urls(config)["woo"].rsplit(":", 1)[1])
    web = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = subprocess.run([*HUB, "--config", str(config), "run", "--bind", f"127.0.0.1:{web}"], cwd=tmp_path,
                              env=hub_env(), capture_output=True, text=True, timeout=90)
    assert proc.returncode == 1
    assert (f"Error: sandbox woo (woocommerce): cannot listen on 127.0.0.1:{port}: Address already in use; "
            "nothing was started") in proc.stderr
    assert "hub is running" not in proc.stdout and _refused(f"http://127.0.0.1:{web}")


def test_a_child_that_keeps_dying_stops_the_hub_and_says_which(tmp_path):
    """A dead child is started again with backoff; one that dies five times in two minutes stops the hub."""
    from hub.cli.supervise import GIVE_UP_DEATHS, Supervisor

    said: list[str] = []
    crash = [sys.executable, "-c", "raise SystemExit(3)"]
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor({"relay": crash, "web": sleeper}, said.append, restart_first_s=0.05)
    sup.start_all()
    deadline = time.monotonic() + 30
    while (why := sup.watch()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    sup.stop(5, said.append)
    assert why == ("relay keeps dying (5 exits within 120 s, the last with code 3); its messages above say why")
    waits = [line.rsplit(" in ", 1)[1] for line in said if line.startswith("hub run: relay exited (code 3)")]
    assert waits == ["0.05 s", "0.1 s", "0.2 s", "0.4 s"] and len(waits) == GIVE_UP_DEATHS - 1  # backoff doubles
    assert sum(line.startswith("hub run: relay started again (pid ") for line in said) == GIVE_UP_DEATHS - 1
    assert not any("web" in line for line in said)  # the others ran on, and stopped on SIGTERM, not killed


def test_the_demo_says_the_hub_stopped_rather_than_waiting_on_a_sandbox(tmp_path):
    """After hub run stopped, the demo waited 30 s and blamed the Shopify sandbox."""
    from hub.config import load_config
    from sandbox.demo import Demo
    from sandbox.demo_systems import DemoError, NotYet

    gone = f"http://127.0.0.1:{free_port()}"
    demo = Demo(load_config(example_config(tmp_path)), gone, 30, print)

    def shop_gone() -> None:
        raise NotYet("the Shopify sandbox is not answering")

    started = time.monotonic()
    with pytest.raises(DemoError) as stopped:
        demo.clock.until("the stock to go down on both shops", shop_gone)
    assert str(stopped.value) == (f"the hub stopped answering at {gone} (ConnectionError): hub run has stopped; "
                                  "its terminal says why")
    assert time.monotonic() - started < 5  # within the first health look, not the 30 s wait


def test_hub_demo_without_a_hub_says_how_to_start_it(tmp_path):
    config = example_config(tmp_path)
    res = subprocess.run([*HUB, "--config", str(config), "demo", "--hub-url", f"http://127.0.0.1:{free_port()}"],
                         cwd=tmp_path, env=hub_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "the hub is not answering at http://127.0.0.1:" in res.stderr
    assert f"Start the hub and its sandboxes first, in another terminal: hub --config {config} run" in res.stderr
