"""Console pages: dashboard, events, needs-mapping, stock, orders, reports and channels.

Each reads through the same functions as the JSON API (``store.deliveries``, ``hub.api_*``,
``store.links``, ``hub.dashboard``); the one form here (a missing link) goes through ``add_links``
like ``POST /api/links`` and ``hub links import``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from connectors import PLATFORMS
from hub.api.records import list_orders, list_payments, order_detail
from hub.api.reports import carrier_sla
from hub.api.stock import list_alerts
from jobs.replay import ReplayFilter
from store.deliveries import get_event, list_events, utcnow
from store.links import Link, LinkError, add_links
from store.models import EventStatus, event_records, parked, sku_links, stock_levels

from .. import activity
from ..channel_health import REPAIR_RECENT, channel_health, span, was
from ..dashboard import dashboard as dashboard_figures
from ..dashboard import needs_mapping as needs_mapping_figures
from ..state import current_hub
from ..stock_view import sales_channels, stock_overview
from ..timeline import exports, order_timeline
from .base import bp
from .chart import activity_chart
from .tasks import event_tasks, failures_per_hour, single_preview

logger = logging.getLogger(__name__)
PAGE = 50  # rows per list page
RATE_WINDOW_S = 300  # the dashboard's deliveries per minute: averaged over this window
SAMPLE_SHOWN = 5  # parked event ids shown per missing link
STOCK_PAGE = 100
LINK_KINDS = {"inventory_item_id": "sku", "product_id": "sku", "location_id": "warehouse"}  # missing -> what to ask


def _int(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


@bp.get("/")
def dashboard():  # noqa: ANN201
    """``GET /api/stats``'s figures over the last few minutes, and the 24-hour chart."""
    hub = current_hub()
    figures = dashboard_figures(hub, window=timedelta(seconds=RATE_WINDOW_S))
    minutes = RATE_WINDOW_S / 60
    rates = {ch: round(n / minutes, 2) for ch, n in sorted(figures["deliveries_by_channel"].items())}
    with hub.engine.connect() as conn:
        hours = activity.hourly_events(conn)
        alerts = list_alerts(conn, limit=20)
    hours = activity.merge_hourly(hours, failures_per_hour(hub))
    return render_template("console/dashboard.html", f=figures, rates=rates, alerts=alerts,
                           chart=activity_chart(hours), rate_window_min=int(minutes))


@bp.get("/events")
def events():  # noqa: ANN201
    hub = current_hub()
    status = request.args.get("status") or None
    if status not in {s.value for s in EventStatus} | {None}:
        abort(400, description="unknown status")
    channel, topic = request.args.get("channel") or None, request.args.get("topic") or None
    rows = list_events(hub.engine, channel=channel, topic=topic, status=status, limit=PAGE, before=_int("before"))
    return render_template("console/events.html", rows=rows, channels=sorted(hub.config.channels),
                           statuses=[s.value for s in EventStatus], channel=channel, topic=topic, status=status,
                           next_before=rows[-1]["id"] if len(rows) == PAGE else None)


def _pretty(text: str) -> str | None:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return None


@bp.get("/events/<int:event_id>")
def event(event_id: int):  # noqa: ANN201
    hub = current_hub()
    ev = get_event(hub.engine, event_id)
    if ev is None:
        abort(404, description="no such event")
    with hub.engine.connect() as conn:
        records = conn.execute(select(event_records).where(event_records.c.event_id == event_id)
                               .order_by(event_records.c.id)).all()
        waits = conn.execute(select(parked).where(parked.c.event_id == event_id)).all()
        caused = event_tasks(conn, event_id)
    return render_template("console/event.html", ev=ev, pretty=_pretty(ev["body"]),
                           headers=json.dumps(ev["headers"], indent=2, ensure_ascii=False),
                           records=records, waits=waits, tasks=caused,
                           plan=single_preview(ReplayFilter(event_id=event_id)))


@bp.get("/needs-mapping")
def needs_mapping():  # noqa: ANN201
    """What ``GET /api/needs-mapping`` lists, with a form per missing link."""
    return _needs_mapping_page(request.args.get("channel") or None)


def _needs_mapping_page(channel: str | None, confirm: dict[str, Any] | None = None) -> str:
    """The page; ``confirm``: a link that would replace one, asked again with what it changes."""
    hub = current_hub()
    with hub.engine.connect() as conn:
        waiting = needs_mapping_figures(conn)
        skus = list(conn.execute(select(stock_levels.c.sku).distinct().order_by(stock_levels.c.sku).limit(1000))
                    .scalars())
    groups = [g for g in waiting["links"] if channel in (None, g["channel"])]
    refused = [t for t in waiting["tasks"] if channel in (None, t["channel"])]
    warehouses = sorted({w for ch in hub.config.channels.values() for w in ch.locations.values()} | {"main"})
    return render_template("console/needs_mapping.html", groups=groups, refused=refused, skus=skus,
                           warehouses=warehouses, channels=sorted(hub.config.channels), channel=channel,
                           ask=LINK_KINDS, sample=SAMPLE_SHOWN, confirm=confirm)


@bp.post("/needs-mapping")
def add_link():  # noqa: ANN201
    """The link one group of parked events waits for; storing it resumes them."""
    hub = current_hub()
    form = request.form
    channel, missing, key = form.get("channel", ""), form.get("missing", ""), form.get("key", "")
    value = (form.get("value") or "").strip()
    back = redirect(url_for("console.needs_mapping", channel=form.get("filter") or None))
    if channel not in hub.config.channels or missing not in LINK_KINDS or not key:
        abort(400, description="channel, missing and key must name a parked link")
    if not value:
        flash(f"Give the {LINK_KINDS[missing]} for {channel} {missing} {key}.", "error")
        return back
    if missing == "location_id":
        link = Link(channel=channel, location_id=key, warehouse=value)
    elif missing == "inventory_item_id":
        link = Link(channel=channel, sku=value, inventory_item_id=key)
    elif parent := (form.get("parent") or "").strip():  # a WooCommerce variation: its product is the parent
        link = Link(channel=channel, sku=value, product_id=parent, variant_id=key)
    else:
        link = Link(channel=channel, sku=value, product_id=key)
    if link.sku and not form.get("confirm"):
        with hub.engine.connect() as conn:
            change = _what_relinking_changes(conn, link, missing, key)
        if change:
            return _needs_mapping_page(form.get("filter") or None, confirm={
                "message": change, "fields": {k: v for k, v in form.items() if k != "csrf_token"}})
    try:
        resumed = add_links(hub.engine, [link], hub.queues.enqueue_event)
    except LinkError as exc:
        flash(f"Not stored: {exc}", "error")
        return back
    logger.info("console: link added", extra={"channel": channel, "missing": missing, "resumed": len(resumed)})
    flash(f"Linked {channel} {missing} {key} to {value}; {len(resumed)} parked event(s) queued again.", "ok")
    return back


def _what_relinking_changes(conn: Any, link: Link, missing: str, key: str) -> str | None:
    """A SKU link that would replace what the SKU links to on that channel, or take an id another SKU has: in
    words (None: it only adds). Stored without a look, it sent every later push to the wrong item."""
    what = "inventory item" if missing == "inventory_item_id" else "product"
    had = conn.execute(select(sku_links).where(sku_links.c.channel == link.channel,
                                               sku_links.c.sku == link.sku)).one_or_none()
    said = []
    if had is not None:
        now = had.inventory_item_id if missing == "inventory_item_id" else (had.variant_id or had.product_id)
        if now and now != key:
            said.append(f"{link.sku} already links to {link.channel} {what} {now}: linking {what} {key} instead "
                        f"replaces that link, and the hub writes {link.sku}'s stock to {what} {key} from then on")
    column = (sku_links.c.inventory_item_id if missing == "inventory_item_id"
              else sku_links.c.variant_id if link.variant_id else sku_links.c.product_id)  # a Woo variation: its id
    other = conn.execute(select(sku_links.c.sku).where(sku_links.c.channel == link.channel, column == key,
                                                       sku_links.c.sku != link.sku)).scalar()
    if other:
        said.append(f"{link.channel} {what} {key} is linked to {other} now: both SKUs would name it")
    return "; ".join(said) + "." if said else None


@bp.get("/stock")
def stock():  # noqa: ANN201
    hub = current_hub()
    prefix, attention = request.args.get("q") or None, request.args.get("attention") == "1"
    channels = sales_channels(hub)
    with hub.engine.connect() as conn:
        rows = stock_overview(conn, hub.stock_policy, channels, prefix=prefix, attention=attention,
                              after=request.args.get("after") or None, limit=STOCK_PAGE)
    return render_template("console/stock.html", rows=rows, channels=channels, q=prefix or "", attention=attention,
                           pushing=set(hub.stock_policy.pushing),
                           next_after=rows[-1]["sku"] if len(rows) == STOCK_PAGE else None)


@bp.get("/orders")
def orders():  # noqa: ANN201
    hub = current_hub()
    args = {k: request.args.get(k) or None for k in ("channel", "status", "q")}
    with hub.engine.connect() as conn:
        rows = list_orders(conn, **args, limit=PAGE, before=_int("before"))
    return render_template("console/orders.html", rows=rows, channels=sorted(hub.config.channels), **args,
                           next_before=rows[-1]["id"] if len(rows) == PAGE else None)


@bp.get("/orders/<int:order_id>")
def order(order_id: int):  # noqa: ANN201
    with current_hub().engine.connect() as conn:
        detail = order_detail(conn, order_id)
        if detail is None:
            abort(404, description="no such order")
        steps = order_timeline(conn, detail)
        ex = exports(conn, order_id)
    return render_template("console/order.html", o=detail, steps=steps, ex=ex)


def parse_since(raw: str) -> datetime:
    """The reports' ``since`` (an ISO date or time; a naive one is UTC). Raises ValueError."""
    since = datetime.fromisoformat(raw)
    return since if since.tzinfo else since.replace(tzinfo=UTC)


@bp.get("/reports")
def reports():  # noqa: ANN201
    since_raw = request.args.get("since") or ""
    try:
        since = parse_since(since_raw) if since_raw else None
    except ValueError:
        abort(400, description="'since' must be an ISO date")
    with current_hub().engine.connect() as conn:
        carriers = carrier_sla(conn, since=since)
        unmatched = list_payments(conn, unmatched=True, limit=200)
        oversell = list_alerts(conn, kind="oversell", limit=200)
        other = [a for a in list_alerts(conn, limit=200) if a["kind"] != "oversell"]
    return render_template("console/reports.html", carriers=carriers, unmatched=unmatched, oversell=oversell,
                           other=other, since=since_raw)


def repair_words(finding: dict[str, str], platform: str) -> str:
    """What was wrong with one webhook and what the hub did, as the shop manager would say it."""
    state = was(finding.get("problem") or "")
    if state == "missing":
        return f"{platform} had no such webhook: the hub added it"
    if state.startswith("delivering to "):
        return f"{platform} was sending it to {state.removeprefix('delivering to ')}: the hub pointed it back"
    return f"{platform} had turned it off ({state}): the hub turned it back on"


@bp.get("/channels")
def channels():  # noqa: ANN201
    """``GET /api/channels`` in the platforms' words: are the webhooks arriving, what the hub fixed, what it
    read from the platform itself."""
    now = utcnow()
    return render_channels(channel_health(current_hub(), now), now)


def render_channels(rows: list[dict[str, Any]], now: datetime) -> str:
    """The Channels page for ``channel_health``'s answer as of ``now``."""
    config = current_hub().config
    titles = {kind: p.title for kind, p in PLATFORMS.items()}
    return render_template("console/channels.html", channels=rows, platforms=titles, repair_words=repair_words,
                           span=span, check_every=config.subscription_check_s, read_every=config.backfill_interval_s,
                           now=now, recent=lambda at: now - datetime.fromisoformat(at) <= REPAIR_RECENT)
