"""`hub doctor` against the sandboxes, each as the real platform answers: every system ok, then each way a
newcomer's set-up goes wrong gives one failing row that says what to do, and `--fix` creates HubSpot's
hub_order_key. Checked on the real Odoo 19 of ../shared/peers/odoo by hand (see the commit)."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

from click.testing import CliRunner

from hub.cli import cli
from hub.doctor import FAIL, OK, run_checks
from sandbox.base import serve
from sandbox.hubspot import HubSpotSandbox
from sandbox.odoo import OdooSandbox
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

from .support import SECRETS, cli_config

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
            ("shop-eu", "token"), ("shop-eu", "access scopes"), ("woo", "API key"), ("woo", "write permission"),
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
        assert "401" in failing[("shop-eu", "API")] and "Invalid API key or access token" in failing[("shop-eu", "API")]
        assert "shpat_doctor" not in str(failing)  # no secret in a row


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
