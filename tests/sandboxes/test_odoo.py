"""The Odoo sandbox over raw JSON-RPC: the envelope and error shapes of odoo.http, domains, many2one values,
sale order rules (confirm, cancel wizard, locked orders, done deliveries), the control API and faults."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from sandbox.base import serve
from sandbox.odoo import OdooSandbox

from ..support import OdooClock

DB, LOGIN, KEY = "hub", "hub@example.com", "k-7f3a91"


@pytest.fixture
def erp():
    clock = OdooClock()
    sandbox = OdooSandbox(db=DB, login=LOGIN, api_key=KEY, clock=clock)
    sandbox.seed_products([{"sku": "PW-1", "name": "Peer Widget", "price": "10.50", "quantity": 10},
                           {"sku": "PT_S", "name": "Peer Tee", "price": 20, "type": "consu"},
                           {"sku": "OLD-1", "name": "Retired", "active": False}])
    with serve(sandbox.app) as url:
        yield sandbox, url, clock


def rpc(url, service, method, *args, rid=1):
    r = requests.post(f"{url}/jsonrpc", json={"jsonrpc": "2.0", "method": "call", "id": rid,
                                              "params": {"service": service, "method": method, "args": list(args)}},
                      timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    return r.json()


def kw(url, model, method, args, kwargs=None, key=KEY):
    return rpc(url, "object", "execute_kw", DB, 2, key, model, method, args, kwargs or {})


def ok(answer):
    assert "error" not in answer, answer
    return answer["result"]


def error(answer):
    assert set(answer) == {"jsonrpc", "id", "error"}
    err = answer["error"]
    assert err["code"] == 200 and err["message"] == "Odoo Server Error"
    assert set(err["data"]) == {"name", "message", "arguments", "context", "debug"}
    assert err["data"]["debug"].startswith("Traceback (most recent call last):")
    return err["data"]["name"], err["data"]["message"]


def make_order(url, ref="#1001", lines=(("PW-1", 2, 10.5),)):
    partner = ok(kw(url, "res.partner", "create", [{"name": "Ann", "email": "ann@example.com"}]))
    products = {r["default_code"]: r["id"] for r in ok(kw(url, "product.product", "search_read",
                                                          [[]], {"fields": ["default_code"]}))}
    return ok(kw(url, "sale.order", "create", [{"partner_id": partner, "client_order_ref": ref, "order_line": [
        [0, 0, {"product_id": products[sku], "product_uom_qty": qty, "price_unit": price}]
        for sku, qty, price in lines]}]))


def test_version_authenticate_and_the_envelope(erp):
    _, url, _ = erp
    answer = rpc(url, "common", "version", rid=42)
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 42
    assert answer["result"]["server_serie"] == "17.0" and answer["result"]["protocol_version"] == 1
    assert ok(rpc(url, "common", "authenticate", DB, LOGIN, KEY, {})) == 2
    assert ok(rpc(url, "common", "authenticate", DB, LOGIN, "wrong", {})) is False
    assert ok(rpc(url, "common", "authenticate", DB, "someone@else", KEY, {})) is False


def test_errors_come_back_as_odoo_raises_them(erp):
    _, url, _ = erp
    assert error(kw(url, "res.partner", "search", [[]], key="wrong")) == ("odoo.exceptions.AccessDenied",
                                                                        "Access Denied")
    name, message = error(rpc(url, "object", "execute_kw", "nodb", 2, KEY, "res.partner", "search", [[]]))
    assert name == "psycopg2.OperationalError" and 'database "nodb" does not exist' in message
    assert error(kw(url, "crm.lead", "search", [[]])) == ("odoo.exceptions.UserError", "Object crm.lead doesn't exist")
    assert error(kw(url, "sale.order", "frobnicate", [[]])) == (
        "builtins.AttributeError", "The method 'frobnicate' does not exist on the model 'sale.order'")
    assert error(kw(url, "sale.order", "_action_cancel", [[1]])) == (
        "odoo.exceptions.AccessError", "Private methods (such as _action_cancel) cannot be called remotely.")
    assert error(kw(url, "sale.order", "search", [[("nope", "=", 1)]])) == (
        "builtins.ValueError", "Invalid field sale.order.nope in leaf ('nope', '=', 1)")
    assert error(kw(url, "sale.order", "search_read", [[]], {"fields": ["nope"]})) == (
        "builtins.ValueError", "Invalid field 'nope' on model 'sale.order'")
    assert error(kw(url, "sale.order", "read", [[99]])) == (
        "odoo.exceptions.MissingError",
        "Record does not exist or has been deleted.\n(Record: sale.order(99,), User: 2)")
    name, message = error(kw(url, "sale.order", "create", [{"client_order_ref": "x"}]))
    assert name == "odoo.exceptions.ValidationError" and "Field: Customer (partner_id)" in message
    assert error(rpc(url, "nope", "x"))[0] == "builtins.KeyError"
    r = requests.post(f"{url}/jsonrpc", data="{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert (r.status_code, r.text) == (400, "Invalid JSON data")


def test_a_failed_call_changes_nothing(erp):
    erp_, url, _ = erp
    partner = ok(kw(url, "res.partner", "create", [{"name": "Ann"}]))
    error(kw(url, "sale.order", "create", [[{"partner_id": partner, "client_order_ref": "A"},
                                            {"client_order_ref": "B"}]]))
    assert erp_.records("sale.order") == []


def test_domains_prefix_notation_operators_and_many2one(erp):
    _, url, _ = erp
    for name, email, city in (("Ann", "ann_x@example.com", "Paris"), ("Bob", "annax@example.com", "Lyon"),
                              ("Cid", "CID@Example.com", False)):
        ok(kw(url, "res.partner", "create", [{"name": name, "email": email, "city": city, "country_id": 6}]))

    def names(domain, model="res.partner", field="name"):
        return sorted(r[field] for r in ok(kw(url, model, "search_read", [domain], {"fields": [field]})))

    assert names([("email", "=ilike", "cid@example.com")]) == ["Cid"]
    assert names([("email", "=ilike", "ann_x@example.com")]) == ["Ann", "Bob"]  # "_" is a wildcard
    assert names([("email", "=ilike", "ann\\_x@example.com")]) == ["Ann"]
    assert names([("email", "ilike", "EXAMPLE")]) == ["Ann", "Bob", "Cid"]
    assert names(["|", ("name", "=", "Ann"), ("name", "=", "Cid")]) == ["Ann", "Cid"]
    assert names(["!", ("name", "in", ["Ann", "Bob"]), ("email", "!=", False)]) == ["Cid"]
    # != matches NULL; like is case-sensitive
    assert names([("city", "!=", "Paris"), ("email", "like", "xample")]) == ["Bob", "Cid"]
    assert names(["&", ("name", ">=", "B"), ("name", "<", "C")]) == ["Bob"]
    assert names([("name", "not in", ["Ann", "Bob", "Cid"]), ("email", "=", False)]) == [
        "Mitchell Admin", "My Company", "OdooBot"]
    assert names([("country_id", "=", 6), ("country_id.code", "=", "FR")]) == ["Ann", "Bob", "Cid"]
    assert names([("product_id.default_code", "=", "PW-1"), ("location_id.usage", "=", "internal")],
                 "stock.quant", "quantity") == [10.0]
    assert names([("default_code", "in", ["PW-1", "OLD-1"])], "product.product", "default_code") == ["PW-1"]
    assert names([("default_code", "=", "OLD-1"), ("active", "=", False)], "product.product", "default_code") == [
        "OLD-1"]
    ids = ok(kw(url, "res.partner", "search", [[("email", "!=", False)]], {"order": "name desc", "limit": 2}))
    assert [r["name"] for r in ok(kw(url, "res.partner", "read", [ids], {"fields": ["name"]}))] == ["Cid", "Bob"]
    assert ok(kw(url, "res.partner", "search_count", [[("email", "!=", False)]])) == 3
    row = ok(kw(url, "res.partner", "search_read", [[("name", "=", "Ann")]],
                {"fields": ["country_id", "country_code"]}))
    assert row == [{"id": row[0]["id"], "country_id": [6, "France"], "country_code": "FR"}]


def test_create_with_lines_numbering_and_values(erp):
    _, url, clock = erp
    order_id = make_order(url, lines=(("PW-1", 2, 10.5), ("PT_S", 1, 20.0)))
    [order] = ok(kw(url, "sale.order", "read", [[order_id]], {"fields": [
        "name", "state", "partner_id", "client_order_ref", "amount_total", "order_line", "date_order", "write_date"]}))
    assert order["name"] == "S00001" and order["state"] == "draft" and order["client_order_ref"] == "#1001"
    # lines without tax_ids take their product's taxes: the company's 15% sale tax, as a fresh real Odoo does
    assert order["partner_id"][1] == "Ann" and order["amount_total"] == 47.15 and len(order["order_line"]) == 2
    assert order["write_date"] == "2025-03-01 12:00:00"  # seconds only on the wire
    lines = ok(kw(url, "sale.order.line", "read", [order["order_line"]], {"fields": ["product_id", "price_subtotal"]}))
    assert [ln["product_id"][1] for ln in lines] == ["[PW-1] Peer Widget", "[PT_S] Peer Tee"]
    assert make_order(url, "#1002") == order_id + 1
    assert ok(kw(url, "sale.order", "read", [[order_id + 1]], {"fields": ["name"]}))[0]["name"] == "S00002"


def test_confirm_creates_the_delivery_and_cannot_run_twice_or_on_a_cancelled_order(erp):
    erp_, url, _ = erp
    order_id = make_order(url)
    assert ok(kw(url, "sale.order", "action_confirm", [[order_id]])) is True
    [picking] = erp_.records("stock.picking")
    assert (picking["name"], picking["origin"], picking["state"], picking["sale_id"]) == (
        "WH/OUT/00001", "S00001", "assigned", [order_id, "S00001"])
    assert error(kw(url, "sale.order", "action_confirm", [[order_id]])) == (
        "odoo.exceptions.UserError", "Some orders are not in a state requiring confirmation.")
    short = make_order(url, "#short", (("PW-1", 50, 10.5),))
    ok(kw(url, "sale.order", "action_confirm", [[short]]))
    assert erp_.records("stock.picking")[1]["state"] == "confirmed"  # waiting for stock
    draft = make_order(url, "#2")
    ok(kw(url, "sale.order", "action_cancel", [[draft]]))  # a draft cancels without the wizard
    assert error(kw(url, "sale.order", "action_confirm", [[draft]]))[0] == "odoo.exceptions.UserError"


def test_cancel_asks_the_wizard_unless_told_not_to_and_keeps_done_deliveries(erp):
    erp_, url, _ = erp
    order_id = make_order(url)
    ok(kw(url, "sale.order", "action_confirm", [[order_id]]))
    wizard = ok(kw(url, "sale.order", "action_cancel", [[order_id]]))
    assert wizard["res_model"] == "sale.order.cancel" and wizard["type"] == "ir.actions.act_window"
    assert erp_.records("sale.order")[0]["state"] == "sale"  # nothing was cancelled
    erp_.deliver("S00001", "1Z999", "UPS")
    assert ok(kw(url, "sale.order", "action_cancel", [[order_id]], {"context": {"disable_cancel_warning": True}}))
    assert erp_.records("sale.order")[0]["state"] == "cancel"
    assert erp_.records("stock.picking")[0]["state"] == "done"  # Odoo leaves a done delivery done


def test_locked_orders_and_open_deliveries_on_cancel(erp):
    erp_, url, _ = erp
    erp_.configure(lock_confirmed=True)
    locked = make_order(url)
    ok(kw(url, "sale.order", "action_confirm", [[locked]]))
    assert error(kw(url, "sale.order", "action_cancel", [[locked]], {"context": {"disable_cancel_warning": True}})) == (
        "odoo.exceptions.UserError", "You cannot cancel a locked order. Please unlock it first.")
    erp_.configure(lock_confirmed=False)
    open_ = make_order(url, "#2")
    ok(kw(url, "sale.order", "action_confirm", [[open_]]))
    ok(kw(url, "sale.order", "action_cancel", [[open_]], {"context": {"disable_cancel_warning": True}}))
    assert erp_.records("stock.picking")[1]["state"] == "cancel"


def test_deliver_moves_stock_and_stamps_the_picking(erp):
    erp_, url, clock = erp
    make_order(url)
    ok(kw(url, "sale.order", "action_confirm", [[1]]))
    clock.at(250_000, second=30)
    picking = erp_.deliver("S00001", "1Z999", "UPS")
    assert (picking["state"], picking["carrier_id"][1], picking["carrier_tracking_ref"]) == ("done", "UPS", "1Z999")
    assert picking["date_done"] == picking["write_date"] == "2025-03-01 12:00:30"
    quants = {(q["product_id"][1], q["location_id"][1]): q["quantity"] for q in erp_.records("stock.quant")}
    assert quants == {("[PW-1] Peer Widget", "WH/Stock"): 8.0, ("[PW-1] Peer Widget", "Partners/Customers"): 2.0}
    # the database keeps the microseconds: a second-precision "=" does not find it, ">=" and "<" do
    assert ok(kw(url, "stock.picking", "search", [[("write_date", "=", "2025-03-01 12:00:30")]])) == []
    assert ok(kw(url, "stock.picking", "search", [[("write_date", ">=", "2025-03-01 12:00:30"),
                                                   ("write_date", "<", "2025-03-01 12:00:31")]])) == [1]
    with pytest.raises(ValueError, match="no open delivery"):
        erp_.deliver("S00001")


@pytest.mark.parametrize("backorder", [True, False])
def test_a_partial_delivery_leaves_the_rest_to_a_backorder_or_cancels_it(erp, backorder):
    erp_, url, _ = erp
    order_id = make_order(url, lines=(("PW-1", 3, 10.5), ("PT_S", 1, 20.0)))
    ok(kw(url, "sale.order", "action_confirm", [[order_id]]))
    done = erp_.deliver("S00001", "1Z1", "UPS", quantities={"PW-1": 2}, backorder=backorder)
    moves = ok(kw(url, "stock.move", "search_read", [[("picking_id", "=", done["id"])]],
                  {"fields": ["product_id", "product_uom_qty", "quantity", "state"], "order": "id"}))
    shown = [(m["product_id"][1], m["product_uom_qty"], m["quantity"], m["state"]) for m in moves]
    rest = [p for p in erp_.records("stock.picking") if p["backorder_id"]]
    quants = {(q["product_id"][1], q["location_id"][1]): q["quantity"] for q in erp_.records("stock.quant")}
    assert quants[("[PW-1] Peer Widget", "WH/Stock")] == 8.0 and quants[("[PW-1] Peer Widget",
                                                                          "Partners/Customers")] == 2.0
    if backorder:  # what was not picked moved to a new delivery, ready to go
        assert shown == [("[PW-1] Peer Widget", 2.0, 2.0, "done")]
        [bo] = rest
        assert (bo["name"], bo["state"], bo["backorder_id"][0]) == ("WH/OUT/00002", "assigned", done["id"])
        left = ok(kw(url, "stock.move", "search_read", [[("picking_id", "=", bo["id"])]],
                     {"fields": ["product_id", "product_uom_qty", "state"], "order": "id"}))
        assert [(m["product_id"][1], m["product_uom_qty"], m["state"]) for m in left] == [
            ("[PW-1] Peer Widget", 1.0, "assigned"), ("[PT_S] Peer Tee", 1.0, "assigned")]
        erp_.deliver("S00001", "1Z2", "UPS")
        assert [p["state"] for p in erp_.records("stock.picking")] == ["done", "done"]
    else:  # no backorder: the rest is cancelled in the same delivery
        assert rest == [] and shown == [("[PW-1] Peer Widget", 2.0, 2.0, "done"),
                                        ("[PT_S] Peer Tee", 1.0, 0.0, "cancel"),
                                        ("[PW-1] Peer Widget", 1.0, 0.0, "cancel")]
        with pytest.raises(ValueError, match="no open delivery"):
            erp_.deliver("S00001")


def test_faults_fire_once_on_the_call_they_match(erp):
    erp_, url, _ = erp
    erp_.configure(fail_next=[{"model": "sale.order", "method": "search", "error": "server_error"},
                              {"method": "search_read", "error": "psycopg2.errors.SerializationFailure"}])
    assert ok(kw(url, "res.partner", "search", [[]]))  # not matched
    r = requests.post(f"{url}/jsonrpc", json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw", "args": [DB, 2, KEY, "sale.order", "search", [[]]]}}, timeout=5)
    assert r.status_code == 502 and "Bad Gateway" in r.text
    assert error(kw(url, "product.product", "search_read", [[]])) == (
        "psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update\n")
    assert ok(kw(url, "product.product", "search_read", [[]], {"fields": ["name"]}))
    erp_.configure(timeout_sleep_s=0.5, fail_next=[{"model": "res.partner", "method": "create", "error": "timeout"}])
    with pytest.raises(requests.Timeout):
        requests.post(f"{url}/jsonrpc", timeout=0.2, json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [DB, 2, KEY, "res.partner", "create", [{"name": "Z"}]]}})
    assert any(p["name"] == "Z" for p in erp_.records("res.partner"))  # the late answer's work was done
    stats = erp_.stats
    assert stats["injected"] == {"server_error": 1, "psycopg2.errors.SerializationFailure": 1, "timeout": 1}
    assert stats["calls"]["sale.order search"] == 1 and stats["creates"]["res.partner"] == 1
    erp_.reset_stats()
    assert erp_.stats["calls"] == {} and erp_.stats["creates"] == {}


def test_control_api_over_http(erp):
    _, url, _ = erp
    r = requests.post(f"{url}/_sandbox/products", json={"products": [{"sku": "NEW-1", "name": "New", "price": 5}]},
                      timeout=5)
    assert r.status_code == 201 and r.json() == {"NEW-1": 4}
    assert requests.post(f"{url}/_sandbox/quants", json={"sku": "NEW-1", "quantity": 7}, timeout=5).json()[
        "quantity"] == 7.0
    assert requests.post(f"{url}/_sandbox/quants", json={"sku": "NOPE", "quantity": 7}, timeout=5).status_code == 404
    assert requests.post(f"{url}/_sandbox/deliver", json={"order": "S00404"}, timeout=5).status_code == 404
    assert requests.post(f"{url}/_sandbox/config", json={"bogus": 1}, timeout=5).status_code == 422
    assert len(requests.get(f"{url}/_sandbox/records/product.product", timeout=5).json()) == 4
    assert requests.post(f"{url}/_sandbox/stats/reset", timeout=5).json()["calls"] == {}


def test_clock_ordering_keeps_microseconds(erp):
    erp_, url, clock = erp
    clock.at(900_000)
    a = ok(kw(url, "res.partner", "create", [{"name": "late-in-second"}]))
    clock.now = clock.now - timedelta(microseconds=800_000)
    b = ok(kw(url, "res.partner", "create", [{"name": "early-in-second"}]))
    order = ok(kw(url, "res.partner", "search", [[("id", "in", [a, b])]], {"order": "write_date asc, id asc"}))
    assert order == [b, a]
