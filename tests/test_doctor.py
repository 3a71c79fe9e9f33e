"""`hub doctor` against the sandboxes, each as the real platform answers: every system ok, then each way a
newcomer's set-up goes wrong gives one failing row that says what to do, and `--fix` creates HubSpot's
hub_order_key; a system that is down or slow is one failing row within the timeout, never a traceback.
Checked on the real Odoo 19 of ../shared/peers/odoo by hand (see the commit)."""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager

from click.testing import CliRunner
from flask import Flask

from hub import doctor
from hub.cli import cli
from hub.config import load_config_dict
from hub.doctor import FAIL, OK, run_checks
from jobs.subscriptions import check
from sandbox.base import serve
from sandbox.hubspot import HubSpotSandbox
from sandbox.odoo import OdooSandbox
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

from .support import SECRETS, cli_config
from .support.run import free_port

SHOP_TOKEN, WOO_KEY, WOO_SECRET = "shpat_doctor", "ck_doctor", "cs_doctor"  # noqa: S105 - sandbox credentials


@contextmanager
def _systems(make_app, hub_properties: bool = True, **overrides):  # noqa: ANN001, ANN003, ANN202
    shop, woo = ShopifySandbox(access_token=SHOP_TOKEN), WooSandbox(consumer_key=WOO_KEY, consumer_secret=WOO_SECRET)
    odoo, crm = OdooSandbox(db="shop", login="hub", api_key="odoo-key"), HubSpotSandbox(
        token="pat-doctor", hub_properties=hub_properties)  # noqa: S106
    with ExitStack() as stack:
        urls = [stack.enter_context(serve(s.app)) for s in (shop, woo, odoo, crm)]
        channels = {
            "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": shop.shop,
                        "access_token": SHOP_TOKEN, "api_url": urls[0], "locations": {"1": "main"}},
            "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": urls[1],
                    "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET, "locations": {"default": "main"}}}
        app = make_app(channels=channels, erp={"url": urls[2], "db": "shop", "login": "hub", "api_key": "odoo-key"},
                       crm={"url": urls[3], "token": "pat-doctor"}, **overrides)
        yield app, shop, woo, odoo, crm
    for s in (shop, woo):
        s.close()


def _failing(rows) -> dict[tuple[str, str], str]:  # noqa: ANN001
    return {(r.subject, r.check): r.detail for r in rows if r.result == FAIL}


def test_every_system_ok_then_each_misconfiguration_is_one_row_saying_what_to_do(make_app):
    with _systems(make_app) as (app, shop, woo, odoo, crm):
        cfg = app.config["HUB_CONFIG"]
        rows = run_checks(cfg)
        assert _failing(rows) == {}
        assert [(r.subject, r.check) for r in rows if r.result == OK] == [
            ("database", "reachable"), ("database", "migrations"), ("redis", "reachable"),
            ("shop-eu", "token"), ("shop-eu", "API version"), ("shop-eu", "access scopes"), ("woo", "API key"),
            ("woo", "write permission"),
            ("erp", "login"), ("erp", "modules"), ("erp", "rights"), ("crm", "token"),
            ("crm", "deal property hub_order_key")]

        shop.access_scopes = [s for s in shop.access_scopes if s not in ("write_inventory", "read_locations")]
        woo.configure(key_permissions="read")
        odoo.orm.tables["ir.module.module"] = {i: r for i, r in odoo.orm.tables["ir.module.module"].items()
                                               if r["name"] != "sale_stock"}
        odoo.orm.denied = {("sale.order", "create")}
        assert _failing(run_checks(cfg)) == {
            ("shop-eu", "access scopes"): "missing write_inventory, read_locations: add them to the app's Admin API "
                                          "access scopes and install the new version on the shop",
            ("woo", "write permission"): "refused: The API key provided does not have write permissions. Give the "
                                         "key Read/Write in WooCommerce > Settings > Advanced > REST API",
            ("erp", "modules"): "not installed: sale_stock: install them in Odoo's Apps",
            ("erp", "rights"): "hub may not create sale.order: give the user Sales / Administrator and Inventory / "
                               "User"}

        shop.configure(access_token="shpat_rotated")  # noqa: S106
        failing = _failing(run_checks(cfg))
        assert [k for k in failing if k[0] == "shop-eu"] == [("shop-eu", "API")]  # no scope row after it
        assert failing[("shop-eu", "API")] == (
            "shopify access scopes: HTTP 401 ([API] Invalid API key or access token (unrecognized login or wrong "
            "password)): the credentials were refused: check channels.shop-eu.access_token (the app's Admin API "
            "access token)")

        woo.configure(consumer_secret="cs_regenerated")  # noqa: S106
        woo.configure(consumer_secret=WOO_SECRET, key_permissions="write")  # a Write key: it may not read
        assert _failing(run_checks(cfg))[("woo", "API")].startswith(
            "woocommerce read products: HTTP 401 (The API key provided does not have read permissions.): the "
            "credentials were refused")
        woo.configure(consumer_secret="cs_regenerated", key_permissions="read_write")  # noqa: S106
        odoo.configure(api_key="odoo-key-rotated")
        crm.configure(token="pat-rotated")  # noqa: S106
        failing = _failing(run_checks(cfg))
        assert failing[("woo", "API")].startswith("woocommerce read products: HTTP 401 (")
        assert failing[("woo", "API")].endswith("the credentials were refused: check channels.woo.consumer_key and "
                                                "consumer_secret, a Read/Write key (WooCommerce > Settings > Advanced "
                                                "> REST API)")
        assert failing[("erp", "Odoo")] == (
            "odoo authenticate: login 'hub' refused on database 'shop' (wrong login or API key): check erp.db, "
            "erp.login and erp.api_key (the user's API key: Preferences > Account Security)")
        assert failing[("crm", "HubSpot")] == (
            "hubspot deal pipelines: HTTP 401 (Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
            "oauth-overview): the credentials were refused: check crm.token (the private app's access token)")
        assert not any(secret in str(failing) for secret in (SHOP_TOKEN, WOO_KEY, WOO_SECRET, "odoo-key", "pat-doctor"))


def test_a_shopify_api_version_no_longer_served_is_a_failing_row(make_app):
    with _systems(make_app) as (app, shop, _woo, _odoo, _crm):
        shop.api_version = "2027-01"  # Shopify retired 2026-07: it answers with the oldest version it serves
        rows = {(r.subject, r.check): (r.result, r.detail) for r in run_checks(app.config["HUB_CONFIG"])}
    assert rows[("shop-eu", "API version")] == (FAIL, "Shopify answered 2026-07 with 2027-01: it no longer serves "
                                                      "2026-07; update the hub to a release written for a supported "
                                                      "version")


def test_fix_creates_hubspots_hub_order_key_and_the_cli_exits_by_the_result(make_app, tmp_path, monkeypatch):
    with _systems(make_app, hub_properties=False) as (app, _shop, _woo, _odoo, crm):
        cfg = app.config["HUB_CONFIG"]
        assert _failing(run_checks(cfg)) == {("crm", "deal property hub_order_key"): (
            "missing (deals are upserted by it): run `hub doctor --fix` to create it")}
        path = cli_config(tmp_path / "hub.yaml", app.extensions["hub"], list(cfg.channels), monkeypatch,
                          erp={"url": cfg.erp.url, "db": "shop", "login": "hub", "api_key": "odoo-key"},
                          crm={"url": cfg.crm.url, "token": "pat-doctor"})
        res = CliRunner().invoke(cli, ["--config", str(path), "doctor"])
        assert res.exit_code == 1 and "crm       deal property hub_order_key  FAIL" in res.output, res.output
        res = CliRunner().invoke(cli, ["--config", str(path), "doctor", "--fix"])
        assert res.exit_code == 0 and "deal property hub_order_key  ok      created (unique)" in res.output, res.output
        assert crm.properties[("deals", "hub_order_key")]["hasUniqueValue"] is True
        assert [r.detail for r in run_checks(cfg) if r.check == "deal property hub_order_key"] == ["present"]


def test_stores_down_are_failing_rows_not_a_traceback(make_app):
    app = make_app(database_url="postgresql://hub@127.0.0.1:1/nothing", redis_url="redis://127.0.0.1:1/0",
                   channels={})
    rows = run_checks(app.config["HUB_CONFIG"])
    failing = _failing(rows)
    assert set(failing) == {("database", "reachable"), ("redis", "reachable")}
    assert failing[("redis", "reachable")] == ("redis://127.0.0.1:1/0: ConnectionError (check redis_url / "
                                               "HUB_REDIS_URL and that the server runs)")
    assert failing[("database", "reachable")].startswith("postgresql://hub@127.0.0.1:1/nothing: OperationalError: ")

    def stores(database_url: str, redis_url: str) -> dict[tuple[str, str], str]:
        cfg = load_config_dict({"database_url": database_url, "redis_url": redis_url, "channels": {}}, environ={})
        return _failing(run_checks(cfg))

    assert stores("not a url:pw", "not a url:pw") == {
        ("database", "reachable"): "database_url is not a database URL (sqlite:///var/hub.db, "
                                   "postgresql://user@host/db): check database_url / HUB_DATABASE_URL",
        ("redis", "reachable"): "redis_url is not a Redis URL (redis://host:6379/0, rediss://, unix://, or embedded): "
                                "check redis_url / HUB_REDIS_URL"}
    assert stores("mysql://hub:s3cret@127.0.0.1:1/shop", "redis://:s3cret@127.0.0.1:1/0") == {
        ("database", "reachable"): "mysql://hub:***@127.0.0.1:1/shop: No module named 'MySQLdb': the hub runs on "
                                   "SQLite or PostgreSQL (psycopg 3): check database_url / HUB_DATABASE_URL",
        ("redis", "reachable"): "redis://:***@127.0.0.1:1/0: ConnectionError (check redis_url / HUB_REDIS_URL and "
                                "that the server runs)"}


def test_wrong_token_on_the_command_line_exits_1_with_its_row_and_no_traceback_or_secret(make_app, tmp_path,
                                                                                         monkeypatch):
    with _systems(make_app) as (app, shop, _woo, _odoo, _crm):
        cfg = app.config["HUB_CONFIG"]
        path = cli_config(tmp_path / "hub.yaml", app.extensions["hub"], list(cfg.channels), monkeypatch,
                          erp={"url": cfg.erp.url, "db": "shop", "login": "hub", "api_key": "odoo-key"},
                          crm={"url": cfg.crm.url, "token": "pat-doctor"})
        shop.configure(access_token="shpat_rotated")  # noqa: S106
        res = CliRunner().invoke(cli, ["--config", str(path), "doctor"])
    assert res.exit_code == 1, res.output
    row = next(line for line in res.output.splitlines() if line.startswith("shop-eu"))
    assert row.split()[:3] == ["shop-eu", "API", "FAIL"] and row.endswith("check channels.shop-eu.access_token (the "
                                                                          "app's Admin API access token)")
    assert res.output.splitlines()[-1] == "1 check(s) failed"
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)  # sys.exit(1), nothing raised
    assert not any(secret in res.output for secret in (SHOP_TOKEN, WOO_KEY, WOO_SECRET, "odoo-key", "pat-doctor"))


def test_webhook_subscriptions_the_hub_needs_fail_until_it_subscribes(make_app):
    with _systems(make_app, public_url="https://hub.example.com") as (app, _shop, _woo, _odoo, _crm):
        cfg = app.config["HUB_CONFIG"]
        failing = _failing(run_checks(cfg))
        assert set(failing) == {("shop-eu", "webhooks"), ("woo", "webhooks")}
        assert failing[("woo", "webhooks")] == (
            "7 of 7 topic(s) not delivered to the hub (customer.created: missing; customer.updated: missing; "
            "order.created: missing; ...): run `hub channels subscribe`")
        for cid in ("shop-eu", "woo"):
            check(app.extensions["hub"], cid)  # what `hub channels subscribe` runs
        rows = {(r.subject, r.check): (r.result, r.detail) for r in run_checks(cfg)}
    assert rows[("woo", "webhooks")][0] == rows[("shop-eu", "webhooks")][0] == OK
    assert rows[("woo", "webhooks")][1].endswith("topic(s) active, pointed at the hub")


def test_platforms_down_slow_or_not_there_are_one_failing_row_each(make_app, monkeypatch):
    ports = {name: free_port() for name in ("shop", "woo", "erp", "crm", "stripe")}  # nothing listens there
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    channels = {
        "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"], "shop": "down.myshopify.com",
                    "access_token": SHOP_TOKEN, "api_url": url["shop"], "locations": {"1": "main"}},
        "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"], "url": url["woo"], "consumer_key": WOO_KEY,
                "consumer_secret": WOO_SECRET, "locations": {"default": "main"}},
        "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"], "api_key": "sk_test_doctor",
                   "api_url": url["stripe"]}}
    app = make_app(channels=channels, erp={"url": url["erp"], "db": "shop", "login": "hub", "api_key": "odoo-key"},
                   crm={"url": url["crm"], "token": "pat-doctor"})
    started = time.monotonic()
    rows = run_checks(app.config["HUB_CONFIG"])
    assert time.monotonic() - started < doctor.CHECK_TIMEOUT_S
    assert _failing(rows) == {
        ("shop-eu", "API"): f"shopify access scopes: no answer from {url['shop']} (connection refused): check "
                            "channels.shop-eu.api_url and that it is up",
        ("woo", "API"): f"woocommerce read products: no answer from {url['woo']} (connection refused): check "
                        "channels.woo.url and that it is up",
        ("stripe", "API key"): f"stripe list events: no answer from {url['stripe']} (connection refused): check "
                               "channels.stripe.api_url and that it is up",
        ("erp", "Odoo"): f"odoo authenticate: no answer from {url['erp']} (connection refused): check erp.url and "
                         "that it is up",
        ("crm", "HubSpot"): f"hubspot deal pipelines: no answer from {url['crm']} (connection refused): check crm.url "
                            "and that it is up"}

    page = Flask(__name__)  # a web server that is not the platform: a proxy's default page for every path
    page.add_url_rule("/", "page", lambda **_: "<html><body>Welcome to nginx!</body></html>", methods=["GET", "POST"],
                      defaults={"path": ""})
    page.add_url_rule("/<path:path>", "pages", lambda **_: "<html><body>Welcome to nginx!</body></html>",
                      methods=["GET", "POST"])
    with serve(page) as html:
        for ch in channels.values():
            ch["api_url" if "api_url" in ch else "url"] = html
        app = make_app(channels=channels, erp={"url": html, "db": "shop", "login": "hub", "api_key": "odoo-key"},
                       crm={"url": html, "token": "pat-doctor"})
        failing = _failing(run_checks(app.config["HUB_CONFIG"]))
    not_api = ("answered, but not as the platform's API does (the answer is not JSON (HTTP 200, text/html; "
               "charset=utf-8): <html><body>Welcome to nginx!</body></html>): check")
    assert failing[("shop-eu", "API")] == f"shopify access scopes: {html} {not_api} channels.shop-eu.api_url"
    assert failing[("woo", "API")] == f"woocommerce read products: {html} {not_api} channels.woo.url"
    assert failing[("erp", "Odoo")] == f"odoo authenticate: {html} {not_api} erp.url"
    assert failing[("crm", "HubSpot")] == f"hubspot deal pipelines: {html} {not_api} crm.url"
    assert failing[("stripe", "API key")].startswith("stripe list events: ")  # the stripe library's own words

    crm = HubSpotSandbox(token="pat-doctor", latency=(1.0, 1.0))  # noqa: S106 - answers after a second
    monkeypatch.setattr(doctor, "CHECK_TIMEOUT_S", 0.2)
    with serve(crm.app) as crm_url:
        app = make_app(channels={}, crm={"url": crm_url, "token": "pat-doctor"})
        started = time.monotonic()
        failing = _failing(run_checks(app.config["HUB_CONFIG"]))
    assert time.monotonic() - started < 1.0
    assert failing == {("crm", "HubSpot"): f"hubspot deal pipelines: no answer from {crm_url} (nothing within 0.2 s): "
                                           "check crm.url and that it is up"}
