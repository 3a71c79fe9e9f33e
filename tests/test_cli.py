"""The hub command: check-config, db upgrade, send, and `hub run` end to end on embedded defaults."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from hub.cli import cli

from .support import ADMIN_TOKEN, corpus_path, event_rows, live_server
from .support.run import HUB, example_config, free_port, hub_run

ROOT = Path(__file__).resolve().parents[1]


def test_send_signs_and_posts_a_corpus_payload(app, tmp_path, monkeypatch):
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("channels:\n  shop-eu: {kind: shopify, webhook_secrets: [shpss_new_secret]}\n"
                   "  stripe: {kind: stripe, webhook_secrets: [whsec_new]}\n")
    with live_server(app) as url:
        runner = CliRunner()
        res = runner.invoke(cli, ["--config", str(cfg), "send", "--channel", "shop-eu", "--url", url,
                                  str(corpus_path("shopify/webhook-examples-2026-07/orders.create.json"))])
        assert res.exit_code == 0, res.output
        assert res.output.startswith('200 {"event_id":')
        res = runner.invoke(cli, ["--config", str(cfg), "send", "--channel", "stripe", "--url", url,
                                  str(corpus_path("stripe/object_event_fixtures3.json"))])
        assert res.exit_code == 0, res.output
        res = runner.invoke(cli, ["--config", str(cfg), "send", "--channel", "shop-eu", "--url", url,
                                  str(corpus_path("shopify/webhook_orders_docs_2022-10.json"))])
        assert res.exit_code == 1 and "give one (e.g. orders/create)" in res.output
    assert [(r.channel, r.topic) for r in event_rows(app)] == [("shop-eu", "orders/create"), ("stripe", "plan.created")]


def test_check_config_and_db_upgrade(tmp_path, monkeypatch):
    for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"database_url: sqlite:///{tmp_path}/x.db\nadmin_token: sekrit-token\n"
                   "channels:\n  s: {kind: stripe, webhook_secrets: [whsec_zzz]}\n"
                   "erp: {url: 'http://erp:8069', db: shop, login: hub, api_key: odoo-kkk}\n"
                   "crm: {token: pat-na1-ttt}\n")
    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(cfg), "check-config"])
    assert res.exit_code == 0 and "channel s: kind=stripe, 1 secret(s)" in res.output
    assert "erp: kind=odoo, url=http://erp:8069, db=shop, login=hub, api key set, pay later: cod" in res.output
    assert "crm: kind=hubspot, url=https://api.hubapi.com, token set" in res.output
    for secret in ("whsec_zzz", "sekrit-token", "odoo-kkk", "pat-na1-ttt"):
        assert secret not in res.output
    res = runner.invoke(cli, ["--config", str(cfg), "db", "upgrade"])
    assert res.exit_code == 0 and "up to date" in res.output
    assert runner.invoke(cli, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    cfg.write_text("channels:\n  s: {kind: stripe}\n")
    res = runner.invoke(cli, ["--config", str(cfg), "check-config"])
    assert res.exit_code == 1 and "channels.s.webhook_secrets" in res.output


def test_run_fresh_clears_only_stores_under_var(tmp_path, monkeypatch):
    """--fresh clears the embedded stores; a database elsewhere is not the hub's to drop."""
    for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"database_url: sqlite:///{tmp_path}/elsewhere.db\nvar_dir: {tmp_path}/var\n"
                   "channels:\n  s: {kind: stripe, webhook_secrets: [whsec_zzz]}\n")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "run", "--fresh", "--bind", f"127.0.0.1:{free_port()}"])
    assert res.exit_code == 1 and res.output.strip() == (
        "Error: --fresh clears only the embedded stores under var_dir; this config's database or Redis is "
        "elsewhere: clear them yourself; nothing was started")


def test_config_is_taken_after_the_command_too_and_send_says_when_no_hub_answers(tmp_path, monkeypatch):
    """A newcomer's `hub check-config --config F` was "No such option"; `hub send` to a hub not running printed a
    60-line traceback."""
    monkeypatch.delenv("HUB_CONFIG", raising=False)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text("channels:\n  s: {kind: stripe, webhook_secrets: [whsec_zzz]}\n")
    runner = CliRunner()
    for args in (["check-config", "--config", str(cfg)], ["check-config", f"--config={cfg}"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 0 and "channel s: kind=stripe, 1 secret(s)" in res.output, res.output
    body = tmp_path / "event.json"
    body.write_text('{"id": "evt_1", "object": "event", "type": "charge.succeeded", "data": {"object": {}}}')
    url = f"http://127.0.0.1:{free_port()}"
    res = runner.invoke(cli, ["send", str(body), "--channel", "s", "--url", url, "--config", str(cfg)])
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: no hub answers at {url}: start it with `hub run` (or give its address with --url)"), res.output


@pytest.mark.e2e
def test_hub_run_on_embedded_defaults_end_to_end(tmp_path):
    """README command 1's path: `hub run` with the example config, then `hub send`, then the API."""
    config = example_config(tmp_path)
    with hub_run(tmp_path, config) as hub:
        base = hub.url
        sent = hub.hub("send", "--channel", "shop-eu", "--url", base,
                       str(corpus_path("shopify/webhook-examples-2026-07/orders.create.json")), timeout=60)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.startswith("200 ")
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deadline = time.time() + 30
        while time.time() < deadline:
            events = requests.get(f"{base}/api/events", headers=auth, timeout=5).json()["events"]
            if events and events[0]["status"] == "processed":
                break
            time.sleep(0.3)
        assert [(e["channel"], e["topic"], e["status"]) for e in events] == [("shop-eu", "orders/create", "processed")]
        assert (tmp_path / "var" / "hub.db").exists()

        # a second hub on the same var/ (it attached to the first one's Redis and queued jobs there), and one
        # of its own on the first one's port (it said "hub is running", then gunicorn gave up 15 s later)
        port = hub.url.rsplit(":", 1)[1]
        started = time.monotonic()
        twin = hub.hub("run", "--bind", f"127.0.0.1:{free_port()}", timeout=60)
        (tmp_path / "other").mkdir()
        other = example_config(tmp_path / "other")
        clash = subprocess.run([*HUB, "--config", str(other), "run", "--bind", f"127.0.0.1:{port}"],
                               cwd=tmp_path / "other", env=hub.env, capture_output=True, text=True, timeout=60)
        assert time.monotonic() - started < 20
        assert twin.returncode == 1 and twin.stderr.strip() == (
            f"Error: {tmp_path / 'var'} is in use by another hub run (pid {hub.proc.pid}, or its processes): stop it "
            "first, or give this config its own var_dir; nothing was started"), twin.stderr
        assert clash.returncode == 1 and clash.stderr.strip() == (
            f"Error: the hub cannot listen on 127.0.0.1:{port}: Address already in use (another hub or program "
            "has it: stop it, or give --bind another port); nothing was started"), clash.stderr
        assert "hub is running" not in twin.stdout + clash.stdout
        assert requests.get(f"{base}/readyz", timeout=5).json()["workers"] == 1  # nothing joined the first hub
        code, out = hub.stop()
    assert code == 0, out
    assert f"webhooks   {base}/webhooks/<channel>" in out
