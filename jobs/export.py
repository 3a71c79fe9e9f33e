"""export_order: a hub order to the ERP (Odoo) as one sale order, and the runner the ERP and CRM jobs share.

Jobs take an order id and read the order as it is now, so a job that runs late still does the right
thing and a repeated one changes nothing: the partner is matched by email, the sale order by its
``client_order_ref`` (``"<channel>:<order number>"``, fixed at the first attempt), confirmation happens
once the order is paid (or its payment method is pay-later), cancellation when it is cancelled. Each
attempt's outcome is kept on the order's ``erp_orders`` row. ``Retryable`` failures come back as an RQ
``Retry`` with exponential backoff and jitter, up to ``EXPORT_MAX_ATTEMPTS``; ``Permanent`` ones fail
the job at once. Either way the row says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rq import Retry
from sqlalchemy import Connection, Table, select

from connectors.odoo.client import OdooClient
from connectors.odoo.sale import (
    CUSTOM,
    FEE,
    PRODUCT,
    SHIPPING,
    SaleLine,
    SaleOrders,
    SaleOrderSpec,
    SaleSettings,
    ShipTo,
    fallback_notes,
    fingerprint,
    ship_hash,
)
from connectors.outbound import Permanent, Retryable
from domain.orders import raise_alert
from hub.config import ErpConfig
from hub.state import Hub, current_hub
from jobs.queueing import HeldLock, export_lock_key
from mappings.canonical import OrderStatus
from store.models import ExportStatus, erp_orders

from .erp_money import credit_refunds, invoice_and_pay, refunds_owed
from .order_view import OrderView, ensure_row, load_order, method_names, save
from .retry import backoff_s, whole_seconds
from .tasks import annotate, retrying, rq_attempt, task

logger = logging.getLogger(__name__)

EXPORT_MAX_ATTEMPTS = 5
EXPORT_BACKOFF_CAP_S = 600.0
LOCK_WAIT_S = 30
CHANGE_ALERT = "erp_order_changed"  # an order changed on its channel after its sale order went out


class ExportFailed(Exception):
    """An export ended failed (refused, or out of attempts); the message is the reason."""


# ---- the runner both targets share -------------------------------------------------------------------

def attempt_number() -> int:
    """1 for a fresh job, n for its (n-1)th RQ retry; 1 when called outside a worker."""
    return rq_attempt()


def run_export(hub: Hub, target: str, table: Table, order_id: int, retry_base_s: float,
               work: Callable[[OrderView, int], str], max_attempts: int = EXPORT_MAX_ATTEMPTS) -> str | Retry:
    """One attempt of ``work`` on the order under its per-target lock; the outcome on the row.
    ``max_attempts`` 1 (a replay): a retryable failure fails at once instead of returning a ``Retry``."""
    attempt = attempt_number()
    lock = HeldLock(hub.redis.client, export_lock_key(target, order_id), blocking_timeout=LOCK_WAIT_S)
    if not lock.acquire():
        return _retry_or_fail(hub, target, table, order_id, attempt, retry_base_s,
                              Retryable(f"{target}: another job holds order {order_id}"), max_attempts)
    try:
        with hub.engine.connect() as conn:
            order = load_order(conn, order_id, hub.config.paid_tolerance)
        if order is None:
            return f"order {order_id} is gone"
        result = work(order, attempt)
    except Retryable as exc:
        return _retry_or_fail(hub, target, table, order_id, attempt, retry_base_s, exc, max_attempts)
    except Permanent as exc:
        save(hub, table, order_id, status=ExportStatus.FAILED.value, error=str(exc), attempts=attempt)
        logger.warning("export failed", extra={"target": target, "order_id": order_id, "error": str(exc)})
        raise ExportFailed(f"{target} order {order_id}: {exc}") from exc
    finally:
        lock.release()
    save(hub, table, order_id, status=ExportStatus.OK.value, error=None, attempts=attempt)
    logger.info("exported", extra={"target": target, "order_id": order_id, "summary": result})
    return result


def _retry_or_fail(hub: Hub, target: str, table: Table, order_id: int, attempt: int, base_s: float,
                   exc: Retryable, max_attempts: int = EXPORT_MAX_ATTEMPTS) -> Retry:
    if attempt >= max_attempts:
        reason = f"gave up after {attempt} attempts: {exc}"
        save(hub, table, order_id, status=ExportStatus.FAILED.value, error=reason, attempts=attempt)
        raise ExportFailed(f"{target} order {order_id}: {reason}") from exc
    delay = whole_seconds(backoff_s(attempt, base_s, EXPORT_BACKOFF_CAP_S, exc.seconds))
    save(hub, table, order_id, status=ExportStatus.RETRYING.value, error=str(exc), attempts=attempt)
    logger.warning("export will retry", extra={"target": target, "order_id": order_id, "attempt": attempt,
                                                "delay_s": delay, "error": str(exc)})
    retrying(exc)
    return Retry(max=EXPORT_MAX_ATTEMPTS, interval=[delay])


# ---- the ERP -------------------------------------------------------------------------------------------

@task("export_order", entity=lambda order_id: f"order:{order_id}", channel=lambda: "erp")
def export_order(order_id: int, max_attempts: int = EXPORT_MAX_ATTEMPTS) -> str | Retry:
    """RQ job (queue ``erp``): the order's sale order in the ERP, in the state the order calls for."""
    hub = current_hub()
    erp = hub.config.erp
    if erp is None:
        return "no ERP configured"
    client = OdooClient(erp.url, erp.db, erp.login, erp.api_key, erp.timeout_s)
    return run_export(hub, "erp", erp_orders, order_id, erp.retry_base_s,
                      lambda order, _attempt: sync_sale_order(hub, erp, client, order), max_attempts)


def should_confirm(order: OrderView, erp: ErpConfig) -> bool:
    """Paid (or partly), or paid on delivery by a method configured as pay-later."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return False
    return order.paid or bool(method_names(order.payment_method) & set(erp.pay_later_methods))


def sync_sale_order(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView) -> str:
    """The sale order in the state the order calls for, its invoice and payments once paid, then a credit note
    for each refund."""
    with hub.engine.begin() as conn:
        row = ensure_row(conn, erp_orders, order.id, {"ref": erp_ref(conn, order)})
    annotate(idempotency_key=row.ref)  # the first attempt's ref: a renumbered order keeps its sale order
    if order.status is OrderStatus.CANCELLED:
        steps = [_cancel(hub, client, order, row)]
    elif row.state == "cancelled":
        return f"{row.name}: cancelled in the ERP; not reopened"
    elif order.status is OrderStatus.REFUNDED and not row.sale_order_id:
        return "refunded before it reached the ERP: nothing to export"
    else:
        steps = [_sale_order(hub, erp, client, order, row)]
    if owed := refunds_owed(order, row.credited):
        with hub.engine.connect() as conn:
            row = conn.execute(erp_orders.select().where(erp_orders.c.order_id == order.id)).one()
        steps.append(credit_refunds(hub, erp, client, order, int(row.invoice_id), owed, list(row.credited or []),
                                    int(row.sale_order_id) if row.sale_order_id else None)
                     if row.invoice_id else f"{len(owed)} refund(s) wait for an invoice to credit")
    return "; ".join(steps)


def _sale_order(hub: Hub, erp: ErpConfig, client: OdooClient, order: OrderView, row: Any) -> str:
    ref = row.ref
    want = "confirmed" if should_confirm(order, erp) else "draft"
    invoice_owed = want == "confirmed" and order.paid and row.payment_state != "paid"
    settings = sale_settings(erp)
    spec, sales = sale_spec(order, ref), SaleOrders(client, settings)
    made_from, address = fingerprint(spec), ship_hash(spec)
    changed = bool(row.sale_order_id and row.spec_hash and row.spec_hash != made_from)
    # a sale order made before the hub kept its address's hash is taken as it is
    moved = bool(row.sale_order_id and row.ship_hash and row.ship_hash != address)
    if row.sale_order_id and row.state == want and not invoice_owed and not changed and not moved:
        if row.ship_hash is None:
            save(hub, erp_orders, order.id, ship_hash=address)
        return f"{row.name}: already {want}"
    if row.state == "confirmed" and want == "draft" and not changed:
        return f"{row.name}: confirmed (an order is not taken back to draft)"
    partner = int(row.partner_id) if row.partner_id else client.find_or_create_partner(
        order.email or "", order.name, **_partner_address(order))
    save(hub, erp_orders, order.id, partner_id=str(partner))
    so_id, created = sales.ensure(spec, partner)
    # a sale order an earlier version of the hub made (no fingerprint) is taken as it is: its total is not
    # "corrected" after the fact with an adjustment line
    summary, settle = "", row.amount_total is None and (created or row.spec_hash is not None)
    if changed and not created:
        so_id, summary, created, changed_lines = _changed(hub, client, sales, order, row, spec, so_id, partner)
        settle = settle or changed_lines
    if moved and not created:
        summary += _moved(hub, client, sales, order, row, spec, so_id, partner)
    so = client.sale_order(ref) if not row.name or created else {"name": row.name}
    save(hub, erp_orders, order.id, sale_order_id=str(so_id), name=so["name"], spec_hash=made_from,
         ship_hash=address, state="draft" if created else row.state or "draft")
    notes = fallback_notes(spec, settings)
    annotate(sale_order=so["name"], created=created, **({"lines_without_sku": notes} if notes else {}))
    summary = f"{so['name']} ({ref}) {'created' if created else 'found'}" + summary
    if settle:
        total, adjustment = sales.settle_total(so_id, spec, so["amount_total"] if created else None)
        save(hub, erp_orders, order.id, amount_total=total, adjustment=adjustment)
        if adjustment:
            annotate(adjustment=str(adjustment))
            summary += f", {adjustment} {order.currency} on {settings.adjustment_product} to match the channel's total"
    if want == "confirmed":
        client.confirm_sale_order(so_id)
        save(hub, erp_orders, order.id, state="confirmed")
    summary += f", {want}"
    if invoice_owed:
        summary += "; " + invoice_and_pay(hub, erp, client, order, so_id)
    return "; ".join([summary, *notes])


def _changed(hub: Hub, client: OdooClient, sales: SaleOrders, order: OrderView, row: Any, spec: SaleOrderSpec,
             so_id: int, partner: int) -> tuple[int, str, bool, bool]:
    """The order changed on its channel after its sale order was made: a quotation takes the new lines; a
    confirmed order with nothing shipped or invoiced is cancelled and made again; one under way stays as it is,
    with a note on it and an alert for a person. Returns the sale order now, what was done, whether it is a new
    sale order, and whether its lines are the new ones (its total to be settled again)."""
    if row.state != "confirmed":
        sales.replace_lines(so_id, spec)
        return so_id, ": changed on the channel, lines replaced", False, True
    if under_way := client.under_way(so_id):
        _tell_a_person(hub, sales, order, row, so_id, under_way, "changed")
        return so_id, ": changed on the channel after it went out; noted on it, and an alert for a person", False, False
    client.cancel_sale_order(so_id)
    sales.retire(so_id, row.ref, f"order {order.number} changed on {order.channel}: replaced by a new sale order")
    new_id, _ = sales.ensure(spec, partner)
    return new_id, f": changed on the channel; {row.name} cancelled, made again", True, True


def _moved(hub: Hub, client: OdooClient, sales: SaleOrders, order: OrderView, row: Any, spec: SaleOrderSpec,
           so_id: int, partner: int) -> str:
    """The order's delivery address was corrected on its channel: the sale order (and its open transfers) take
    the new one while nothing has gone out; after that, a note on it and an alert for a person."""
    if row.state == "confirmed" and (under_way := client.under_way(so_id)):
        _tell_a_person(hub, sales, order, row, so_id, under_way, "got a new delivery address")
        return "; new delivery address after it went out: noted on it, and an alert for a person"
    sales.readdress(so_id, partner, spec.ship_to)
    return "; delivery address changed"


def _tell_a_person(hub: Hub, sales: SaleOrders, order: OrderView, row: Any, so_id: int, under_way: list[str],
                   what: str) -> None:
    message = (f"order {order.number} {what} on {order.channel} after {row.name} was confirmed, and "
               f"{', '.join(under_way)} already went out: change the sale order in Odoo by hand")
    sales.note(so_id, message)
    with hub.engine.begin() as conn:
        raise_alert(conn, CHANGE_ALERT, row.ref, message, {"order_id": order.id, "sale_order": row.name,
                                                          "under_way": under_way})


def sale_settings(erp: ErpConfig) -> SaleSettings:
    return SaleSettings(delivery_product=erp.delivery_product, fallback_product=erp.fallback_product,
                        adjustment_product=erp.adjustment_product, taxes=dict(erp.taxes),
                        pricelists=dict(erp.pricelists))


def sale_spec(order: OrderView, ref: str) -> SaleOrderSpec:
    """The outbound mapper: the hub order as the sale order's lines, in the channel's figures."""
    if not order.lines:
        raise Permanent(f"order {order.number} has no lines to put on a sale order")
    lines = [SaleLine(PRODUCT if ln.sku else CUSTOM, ln.title, Decimal(ln.quantity), ln.unit_price, ln.discount,
                      ln.tax_rates, ln.sku) for ln in order.lines]
    for c in order.charges:
        amount = Decimal(c["amount"])
        if not amount and not c.get("discount"):
            continue  # free shipping: nothing to say on the sale order
        lines.append(SaleLine(SHIPPING if c["kind"] == "shipping" else FEE, c.get("title"), Decimal(1), amount,
                              Decimal(c.get("discount") or 0), tuple(Decimal(r) for r in c.get("tax_rates") or ())))
    return SaleOrderSpec(ref=ref, channel=order.channel, currency=order.currency,
                         prices_include_tax=order.prices_include_tax, total=order.total, lines=lines,
                         ship_to=ship_to(order))


def ship_to(order: OrderView) -> ShipTo | None:
    """The order's shipping address as the sale order's delivery address; None without a street to go to."""
    a = order.shipping_address or {}
    if not a.get("line1"):
        return None
    country = a.get("country") if len(a.get("country") or "") == 2 else None
    return ShipTo(name=a.get("name") or order.name or order.email or order.ref, street=a.get("line1"),
                  street2=a.get("line2"), city=a.get("city"), zip=a.get("postal_code"),
                  country_code=country.upper() if country else None)


def erp_ref(conn: Connection, order: OrderView) -> str:
    """The sale order's client_order_ref: ``<channel>:<number>``, the number people search by; if another
    hub order of the channel already has it (a shop that reused a number), ``<channel>:<number>/<id>``, so
    the ERP never gives one sale order to two orders (nor the pulled deliveries to the wrong one)."""
    taken = conn.execute(select(erp_orders.c.order_id).where(erp_orders.c.ref == order.ref,
                                                             erp_orders.c.order_id != order.id)).first()
    return f"{order.ref}/{order.external_id}" if taken else order.ref


def _cancel(hub: Hub, client: OdooClient, order: OrderView, row: Any) -> str:
    if row.state == "cancelled":
        return f"{row.name}: already cancelled"
    so = client.sale_order(row.ref)
    if so is None:
        save(hub, erp_orders, order.id, state=None)
        return f"{row.ref}: cancelled before it reached the ERP; nothing to cancel"
    client.cancel_sale_order(so["id"])
    save(hub, erp_orders, order.id, sale_order_id=str(so["id"]), name=so["name"], state="cancelled")
    return f"{so['name']} ({row.ref}) cancelled"


def _partner_address(order: OrderView) -> dict[str, str | None]:
    a = order.address or {}
    return {"street": a.get("line1"), "street2": a.get("line2"), "city": a.get("city"), "zip": a.get("postal_code"),
            "country_code": a.get("country") if len(a.get("country") or "") == 2 else None, "phone": order.phone}
