"""``hub demo``: the whole back-office story against a running hub and its sandboxes, narrated.

A small catalogue is seeded on both shops, in Odoo and in the hub's ledger (once: a later run reuses
it). Then a WooCommerce order is placed, paid through Stripe, shipped from Odoo with a tracking number
and delivered by the carrier; a Shopify order is paid through PayPal and fulfilled in Shopify. After
each step the demo waits, with a timeout, for every effect the hub should cause, reading them only
through the hub's admin API and the sandboxes' control APIs, and says in plain words what changed
where; an effect that does not come stops the demo with what was seen instead. A summary table of
the records in every system ends it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from hub.config import Config
from mappings.canonical import currency_exponent
from sandbox.demo_systems import Clock, DemoError, NotYet, Remote, one, table
from sandbox.stack import first_channel, plan

CATALOGUE = [("DEMO-MUG", "Demo mug", "12.00"), ("DEMO-TEE-M", "Demo tee, size M", "20.00"),
             ("DEMO-CAP", "Demo cap", "15.00")]
SEED_QUANTITY = 10
SANDBOXES_START_S = 30  # hub run starts the sandboxes beside the hub: they may answer a moment after it
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "address_1": "12 St James's Square",
       "city": "London", "postcode": "SW1Y 4JH", "country": "GB", "phone": "+44 20 7946 0000"}
GRACE = {"first_name": "Grace", "last_name": "Hopper", "address1": "1 Navy Yard", "city": "Arlington",
         "zip": "22202", "country": "United States", "country_code": "US", "province": "Virginia",
         "province_code": "VA"}
WOO_LINES = [("DEMO-MUG", 2), ("DEMO-TEE-M", 1)]
SHOP_LINES = [("DEMO-CAP", 1)]
ODOO_STATES = {"draft": "quotation", "sent": "quotation sent", "sale": "confirmed", "cancel": "cancelled"}
PULL_MODULE = "jobs.erp_pull"  # the hub's pull of done Odoo deliveries (hub erp pull, hub scheduler)
PULL_MARGIN_S = 15.0  # waiting for the scheduled pull of Odoo deliveries: two intervals and this
START_HINT = "Start the hub and its sandboxes first, in another terminal: hub --config {config} run (README command 1)"


def _tracking(carrier: str) -> str:
    """A fresh tracking number per run in the carrier's format (USPS: 22 digits; UPS: 1Z and 16 characters)."""
    digits = f"{time.time_ns() // 1000 % 10**16:016d}"
    return f"940011{digits}" if carrier == "usps" else f"1Z999AA1{digits[-10:]}"


class Demo:
    """The story, step by step; ``say`` prints a line."""

    def __init__(self, cfg: Config, hub_url: str, timeout_s: float, say: Callable[[str], None]) -> None:
        self.cfg, self.say = cfg, say
        hint = START_HINT.format(config=cfg.source)
        self.hub = Remote("the hub", hub_url, hint, {"Authorization": f"Bearer {cfg.admin_token}"})
        self.clock = Clock(timeout_s, self._failed_events, self._hub_health)
        sims = {s.system: s for s in reversed(plan(cfg))}  # the first of each system
        missing = [name for name in ("shopify", "woocommerce", "odoo", "hubspot", "emitter") if name not in sims]
        if missing:
            raise DemoError(f"{cfg.source} does not simulate {', '.join(missing)}: the demo needs a sandbox: section "
                            "and every URL (shop api_url, woo url, erp.url, crm.url) on this machine, as in "
                            "hub.example.yaml")
        sb_hint = ("hub run starts the sandboxes when the config has a sandbox: section; or run them alone: "
                   f"hub --config {cfg.source} sandboxes")
        self.shop_id, self.woo_id = sims["shopify"].key, sims["woocommerce"].key
        self.shop = Remote("the Shopify sandbox", sims["shopify"].url, sb_hint)
        self.woo = Remote("the WooCommerce sandbox", sims["woocommerce"].url, sb_hint)
        self.odoo = Remote("the Odoo sandbox", sims["odoo"].url, sb_hint)
        self.crm = Remote("the HubSpot sandbox", sims["hubspot"].url, sb_hint)
        self.emitter = Remote("the webhook emitter service", sims["emitter"].url, sb_hint)
        self.location = next(iter(sims["shopify"].locations.values()), None)
        shop_cfg = cfg.channels[self.shop_id]
        self.warehouse = next(iter(shop_cfg.locations.values()), "main")
        self.carrier_kind = next((k for k in ("easypost", "aftership", "shippo") if first_channel(cfg, k)), None)

    # ---- the story -----------------------------------------------------------------------------------

    def run(self) -> None:
        self.preflight()
        try:
            self.catalogue()
            woo = self.woo_order()
            self.stripe_payment(woo)
            tracking = self.erp_delivery(woo)
            self.carrier_updates(woo, tracking)
            self.shopify_order()
        except DemoError:
            self._hub_health()  # a sandbox gone with the whole hub run: say the hub stopped, not the sandbox
            raise
        self.summary()

    def step(self, title: str) -> None:
        self.say(f"\n{title}")
        self.clock.mark()

    def done(self, text: str) -> None:
        self.say(f"   ok  {text}  (+{self.clock.elapsed()})")

    def preflight(self) -> None:
        self.say(f"hub demo: the hub at {self.hub.base}, config {self.cfg.source}")
        health = self.hub.answers("/readyz")
        if health.status_code != 200:
            raise DemoError(f"the hub answers at {self.hub.base} but is not ready ({health.status_code}: "
                            f"{health.text.strip()[:200]})")
        if self.hub.answers("/api/orders?limit=1").status_code == 401:
            raise DemoError(f"the hub refused the admin token: the demo uses admin_token from {self.cfg.source} "
                            "(or HUB_ADMIN_TOKEN); it must be the running hub's")
        for remote in (self.emitter, self.shop, self.woo, self.odoo, self.crm):  # hub run starts them beside it
            remote.wait_up("/_sandbox/", SANDBOXES_START_S)
        directory = self.emitter.get("/_sandbox/")
        if directory["hub_url"].rstrip("/") != self.hub.base:
            raise DemoError(f"the sandboxes send their webhooks to {directory['hub_url']}, not to {self.hub.base}: "
                            "give hub demo the same --hub-url as the hub run / hub sandboxes it talks to")
        for remote in (self.shop, self.woo, self.odoo, self.crm):
            remote.answers("/_sandbox/stats")
        self.say("   sandboxes: " + ", ".join(f"{r.name.removeprefix('the ').removesuffix(' sandbox')} {r.base}"
                                              for r in (self.shop, self.woo, self.odoo, self.crm, self.emitter)))

    def catalogue(self) -> None:
        self.step(f"0. Catalogue: {len(CATALOGUE)} products on Shopify, WooCommerce and Odoo, "
                  f"{SEED_QUANTITY} of each")
        skus = [sku for sku, _, _ in CATALOGUE]
        seeded = []
        # read before Odoo is seeded: the scheduled ERP pull may count Odoo's new stock into the ledger
        # meanwhile (the same 10 of each), and the narration would depend on which came first
        in_hub = {lv["sku"] for lv in self.hub.get("/api/stock")["levels"]}
        on_shop = set(self.shop.get("/_sandbox/stock"))
        if stale := [sku for sku in skus if sku in in_hub and sku not in on_shop]:
            raise DemoError(f"the hub remembers {', '.join(stale)} from an earlier run (its records under var/ are "
                            "kept), but the sandboxes started empty (they keep nothing between runs): stop the hub "
                            f"(Ctrl-C) and start both clean with: hub --config {self.cfg.source} run --fresh")
        if missing := [c for c in CATALOGUE if c[0] not in on_shop]:
            ids = self.shop.post("/_sandbox/seed", {"products": [
                {"title": name, "variants": [{"sku": sku, "price": price,
                                              "available": {self.location: SEED_QUANTITY} if self.location else None}]}
                for sku, name, price in missing]})["variants"]
            self.hub.post("/api/links", [{"channel": self.shop_id, "sku": sku, "product_id": str(v["product_id"]),
                                          "variant_id": str(v["variant_id"]),
                                          "inventory_item_id": str(v["inventory_item_id"])} for sku, v in ids.items()])
            seeded.append("Shopify (and the hub's links to its variants)")
        on_woo = set(self.woo.get("/_sandbox/stock"))
        if missing := [c for c in CATALOGUE if c[0] not in on_woo]:
            self.woo.post("/_sandbox/seed", {"products": [{"name": name, "sku": sku, "price": price,
                                                          "stock_quantity": SEED_QUANTITY}
                                                         for sku, name, price in missing]})
            seeded.append("WooCommerce")
        in_odoo = {p.get("default_code") for p in self.odoo.get("/_sandbox/records/product.product")}
        if missing := [c for c in CATALOGUE if c[0] not in in_odoo]:
            self.odoo.post("/_sandbox/products", {"products": [{"sku": sku, "name": name, "price": price,
                                                                "quantity": SEED_QUANTITY}
                                                               for sku, name, price in missing]})
            seeded.append("Odoo")
        if missing := [sku for sku in skus if sku not in in_hub]:
            lines = "\n".join(f'{{"sku": "{sku}", "warehouse": "{self.warehouse}", "on_hand": {SEED_QUANTITY}}}'
                              for sku in missing)
            self.hub.post("/api/stock/snapshot", data=lines)
            seeded.append(f"the hub's ledger (warehouse {self.warehouse})")
        self.say(f"   seeded {', '.join(seeded)}" if seeded else "   already there from an earlier run: kept as it is")
        levels = self.clock.until("both shops to show what the hub publishes", lambda: self._published(skus))
        self.done("both shops show what the hub publishes: " + ", ".join(f"{s} {q}" for s, q in levels.items()))

    def woo_order(self) -> dict[str, Any]:
        self.step("1. Ada Lovelace orders on WooCommerce and pays by SEPA Direct Debit through Stripe")
        before = self._levels([sku for sku, _ in WOO_LINES])
        order = self.woo.post("/_sandbox/orders", {
            "lines": [{"sku": s, "quantity": q} for s, q in WOO_LINES], "billing": ADA,
            "shipping": {k: v for k, v in ADA.items() if k != "email"}, "payment_method": "stripe_sepa",
            "payment_method_title": "SEPA Direct Debit"})
        self.say(f"   WooCommerce: order #{order['number']}, " + ", ".join(f"{q} x {s}" for s, q in WOO_LINES)
                 + f", {order['total']} {order['currency']}, {order['status']} until the debit clears (WooCommerce "
                 "takes the stock at once); it sends order.created")
        hub = self.clock.until(f"the hub to store WooCommerce order #{order['number']}",
                               lambda: self._hub_order(self.woo_id, str(order["id"])))
        self.done(f"hub: order {hub['id']} ({self.woo_id} #{hub['number']}), status {hub['status']}, "
                  f"{hub['total']['amount']} {hub['total']['currency']}")
        self._stock_lowered(before, WOO_LINES, "WooCommerce", "Shopify")
        ref = f"{self.woo_id}:{hub['number']}"
        so = self.clock.until(f"the Odoo sale order {ref}", lambda: self._sale_order(ref, "draft"))
        partner = so["partner_id"][1] if so.get("partner_id") else "?"
        self.done(f"Odoo: partner {partner} <{ADA['email']}>, sale order {so['name']} ({ref}, "
                  f"{so['amount_total']:.2f}) left in draft: not confirmed while unpaid")
        deal = self.clock.until("the HubSpot deal and its note",
                                lambda: self._deal(f"{self.woo_id}:{hub['external_id']}", "decisionmakerboughtin",
                                                   [f"Order {hub['number']} placed"]))
        self.done(f"HubSpot: contact {ADA['email']}, deal \"{deal['properties']['dealname']}\" at stage "
                  f"{deal['properties']['dealstage']}, note \"{deal['note']}\"")
        return {**hub, "sale_order": so["name"], "ref": ref, "remote_id": order["id"]}

    def stripe_payment(self, order: dict[str, Any]) -> None:
        self.step("2. The debit clears: Stripe reports the payment")
        total = Decimal(order["total"]["amount"])
        currency = order["total"]["currency"]
        minor = int(total.scaleb(currency_exponent(currency)))
        sent = self.emitter.post("/_sandbox/stripe/payments", {"order_ref": order["external_id"], "amount_minor": minor,
                                                               "currency": currency.lower(), "email": ADA["email"]})
        intent = sent["event"]["data"]["object"]["id"]
        self.say(f"   Stripe: payment_intent.succeeded {intent}, {total} {currency}, metadata.order_id = "
                 f"{order['external_id']} (signed with the {sent['channel']} channel's secret; hub answered "
                 f"{sent['hub_status']})")
        paid = self.clock.until(f"order {order['id']} to be paid",
                                lambda: self._hub_status(order["id"], "paid", payment=intent))
        self.done(f"hub: payment {intent} matched to order {order['id']}, which is now {paid['status']}")
        so = self.clock.until(f"Odoo to confirm {order['sale_order']}", lambda: self._sale_order(order["ref"], "sale"))
        self.done(f"Odoo: sale order {so['name']} confirmed (state {so['state']}): released to the warehouse")
        invoice = self.clock.until(f"Odoo to invoice {order['sale_order']} and register the payment",
                                   lambda: self._invoice(order["ref"], "paid"))
        self.done(f"Odoo: invoice {invoice['name']} ({invoice['amount_total']:.2f}) posted and paid by {intent}, "
                  "for the accountant")
        woo = self.clock.until(f"WooCommerce order #{order['number']} to show it paid",
                               lambda: self._woo_status(order["remote_id"], "processing"))
        self.done(f"WooCommerce: order #{order['number']} is {woo['status']}: the hub marked it paid with Stripe's "
                  f"payment (transaction {woo['transaction_id']}), so Ada no longer sees it awaiting payment")
        deal = self.clock.until("the HubSpot deal to be won, with a payment note",
                                lambda: self._deal(f"{self.woo_id}:{order['external_id']}", "closedwon",
                                                   [f"Order {order['number']} paid"]))
        self.done(f"HubSpot: deal at stage {deal['properties']['dealstage']}, note \"{deal['note']}\"")

    def erp_delivery(self, order: dict[str, Any]) -> str:
        self.step("3. The warehouse ships it: the delivery is validated in Odoo with a USPS tracking number")
        tracking = _tracking("usps")
        picking = self.odoo.post("/_sandbox/deliver", {"order": order["sale_order"], "tracking_ref": tracking,
                                                       "carrier": "USPS"})
        interval = getattr(self.cfg.erp, "pull_interval_s", 0)
        self.say(f"   Odoo: delivery {picking['name']} of {order['sale_order']} is done, USPS {tracking}; the hub "
                 f"pulls done deliveries from Odoo (hub scheduler, every {interval} s; hub erp pull by hand)")
        if importlib.util.find_spec(PULL_MODULE) is None:
            hint = (f"This hub has no pull of Odoo deliveries ({PULL_MODULE.replace('.', '/')}.py, "
                    "hub erp pull): nothing brings the tracking number from Odoo to the hub")
        elif not interval:
            hint = "erp.pull_interval_s is 0: the scheduler does not pull; run hub erp pull"
        else:
            hint = f"hub scheduler pulls every {interval} s (erp.pull_interval_s); see its log, or run hub erp pull"
        shipment = self.clock.until(f"the hub to pull delivery {picking['name']} from Odoo",
                                    lambda: self._shipment(tracking, order["id"]),
                                    timeout_s=max(self.clock.timeout_s, 2 * interval + PULL_MARGIN_S), hint=hint)
        self.done(f"hub: shipment {shipment['id']} ({shipment['carrier']} {tracking}) on order {order['id']}, "
                  f"status {shipment['status']}")
        woo = self.clock.until(f"WooCommerce order #{order['number']} to show the tracking and be completed",
                               lambda: self._woo_completed(order["remote_id"], tracking))
        self.done(f"WooCommerce: order #{order['number']} is {woo['status']}, with a note to the customer: "
                  f"\"{woo['note']}\"")
        deal = self.clock.until("the HubSpot shipping note",
                                lambda: self._deal(f"{self.woo_id}:{order['external_id']}", None,
                                                   [f"Order {order['number']} shipped: USPS {tracking}"]))
        self.done(f"HubSpot: note \"{deal['note']}\"")
        return tracking

    def carrier_updates(self, order: dict[str, Any], tracking: str) -> None:
        kind = self.carrier_kind
        if kind is None:
            raise DemoError(f"{self.cfg.source} has no carrier channel (easypost, aftership or shippo)")
        self.step(f"4. The carrier reports the parcel: {kind} webhooks, in transit, then delivered")
        # the scans of a parcel that has just shipped: in transit a second ago, delivered now (scans back-dated
        # hours came before the order itself on its timeline)
        start = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        carrier = "USPS" if kind == "easypost" else "usps"
        for statuses, expect in ((["in_transit"], "in_transit"), (["in_transit", "delivered"], "delivered")):
            sent = self.emitter.post(f"/_sandbox/carriers/{kind}", {
                "tracking_number": tracking, "carrier": carrier, "statuses": statuses, "start": start,
                "every_s": 1})
            self.say(f"   {kind}: {tracking} {statuses[-1].replace('_', ' ')} (hub answered {sent['hub_status']})")
            shipment = self.clock.until(f"the shipment to be {expect}", lambda e=expect: self._shipment(tracking,
                                                                                                   order["id"], e))
            self.done(f"hub: shipment {shipment['id']} {shipment['status']}"
                      + (f" at {shipment['delivered_at']}" if shipment.get("delivered_at") else ""))
        hub = self.clock.until(f"order {order['id']} to be delivered",
                               lambda: self._hub_status(order["id"], "delivered"))
        self.done(f"hub: order {hub['id']} is {hub['status']}: complete")
        deal = self.clock.until("the HubSpot delivery note", lambda: self._deal(
            f"{self.woo_id}:{order['external_id']}", "closedwon",
            [f"Order {order['number']} delivered: USPS {tracking}"]))
        self.done(f"HubSpot: note \"{deal['note']}\"; the deal's timeline: {len(deal['notes'])} notes")

    def shopify_order(self) -> None:
        self.step("5. Grace Hopper orders on Shopify, pays with PayPal; the order is fulfilled in Shopify")
        before = self._levels([sku for sku, _ in SHOP_LINES])
        placed = self.shop.post("/_sandbox/orders", {
            "lines": [{"sku": s, "quantity": q} for s, q in SHOP_LINES], "financial_status": "pending",
            "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
            "shipping_address": GRACE})
        self.say(f"   Shopify: order {placed['name']}, " + ", ".join(f"{q} x {s}" for s, q in SHOP_LINES)
                 + f", {placed['total_price']} {placed['currency']}, payment pending")
        hub = self.clock.until(f"the hub to store Shopify order {placed['name']}",
                               lambda: self._hub_order(self.shop_id, str(placed["id"])))
        ref = f"{self.shop_id}:{hub['number']}"
        self._stock_lowered(before, SHOP_LINES, "Shopify", "WooCommerce")
        self.clock.until(f"the Odoo sale order {ref}", lambda: self._sale_order(ref, "draft"))
        self.done(f"hub: order {hub['id']} {hub['status']}; Odoo: sale order {ref} in draft")
        sent = self.emitter.post("/_sandbox/paypal/captures", {"order_ref": str(placed["id"]),
                                                               "amount": placed["total_price"],
                                                               "currency": placed["currency"]})
        capture = sent["event"]["resource"]["id"]
        self.say(f"   PayPal: PAYMENT.CAPTURE.COMPLETED {capture}, custom_id = {placed['id']} (signed with the "
                 f"sandbox's certificate; hub answered {sent['hub_status']})")
        self.clock.until(f"order {hub['id']} to be paid", lambda: self._hub_status(hub["id"], "paid", payment=capture))
        so = self.clock.until(f"Odoo to confirm {ref}", lambda: self._sale_order(ref, "sale"))
        self.done(f"hub: order {hub['id']} paid; Odoo: {so['name']} confirmed")
        tracking = _tracking("ups")
        self.shop.post(f"/_sandbox/orders/{placed['id']}/fulfill", {"tracking_number": tracking, "company": "UPS"})
        self.say(f"   Shopify: the merchant fulfils {placed['name']} with UPS {tracking}; Shopify sends "
                 "fulfillments/create")
        shipment = self.clock.until("the hub's shipment from the Shopify fulfillment",
                                    lambda: self._shipment(tracking, hub["id"]))
        self.clock.until(f"order {hub['id']} to be fulfilled", lambda: self._hub_status(hub["id"], "fulfilled"))
        deal = self.clock.until("the HubSpot deal with its notes", lambda: self._deal(
            f"{self.shop_id}:{hub['external_id']}", "closedwon",
            [f"Order {hub['number']} {step}" for step in ("placed", "paid", f"shipped: UPS {tracking}")]))
        self.done(f"hub: shipment {shipment['id']} (UPS {tracking}, already on Shopify: nothing pushed back), "
                  f"order fulfilled; HubSpot: deal won, {len(deal['notes'])} notes")

    def summary(self) -> None:
        self.step("6. Records in every system")
        skus = [sku for sku, _, _ in CATALOGUE]
        levels = self.clock.until("the stock to agree on the hub and both shops", lambda: self._published(skus))
        rows: list[tuple[str, ...]] = []
        orders = self._all("/api/orders", "orders")
        rows.append(("hub", f"{_n(len(orders), 'order')} ({_by(orders, 'status')}), "
                     f"{_n(len(self.hub.get('/api/customers', limit=500)['customers']), 'customer')}, "
                     f"{_n(len(self._all('/api/payments', 'payments')), 'payment')}, "
                     f"{_n(len(self._all('/api/shipments', 'shipments')), 'shipment')}, "
                     f"{_n(self._event_count(), 'webhook')} received"))
        shop_orders, shop_stats = self.shop.get("/_sandbox/orders"), self.shop.get("/_sandbox/stats")
        rows.append(("Shopify", f"{_n(len(self.shop.get('/_sandbox/stock')), 'SKU')}, {_n(len(shop_orders), 'order')} "
                     f"({_by(shop_orders, 'fulfillment_status', 'unfulfilled')}), "
                     f"{_n(shop_stats['webhooks']['sent'], 'webhook')} sent, "
                     f"{_n(shop_stats['mutations'], 'API write')} from the hub"))
        woo_orders, woo_stats = self.woo.get("/_sandbox/orders"), self.woo.get("/_sandbox/stats")
        rows.append(("WooCommerce", f"{_n(len(self.woo.get('/_sandbox/stock')), 'SKU')}, "
                     f"{_n(len(woo_orders), 'order')} ({_by(woo_orders, 'status')}), "
                     f"{_n(sum(o['customer_notes'] for o in woo_orders), 'customer note')}, "
                     f"{_n(woo_stats['webhooks']['sent'], 'webhook')} sent, {_n(woo_stats['writes'], 'API write')} "
                     "from the hub"))
        partners = [p for p in self.odoo.get("/_sandbox/records/res.partner") if p.get("email")]
        sale_orders = [{**so, "state": ODOO_STATES.get(so["state"], so["state"])}
                       for so in self.odoo.get("/_sandbox/records/sale.order")]
        done = [p for p in self.odoo.get("/_sandbox/records/stock.picking") if p["state"] == "done"]
        invoices = self.odoo.get("/_sandbox/records/account.move")
        rows.append(("Odoo", f"{_n(len(partners), 'customer')}, {_n(len(sale_orders), 'sale order')} "
                     f"({_by(sale_orders, 'state')}), {_n(len(invoices), 'invoice')} "
                     f"({_by(invoices, 'payment_state')}), "
                     f"{_n(len(self.odoo.get('/_sandbox/records/account.payment')), 'payment')}, "
                     f"{_n(len(done), 'delivery', 'deliveries')} done"))
        counts = {kind: len(self.crm.get(f"/_sandbox/records/{kind}")) for kind in ("contacts", "deals", "notes")}
        rows.append(("HubSpot", f"{_n(counts['contacts'], 'contact')}, {_n(counts['deals'], 'deal')}, "
                     f"{_n(counts['notes'], 'note')}"))
        sent = self.emitter.get("/_sandbox/")["sent"]
        rows.append(("emitters", ", ".join(f"{what} x{n}" for what, n in sorted(sent.items())) or "nothing sent"))
        rows.append(("stock", ", ".join(f"{sku} {q}" for sku, q in levels.items())
                     + " available: the same on the hub, Shopify and WooCommerce"))
        for line in table(rows, ("system", "records")):
            self.say(f"   {line}")
        self.say("\nThe story is complete. Look around: GET /api/orders, /api/shipments, /api/reports/carriers "
                 f"on {self.hub.base} (Authorization: Bearer <admin_token>), and each sandbox's /_sandbox/ "
                 "control API.")

    # ---- probes: a value once the effect shows, else NotYet with what is there --------------------------

    def _levels(self, skus: list[str]) -> dict[str, tuple[int, int]]:
        shop, woo = self.shop.get("/_sandbox/stock"), self.woo.get("/_sandbox/stock")
        return {sku: (sum(shop.get(sku, {}).values()), woo.get(sku)) for sku in skus}

    def _published(self, skus: list[str]) -> dict[str, int]:
        hub = {lv["sku"]: lv["available"] for lv in self.hub.get("/api/stock")["levels"] if lv["sku"] in skus}
        shown = self._levels(skus)
        wrong = [f"{sku}: hub {hub.get(sku)}, Shopify {s}, WooCommerce {w}" for sku, (s, w) in shown.items()
                 if not (hub.get(sku) == s == w)]
        if wrong:
            raise NotYet("; ".join(wrong))
        return {sku: hub[sku] for sku in skus}

    def _stock_lowered(self, before: dict[str, tuple[int, int]], lines: list[tuple[str, int]], shop: str,
                       other: str) -> None:
        want = {sku: before[sku][0] - qty for sku, qty in lines}

        def probe() -> dict[str, tuple[int, int]]:
            now = self._levels(list(want))
            wrong = [f"{sku}: Shopify {s}, WooCommerce {w} (want {want[sku]})" for sku, (s, w) in now.items()
                     if not (s == w == want[sku])]
            if wrong:
                raise NotYet("; ".join(wrong))
            return now
        self.clock.until("the stock to go down on both shops", probe)
        self.done("stock on both shops: " + ", ".join(f"{sku} {before[sku][0]} -> {q}" for sku, q in want.items())
                  + f" ({shop} took its own stock; the hub's ledger committed the units and published the new "
                  f"count to {other})")

    def _hub_order(self, channel: str, external_id: str) -> dict[str, Any]:
        found = self.hub.get("/api/orders", channel=channel, q=external_id)["orders"]
        return one(found, f"order {external_id} of {channel} in the hub", lambda o: o["external_id"] == external_id)

    def _hub_status(self, order_id: int, status: str, payment: str | None = None) -> dict[str, Any]:
        order = self.hub.get(f"/api/orders/{order_id}")
        if payment and payment not in {p["external_id"] for p in order["payments"]}:
            raise NotYet(f"payment {payment} not matched to order {order_id} (payments: "
                         f"{[p['external_id'] for p in order['payments']]})")
        if order["status"] != status:
            raise NotYet(f"order {order_id} is {order['status']}")
        return order

    def _sale_order(self, ref: str, state: str) -> dict[str, Any]:
        so = one(self.odoo.get("/_sandbox/records/sale.order"), f"sale order {ref}",
                 lambda r: r.get("client_order_ref") == ref)
        if so["state"] != state:
            raise NotYet(f"sale order {so['name']} is in state {so['state']}")
        return so

    def _invoice(self, ref: str, payment_state: str) -> dict[str, Any]:
        invoice = one(self.odoo.get("/_sandbox/records/account.move"), f"the invoice of {ref}",
                      lambda m: m.get("ref") == ref and m.get("move_type") == "out_invoice")
        if invoice["payment_state"] != payment_state:
            raise NotYet(f"invoice {invoice['name']} is {invoice['state']}, {invoice['payment_state']}")
        return invoice

    def _woo_status(self, woo_id: int, status: str) -> dict[str, Any]:
        order = self.woo.get(f"/_sandbox/orders/{woo_id}")
        if order["status"] != status:
            raise NotYet(f"WooCommerce order #{order['number']} is {order['status']}")
        return order

    def _deal(self, key: str, stage: str | None, notes: list[str]) -> dict[str, Any]:
        deal = one(self.crm.get("/_sandbox/records/deals"), f"deal {key}",
                   lambda d: d["properties"].get("hub_order_key") == key)
        if stage and deal["properties"].get("dealstage") != stage:
            raise NotYet(f"deal {key} is at stage {deal['properties'].get('dealstage')}")
        linked = {str(a["toObjectId"]) for a in self.crm.get(f"/_sandbox/associations/deals/{deal['id']}/notes")}
        bodies = [n["properties"].get("hs_note_body") or "" for n in self.crm.get("/_sandbox/records/notes")
                  if str(n["id"]) in linked]
        for want in notes:
            matching = [b for b in bodies if b.startswith(want)]
            if not matching:
                raise NotYet(f"deal {key} has notes {bodies}, none starting {want!r}")
            if len(matching) > 1:
                raise DemoError(f"deal {key} has {len(matching)} notes starting {want!r}: a duplicate")
        return {**deal, "notes": bodies, "note": next(b for b in bodies if b.startswith(notes[-1]))}

    def _shipment(self, tracking: str, order_id: int, status: str | None = None) -> dict[str, Any]:
        shipment = one(self.hub.get("/api/shipments")["shipments"], f"shipment {tracking}",
                       lambda s: s["tracking_number"] == tracking)
        if shipment["order_id"] != order_id:
            raise NotYet(f"shipment {tracking} is on order {shipment['order_id']}")
        if status and shipment["status"] != status:
            raise NotYet(f"shipment {tracking} is {shipment['status']}")
        return shipment

    def _woo_completed(self, woo_id: int, tracking: str) -> dict[str, Any]:
        order = self.woo.get(f"/_sandbox/orders/{woo_id}")
        notes = [n["note"] for n in order.get("notes", []) if n.get("customer_note") and tracking in n["note"]]
        if not notes or order["status"] != "completed":
            raise NotYet(f"WooCommerce order {woo_id} is {order['status']} with "
                         f"{'a' if notes else 'no'} tracking note")
        return {"status": order["status"], "note": notes[0]}

    def _all(self, path: str, key: str) -> list[dict[str, Any]]:
        return self.hub.get(path, limit=500)[key]

    def _event_count(self) -> int:
        count, before = 0, None
        while True:
            page = self.hub.get("/api/events", limit=500, **({"before": before} if before else {}))
            count += len(page["events"])
            if len(page["events"]) < 500:
                return count
            before = page["next_before"]

    def _hub_health(self) -> str:
        """What is wrong with the hub while the demo waits ("" when nothing is); DemoError when it stopped
        answering, so a wait for an effect names that rather than its own timeout or a sandbox."""
        try:
            resp = self.hub.http.get(f"{self.hub.base}/readyz", timeout=5)
        except requests.RequestException as exc:
            raise DemoError(f"the hub stopped answering at {self.hub.base} ({type(exc).__name__}): hub run has "
                            "stopped; its terminal says why") from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200:
            bad = ", ".join(f"{k} {v}" for k, v in body.get("checks", {}).items() if v != "ok")
            return f"the hub is not ready: {bad or resp.status_code}"
        if body.get("workers") == 0:
            return ("no hub worker is running (hub run starts a dead one again within seconds; if it keeps dying, "
                    "its terminal says why)")
        return ""

    def _failed_events(self) -> str:
        """The hub's newest failed deliveries, for a timeout's message."""
        try:
            failed = self.hub.get("/api/events", status="failed", limit=3)["events"]
        except DemoError:
            return ""
        return "\n".join(f"   hub event {e['id']} ({e['channel']} {e['topic']}) failed: {e.get('status_reason')}"
                         for e in failed)


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _by(rows: list[dict[str, Any]], key: str, none: str = "none") -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get(key) or none)] = counts.get(str(r.get(key) or none), 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
