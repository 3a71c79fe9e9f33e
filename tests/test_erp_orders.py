"""Sale orders as the accountant reads them, on the Odoo sandbox: for every corpus order and the built ones
(EUR, JPY, USD; tax included and excluded; line, order and shipping discounts; fees; a line without a SKU)
Odoo's ``amount_total`` is the channel's total to the cent, in the order's currency, with the channel's
taxes on the lines and shipping on the delivery product. ``test_real_odoo.py`` runs the same cases on a
real Odoo 19."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.emitters import payments as pay
from store.models import erp_orders, tasks

from .support import ADMIN_TOKEN, deliver, order_of, run_worker, shopify_order, stripe
from .support.accounting import ADJUSTMENTS, all_cases, refund
from .support.erp_crm import erp_crm_env, erp_woo_order

CASES = all_cases()


@pytest.fixture
def exported(make_app):
    skus = sorted({sku for c in CASES for sku in c.skus})
    with erp_crm_env(make_app, products=[{"sku": s, "name": s, "price": "1", "quantity": 100} for s in skus]) as env:
        with env.app.test_client() as client:
            for c in CASES:
                deliver(client, c.channel, c.topic, c.body)
        run_worker(env.app)
        yield env


def test_every_order_totals_the_channels_to_the_cent(exported):
    env = exported
    rows = {r.ref: r for r in env.rows(erp_orders)}
    orders = {so["client_order_ref"]: so for so in env.sale_orders()}
    currencies = {c["id"]: c["name"] for c in env.erp.records("res.currency")}
    seen = {c.id: (rows[c.ref].status, rows[c.ref].error, Decimal(str(orders[c.ref]["amount_total"])),
                   currencies[orders[c.ref]["currency_id"][0]], Decimal(rows[c.ref].adjustment)) for c in CASES}
    assert seen == {c.id: ("ok", None, c.total, c.order["currency"].upper(), ADJUSTMENTS.get(c.id, Decimal(0)))
                    for c in CASES}


def test_discount_precision_raised_in_odoo_gives_the_exact_discount(make_app):
    [case] = [c for c in CASES if c.id == "webhook_orders_docs_2022-04.json"]
    with erp_crm_env(make_app, products=[{"sku": "IPOD2008PINK", "name": "iPod", "price": "1"}]) as env:
        env.erp.orm.begin()
        [discount] = env.erp.orm.search("decimal.precision", [("name", "=", "Discount")])
        env.erp.orm.write("decimal.precision", discount, {"digits": 4})
        env.erp.orm.commit()
        with env.app.test_client() as client:
            deliver(client, case.channel, case.topic, case.body)
        env.run()
        [so], [row] = env.sale_orders(), env.rows(erp_orders)
        assert (so["amount_total"], Decimal(row.adjustment)) == (403.0, 0)
        assert [ln["discount"] for ln in env.erp.records("sale.order.line")] == [0.0, 2.5126, 0.0]


def test_lines_carry_the_channels_taxes_discounts_and_shipping(exported):
    env = exported
    [so] = [s for s in env.sale_orders() if s["client_order_ref"] == "shop-eu:#8101"]
    lines = [ln for ln in env.erp.records("sale.order.line") if ln["order_id"][0] == so["id"]]
    taxes = {t["id"]: t for t in env.erp.records("account.tax")}
    assert [(ln["name"].split("] ")[-1], ln["product_uom_qty"], ln["price_unit"], ln["discount"], ln["is_delivery"])
            for ln in lines] == [("ACC-TEE", 2, 24.95, 10.0, False), ("ACC-MUG", 1, 12.5, 0.0, False),
                                 ("Standard", 1, 4.95, 0.0, True)]
    assert {(taxes[t]["amount"], taxes[t]["price_include_override"]) for ln in lines for t in ln["tax_ids"]} == {
        (21.0, "tax_included")}
    assert (so["amount_untaxed"], so["amount_tax"]) == (51.54, 10.82)  # the body's total_tax: 10.82


def test_a_line_without_a_sku_goes_on_the_fallback_product_and_the_task_says_so(exported):
    env = exported
    [so] = [s for s in env.sale_orders() if s["client_order_ref"] == "shop-eu:#8103"]
    lines = [ln for ln in env.erp.records("sale.order.line") if ln["order_id"][0] == so["id"]]
    [custom] = [ln for ln in lines if ln["product_id"][1].startswith("[HUB-CUSTOM]")]
    assert (custom["name"], custom["price_unit"]) == ("Item 2", 7.49)
    with env.hub.engine.connect() as conn:
        details = [t.detail or {} for t in conn.execute(tasks.select().where(tasks.c.kind == "export_order"))]
    assert ["line 2 (Item 2) has no SKU: on HUB-CUSTOM"] in [d.get("lines_without_sku") for d in details]


def test_replaying_the_exports_changes_nothing_in_the_erp(exported):
    env = exported
    before = {m: len(env.erp.records(m)) for m in ("sale.order", "sale.order.line", "account.tax",
                                                     "product.product", "product.pricelist")}
    for row in env.rows(erp_orders):
        env.hub.queues.enqueue_exports({row.order_id})
    run_worker(env.app)
    assert {m: len(env.erp.records(m)) for m in before} == before


def test_a_partly_paid_order_is_not_released_until_the_money_covers_its_total(make_app, auth):
    """Stripe captures 15.00 of a 40.00 order: the sale order stays a quotation (the warehouse does not ship),
    nothing is invoiced; 24.99 more, within the 0.01 tolerance of the total, and it is confirmed, invoiced,
    and both payments are registered on the journal mapped for Stripe (0.01 left due: a person writes it off)."""
    with erp_crm_env(make_app, erp_journals={"stripe": "Bank"}) as env, env.app.test_client() as client:
        env.deliver(erp_woo_order("pending", "stripe"))
        stripe(client, pay.stripe_payment("114", 1500, "usd", intent_id="pi_part"))
        env.run()
        assert [so["state"] for so in env.sale_orders()] == ["draft"]
        assert order_of(client, auth, "woo")["status"] == "partially_paid"
        assert env.erp.records("account.move") == []
        stripe(client, pay.stripe_payment("114", 2499, "usd", intent_id="pi_rest"))
        env.run()
        assert [so["state"] for so in env.sale_orders()] == ["sale"]
        assert order_of(client, auth, "woo")["status"] == "paid"
        [invoice] = env.erp.records("account.move")
        assert (invoice["state"], invoice["amount_total"], invoice["amount_residual"], invoice["payment_state"]) == (
            "posted", 40.0, 0.01, "partial")
        assert [(p["memo"], p["amount"], p["journal_id"][1]) for p in env.erp.records("account.payment")] == [
            ("stripe:pi_part", 15.0, "Bank"), ("stripe:pi_rest", 24.99, "Bank")]


def test_a_paid_order_is_invoiced_and_paid_once_whatever_the_replays(make_app):
    """Stripe pays a pending Woo order in full: its sale order is confirmed, invoiced (posted) and the payment
    registered, so Odoo shows the invoice paid; five replays of the export add no invoice and no payment."""
    with erp_crm_env(make_app) as env, env.app.test_client() as client:
        env.deliver(erp_woo_order("pending", "stripe"))
        stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_all"))
        env.run()
        [row] = env.rows(erp_orders)
        for _ in range(5):
            env.hub.queues.enqueue_exports({row.order_id})
            env.run()
        [invoice] = env.erp.records("account.move")
        [payment] = env.erp.records("account.payment")
        assert (invoice["name"], invoice["state"], invoice["payment_state"], invoice["ref"]) == (
            "INV/2026/00001", "posted", "paid", "woo:114")
        assert (payment["memo"], payment["amount"], payment["journal_id"][1], payment["currency_id"][1]) == (
            "stripe:pi_all", 40.0, "Bank", "USD")  # no journal mapped: Odoo's first bank journal
        [row] = env.rows(erp_orders)
        assert (row.invoice_name, row.payment_state, row.state) == ("INV/2026/00001", "paid", "confirmed")


def test_the_channels_own_payment_goes_on_its_journal_and_cash_on_delivery_waits(make_app):
    """A Shopify order Shopify Payments took (no gateway webhook for it): the channel's settlement, on the
    journal mapped for the channel; a cash-on-delivery Woo order is invoiced but nothing is registered."""
    with erp_crm_env(make_app, erp_journals={"shop-eu": "Shopify Payments"}) as env, env.app.test_client() as client:
        env.erp.orm.begin()
        env.erp.orm.create("account.journal", {"name": "Shopify Payments", "code": "SHOP", "type": "bank"})
        env.erp.orm.commit()
        body = shopify_order("2026-11-22T06:48:10-05:00", financial="paid", payment_gateway_names=["shopify_payments"])
        for line, sku in zip(body["line_items"], ("PW-000", "PT-M"), strict=False):
            line["sku"] = sku
        deliver(client, "shop-eu", "orders/create", body)
        env.deliver(erp_woo_order("processing", "cod"))
        env.run()
        moves = {m["ref"]: m for m in env.erp.records("account.move")}
        assert (moves["shop-eu:#1001"]["payment_state"], moves["woo:114"]["payment_state"]) == ("paid", "not_paid")
        [payment] = env.erp.records("account.payment")
        assert (payment["memo"], payment["journal_id"][1], payment["amount"]) == (
            "shop-eu:#1001", "Shopify Payments", float(body["total_price"]))



def test_refunds_become_credit_notes_with_their_lines_and_money_paid_back_once(make_app):
    """A paid EUR order (21 % included) is refunded twice: one returned tee (22.46, its line at the invoice's
    price, discount and tax) and the shipping (4.95, no line: on the adjustment product). Two credit notes,
    posted, each with its refund paid out on the channel's journal; five replays make nothing more."""
    [case] = [c for c in CASES if c.id == "shopify-eur-vat-included"]
    with erp_crm_env(make_app, products=[{"sku": s, "name": s, "price": "1"} for s in sorted(case.skus)]) as env, \
            env.app.test_client() as client:
        deliver(client, case.channel, case.topic, case.body)
        env.run()
        deliver(client, "shop-eu", "refunds/create", refund(501, case.body, "22.46", {"ACC-TEE": 1}))
        deliver(client, "shop-eu", "refunds/create", refund(502, case.body, "4.95", {}))
        env.run()
        [row] = env.rows(erp_orders)
        for _ in range(5):
            env.hub.queues.enqueue_exports({row.order_id})
            env.run()
        moves = env.erp.records("account.move")
        notes = [m for m in moves if m["move_type"] == "out_refund"]
        assert [(m["ref"], m["state"], m["amount_total"], m["payment_state"]) for m in notes] == [
            ("refund shop-eu:501", "posted", 22.46, "paid"), ("refund shop-eu:502", "posted", 4.95, "paid")]
        lines = [ln for ln in env.erp.records("account.move.line") if ln["move_id"][0] == notes[0]["id"]]
        assert [(ln["product_id"][1], ln["quantity"], ln["price_unit"], ln["discount"]) for ln in lines] == [
            ("[ACC-TEE] ACC-TEE", 1.0, 24.95, 10.0)]
        shipping = [ln for ln in env.erp.records("account.move.line") if ln["move_id"][0] == notes[1]["id"]]
        assert [(ln["product_id"][1], ln["price_unit"], ln["tax_ids"]) for ln in shipping] == [
            ("[HUB-ADJUST] Difference to the channel's total", 4.95, [])]
        payments = [(p["memo"], p["payment_type"], p["amount"]) for p in env.erp.records("account.payment")]
        assert payments == [("shop-eu:#8101", "inbound", 62.36), ("refund:shop-eu:501", "outbound", 22.46),
                            ("refund:shop-eu:502", "outbound", 4.95)]
        [invoice] = [m for m in moves if m["move_type"] == "out_invoice"]
        assert invoice["payment_state"] == "paid"
        [row] = env.rows(erp_orders)
        assert row.credited == ["shop-eu:501", "shop-eu:502"]


def edited(body: dict, modified: str) -> dict:
    """The order with one more PW-000 (10.00): 50.00 in all."""
    body = dict(body, date_modified_gmt=modified, total="50.00")
    first = dict(body["line_items"][0], quantity=3, subtotal="30.00", total="30.00", price=10)
    body["line_items"] = [first, *body["line_items"][1:]]
    return body


def test_a_changed_order_changes_its_quotation(make_app):
    with erp_crm_env(make_app) as env:
        env.deliver(erp_woo_order("on-hold", "bacs"))
        env.run()
        env.deliver(edited(erp_woo_order("on-hold", "bacs"), "2026-11-22T07:00:00"), topic="order.updated")
        env.run()
        [so] = env.sale_orders()
        assert (so["state"], so["amount_total"], so["client_order_ref"]) == ("draft", 50.0, "woo:114")
        assert [ln["product_uom_qty"] for ln in env.erp.records("sale.order.line")] == [3.0, 1.0]


def test_a_changed_confirmed_order_with_nothing_out_is_cancelled_and_made_again(make_app):
    """Cash on delivery: confirmed, not invoiced, nothing shipped."""
    with erp_crm_env(make_app) as env:
        env.deliver(erp_woo_order("on-hold", "cod"))
        env.run()
        env.deliver(edited(erp_woo_order("on-hold", "cod"), "2026-11-22T07:00:00"), topic="order.updated")
        env.run()
        assert [(s["client_order_ref"], s["state"], s["amount_total"]) for s in env.sale_orders()] == [
            ("woo:114 (replaced)", "cancel", 40.0), ("woo:114", "sale", 50.0)]
        [row] = env.rows(erp_orders)
        assert (row.name, row.state, Decimal(row.amount_total)) == ("S00002", "confirmed", Decimal(50))


def test_a_changed_order_already_invoiced_stays_with_a_note_in_odoo_and_an_alert(make_app):
    with erp_crm_env(make_app) as env, env.app.test_client() as client:
        env.deliver(erp_woo_order("pending", "stripe"))
        stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_x"))
        env.run()
        env.deliver(edited(erp_woo_order("processing", "stripe"), "2026-11-22T07:00:00"), topic="order.updated")
        env.run()
        [so] = env.sale_orders()
        assert (so["state"], so["amount_total"]) == ("sale", 40.0)
        [note] = [m for m in env.erp.records("mail.message") if m["res_id"] == so["id"]]
        assert "changed on woo after S00001 was confirmed, and INV/2026/00001 already went out" in note["body"]
        alerts = client.get("/api/alerts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["alerts"]
        assert [(a["kind"], a["key"]) for a in alerts] == [("erp_order_changed", "woo:114")]


def test_a_sale_order_made_before_the_exact_totals_is_left_as_it_was(make_app):
    """An order exported by an earlier hub (no fingerprint, no total kept) whose Odoo total differs from the
    channel's: its next export takes the sale order as it is; no adjustment line is added after the fact."""
    with erp_crm_env(make_app) as env:
        env.deliver(erp_woo_order("on-hold", "bacs"))
        env.run()
        env.erp.orm.begin()
        [line] = env.erp.orm.search("sale.order.line", [("price_unit", "=", 20.0)])
        env.erp.orm.write("sale.order.line", line, {"price_unit": 19.0})  # as the older export left it
        env.erp.orm.commit()
        with env.hub.engine.begin() as conn:
            conn.execute(erp_orders.update().values(spec_hash=None, amount_total=None, adjustment=None))
        env.deliver(erp_woo_order("processing", "bacs", modified="2026-11-22T08:00:00"), topic="order.updated")
        env.run()
        [so] = env.sale_orders()
        assert (so["state"], so["amount_total"]) == ("sale", 39.0)
        assert len(env.erp.records("sale.order.line")) == 2
        [row] = env.rows(erp_orders)
        assert row.spec_hash is not None and row.amount_total is None  # from now on, changes are followed


def addressed(body: dict, street: str, modified: str | None = None) -> dict:
    """The order billed to Ada at 1 Main St, Springfield, shipped to ``street`` there."""
    home = {"address_1": "1 Main St", "city": "Springfield", "postcode": "12345", "country": "US"}
    body = dict(body, billing={**body["billing"], **home},
                shipping={**body["shipping"], **home, "first_name": "Ada", "last_name": "Peer", "address_1": street})
    return dict(body, date_modified_gmt=modified) if modified else body


def delivery_of(env, so: dict) -> tuple[str, str | None, str | None]:  # noqa: ANN001
    [partner] = [p for p in env.erp.records("res.partner") if p["id"] == so["partner_shipping_id"][0]]
    return partner["street"], partner["type"], partner["parent_id"] and partner["parent_id"][1]


def test_a_corrected_delivery_address_reaches_the_sale_order_and_its_transfer(make_app):
    """Issue 21: an address corrected on the channel never reached Odoo. The sale order ships to a delivery
    contact under the customer (the customer itself when the order goes to the billing address); a corrected
    address while nothing went out moves the sale order and its open transfer, and nothing else."""
    with erp_crm_env(make_app) as env:
        env.deliver(addressed(erp_woo_order("on-hold", "cod"), "1 Main St"))  # cash on delivery: confirmed
        env.run()
        [so] = env.sale_orders()
        assert so["partner_shipping_id"] == so["partner_id"]  # shipped to where it is billed
        env.deliver(addressed(erp_woo_order("on-hold", "cod"), "2 Side St", "2026-11-22T07:00:00"),
                    topic="order.updated")
        env.run()
        [so] = env.sale_orders()  # the same sale order: the lines did not change
        assert (so["state"], delivery_of(env, so)) == ("sale", ("2 Side St", "delivery", "Ada Peer"))
        [picking] = env.erp.records("stock.picking")
        assert picking["partner_id"][0] == so["partner_shipping_id"][0]
        partners = len(env.erp.records("res.partner"))
        for _ in range(3):
            env.hub.queues.enqueue_exports({env.rows(erp_orders)[0].order_id})
            env.run()
        assert len(env.erp.records("res.partner")) == partners and len(env.sale_orders()) == 1


def test_a_delivery_address_corrected_after_the_goods_went_out_is_left_to_a_person(make_app):
    with erp_crm_env(make_app) as env, env.app.test_client() as client:
        env.deliver(addressed(erp_woo_order("pending", "stripe"), "1 Main St"))
        stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_x"))
        env.run()
        env.deliver(addressed(erp_woo_order("processing", "stripe"), "2 Side St", "2026-11-22T07:00:00"),
                    topic="order.updated")
        env.run()
        [so] = env.sale_orders()
        assert delivery_of(env, so)[0] == "1 Main St"
        [note] = [m for m in env.erp.records("mail.message") if m["res_id"] == so["id"]]
        assert "got a new delivery address on woo after S00001 was confirmed" in note["body"]
        alerts = client.get("/api/alerts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["alerts"]
        assert [(a["kind"], a["key"]) for a in alerts] == [("erp_order_changed", "woo:114")]
