"""Payments, refunds and disputes applied to the store and to their orders (caller's transaction).

A payment is keyed by (provider, external id) and version-guarded like every record. It is matched
to its order by the reference it carries, in the sales channel its payment channel is configured
for; once matched it stays matched. A payment whose order the hub has not seen is kept unmatched
(``GET /api/payments?unmatched=1``) until the order arrives (``domain.orders.match_waiting``). A
refund finds its order through its payment, else its reference; a dispute opens an alert.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from mappings.canonical import Payment, PaymentStatus, Refund
from store.deliveries import utcnow
from store.models import orders, payments, refunds

from .orders import find_order, raise_alert, settle_order
from .outcome import lock_row, record_effect, upsert_guarded
from .progress import PAYMENT_PROGRESS

DISPUTE_ALERT = "payment_dispute"


def apply_payment(conn: Connection, event_id: int, p: Payment, out: Any) -> None:

    channel = p.origin.channel if p.origin else None
    key = {"provider": p.provider, "external_id": p.external_id}
    row = lock_row(conn, payments, key)
    reference = p.order_reference or (row.order_reference if row else None)
    order_id = row.order_id if row is not None and row.order_id else None
    newly = None
    if order_id is None:
        newly = order_id = find_order(conn, reference, out.rules.scope(channel))
    values = {"channel": channel, "order_reference": reference, "amount": p.amount.amount,
              "currency": p.amount.currency, "refunded": p.refunded.amount if p.refunded else None,
              "status": p.status.value, "customer_email": p.customer_email, "occurred_at": p.occurred_at}
    if row is not None and row.refunded is not None and values["refunded"] is None:
        values["refunded"] = row.refunded  # a later capture event does not undo a known refund
    if newly:
        values.update(order_id=newly, matched_at=utcnow())
    pid, effect = upsert_guarded(conn, payments, key, values, p.source_updated_at,
                                 lambda stored: PAYMENT_PROGRESS.behind(p.status, stored.status),
                                 any_second=True, stored=row)
    record_effect(conn, event_id, "payment", pid, effect)
    note = f"payment {p.external_id} {effect} ({p.status.value})"
    note += f", order {order_id}" if order_id else ", unmatched (kept until its order arrives)"
    out.notes.append(note)
    if p.status is PaymentStatus.DISPUTED and effect != "stale":
        raise_alert(conn, DISPUTE_ALERT, f"{p.provider}:{p.external_id}",
                    f"{p.provider} payment {p.external_id} disputed: {p.amount}",
                    {"provider": p.provider, "payment": p.external_id, "order_id": order_id,
                     "amount": str(p.amount.amount), "currency": p.amount.currency})
    if p.status is PaymentStatus.FAILED and effect in ("created", "updated") and order_id:
        order_channel = conn.execute(select(orders.c.channel).where(orders.c.id == order_id)).scalar()
        if order_channel in out.rules.note_channels:
            out.failed_payments.add((pid, order_channel))  # the shopper is told on the order, once
    if order_id and (settled := settle_order(conn, out, event_id, order_id)):
        out.notes.append(settled)


# later states of one payment: an undated capture arriving after its refund or dispute changes nothing
def apply_refund(conn: Connection, event_id: int, r: Refund, out: Any) -> None:
    """Keyed by the refund's own id; a later version (e.g. a refund that failed: amount 0) replaces it."""

    key = {"channel": r.origin.channel, "external_id": r.origin.external_id}
    existing = conn.execute(select(refunds).where(*[refunds.c[k] == v for k, v in key.items()])).one_or_none()
    order_id = existing.order_id if existing is not None else None
    if order_id is None and r.payment_external_id:
        order_id = conn.execute(select(payments.c.order_id).where(
            payments.c.external_id == r.payment_external_id, payments.c.order_id.is_not(None)).limit(1)).scalar()
    if order_id is None:
        order_id = find_order(conn, r.order_reference, out.rules.scope(r.origin.channel))
    values = {"order_reference": r.order_reference, "payment_external_id": r.payment_external_id,
              "amount": r.amount.amount, "currency": r.amount.currency, "reason": r.reason,
              "occurred_at": r.occurred_at, "order_id": order_id,
              "restock": [{"sku": li.sku, "quantity": li.quantity} for li in r.restock if li.sku] or None,
              "lines": [{"sku": li.sku, "quantity": li.quantity} for li in r.lines] or None}
    if existing is not None and all(getattr(existing, k) == v for k, v in values.items()):
        # a WooCommerce order body lists all its refunds in every delivery: one already stored is not redone
        out.notes.append(f"refund {r.origin.external_id} unchanged")
        return
    if existing is None:
        rid = conn.execute(refunds.insert().values(**key, **values, created_at=utcnow())).inserted_primary_key[0]
        effect = "created"
    else:
        conn.execute(refunds.update().where(refunds.c.id == existing.id).values(**values))
        rid, effect = existing.id, "updated"
    record_effect(conn, event_id, "refund", rid, effect)
    out.notes.append(f"refund {r.origin.external_id} {effect}: {r.amount}" + ("" if values["order_id"] else
                                                                               ", no order yet"))
    if values["order_id"]:
        out.orders.add(values["order_id"])  # its credit note goes to the ERP, even if the order's status stays
    if values["order_id"] and (settled := settle_order(conn, out, event_id, values["order_id"])):
        out.notes.append(settled)
