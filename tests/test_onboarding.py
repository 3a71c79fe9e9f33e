"""README "Onboarding a shop", followed on the sandboxes: a WooCommerce channel in shadow mode with a SKU the
hub has never counted. Nothing is published as 0, nothing is written in shadow mode, and the switch to live
writes only what differs. The sandboxes run apart (`hub sandboxes`) so they keep their state while the hub
restarts with the new setting."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
import requests
import yaml

from .support.run import HUB, example_config, free_port, hub_env, hub_run

pytestmark = pytest.mark.e2e


def _wait(what: str, probe, timeout_s: float = 45):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s
    while (got := probe()) is None:
        assert time.monotonic() < deadline, f"waited {timeout_s} s for {what}"
        time.sleep(0.3)
    return got


def test_onboarding_a_woo_shop_in_shadow_mode_then_live(tmp_path):
    config = example_config(tmp_path)
    cfg = yaml.safe_load(config.read_text())
    cfg["channels"]["woo"]["push"] = "shadow"  # step 1
    cfg.update(outbox_grace_s=2, outbox_interval_s=2)  # the owed push goes within seconds of the restart
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    woo = cfg["channels"]["woo"]["url"]
    port = free_port()
    with open(tmp_path / "sandboxes.log", "w") as log:
        sandboxes = subprocess.Popen([*HUB, "--config", str(config), "sandboxes", "--hub-url",
                                      f"http://127.0.0.1:{port}"], cwd=tmp_path, env=hub_env(), stdout=log,
                                     stderr=subprocess.STDOUT)
    try:
        _wait("the WooCommerce sandbox", lambda: _answers(f"{woo}/_sandbox/stats"))
        requests.post(f"{woo}/_sandbox/seed", json={"products": [
            {"name": "Known", "sku": "KNOWN", "price": "10.00", "stock_quantity": 5},
            {"name": "Same", "sku": "SAME", "price": "10.00", "stock_quantity": 6},
            {"name": "New", "sku": "NEW", "price": "10.00", "stock_quantity": 5}]}, timeout=10).raise_for_status()
        with hub_run(tmp_path, config, "--no-sandboxes", port=port) as hub:
            (tmp_path / "counts.csv").write_text("sku,warehouse,on_hand\nKNOWN,main,3\nSAME,main,6\n")
            counted = hub.hub("stock", "import", str(tmp_path / "counts.csv"))  # step 3; NEW is not in it
            assert counted.returncode == 0, counted.stderr
            requests.post(f"{woo}/_sandbox/orders", json={"lines": [{"sku": "NEW", "quantity": 1}]},
                          timeout=10).raise_for_status()
            auth = {"Authorization": f"Bearer {hub.env['HUB_ADMIN_TOKEN']}"}

            def new_counted() -> dict | None:
                levels = {lv["sku"]: lv for lv in requests.get(f"{hub.url}/api/stock", headers=auth,
                                                                timeout=10).json()["levels"]}
                new = levels.get("NEW")
                return new if new and new["on_hand"] == 5 and new["committed"] == 1 else None

            _wait("the hub to count NEW from Woo's report (4 left, 1 sold)", new_counted)
            compared = hub.hub("reconcile", "stock", "--channel", "woo")  # step 5
            assert compared.returncode == 0, compared.stderr
            assert "shadow mode (push: shadow): 1 would be written, nothing was: KNOWN -> 3" in compared.stdout, (
                compared.stdout)
            shows = requests.get(f"{woo}/_sandbox/stock", timeout=10).json()
            assert shows == {"KNOWN": 5, "SAME": 6, "NEW": 4}  # NEW never went to 0; nothing written
            assert requests.get(f"{woo}/_sandbox/stats", timeout=10).json()["writes"] == 0
            assert hub.stop()[0] == 0

        cfg["channels"]["woo"]["push"] = "live"  # step 6
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        with hub_run(tmp_path, config, "--no-sandboxes", port=port) as hub:
            _wait("the first live push", lambda: (
                shown if (shown := requests.get(f"{woo}/_sandbox/stock", timeout=10).json())["KNOWN"] == 3 else None))
            time.sleep(2)  # anything else it was going to write
            assert requests.get(f"{woo}/_sandbox/stock", timeout=10).json() == {"KNOWN": 3, "SAME": 6, "NEW": 4}
            assert requests.get(f"{woo}/_sandbox/stats", timeout=10).json()["writes"] == 1  # only what differed
            assert hub.stop()[0] == 0
    finally:
        sandboxes.send_signal(signal.SIGTERM)
        sandboxes.wait(30)


def _answers(url: str) -> bool | None:
    try:
        return requests.get(url, timeout=2).ok or None
    except requests.RequestException:
        return None
