"""sync_crm: a hub order to the CRM (HubSpot) as its customer's contact, one deal, and a note per step.

The contact is upserted by email, the deal by its unique ``hub_order_key`` (``"<channel>:<external id>"``)
with the stage following the order status (``ORDER_STATUS_STAGE``) and the amount as a decimal string,
associated to the contact. Timeline notes are rows in ``crm_notes`` keyed ``"<order_id>:<kind>:<ref>"``:
a step is noted once however often it is seen. The job derives the order's own steps (placed, paid,
cancelled) from its state; other parts of the hub add theirs with ``crm_note`` (shipment, delivery,
refund, ...), and the job sends every note still owed. HubSpot has no idempotency key for notes: a note
whose create call got no answer is looked for on the deal's timeline before it is sent again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from rq import Retry
from sqlalchemy import select, update

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.consts import DEFAULT_PIPELINE, ORDER_STATUS_STAGE
from connectors.outbound import Permanent
from domain.notes import money, record_crm_note
from hub.state import Hub, current_hub
from mappings.canonical import OrderStatus
from store.deliveries import utcnow
from store.models import ExportStatus, crm_deals, crm_notes

from .export import EXPORT_MAX_ATTEMPTS, run_export
from .fanout import Owed, owe, owing
from .order_view import OrderView, ensure_row, save
from .tasks import annotate, task

logger = logging.getLogger(__name__)

NOTE_KINDS_OWN = ("placed", "paid", "cancelled")  # the steps sync_crm notes by itself


def crm_note(hub: Hub, order_id: int, kind: str, ref: str, body: str, occurred_at: datetime | None = None) -> bool:
    """A note on the order's CRM timeline (deal and contact), once per (order, kind, ref), e.g.
    ``crm_note(hub, 42, "shipped", "1Z999AA10123456784", "Shipped with UPS: 1Z999AA10123456784")``.
    Recorded in its own transaction, then sent by the order's ``sync_crm`` job (queued once it has committed,
    never lost: ``fanout.owing``). No CRM configured: nothing is recorded. Returns whether the note is new."""
    if hub.config.crm is None:
        return False
    with owing(hub) as conn:
        new = record_crm_note(conn, order_id, kind, ref, body, occurred_at)
        if new:
            owe(conn, Owed(crm=(order_id,)))
    return new


@task("sync_crm", entity=lambda order_id: f"order:{order_id}", channel=lambda: "crm")
def sync_crm(order_id: int, max_attempts: int = EXPORT_MAX_ATTEMPTS) -> str | Retry:
    """RQ job (queue ``crm``): the order's contact, deal and owed notes in the CRM."""
    hub = current_hub()
    crm = hub.config.crm
    if crm is None:
        return "no CRM configured"
    client = HubSpotClient(crm.url, crm.token, crm.timeout_s)
    return run_export(hub, "crm", crm_deals, order_id, crm.retry_base_s,
                      lambda order, _attempt: sync_order(hub, client, order), max_attempts)


def sync_order(hub: Hub, client: HubSpotClient, order: OrderView) -> str:
    with hub.engine.begin() as conn:
        row = ensure_row(conn, crm_deals, order.id, {"order_key": f"{order.channel}:{order.external_id}"})
        for kind, ref, body, at in own_notes(order):
            record_crm_note(conn, order.id, kind, ref, body, at)
    annotate(idempotency_key=row.order_key)
    if not order.email:
        raise Permanent(f"order {order.number} has no email: HubSpot keys contacts by email")
    stage, amount = ORDER_STATUS_STAGE[order.status.value], money(order.total)
    contact_id, deal_id = row.contact_id, row.deal_id
    done = []
    if not (contact_id and deal_id and row.stage == stage and row.amount == amount):
        email = order.email.strip().lower()
        contact_id = client.upsert_contacts([{"email": email, "firstname": order.first_name,
                                              "lastname": order.last_name, "phone": order.phone}])[email]
        deal_id, created = client.upsert_deal(row.order_key, {
            "dealname": f"Order {order.number} ({order.channel})", "amount": amount, "pipeline": DEFAULT_PIPELINE,
            "dealstage": stage, "closedate": order.placed_at, "deal_currency_code": order.currency}, contact_id)
        save(hub, crm_deals, order.id, contact_id=contact_id, deal_id=deal_id, stage=stage, amount=amount)
        done.append(f"deal {deal_id} {'created' if created else 'updated'} ({stage})")
    sent = send_notes(hub, client, order.id, contact_id, deal_id)
    if sent:
        done.append(f"{sent} note(s)")
    return f"order {order.number}: " + (", ".join(done) or "up to date")


def own_notes(order: OrderView) -> list[tuple[str, str, str, datetime | None]]:
    """The order's own steps as notes: (kind, ref, body, when)."""
    total = f"{money(order.total)} {order.currency}"
    out = [("placed", order.number, f"Order {order.number} placed on {order.channel}: {total}, "
            f"{sum(ln.quantity for ln in order.lines)} item(s)", order.placed_at)]
    if order.paid:
        by = f" ({order.payment_method})" if order.payment_method else ""
        out.append(("paid", order.number, f"Order {order.number} paid: {total}{by}", None))
    if order.status is OrderStatus.CANCELLED:
        out.append(("cancelled", order.number, f"Order {order.number} cancelled", order.cancelled_at))
    return out


def send_notes(hub: Hub, client: HubSpotClient, order_id: int, contact_id: str, deal_id: str) -> int:
    """Every note the order still owes, oldest first; -> how many were sent."""
    with hub.engine.connect() as conn:
        owed = conn.execute(select(crm_notes).where(crm_notes.c.order_id == order_id,
                                                    crm_notes.c.status != ExportStatus.OK.value)
                            .order_by(crm_notes.c.id)).all()
    sent = 0
    for note in owed:
        note_id = _already_sent(client, deal_id, note.body) if note.status == ExportStatus.SENDING.value else None
        if note_id is None:
            _save_note(hub, note.id, status=ExportStatus.SENDING.value)
            try:
                note_id = client.add_note(note.body, note.occurred_at, contact_id=contact_id, deal_id=deal_id)
            except Exception as exc:
                # a refusal leaves the note owed, with the reason; the job's failure carries it on
                _save_note(hub, note.id, error=str(exc))
                raise
            sent += 1
        _save_note(hub, note.id, status=ExportStatus.OK.value, note_id=note_id, error=None)
    return sent


def _already_sent(client: HubSpotClient, deal_id: str, body: str) -> str | None:
    """A note with this body on the deal's timeline: the one a lost answer made."""
    for note_id in client.associations("deals", deal_id, "notes"):
        if client.get("notes", note_id, ["hs_note_body"])["properties"].get("hs_note_body") == body:
            return note_id
    return None


def _save_note(hub: Hub, note_row_id: int, **values: object) -> None:
    with hub.engine.begin() as conn:
        conn.execute(update(crm_notes).where(crm_notes.c.id == note_row_id).values(**values, updated_at=utcnow()))


