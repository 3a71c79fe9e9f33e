"""The stock ledger: the rules that move stock, in the caller's transaction.

``available = on_hand - committed`` per (SKU, warehouse). An order commits its lines at its
channel's warehouse and ships them when fulfilled; a cancel releases them. A channel's own
report of a quantity is compared with what the hub expects that channel to show: the
difference is a manual edit there, which moves ``on_hand`` when the channel is the stock
authority and is overwritten back otherwise. An ERP or warehouse snapshot sets ``on_hand``.

Every movement is appended to ``stock_movements`` and marks the SKU dirty for every channel
the hub publishes to (see ``jobs.push``); available below zero opens an oversell alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, text, update

from mappings.canonical import MovementReason, OrderLine, OrderStatus
from store.deliveries import utcnow
from store.models import UNTAKEN, alerts, order_stock, stock_levels, stock_movements, stock_sync

# order statuses whose lines have left the warehouse (committed -> shipped)
SHIPPED_STATUSES = frozenset({OrderStatus.FULFILLED})
RELEASED_STATUSES = frozenset({OrderStatus.CANCELLED})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# movements that count a level (set on_hand from a count): before the first, the hub does not know how many
# there are, so it publishes nothing for the SKU and opens no oversell alert
COUNT_REASONS = frozenset({MovementReason.ERP_SNAPSHOT, MovementReason.CHANNEL_EDIT, MovementReason.ADJUSTMENT})


@dataclass(frozen=True)
class StockPolicy:
    """Where each channel's stock lives and how the hub treats it, read from the config."""

    warehouses: dict[str, tuple[str, ...]]  # channel -> the warehouses its locations map to
    buffers: dict[str, int]
    authority: dict[str, str]
    pushing: tuple[str, ...]  # channels the hub writes stock to
    locations: dict[str, dict[str, str]] = field(default_factory=dict)  # channel -> location id -> warehouse
    default_warehouse: str = "main"
    report_hold_s: float = 0.0  # an unexplained channel report waits this long, once (``stock_report_hold_s``)
    # channels written by plain sets whose changes the hub can read: an unexplained report is read (backfill)
    # before it is corrected
    reads: frozenset[str] = frozenset()

    def order_warehouse(self, channel: str) -> str:
        """An order's lines are taken from its channel's first mapped warehouse."""
        return (self.warehouses.get(channel) or (self.default_warehouse,))[0]


@dataclass
class StockTouch:
    """What a transaction did to stock, for the caller to act on once it commits."""

    skus: set[str] = field(default_factory=set)
    oversold: list[str] = field(default_factory=list)
    dirty_channels: set[str] = field(default_factory=set)  # pushes owed: schedule them after the commit


# the statements every stock change runs, built once (SQLAlchemy then skips building them and their cache key)
_MOVE_LEVEL = (update(stock_levels).where(stock_levels.c.sku == bindparam("b_sku"),
                                          stock_levels.c.warehouse == bindparam("b_wh"))
               .values(on_hand=stock_levels.c.on_hand + bindparam("b_on_hand"),
                       committed=stock_levels.c.committed + bindparam("b_committed"), updated_at=bindparam("b_at"),
                       counted_at=func.coalesce(stock_levels.c.counted_at, bindparam("b_counted"))))
_NEW_LEVEL = stock_levels.insert()
_MOVEMENT = stock_movements.insert()
_SYNC_ROW = select(stock_sync).where(stock_sync.c.channel == bindparam("b_ch"), stock_sync.c.sku == bindparam("b_sku"))
_SYNC_ROW_LOCKED = _SYNC_ROW.with_for_update()
_SET_BELIEVED = (update(stock_sync).where(stock_sync.c.channel == bindparam("b_ch"),
                                          stock_sync.c.sku == bindparam("b_sku"))
                 .values(believed=bindparam("b_q"), believed_mark=bindparam("b_mark"), believed_at=bindparam("b_at"),
                         updated_at=bindparam("b_now")))
_FORGET_BELIEF = (update(stock_sync).where(stock_sync.c.channel == bindparam("b_ch"),
                                          stock_sync.c.sku == bindparam("b_sku"))
                  .values(believed=None, believed_mark=None, believed_at=None, updated_at=bindparam("b_now")))
_AWAIT_READ = (update(stock_sync).where(stock_sync.c.channel == bindparam("b_ch"),
                                       stock_sync.c.sku == bindparam("b_sku"))
               .values(awaits_read_at=bindparam("b_now"), updated_at=bindparam("b_now")))
_NEW_SYNC = stock_sync.insert()
_LAST_MOVEMENT = select(func.max(stock_movements.c.id))
_OWE_PUSH = (update(stock_sync).where(stock_sync.c.channel.in_(bindparam("b_chs", expanding=True)),
                                      stock_sync.c.sku.in_(bindparam("b_skus", expanding=True)))
             .values(dirty=True, dirty_version=stock_sync.c.dirty_version + 1,
                     dirty_since=func.coalesce(stock_sync.c.dirty_since, bindparam("b_now")),
                     updated_at=bindparam("b_now"))
             .returning(stock_sync.c.channel, stock_sync.c.sku))
_LV = stock_levels.c
_OS = order_stock.c
_MAY_TAKE = (select(_OS.sku, func.sum(_OS.committed + _OS.shipped - _OS.taken))
             .where(_OS.channel == bindparam("b_ch"), _OS.sku.in_(bindparam("b_skus", expanding=True)),
                    text(UNTAKEN)).group_by(_OS.sku))
_M = stock_movements.c
# a channel's own orders' moves of its count since what the hub believes (``shown_by_channel``)
_OWN_MOVES = select(_M.sku, _M.id, _M.occurred_at, _M.channel_delta).where(
    _M.channel == bindparam("b_ch"), _M.sku.in_(bindparam("b_skus", expanding=True)), _M.channel_delta != 0,
    or_(_M.id > bindparam("b_mark"), _M.occurred_at > bindparam("b_at")))
_AVAILABLE = (select(_LV.sku, func.sum(_LV.on_hand - _LV.committed))
              .where(_LV.sku.in_(bindparam("b_skus", expanding=True))).group_by(_LV.sku))
_AVAILABLE_AT = _AVAILABLE.where(_LV.warehouse.in_(bindparam("b_whs", expanding=True)))
# available over every warehouse, with the SKU's open oversell alert (if any)
_OVERSOLD = (select(_LV.sku, func.sum(_LV.on_hand - _LV.committed), func.max(_LV.counted_at),
                    select(func.max(alerts.c.id)).where(alerts.c.kind == "oversell", alerts.c.key == _LV.sku,
                                                        alerts.c.resolved_at.is_(None)).scalar_subquery())
             .where(_LV.sku.in_(bindparam("b_skus", expanding=True))).group_by(_LV.sku))
# available over the channel's warehouses, and what its own waiting orders will still take (``targets``)
_TARGETS = _AVAILABLE_AT.add_columns(
    select(func.coalesce(func.sum(order_stock.c.to_take), 0))
    .where(order_stock.c.channel == bindparam("b_ch"), order_stock.c.sku == _LV.sku, order_stock.c.to_take > 0)
    .scalar_subquery(), func.max(_LV.counted_at))


def record_movement(conn: Connection, touch: StockTouch, sku: str, warehouse: str, reason: MovementReason,
                    channel: str | None, event_id: int | None, *, on_hand: int = 0, committed: int = 0,
                    occurred_at: datetime | None = None, channel_delta: int = 0) -> int:
    """Append to the ledger and move the level (created at 0); returns the movement id.

    ``occurred_at``: when it happened in the channel (its clock), for a channel's own orders;
    ``channel_delta``: the change the channel made to its own count by itself (its order took stock).
    """
    now = utcnow()
    counted = now if reason in COUNT_REASONS else None
    done = conn.execute(_MOVE_LEVEL, {"b_sku": sku, "b_wh": warehouse, "b_on_hand": on_hand, "b_committed": committed,
                                      "b_at": now, "b_counted": counted}).rowcount
    if not done:
        conn.execute(_NEW_LEVEL, {"sku": sku, "warehouse": warehouse, "on_hand": on_hand, "committed": committed,
                                  "updated_at": now, "counted_at": counted})
    mid = conn.execute(_MOVEMENT, {
        "sku": sku, "warehouse": warehouse, "delta": on_hand, "committed_delta": committed, "reason": reason.value,
        "channel": channel, "source_event": event_id, "created_at": now, "occurred_at": occurred_at,
        "channel_delta": channel_delta or None}).inserted_primary_key[0]
    touch.skus.add(sku)
    return mid


def apply_order_stock(conn: Connection, touch: StockTouch, policy: StockPolicy, event_id: int, order_id: int,
                      channel: str, status: OrderStatus, lines: list[OrderLine],
                      occurred_at: datetime | None = None, new_order: bool = False) -> list[str]:
    """Bring the ledger to what this version of the order implies; moves only the difference.

    ``occurred_at`` is when this version happened in the channel (placed, cancelled): the
    channel moved its own count then (by what its lines say it took: ``channel_taken``), which is
    how ``shown_by_channel`` tells whether a value the hub knows for the channel already includes
    it. ``new_order``: created in this transaction, so it holds nothing yet (saves the read).
    """
    warehouse = policy.order_warehouse(channel)
    want: dict[str, tuple[int, int]] = {}  # sku -> (committed, shipped)
    said_taken: dict[str, int] = {}  # sku -> what the channel says it took, for the lines that say
    to_take: dict[str, int] = {}
    held = {} if new_order else {r.sku: r for r in conn.execute(
        select(order_stock).where(order_stock.c.order_id == order_id, order_stock.c.warehouse == warehouse))}
    for li in lines:
        if li.sku and li.channel_taken is not None:
            said_taken[li.sku] = said_taken.get(li.sku, 0) + li.channel_taken
        if li.sku and li.channel_to_take:
            to_take[li.sku] = to_take.get(li.sku, 0) + li.channel_to_take
    if status not in RELEASED_STATUSES:
        for li in lines:
            if not li.sku or li.quantity <= 0:
                continue
            c, s = want.get(li.sku, (0, 0))
            if li.shipped is not None:  # the channel says per line what left, and what came back after
                gone = min(li.shipped, li.quantity)
                want[li.sku] = (c + max(0, li.quantity - gone - (li.restocked - li.returned)),
                                s + max(0, gone - li.returned))
            else:  # the status says: all of it left, or none; what a refund put back is the order's no more
                units = li.quantity - min(li.restocked, li.quantity)
                want[li.sku] = (c, s + units) if status in SHIPPED_STATUSES else (c + units, s)
        for sku, (c, s) in want.items():
            # units that left (the channel said fulfilled, or the ERP delivered) stay gone: a later version
            # that does not say fulfilled yet (the shop's own edit, a late webhook) does not bring them back
            gone = min(held[sku].shipped, c + s) if sku in held else 0
            if gone > s:
                want[sku] = (c + s - gone, gone)
    notes = []
    for sku in sorted(set(want) | set(held)):
        row = held.get(sku)
        was = (row.committed, row.shipped, row.taken, row.to_take) if row else (0, 0, 0, 0)
        c, s = want.get(sku, (0, 0))
        # a channel that does not say takes what its order holds, when the order does (Shopify)
        now = (c, s, said_taken.get(sku, c + s), min(to_take.get(sku, 0), c + s))
        if now == was:
            continue
        d_committed, d_shipped, d_taken = c - was[0], s - was[1], now[2] - was[2]
        change = -d_shipped - d_committed  # to available: shipping what was committed changes nothing
        if d_committed or d_shipped:
            # units that had left and come back (a refund restocked them) are a return; else a sale or cancel
            reason = MovementReason.RETURN if d_shipped < 0 else \
                MovementReason.SALE if change <= 0 else MovementReason.CANCEL
            notes.append(f"{sku} {reason.value} {change:+d}")
        else:
            reason = MovementReason.CHANNEL_COUNT
        if d_committed or d_shipped or d_taken:
            record_movement(conn, touch, sku, warehouse, reason, channel, event_id, on_hand=-d_shipped,
                            committed=d_committed, occurred_at=occurred_at, channel_delta=-d_taken)
        if d_taken and not (d_committed or d_shipped):
            notes.append(f"{sku} {'taken off' if d_taken > 0 else 'put back on'} {channel}'s own count: {abs(d_taken)}")
        touch.skus.add(sku)  # what the channel should show moved with it (see channel_targets)
        values = {"committed": c, "shipped": s, "taken": now[2], "to_take": now[3]}
        if row is not None:
            conn.execute(order_stock.update().where(order_stock.c.id == row.id).values(**values))
        else:
            conn.execute(order_stock.insert().values(order_id=order_id, sku=sku, warehouse=warehouse,
                                                     channel=channel, **values))
    return notes


def ship_order_stock(conn: Connection, touch: StockTouch, order_id: int, delivered: dict[str, int]) -> list[str]:
    """The ERP delivered the order, or part of it: what it holds committed is shipped, each SKU up to
    ``delivered`` ({sku: units}: everything the ERP's deliveries of the order have shipped so far; a
    partial delivery ships part, its backorder the rest), so reading the same deliveries again ships
    nothing more. Only ``committed`` moves (``erp_delivery``, no channel): the goods left the ERP's stock,
    and its count (``erp_snapshot``, pulled with the deliveries) is what sets ``on_hand``. A version of the
    order that says fulfilled finds them shipped already and moves nothing."""
    rows = conn.execute(select(order_stock).where(order_stock.c.order_id == order_id)
                        .order_by(order_stock.c.id)).all()
    owed = dict(delivered)
    for row in rows:  # units shipped before (an earlier delivery, or the channel said fulfilled)
        owed[row.sku] = owed.get(row.sku, 0) - row.shipped
    notes = []
    for row in rows:
        n = max(0, min(row.committed, owed.get(row.sku, 0)))
        if not n:
            continue
        owed[row.sku] -= n
        record_movement(conn, touch, row.sku, row.warehouse, MovementReason.ERP_DELIVERY, None, None, committed=-n)
        conn.execute(order_stock.update().where(order_stock.c.id == row.id)
                     .values(committed=row.committed - n, shipped=row.shipped + n))
        notes.append(f"{row.sku} shipped {n}" + (f" ({row.committed - n} still to ship)" if n < row.committed else ""))
    return notes


def available(conn: Connection, skus: list[str], warehouses: tuple[str, ...] | None = None) -> dict[str, int]:
    """Available per SKU, summed over ``warehouses`` (all when None); unknown SKUs are 0."""
    if warehouses is None:
        rows = conn.execute(_AVAILABLE, {"b_skus": skus})
    else:
        rows = conn.execute(_AVAILABLE_AT, {"b_skus": skus, "b_whs": list(warehouses)})
    got = {sku: int(n) for sku, n in rows}
    return {sku: got.get(sku, 0) for sku in skus}


def targets(conn: Connection, policy: StockPolicy, channel: str, skus: list[str],
            uncounted: set[str] | None = None) -> dict[str, int]:
    """What the hub wants ``channel`` to show now: the published quantity (available over its warehouses,
    minus its buffer, never below 0), plus what the channel's own waiting orders will still take off its
    count by themselves (a pending WooCommerce order, when paid), so that it lands on the published
    quantity when they do and no write is spent on either step. One query. ``uncounted``, if given, gets the
    SKUs never counted there (0 for them is a guess: see ``COUNT_REASONS``)."""
    whs = policy.warehouses.get(channel) or (policy.default_warehouse,)
    buffer = policy.buffers.get(channel, 0)
    got, counted = {}, set()
    for sku, n, later, counted_at in conn.execute(_TARGETS, {"b_ch": channel, "b_skus": skus, "b_whs": list(whs)}):
        got[sku] = max(0, int(n) - buffer) + int(later)
        if counted_at is not None:
            counted.add(sku)
    if uncounted is not None:
        uncounted.update(s for s in skus if s not in counted)
    return {sku: got.get(sku, 0) for sku in skus}


def last_movement_id(conn: Connection) -> int:
    return conn.execute(_LAST_MOVEMENT).scalar() or 0


def moved_since(conn: Connection, skus: list[str], mark: int) -> set[str]:
    """Of ``skus``, those with a ledger movement after movement id ``mark``."""
    out: set[str] = set()
    for i in range(0, len(skus), 500):
        out.update(conn.execute(select(_M.sku).where(_M.id > mark, _M.sku.in_(skus[i:i + 500])).distinct()).scalars())
    return out


def own_moves_after(conn: Connection, channel: str, sku: str, row: Any) -> tuple[int, int, datetime | None]:
    """The change to available the channel's own orders made since the hub's ``row`` (stock_sync) held:
    (surely after it, maybe after it: the same second, processed since; see ``shown_by_channel``; when the
    latest of the surely-after ones happened there)."""
    unsure: dict[str, int] = {}
    latest: dict[str, datetime] = {}
    shown = shown_by_channel(conn, channel, {sku: row}, unsure, latest)[sku]
    return shown - row.believed, unsure.get(sku, 0), latest.get(sku)


def shown_by_channel(conn: Connection, channel: str, rows: dict[str, Any],
                     unsure: dict[str, int] | None = None, latest: dict[str, datetime] | None = None
                     ) -> dict[str, int]:
    """What the channel shows now by the hub's knowledge, per SKU with a ``believed`` value:
    ``believed`` + what its own orders took off (or put back on) its count since (``channel_delta``;
    one query per 500 SKUs).

    By the channel's clock: an order that happened there before ``believed_at`` is already in the
    value (a report sent after it, a read, or our write that replaced it), whenever the hub
    processed it. The channels' clocks give whole seconds, so an order from the same second as the
    value cannot be placed: it counts as in it (a push then writes once too often, or its
    compare-and-set re-reads, rather than leaving the channel wrong), and when the hub processed it
    after the value held it goes into ``unsure`` (a report may show it either way). Rows from before
    times were kept fall back to the movement id (``believed_mark``). ``latest`` gets, per SKU, when the
    latest order counted happened there."""
    known = {sku: r for sku, r in rows.items() if r.believed is not None}
    out = {sku: r.believed for sku, r in known.items()}
    skus = sorted(known)
    for i in range(0, len(skus), 500):
        chunk = [known[s] for s in skus[i:i + 500]]
        for sku, mid, occurred, change in conn.execute(_OWN_MOVES, {
                "b_ch": channel, "b_skus": skus[i:i + 500], "b_mark": min(r.believed_mark or 0 for r in chunk),
                "b_at": min((r.believed_at for r in chunk if r.believed_at), default=_EPOCH)}):
            r = known[sku]
            later = mid > (r.believed_mark or 0)
            if not (r.believed_at and occurred):
                after = later
            else:
                after = occurred > r.believed_at
                if not after and later and unsure is not None and same_second(occurred, r.believed_at):
                    unsure[sku] = unsure.get(sku, 0) + int(change)
            if after:
                out[sku] += int(change)
                if latest is not None and occurred and (sku not in latest or occurred > latest[sku]):
                    latest[sku] = occurred
    return out


def may_take(conn: Connection, channel: str, skus: list[str]) -> dict[str, int]:
    """Units of ``channel``'s own open orders it has not said it took off its count, nor that it will take later:
    a paid WooCommerce order whose body was built before WooCommerce wrote what it took (``_reduced_stock``),
    the level it sends meanwhile already without them. Per SKU; what the channel shows may be that much lower."""
    out: dict[str, int] = {}
    for i in range(0, len(skus), 500):
        out.update((sku, int(n)) for sku, n in conn.execute(_MAY_TAKE, {"b_ch": channel, "b_skus": skus[i:i + 500]}))
    return out


def same_second(a: datetime | None, b: datetime | None) -> bool:
    """Both times known and in the same whole second (the channels' clocks give whole seconds)."""
    return bool(a and b and a.replace(microsecond=0) == b.replace(microsecond=0))


def forget_belief(conn: Connection, channel: str, sku: str) -> None:
    """The hub no longer knows what the channel shows: its next push reads it before writing."""
    conn.execute(_FORGET_BELIEF, {"b_ch": channel, "b_sku": sku, "b_now": utcnow()})


def await_read(conn: Connection, channel: str, skus: list[str]) -> None:
    """What ``channel`` shows of ``skus`` may hold a sale the hub has not heard of: their writes there wait for a
    read of its changes begun from now on (``reads_done``). Their rows exist (they owe a push)."""
    if skus:
        now = utcnow()
        conn.execute(_AWAIT_READ, [{"b_ch": channel, "b_sku": s, "b_now": now} for s in skus])


def reads_done(conn: Connection, channel: str, started: datetime) -> tuple[int, bool]:
    """A read of ``channel``'s changes begun at ``started`` is applied: the SKUs that waited for one begun after
    they did may be written; -> (how many, whether some still wait for a later one)."""
    freed = conn.execute(update(stock_sync).where(
        stock_sync.c.channel == channel, stock_sync.c.awaits_read_at <= started).values(awaits_read_at=None)).rowcount
    left = conn.execute(select(stock_sync.c.id).where(
        stock_sync.c.channel == channel, stock_sync.c.awaits_read_at.is_not(None)).limit(1)).first() is not None
    return freed, left


def sync_row(conn: Connection, channel: str, sku: str, *, lock: bool = False) -> Any:
    return conn.execute(_SYNC_ROW_LOCKED if lock else _SYNC_ROW, {"b_ch": channel, "b_sku": sku}).one_or_none()


def set_believed(conn: Connection, channel: str, sku: str, quantity: int, mark: int, at: datetime) -> None:
    """Record what the channel showed at ``at`` (a write, a read or its own report)."""
    now = utcnow()
    done = conn.execute(_SET_BELIEVED, {"b_ch": channel, "b_sku": sku, "b_q": quantity, "b_mark": mark, "b_at": at,
                                        "b_now": now}).rowcount
    if not done:
        conn.execute(_NEW_SYNC, {"channel": channel, "sku": sku, "believed": quantity, "believed_mark": mark,
                                 "believed_at": at, "updated_at": now})


def mark_dirty(conn: Connection, channels: tuple[str, ...], skus: set[str], touch: StockTouch | None = None) -> None:
    """Owe a push of ``skus`` to each of ``channels`` (rows created as needed)."""
    if not channels or not skus:
        return
    if touch is not None:
        touch.dirty_channels.update(channels)
    now = utcnow()
    ordered = sorted(skus)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i:i + 500]
        # one statement for every channel's existing rows; the rows it did not find are created
        have = {(r.channel, r.sku) for r in conn.execute(_OWE_PUSH, {"b_chs": list(channels), "b_skus": chunk,
                                                                    "b_now": now})}
        new = [{"channel": ch, "sku": s, "dirty": True, "dirty_version": 1, "dirty_since": now, "updated_at": now}
               for ch in channels for s in chunk if (ch, s) not in have]
        if new:
            conn.execute(_NEW_SYNC, new)


def check_oversell(conn: Connection, touch: StockTouch) -> None:
    """Open (or refresh) one oversell alert per SKU whose total available is below zero; close
    the alert once it is back at zero or above."""
    if not touch.skus:
        return
    now = utcnow()
    for sku, total, counted, open_alert in conn.execute(_OVERSOLD, {"b_skus": sorted(touch.skus)}).all():
        n = int(total)
        if n < 0 and counted is not None:  # never counted: not oversold, unknown (it waits for a count)
            detail = {"sku": sku, "available": n}
            msg = f"{sku} oversold: available {n}"
            if open_alert is None:
                conn.execute(alerts.insert().values(kind="oversell", key=sku, message=msg, detail=detail,
                                                    created_at=now, updated_at=now))
                touch.oversold.append(sku)
            else:
                conn.execute(alerts.update().where(alerts.c.id == open_alert).values(message=msg, detail=detail,
                                                                                    updated_at=now))
        elif open_alert is not None:
            conn.execute(alerts.update().where(alerts.c.id == open_alert).values(resolved_at=now, updated_at=now))


def set_on_hand(conn: Connection, touch: StockTouch, sku: str, warehouse: str, on_hand: int,
                reason: MovementReason, channel: str | None = None, event_id: int | None = None) -> int:
    """A count (ERP or warehouse snapshot, first report): on_hand becomes ``on_hand``; -> the delta."""
    row = conn.execute(select(stock_levels.c.on_hand, stock_levels.c.counted_at).where(
        stock_levels.c.sku == sku, stock_levels.c.warehouse == warehouse)).one_or_none()
    delta = on_hand - (row.on_hand if row else 0)
    if delta or row is None or row.counted_at is None:  # a first count that changes nothing still counts
        record_movement(conn, touch, sku, warehouse, reason, channel, event_id, on_hand=delta)
    return delta


def uncounted(conn: Connection, skus: list[str], warehouses: tuple[str, ...] | None = None) -> set[str]:
    """Of ``skus``, those with no counted level (in ``warehouses``; all when None): the hub does not know how
    many there are."""
    out = set(skus)
    for i in range(0, len(skus), 500):
        q = select(_LV.sku).where(_LV.sku.in_(skus[i:i + 500]), _LV.counted_at.is_not(None)).distinct()
        if warehouses is not None:
            q = q.where(_LV.warehouse.in_(warehouses))
        out.difference_update(conn.execute(q).scalars())
    return out


def finish(conn: Connection, touch: StockTouch, policy: StockPolicy) -> None:
    """End of a transaction that moved stock: alerts, and pushes owed to every channel."""
    check_oversell(conn, touch)
    mark_dirty(conn, policy.pushing, touch.skus, touch)
