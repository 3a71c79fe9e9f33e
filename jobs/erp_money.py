"""A paid order's money in the ERP: its invoice made and posted, each settlement registered on it, each refund
a credit note with its refund paid out. Once each, whatever the replays (the connector looks before it
makes anything)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from connectors import PAYMENT_KINDS, order_target
from connectors.odoo.client import OdooClient
from connectors.odoo.invoicing import Credit, Invoicing, Settlement
from connectors.odoo.returns import Returns
from connectors.odoo.sale import SaleOrders, SaleSettings
from hub.config import ErpConfig
from hub.state import Hub
from store.models import erp_orders

from .order_view import OrderView, RefundView, method_names, save
from .tasks import annotate


def invoice_and_pay(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView, so_id: int) -> str:
    """The paid order's invoice (made and posted once) and each settlement registered on it once."""
    invoicing = Invoicing(client, dict(erp.journals))
    invoice = invoicing.ensure_invoice(so_id)
    save(hub, erp_orders, order.id, invoice_id=str(invoice["id"]), invoice_name=invoice["name"])
    registered = [s.memo for s in settlements(order, hub.config.paid_tolerance, erp.journals, gateway_kinds(hub),
                                                  erp.pay_later_methods)
                  if invoice["payment_state"] not in ("paid", "in_payment") and invoicing.register(invoice["id"], s)]
    if registered:
        invoice = invoicing.ensure_invoice(so_id)
    save(hub, erp_orders, order.id, payment_state=invoice["payment_state"])
    annotate(invoice=invoice["name"], payments=registered, payment_state=invoice["payment_state"])
    made = "made" if invoice["created"] else "found"
    return (f"invoice {invoice['name']} {made}, {len(registered)} payment(s) registered, "
            f"{invoice['payment_state'].replace('_', ' ')}")


def gateway_kinds(hub: Hub) -> frozenset[str]:
    return frozenset(c.kind for c in hub.config.channels.values() if c.kind in PAYMENT_KINDS)


def settlements(order: OrderView, tolerance: Decimal, journals: dict[str, str], gateways: frozenset[str],
                pay_later: tuple[str, ...] = ()) -> list[Settlement]:
    """What was paid for the order: its gateway payments, and what the channel itself says it took beyond
    them (an order the channel reports paid, e.g. by Shopify Payments). An order paid by a gateway the hub
    hears from (``gateways``: the kinds of the payment channels configured) waits for that gateway's own
    payment: the money is registered once, as the gateway settled it, whichever webhook comes first. Cash on
    delivery (a pay-later method) is not money in yet: a person registers it when it comes."""
    out = list(order.settlements)
    covered = sum((s.amount for s in out if s.currency == order.currency), Decimal(0))
    if method_names(order.payment_method) & (gateways | set(pay_later)) or not order.paid_on_channel:
        return out
    if covered < order.total - tolerance:
        # on the journal of the gateway the channel names (erp.journals: paypal, ...), else the channel's
        out.append(Settlement(f"{order.channel}:{order.number}", next(iter(sorted(
            method_names(order.payment_method) & set(journals))), order.channel), order.total - covered,
            order.currency))
    return out


def refunds_owed(order: OrderView, credited: list[str] | None) -> list[RefundView]:
    """The order's refunds without a credit note yet. The same money may come twice, from the shop and from
    its gateway (a Shopify refund and PayPal's): the shop's refunds, which say their lines, count when there
    are any, the gateways' otherwise."""
    own = [r for r in order.refunds if r.channel == order.channel]
    return [r for r in own or order.refunds if r.key not in set(credited or ())]


def with_lines(hub: Hub, order: OrderView, owed: list[RefundView]) -> list[RefundView]:
    """Refunds whose lines the webhook did not say (WooCommerce's order body lists refunds by amount only),
    with the lines their shop gives for them, so the credit note carries the refunded goods and their tax."""
    if all(r.lines is not None or r.channel != order.channel for r in owed):
        return owed
    channel = hub.config.channels.get(order.channel)
    target = order_target(channel) if channel else None
    if target is None:
        return owed
    lines = target.refund_lines(order.external_id)
    return [replace(r, lines={sku: Decimal(n) for sku, n in lines[r.external_id].items()})
            if r.lines is None and r.channel == order.channel and lines.get(r.external_id) else r for r in owed]


def credit_refunds(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView, invoice_id: int,
                   owed: list[RefundView], credited: list[str], sale_order_id: int | None = None) -> str:
    """Each refund owed a credit note against the invoice (with its refund paid out), recorded as it lands;
    then what the refunds restocked returned from the sale order's deliveries into Odoo's stock."""
    invoicing = Invoicing(client, dict(erp.journals))
    sales = SaleOrders(client, SaleSettings(adjustment_product=erp.adjustment_product))
    gateways = method_names(order.payment_method) & gateway_kinds(hub)
    owed = with_lines(hub, order, owed)
    done = list(credited)
    notes = []
    for r in owed:
        channel = hub.config.channels.get(r.channel)
        provider = (sorted(gateways)[0] if gateways else r.channel) if r.channel == order.channel else (
            channel.kind if channel else r.channel)
        note = invoicing.ensure_credit_note(invoice_id, Credit(
            f"refund {r.key}", f"refund:{r.key}", provider, r.amount, r.currency, r.lines),
            lambda: sales.product(erp.adjustment_product, "Difference to the channel's total", "service"))
        done.append(r.key)
        save(hub, erp_orders, order.id, credited=done)
        notes.append(f"credit note {note['name']} for refund {r.key} ({r.amount} {r.currency}), "
                     f"{note['payment_state'].replace('_', ' ')}")
    annotate(credit_notes=notes)
    if sale_order_id:
        want: dict[str, Decimal] = {}
        for r in refunds_owed(order, None):  # every refund of the source counted, not only the new ones
            for sku, units in (r.restock or {}).items():
                want[sku] = want.get(sku, Decimal(0)) + units
        if returned := Returns(client).ensure_returned(sale_order_id, want):
            annotate(returns=returned)
            notes.append(f"returned into stock: {', '.join(returned)}")
    return "; ".join(notes)
