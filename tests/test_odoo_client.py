"""OdooClient against the Odoo sandbox: idempotent orders, partners, SKU lookups, confirm/cancel rules,
the delivery and quant cursors (pages, equal write_dates), and how failures map to Retryable/Permanent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

import connectors.odoo.client as odoo_client
from connectors.odoo.client import OdooClient
from connectors.odoo.sale import PRODUCT, SaleLine, SaleOrders, SaleOrderSpec, SaleSettings
from connectors.outbound import Permanent, Retryable
from sandbox.base import serve
from sandbox.odoo import OdooSandbox

from .support import OdooClock

DB, LOGIN, KEY = "hub", "hub@example.com", "k-7f3a91-secret"
LINES = [("PW-1", 2, Decimal("10.50")), ("PT-S", 1, Decimal("19.99"))]


@pytest.fixture
def env():
    clock = OdooClock()
    erp = OdooSandbox(db=DB, login=LOGIN, api_key=KEY, clock=clock, timeout_sleep_s=0.6)
    erp.seed_products([{"sku": "PW-1", "name": "Peer Widget", "price": "10.50", "quantity": 100},
                       {"sku": "PT-S", "name": "Peer Tee S", "price": "19.99", "quantity": 100},
                       {"sku": "OLD-1", "name": "Retired", "active": False}])
    erp.reset_stats()
    with serve(erp.app) as url:
        yield erp, OdooClient(url, DB, LOGIN, KEY, timeout_s=0.3), clock, url


def ensure(client, ref, partner, lines=LINES):
    """The sale order of ``lines`` (sku, quantity, unit price), untaxed, in USD."""
    spec = SaleOrderSpec(ref, "shop", "USD", False, sum((Decimal(q) * p for _, q, p in lines), Decimal(0)),
                         [SaleLine(PRODUCT, sku, Decimal(q), p, sku=sku) for sku, q, p in lines])
    return SaleOrders(client, SaleSettings()).ensure(spec, partner)


def order(client, ref="#1001"):
    partner = client.find_or_create_partner("ann@example.com", "Ann")
    return ensure(client, ref, partner)[0]


def test_ensure_sale_order_is_idempotent(env):
    erp, client, _, _ = env
    partner = client.find_or_create_partner("ann@example.com", "Ann", street="1 Rue", city="Paris", zip="75001",
                                            country_code="fr", phone="+33 1")
    results = [ensure(client, "#1001", partner) for _ in range(5)]
    assert results[0][1] is True and all(r == (results[0][0], False) for r in results[1:])
    [so] = erp.records("sale.order")
    assert (so["client_order_ref"], so["state"], so["amount_total"]) == ("#1001", "draft", 40.99)
    assert erp.stats["creates"] == {"res.partner": 1, "sale.order": 1, "sale.order.line": 2}
    assert client.sale_order("#1001") == {"id": so["id"], "name": "S00001", "state": "draft",
                                          "amount_total": Decimal("40.99")}
    assert client.sale_order("#nope") is None


def test_partners_match_by_email_case_insensitively_and_literally(env):
    erp, client, _, _ = env
    first = client.find_or_create_partner("Ann_Lee@Example.com", "Ann Lee", country_code="FR")
    assert client.find_or_create_partner("ann_lee@example.COM", "Someone") == first
    other = client.find_or_create_partner("annxlee@example.com", "Not Ann")  # "_" must not act as a wildcard
    assert other != first
    ann = next(p for p in erp.records("res.partner") if p["id"] == first)
    assert ann["country_code"] == "FR" and ann["name"] == "Ann Lee"
    assert client.find_or_create_partner("x@example.com", "X", country_code="ZZ")  # unknown country: left empty
    with pytest.raises(Permanent, match="email"):
        client.find_or_create_partner("  ", "Nobody")


def test_product_ids_is_one_call_and_ignores_archived_and_unknown(env):
    erp, client, _, _ = env
    client.uid  # noqa: B018 - authenticate first, so the count below is the lookup alone
    erp.reset_stats()
    assert client.product_ids(["PW-1", "PT-S", "OLD-1", "NOPE", "PW-1"]) == {"PW-1": 1, "PT-S": 2}
    assert erp.stats["calls"] == {"product.product search_read": 1}


def test_unknown_sku_is_permanent_with_a_readable_reason(env):
    erp, client, _, _ = env
    partner = client.find_or_create_partner("ann@example.com", "Ann")
    with pytest.raises(Permanent) as exc:
        ensure(client, "#1", partner, [("PW-1", 1, Decimal("1")), ("GHOST-9", 1, Decimal("1")),
                                       ("OLD-1", 1, Decimal("1"))])
    assert str(exc.value) == ("SKU GHOST-9 is not a product in Odoo (default_code); "
                              "SKU OLD-1 is not a product in Odoo (default_code)")
    assert erp.records("sale.order") == []


def test_confirm_and_cancel_rules(env):
    erp, client, _, _ = env
    so = order(client)
    client.confirm_sale_order(so)
    client.confirm_sale_order(so)  # already confirmed: nothing to do
    assert erp.stats["calls"]["sale.order action_confirm"] == 1
    assert [p["state"] for p in erp.records("stock.picking")] == ["assigned"]
    client.cancel_sale_order(so)  # a confirmed order: cancelled, not answered with the wizard
    client.cancel_sale_order(so)
    assert erp.records("sale.order")[0]["state"] == "cancel"
    assert [p["state"] for p in erp.records("stock.picking")] == ["cancel"]
    with pytest.raises(Permanent, match="UserError: Some orders are not in a state requiring confirmation"):
        client.confirm_sale_order(so)


def test_an_order_whose_delivery_is_done_is_not_cancelled(env):
    erp, client, _, _ = env
    so = order(client)
    client.confirm_sale_order(so)
    erp.deliver("S00001", "1Z999", "UPS")
    with pytest.raises(Permanent, match=r"S00001 has a done delivery \(WH/OUT/00001\)"):
        client.cancel_sale_order(so)
    assert erp.records("sale.order")[0]["state"] == "sale"


def test_locked_order_cancel_is_permanent_with_odoos_reason(env):
    erp, client, _, _ = env
    erp.configure(lock_confirmed=True)
    so = order(client)
    client.confirm_sale_order(so)
    with pytest.raises(Permanent, match="You cannot cancel a locked order"):
        client.cancel_sale_order(so)


def test_done_deliveries_cursor_across_pages_and_equal_write_dates(env, monkeypatch):
    erp, client, clock, _ = env
    monkeypatch.setattr(odoo_client, "PAGE_LIMIT", 2)
    erp.seed_carriers(["DHL"])
    for n in range(1, 6):
        client.confirm_sale_order(order(client, f"#{n}"))
    assert client.done_deliveries(None) == ([], None)
    # three deliveries in one second, committed in an order unlike their ids and their microseconds
    for name, micro in (("S00003", 900_000), ("S00001", 100_000), ("S00004", 400_000)):
        clock.at(micro, second=5)
        erp.deliver(name, f"T-{name}", "DHL")
    got, cursor = client.done_deliveries(None)
    assert [d["sale_order_ref"] for d in got] == ["#1", "#4", "#3"]  # write order
    assert got[0] == {"picking": "WH/OUT/00001", "picking_id": 1, "sale_order": "S00001", "sale_order_ref": "#1",
                      "tracking_ref": "T-S00001", "carrier": "DHL",
                      "date_done": datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
                      # what this delivery carried, and every done delivery of its sale order so far (the same)
                      "lines": {"PT-S": Decimal("1"), "PW-1": Decimal("2")},
                      "shipped": {"PT-S": Decimal("1"), "PW-1": Decimal("2")}}
    assert client.done_deliveries(cursor) == ([], cursor)
    clock.at(500_000, second=5)  # the same second as the cursor, a lower id than some reported
    erp.deliver("S00002", "T-2")
    clock.at(0, second=6)
    erp.deliver("S00005", "T-5", "DHL")
    got2, cursor2 = client.done_deliveries(cursor)
    assert [(d["sale_order_ref"], d["carrier"]) for d in got2] == [("#2", None), ("#5", "DHL")]
    assert client.done_deliveries(cursor2) == ([], cursor2)
    all_refs = [d["sale_order_ref"] for d in got + got2]
    assert sorted(all_refs) == ["#1", "#2", "#3", "#4", "#5"]  # none skipped, none twice


def test_stock_quants_cursor_reports_internal_locations_only(env, monkeypatch):
    erp, client, clock, _ = env
    monkeypatch.setattr(odoo_client, "PAGE_LIMIT", 1)
    rows, cursor = client.stock_quants(None)
    assert sorted((r["sku"], r["location"], r["quantity"]) for r in rows) == [
        ("PT-S", "WH/Stock", Decimal("100")), ("PW-1", "WH/Stock", Decimal("100"))]
    assert client.stock_quants(cursor) == ([], cursor)
    client.confirm_sale_order(order(client))
    clock.at(0, second=9)
    erp.deliver("S00001")
    erp.set_quant("OLD-1", 3)
    rows, cursor = client.stock_quants(cursor)
    assert sorted((r["sku"], r["quantity"]) for r in rows) == [("OLD-1", Decimal("3")), ("PT-S", Decimal("99")),
                                                               ("PW-1", Decimal("98"))]
    assert client.stock_quants(cursor) == ([], cursor)


def test_timeout_is_retryable_and_the_retry_finds_the_order(env):
    erp, client, _, _ = env
    partner = client.find_or_create_partner("ann@example.com", "Ann")
    erp.configure(fail_next=[{"model": "sale.order", "method": "create", "error": "timeout"}])
    with pytest.raises(Retryable, match="Timeout"):
        ensure(client, "#1001", partner)
    order_id, created = ensure(client, "#1001", partner)  # the first create did commit
    assert created is False and [s["id"] for s in erp.records("sale.order")] == [order_id]


def test_server_errors_and_concurrency_errors_retry_refusals_do_not(env):
    erp, client, _, url = env
    erp.configure(fail_next=[{"method": "search_read", "error": "server_error"},
                             {"method": "search_read", "error": "psycopg2.errors.SerializationFailure"},
                             {"method": "search_read", "error": "psycopg2.errors.LockNotAvailable"},
                             {"method": "search_read", "error": "odoo.exceptions.ValidationError", "message": "No."}])
    with pytest.raises(Retryable, match="HTTP 502"):
        client.product_ids(["PW-1"])
    with pytest.raises(Retryable, match="could not serialize access"):
        client.product_ids(["PW-1"])
    with pytest.raises(Retryable, match="LockNotAvailable"):
        client.product_ids(["PW-1"])
    with pytest.raises(Permanent, match="odoo product.product.search_read: odoo.exceptions.ValidationError: No."):
        client.product_ids(["PW-1"])
    assert client.product_ids(["PW-1"]) == {"PW-1": 1}
    with pytest.raises(Retryable, match="ConnectionError"):
        OdooClient("http://127.0.0.1:9", DB, LOGIN, KEY, timeout_s=0.3).product_ids(["PW-1"])
    with pytest.raises(Permanent, match='database "other" does not exist'):
        OdooClient(url, "other", LOGIN, KEY, timeout_s=0.3).product_ids(["PW-1"])
    # seen on the real Odoo 19 when its database was re-created under a running server: a retry succeeds
    erp.configure(fail_next=[{"method": "search_read", "error": "psycopg2.InterfaceError",
                              "message": "connection already closed"}])
    with pytest.raises(Retryable, match="connection already closed"):
        client.product_ids(["PW-1"])


def test_a_wrong_key_is_permanent_and_never_shown(env):
    erp, client, _, url = env
    bad = OdooClient(url, DB, LOGIN, "wrong-key-123", timeout_s=0.3)
    with pytest.raises(Permanent) as exc:
        bad.product_ids(["PW-1"])
    assert "refused" in str(exc.value) and "wrong-key-123" not in str(exc.value)
    assert "wrong-key-123" not in repr(bad)
    client.product_ids(["PW-1"])  # authenticated, uid cached
    erp.configure(api_key="rotated")
    with pytest.raises(Permanent) as exc:
        client.product_ids(["PW-1"])
    assert "odoo.exceptions.AccessDenied: Access Denied" in str(exc.value) and KEY not in str(exc.value)
