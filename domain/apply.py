"""Apply canonical records to the hub's store, in the caller's transaction.

Every upsert is keyed by the record's origin and guarded by ``source_updated_at``: a record
older than what the store holds changes nothing (out-of-order deliveries are normal) and says
so. Customers are one per normalised email across channels. A record that needs a link the hub
lacks raises ``NeedsMapping`` with what is missing.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from mappings.canonical import (
    Address,
    ChannelStockReport,
    Charge,
    Customer,
    MovementReason,
    Order,
    Payment,
    Product,
    Refund,
    Return,
    Shipment,
)
from store.deliveries import insert_ignore, insert_returning_id, utcnow
from store.links import Link, StoreLinks, upsert_link
from store.models import (
    channel_stock,
    customer_links,
    customers,
    order_lines,
    orders,
    stock_levels,
)

from . import ledger
from .orders import OrderRules, match_waiting, settle_order, stock_status
from .outcome import HoldReport, NeedsMapping, Outcome, is_stale, record_effect, upsert_guarded
from .payments import apply_payment, apply_refund
from .progress import ORDER_LIFECYCLE
from .returns import apply_return
from .shipments import apply_shipment, owe_push

MIN_HOLD_S = 0.05  # a report's hold with less than this left is over: it is judged

# statements every stock report or order runs, built once (SQLAlchemy then skips building them and their cache key)
_CHANNEL_STOCK = select(channel_stock).where(channel_stock.c.channel == bindparam("b_ch"),
                                            channel_stock.c.sku == bindparam("b_sku"),
                                            channel_stock.c.warehouse == bindparam("b_wh"))
_NEW_CHANNEL_STOCK = channel_stock.insert()
_SET_CHANNEL_STOCK = update(channel_stock).where(channel_stock.c.id == bindparam("b_id")).values(
    quantity=bindparam("b_q"), source_updated_at=bindparam("b_src"), updated_at=bindparam("b_now"))
_HAS_LEVEL = select(stock_levels.c.id, stock_levels.c.counted_at).where(stock_levels.c.sku == bindparam("b_sku"),
                                             stock_levels.c.warehouse == bindparam("b_wh"))


_CUSTOMER_LINK = select(customer_links.c.customer_id).where(customer_links.c.channel == bindparam("b_ch"),
                                                           customer_links.c.external_id == bindparam("b_ext"))
_CUSTOMER_BY_EMAIL = select(customers.c.id).where(customers.c.email == bindparam("b_email"))
_CUSTOMER_LOCKED = select(customers).where(customers.c.id == bindparam("b_id")).with_for_update()


def _addr(a: Address | None) -> dict[str, Any] | None:
    return asdict(a) if a else None


def upsert_customer(conn: Connection, event_id: int, c: Customer) -> int | None:
    """One customer per normalised email; a channel's customer id is kept as a customer link."""
    linked = None
    if c.origin:
        linked = conn.execute(_CUSTOMER_LINK, {"b_ch": c.origin.channel, "b_ext": c.origin.external_id}).scalar()
    existing = linked
    if existing is None and c.email:
        existing = conn.execute(_CUSTOMER_BY_EMAIL, {"b_email": c.email}).scalar()
    values = {"first_name": c.first_name, "last_name": c.last_name, "phone": c.phone,
              "accepts_marketing": c.accepts_marketing, "addresses": [_addr(a) for a in c.addresses]}
    if existing is None:
        if not c.email and not c.origin:
            return None
        now = utcnow()
        cid = insert_returning_id(conn, customers, {"email": c.email, "source_updated_at": c.source_updated_at,
                                                    "created_at": now, "updated_at": now, **values})
        effect = "created"
        if cid is None:  # another worker created this email's customer since we looked: update it instead
            existing = conn.execute(_CUSTOMER_BY_EMAIL, {"b_email": c.email}).scalar_one()
    if existing is not None:
        cid, effect = _update_customer(conn, existing, c, values)
    if c.origin and linked is None:
        insert_ignore(conn, customer_links, {"customer_id": cid, "channel": c.origin.channel,
                                             "external_id": c.origin.external_id})
    record_effect(conn, event_id, "customer", cid, effect)
    return cid


def _update_customer(conn: Connection, cid: int, c: Customer, values: dict[str, Any]) -> tuple[int, str]:
    row = conn.execute(_CUSTOMER_LOCKED, {"b_id": cid}).one()
    if is_stale(c.source_updated_at, row.source_updated_at):
        return cid, "stale"
    if c.source_updated_at is None and row.source_updated_at is not None:
        # undated (e.g. an order's billing contact): only fill what the store lacks
        values = {k: v for k, v in values.items() if row._mapping[k] in (None, []) and v not in (None, [])}
    else:
        values = {k: v for k, v in values.items() if v not in (None, [])}
    if c.email and not row.email:
        values["email"] = c.email
    if c.source_updated_at and (row.source_updated_at is None or c.source_updated_at > row.source_updated_at):
        values["source_updated_at"] = c.source_updated_at
    if values:
        conn.execute(customers.update().where(customers.c.id == cid).values(**values, updated_at=utcnow()))
    return cid, "updated"


def apply_order(conn: Connection, event_id: int, o: Order, out: Outcome) -> None:
    customer_id = upsert_customer(conn, event_id, o.customer) if o.customer else None
    if customer_id is None and o.email:
        customer_id = upsert_customer(conn, event_id, Customer(email=o.email))
    values = {"number": o.number, "status": o.status.value, "currency": o.currency,
              "subtotal": o.subtotal.amount, "shipping": o.shipping.amount, "tax": o.tax.amount,
              "discount": o.discount.amount, "total": o.total.amount,
              "presentment_total": o.presentment_total.amount if o.presentment_total else None,
              "presentment_currency": o.presentment_total.currency if o.presentment_total else None,
              "email": o.email, "customer_id": customer_id, "shipping_address": _addr(o.shipping_address),
              "billing_address": _addr(o.billing_address), "payment_method": o.payment_method,
              "placed_at": o.placed_at, "cancelled_at": o.cancelled_at, "channel_status": o.status.value,
              "prices_include_tax": o.prices_include_tax, "charges": [charge_row(c) for c in o.charges],
              "paid_on_channel": o.paid_on_channel}
    key = {"channel": o.origin.channel, "external_id": o.origin.external_id}
    order_id, effect = upsert_guarded(conn, orders, key, values, o.source_updated_at,
                               behind=lambda row: ORDER_LIFECYCLE.behind(o.status, row.channel_status))
    record_effect(conn, event_id, "order", order_id, effect)
    if effect == "stale":
        out.notes.append(f"order {o.number}: stale (older than the stored version), not applied")
        return
    out.orders.add(order_id)
    created = effect == "created"
    # a new order has nothing attached yet (refunds, payments and shipments attach in match_waiting below)
    status = o.status if created else stock_status(conn, order_id, o.status)
    stock = ledger.apply_order_stock(conn, out.touch, out.policy, event_id, order_id, o.origin.channel, status, o.lines,
                                     occurred_at=o.source_updated_at or o.placed_at, new_order=created)
    if not created:
        conn.execute(order_lines.delete().where(order_lines.c.order_id == order_id))
    if o.lines:
        conn.execute(order_lines.insert(), [
            {"order_id": order_id, "position": i, "sku": li.sku, "title": li.title, "quantity": li.quantity,
             "unit_price": li.unit_price.amount, "tax": li.tax.amount if li.tax else None,
             "discount": li.discount.amount if li.discount else None, "external_id": li.external_id,
             "product_id": li.product_id, "variant_id": li.variant_id, "tax_rates": [str(r) for r in li.tax_rates]}
            for i, li in enumerate(o.lines)])
    out.notes.append(f"order {o.number} {effect} ({o.status.value})" + (f"; stock {', '.join(stock)}" if stock else ""))
    matched, attached = match_waiting(conn, out.rules, order_id, SimpleNamespace(
        channel=o.origin.channel, external_id=o.origin.external_id, number=o.number))
    out.notes += matched
    if created and not attached:
        return  # stored as the channel says, and nothing else the hub knows bears on it yet
    if settled := settle_order(conn, out, event_id, order_id):
        out.notes.append(settled)
    owe_push(conn, out, order_id, o.origin.channel)


def charge_row(c: Charge) -> dict[str, Any]:
    """A shipping or fee line as ``orders.charges`` keeps it: amounts as strings, in the order's currency."""
    return {"kind": c.kind.value, "title": c.title, "amount": str(c.amount.amount),
            "discount": str(c.discount.amount) if c.discount else None, "tax": str(c.tax.amount) if c.tax else None,
            "tax_rates": [str(r) for r in c.tax_rates]}


def apply_product(conn: Connection, event_id: int, p: Product, out: Outcome) -> None:
    for v in p.variants:
        out.resolves += upsert_link(conn, Link(channel=v.origin.channel, sku=v.sku, product_id=v.product_id,
                                               variant_id=v.variant_id, inventory_item_id=v.inventory_item_id,
                                               title=v.title or p.title))
    out.notes.append(f"product {p.origin.external_id}: {len(p.variants)} SKU link(s) refreshed")


def reports_by_item(r: ChannelStockReport) -> bool:
    """Shopify reports by inventory item at a location; Woo by product/variation id at ``default``."""
    return r.location_id != "default"


def report_sku(links: StoreLinks, r: ChannelStockReport) -> str | None:
    """The hub SKU a channel's stock report is about (None: no link for its item yet)."""
    if r.sku:
        return r.sku
    if reports_by_item(r):
        return links.sku_for(r.origin.channel, inventory_item_id=r.origin.external_id)
    return links.sku_for(r.origin.channel, product_id=r.origin.external_id)


def apply_stock_report(conn: Connection, event_id: int, r: ChannelStockReport, out: Outcome) -> None:
    """A channel's count, compared with what the hub expects it to show (see ``domain.ledger``)."""
    links, ch = StoreLinks(conn, out.policy.locations), r.origin.channel
    is_item = reports_by_item(r)
    sku = report_sku(links, r)
    warehouse = links.warehouse_for(ch, r.location_id)
    missing = []
    if sku is None:
        what = "inventory_item_id" if is_item else "product_id"
        missing.append((ch, what, r.origin.external_id))
    if warehouse is None:
        missing.append((ch, "location_id", r.location_id or ""))
    if missing:
        raise NeedsMapping(missing, "; ".join(f"no link for {c} {w} {k}" for c, w, k in missing))
    seen = conn.execute(_CHANNEL_STOCK, {"b_ch": ch, "b_sku": sku, "b_wh": warehouse}).one_or_none()
    if seen is not None and is_stale(r.source_updated_at, seen.source_updated_at):
        out.notes.append(f"stock {sku}@{warehouse} from {ch}: stale report, not applied")
        return
    now = utcnow()
    if seen is None:
        conn.execute(_NEW_CHANNEL_STOCK, {"channel": ch, "sku": sku, "warehouse": warehouse, "quantity": r.available,
                                          "source_updated_at": r.source_updated_at, "updated_at": now})
    else:
        conn.execute(_SET_CHANNEL_STOCK, {"b_id": seen.id, "b_q": r.available, "b_now": now,
                                          "b_src": r.source_updated_at or seen.source_updated_at})
    note = _interpret_report(conn, event_id, ch, sku, warehouse, r, out)
    out.notes.append(f"stock {sku}@{warehouse}: {ch} reports {r.available}, {note}")


def _interpret_report(conn: Connection, event_id: int, ch: str, sku: str, warehouse: str, r: ChannelStockReport,
                      out: Outcome) -> str:
    """Expected = what the channel was last known to show + its own orders since; the rest is an
    edit made in the channel: applied when the channel is the stock authority, else overwritten."""
    policy, touch = out.policy, out.touch
    sync = ledger.sync_row(conn, ch, sku, lock=True)
    if (sync is not None and sync.believed_at and r.source_updated_at
            and r.source_updated_at < sync.believed_at.replace(microsecond=0)):
        # reports carry whole seconds: only one from an earlier second is surely older
        return "older than what the hub already knows the channel shows (superseded)"
    level = conn.execute(_HAS_LEVEL, {"b_sku": sku, "b_wh": warehouse}).first()
    has_level = level is not None and level.counted_at is not None  # only sales so far: not known how many
    expected, counted_until, maybe, came_after = None, None, 0, False
    if sync is not None and sync.believed is not None:
        surely, maybe, counted_until = ledger.own_moves_after(conn, ch, sku, sync)
        expected = sync.believed + surely
        if maybe and abs(r.available - expected - maybe) < abs(r.available - expected):
            expected += maybe  # an order from the same second as the value: the report says it came after
            maybe, came_after = 0, True
    wait = (out.hold_until - utcnow()).total_seconds() if out.hold_until else 0.0
    if expected is not None and r.available != expected and has_level and wait > MIN_HOLD_S:
        # The platforms send an order (or cancel) and the level it moved at once, in either order: judged
        # now, a level ahead of its order would be an edit (counted twice under channel authority, written
        # over with a count the sale is missing under hub authority). The order nearly always lands meanwhile,
        # and its landing hands the report back at once.
        raise HoldReport(wait, f"stock {sku}@{warehouse}: {ch} reports {r.available}, the hub expects {expected}: "
                         f"held for {ch}'s own orders", ch, sku)
    if has_level and expected is not None and ch in policy.reads and (
            (r.available != expected and ledger.same_second(r.source_updated_at, sync.believed_at))
            or (came_after and ledger.same_second(r.source_updated_at, sync.pushed_at))):
        # A plain set's channel builds a level's body when it delivers it: one dated the second of the hub's own
        # write (or read) may have been built before it, so it may hold the count the write replaced, sales the
        # write went over included (then it only looks like the write less those sales). Believed, it would hide
        # that write's error for good (the sales are dated before it, so counted as in it); taken as an edit, it
        # would move the ledger by what the write changed. The channel is read first.
        unplaced = (f"the hub expects {expected}; dated the second of what it last learnt {ch} shows, so which is "
                    "newer cannot be told: ")
        if policy.authority.get(ch) == "channel":  # an edit or not: what the channel shows once its sales are in
            out.verify.add((ch, sku))
            return unplaced + f"reconciled (its sales read, then {ch} read) before anything is taken as an edit"
        ledger.forget_belief(conn, ch, sku)
        if ch in policy.pushing:
            ledger.mark_dirty(conn, (ch,), {sku}, touch)
            ledger.await_read(conn, ch, [sku])
        out.backfills.add(ch)
        return unplaced + f"{ch} is read before {sku} is written there"
    if level is None:
        ledger.set_on_hand(conn, touch, sku, warehouse, r.available, MovementReason.CHANNEL_EDIT, ch, event_id)
        note = "the hub's first count of it"
    elif not has_level:  # only sales so far: the channel's count is the first, with those sales in it
        edit = r.available - ledger.available(conn, [sku], (warehouse,))[sku]
        ledger.record_movement(conn, touch, sku, warehouse, MovementReason.CHANNEL_EDIT, ch, event_id, on_hand=edit)
        note = "the hub's first count of it (its sales so far taken as in it)"
    elif policy.authority.get(ch) == "channel":
        if expected is None:  # its first report: the channel's count is the truth for what it holds
            expected = ledger.available(conn, [sku], (warehouse,))[sku]
        edit = r.available - expected
        if edit:
            ledger.record_movement(conn, touch, sku, warehouse, MovementReason.CHANNEL_EDIT, ch, event_id,
                                   on_hand=edit)
        note = f"edit {edit:+d} applied (the channel is the stock authority)" if edit else "as expected"
    else:
        should = ledger.targets(conn, policy, ch, [sku])[sku]
        note = "as expected"
        if r.available != should and ch in policy.pushing:
            ledger.mark_dirty(conn, (ch,), {sku}, touch)
            note = f"differs from the {should} the hub publishes: overwritten back (the hub is the authority)"
            if (expected is None or r.available != expected) and ch in policy.reads:
                # unexplained: a sale whose order webhook is late (or lost) looks the same as an edit; the SKU's
                # write waits until the channel's changes are read (a Woo write is a plain set over that sale)
                ledger.await_read(conn, ch, [sku])
                out.backfills.add(ch)
                note += f" once {ch}'s changes are read"
    if maybe and r.available == expected and ch in policy.reads and ledger.same_second(r.source_updated_at,
                                                                              sync.believed_at):
        # it agrees with what the hub knew, without the orders of that second the hub heard of since: believed at
        # its (whole) second, they would count as in it. What the hub knew stands, and they stay unsure: a plain
        # set waits for a read of them rather than go over them.
        return note
    at = r.source_updated_at or utcnow()
    if counted_until is not None and counted_until > at:
        # judged as holding orders dated after it (Woo commits a sale's stock before it dates the product): from
        # now on they are in the value, not taken off it a second time
        at = counted_until
    ledger.set_believed(conn, ch, sku, r.available, ledger.last_movement_id(conn), at)
    return note


APPLY = {
    Order: apply_order,
    Customer: lambda conn, event_id, c, out: out.notes.append(
        f"customer {c.email or c.origin.external_id}: id {upsert_customer(conn, event_id, c)}"),
    Payment: apply_payment,
    Refund: apply_refund,
    Return: apply_return,
    Shipment: apply_shipment,
    Product: apply_product,
    ChannelStockReport: apply_stock_report,
}


def apply_records(conn: Connection, event_id: int, records: list[Any], policy: ledger.StockPolicy,
                  rules: OrderRules | None = None, hold_until: datetime | None = None) -> Outcome:
    """Apply each record in its own savepoint: one that lacks a link is parked (``out.missing``), an
    unexplained stock report is held (``out.held``, until ``hold_until`` at most), while the others still
    apply. Every rule is idempotent, so a resumed or held event simply re-runs."""
    out = Outcome(policy, rules=rules or OrderRules(), hold_until=hold_until)
    for record in records:
        handler = APPLY.get(type(record))
        if handler is None:
            raise TypeError(f"no apply rule for {type(record).__name__}")  # a programming error: fail loudly
        savepoint = conn.begin_nested()
        try:
            handler(conn, event_id, record, out)
        except NeedsMapping as exc:
            savepoint.rollback()
            out.missing += exc.missing
            out.notes.append(str(exc))
            continue
        except HoldReport as exc:
            savepoint.rollback()
            out.held = max(out.held or 0.0, exc.seconds)
            out.held_keys.append(exc.key)
            out.notes.append(str(exc))
            continue
        savepoint.commit()
    ledger.finish(conn, out.touch, policy)
    return out
