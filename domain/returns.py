"""Returns applied to the store (caller's transaction): one row per return, keyed by its channel's id.

A return names its order (its id in the channel); its lines name order lines by the channel's line item id, and
take their SKU from the stored order. Status changes come as bodies without lines: the lines stay. Its status
never goes backwards (requested -> open -> closed, declined or canceled), unless the channel reopens it. The
money and the restock of a return come with its refund (``domain.payments.apply_refund``); the return itself
moves no stock. A return whose order the hub has not seen yet keeps its reference and finds the order on its
next delivery, or is found by the order's reading (``hub.api.records``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from mappings.canonical import Return, ReturnStatus
from store.deliveries import utcnow
from store.models import order_lines, returns

from .notes import record_crm_note
from .orders import find_order
from .outcome import lock_row, record_effect
from .progress import RETURN_PROGRESS

ENDED = {ReturnStatus.CLOSED.value, ReturnStatus.DECLINED.value, ReturnStatus.CANCELED.value}


def apply_return(conn: Connection, event_id: int, r: Return, out: Any) -> None:
    key = {"channel": r.origin.channel, "external_id": r.origin.external_id}
    row = lock_row(conn, returns, key)
    order_id = row.order_id if row is not None and row.order_id else find_order(conn, r.order_reference,
                                                                                r.origin.channel)
    status = r.status.value
    if row is not None and not r.reopened and RETURN_PROGRESS.behind(r.status, row.status):
        status = row.status  # a late request after its approval or close: the lines may still be news
    lines = _lines(conn, order_id, r) if r.lines else (row.lines if row is not None else None)
    values = {"order_reference": r.order_reference or (row.order_reference if row else None), "order_id": order_id,
              "name": r.name or (row.name if row else None), "status": status, "lines": lines}
    now = utcnow()
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        out.notes.append(f"return {r.name or r.origin.external_id} unchanged ({status})")
        return
    closed_at = (row.closed_at if row is not None and row.status in ENDED else now) if status in ENDED else None
    if row is None:
        rid = conn.execute(returns.insert().values(**key, **values, created_at=now, updated_at=now,
                                                   closed_at=closed_at)).inserted_primary_key[0]
        effect = "created"
    else:
        conn.execute(returns.update().where(returns.c.id == row.id).values(**values, updated_at=now,
                                                                           closed_at=closed_at))
        rid, effect = row.id, "updated"
    record_effect(conn, event_id, "return", rid, effect)
    name = values["name"] or r.origin.external_id
    what = describe_lines(lines or [])
    out.notes.append(f"return {name} {effect}: {status}" + (f" ({what})" if what else "")
                     + ("" if order_id else ", no order yet"))
    if order_id and (row is None or row.status != status):
        body = f"Return {name} {status}" + (f": {what}" if what else "")
        if record_crm_note(conn, order_id, "return", f"{r.origin.external_id}:{status}", body):
            out.crm.add(order_id)


def describe_lines(lines: list[dict[str, Any]]) -> str:
    """A return's stored lines in words: ``1 x TEE-M, 2 x <line id>``."""
    return ", ".join(f"{ln['quantity']} x {ln['sku'] or ln['line_id']}" for ln in lines)


def _lines(conn: Connection, order_id: int | None, r: Return) -> list[dict[str, Any]]:
    skus: dict[str, str | None] = {}
    if order_id is not None:
        skus = {ext: sku for ext, sku in conn.execute(select(order_lines.c.external_id, order_lines.c.sku).where(
            order_lines.c.order_id == order_id, order_lines.c.external_id.is_not(None)))}
    return [{"line_id": ln.line_external_id, "sku": ln.sku or skus.get(ln.line_external_id or ""),
             "quantity": ln.quantity, "reason": ln.reason, "note": ln.note} for ln in r.lines]
