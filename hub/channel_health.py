"""Per channel, whether its webhooks are healthy: one answer for ``GET /api/channels`` and the console.

It puts side by side what the hub already records: the webhook deliveries per topic (``events``: the last
one and the count over ``WINDOW``, webhooks apart from the changes the backfill stored), the subscription
checks and repairs (``jobs.subscriptions``: task records ``check_subscriptions`` and alerts
``subscription_repaired``) and the backfill runs (``jobs.backfill``: task records ``backfill`` and the
watermark in ``pull_cursors``), and gives a verdict in plain words, the worst finding first:

- ``failing``: the last backfill run or subscription check failed; or the backfill found changes made on the
  channel after its last webhook (and after the last repair, which explains what came before) that no
  webhook brought in ``WEBHOOK_LAG_S``: its webhooks are lost now;
- ``warning``: the hub repaired the channel's webhooks within ``REPAIR_RECENT``;
- ``unknown``: no webhook has come yet and nothing else tells;
- ``ok``.

Cheap on a large ``events`` table (``bench/channel_health.py``): per channel the topics are found by a skip
scan of ``ix_events_channel_topic_received_at`` (one index seek per topic), each topic's last webhook by a
walk back from its newest delivery (past the backfill's deliveries only), the count over ``WINDOW`` from that
index alone, less the backfill's share, read only among the deliveries received while a backfill ran. Task
records are found through ``ix_tasks_kind_entity`` within an id range that ``ix_tasks_started_at`` gives for a
time range; no search goes back further than ``LOOKBACK``. A replay's re-read of a delivery (``refresh``) is
counted with the webhooks (not with the last webhook): it is rare, and telling it apart would mean reading
every delivery of the window.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, cast, func, select
from sqlalchemy.sql.expression import Select

from connectors import change_source
from hub.api.stock import list_alerts
from jobs import backfill, subscriptions
from store.deliveries import iso, utcnow
from store.models import events, pull_cursors, tasks

from .config import ChannelConfig
from .state import Hub

WINDOW = timedelta(hours=24)  # deliveries are counted over this
LOOKBACK = timedelta(days=7)  # how far back the last backfill that stored something, and lost changes, are looked for
REPAIR_RECENT = timedelta(hours=24)  # a repair this recent is a warning
WEBHOOK_LAG_S = 120  # a platform may send a change's webhook this long after the change: lost only after that
ALERTS_READ = 1000  # open repair alerts read, for every channel together
ERROR_CHARS = 200  # of a failed run's error, in the verdict
TOPICS_NAMED = 3  # repaired topics named in the verdict; the rest are counted


class Health(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    WARNING = "warning"
    FAILING = "failing"


_RANK = {Health.OK: 0, Health.UNKNOWN: 1, Health.WARNING: 2, Health.FAILING: 3}


@dataclass
class Topic:
    topic: str
    last_at: datetime | None = None  # the newest delivery the platform sent (not one the hub read itself)
    webhooks: int = 0  # deliveries in WINDOW that the backfill did not store
    backfilled: int = 0  # changes the backfill stored in WINDOW


@dataclass
class Run:
    """One task record (a subscription check or a backfill run)."""

    task_id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    detail: dict[str, Any] = field(default_factory=dict)


# ---- wording -------------------------------------------------------------------------------------------

def span(seconds: float) -> str:
    """A duration in the fewest words: ``45 s``, ``10 min``, ``3 h``, ``2 d``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 48 * 3600:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def ago(then: datetime | None, now: datetime) -> str:
    """``just now``, ``10 min ago``, ... (``never`` for None)."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


def was(problem: str) -> str:
    """A repair finding's problem as its state: ``disabled``, ``missing``, ``delivering to <url>``."""
    return problem.split(" (")[0].removesuffix(", not the hub")


def _stopped_first(finding: dict[str, Any]) -> int:
    """Webhooks the platform stopped (the usual loss) before misdirected ones, before missing ones."""
    state = was(str(finding.get("problem", "")))
    return 2 if state == "missing" else 1 if state.startswith("delivering") else 0


EVENTS = "events"  # the resource of the sources that read the platform's own events (Stripe, PayPal): every topic


def noun(resource: str) -> str:
    """``orders`` -> ``order``: how a resource's topics and changes are named."""
    return resource.removesuffix("s")


def of_resource(topic: str, resource: str) -> bool:
    """Whether the backfill of ``resource`` reads ``topic``'s changes: WooCommerce ``order.created`` and Shopify
    ``orders/create`` are of ``orders``; every topic is an event."""
    head = topic.replace("/", ".").split(".")[0]
    return resource == EVENTS or head in (resource, noun(resource))


def changes(resource: str, n: int) -> str:
    """``7 order change(s)``, ``7 event(s)``."""
    return f"{n} event(s)" if resource == EVENTS else f"{n} {noun(resource)} change(s)"


# ---- SQL -----------------------------------------------------------------------------------------------

def _source(t: Any) -> ColumnElement[Any]:
    return t.c.headers["X-Hub-Source"].as_string()


def _by_webhook(t: Any) -> ColumnElement[bool]:
    """The platform sent it (``store.deliveries.event_source`` in SQL): not stored by the backfill, not a
    replay's read."""
    return and_(func.coalesce(_source(t), "") != "backfill", t.c.headers["X-Hub-Refresh"].as_string().is_(None))


def _topics_seen(channel: str) -> Select[Any]:
    """Every topic the channel has delivered, with its last webhook: a recursive skip scan (the next topic
    after the last one found, one index seek each), then a walk back from each topic's newest delivery."""
    e, later = events.alias("e"), events.alias("later")
    # PostgreSQL wants both terms of the recursion of one type: varchar(128) and min()'s varchar differ
    first = select(func.min(events.c.topic)).where(events.c.channel == channel).scalar_subquery()
    seen = select(cast(first, String).label("topic")).cte("seen", recursive=True)
    after = select(func.min(later.c.topic)).where(later.c.channel == channel, later.c.topic > seen.c.topic)
    seen = seen.union_all(select(cast(after.scalar_subquery(), String)).where(seen.c.topic.is_not(None)))
    last = (select(e.c.received_at).where(e.c.channel == channel, e.c.topic == seen.c.topic, _by_webhook(e))
            .order_by(e.c.received_at.desc()).limit(1).correlate(seen).scalar_subquery())
    return select(seen.c.topic, last.label("last_at")).where(seen.c.topic.is_not(None))


def deliveries(conn: Connection, channel: str, wanted: Iterable[str], resource: str | None,
               now: datetime) -> list[Topic]:
    """Per topic (those delivered and those the hub keeps subscribed), the last webhook and the counts over
    ``WINDOW``; ordered by topic. The count of everything stored comes from the index alone; the backfill's
    share (of ``resource``'s topics) is subtracted (``_backfilled``), so no other delivery of the window is read."""
    found = {r.topic: Topic(r.topic, r.last_at) for r in conn.execute(_topics_seen(channel))}
    since = now - WINDOW
    if found:
        names = sorted(found)
        backfilled_topics = [t for t in names if resource and of_resource(t, resource)]
        for topic, n in conn.execute(select(events.c.topic, func.count()).where(
                events.c.channel == channel, events.c.topic.in_(names), events.c.received_at >= since)
                .group_by(events.c.topic)):
            found[topic].webhooks = n
        first = _first_task_since(conn, since - timedelta(seconds=backfill.MAX_RUN_S))
        if first is not None and backfilled_topics:
            stored = conn.execute(_backfilled(channel, backfilled_topics, first, since, now)).one()
            for topic, n in zip(backfilled_topics, stored, strict=True):  # PostgreSQL sums as numeric
                found[topic].webhooks -= int(n)
                found[topic].backfilled = int(n)
    for topic in wanted:
        found.setdefault(topic, Topic(topic))
    return [found[t] for t in sorted(found)]


def _backfilled(channel: str, topics: list[str], first_task: int, since: datetime, now: datetime) -> Select[Any]:
    """The deliveries of each of ``topics`` the backfill stored since ``since`` (one column each): per backfill run
    (task ``first_task`` on, a few seconds each) only the deliveries received while it ran are read for its mark.
    Correlated subqueries keep the runs the outer loop (a join lets SQLite walk the whole window instead)."""
    runs = select(tasks.c.started_at, func.coalesce(tasks.c.finished_at, now).label("finished_at")).where(
        tasks.c.kind == backfill.TASK, tasks.c.entity == _entity(channel), tasks.c.id >= first_task).subquery("run")
    per_topic = [select(func.count()).where(
        events.c.channel == channel, events.c.topic == topic, events.c.received_at >= runs.c.started_at,
        events.c.received_at <= runs.c.finished_at, events.c.received_at >= since, _source(events) == "backfill")
        .correlate(runs).scalar_subquery() for topic in topics]
    return select(*(func.coalesce(func.sum(n), 0) for n in per_topic)).select_from(runs)


def _lost(conn: Connection, channel: str, topics: list[str], after: datetime, now: datetime) -> int:
    """Changes the backfill stored that were made on the channel after ``after`` and are older than
    ``WEBHOOK_LAG_S``: no webhook brought them."""
    if not topics:
        return 0
    return conn.execute(select(func.count()).where(
        events.c.channel == channel, events.c.topic.in_(topics), events.c.received_at > after,
        _source(events) == "backfill", events.c.occurred_at > after,
        events.c.occurred_at <= now - timedelta(seconds=WEBHOOK_LAG_S))).scalar() or 0


def _first_task_since(conn: Connection, since: datetime) -> int | None:
    """The id of the first task record started at or after ``since`` (ids grow with time): bounds a search
    by id, which ``ix_tasks_kind_entity`` orders, instead of by time, which it does not."""
    return conn.execute(select(tasks.c.id).where(tasks.c.started_at >= since)
                        .order_by(tasks.c.started_at).limit(1)).scalar()


def _last_task_until(conn: Connection, until: datetime) -> int | None:
    """The id of the last task record started at or before ``until`` (see ``_first_task_since``)."""
    return conn.execute(select(tasks.c.id).where(tasks.c.started_at <= until)
                        .order_by(tasks.c.started_at.desc()).limit(1)).scalar()


def _entity(channel: str) -> str:
    return f"channel:{channel}"  # what jobs.subscriptions and jobs.backfill record their runs under


def _stored() -> ColumnElement[Any]:
    return tasks.c.detail["stored"].as_integer()


def _runs(conn: Connection, kind: str, channel: str, *where: Any) -> Run | None:
    row = conn.execute(select(tasks.c.id, tasks.c.started_at, tasks.c.finished_at, tasks.c.status, tasks.c.error,
                              tasks.c.detail)
                       .where(tasks.c.kind == kind, tasks.c.entity == _entity(channel), *where)
                       .order_by(tasks.c.id.desc()).limit(1)).one_or_none()
    if row is None:
        return None
    return Run(row.id, row.started_at, row.finished_at, row.status, row.error, row.detail or {})


def _stored_after(conn: Connection, channel: str, since: datetime) -> int:
    """What the backfill runs stored in the ``LOOKBACK`` after ``since``."""
    first, last = _first_task_since(conn, since), _last_task_until(conn, since + LOOKBACK)
    if first is None or last is None:
        return 0
    return int(conn.execute(select(func.coalesce(func.sum(_stored()), 0)).where(
        tasks.c.kind == backfill.TASK, tasks.c.entity == _entity(channel), tasks.c.id >= first, tasks.c.id <= last)
    ).scalar() or 0)


def _watermark(conn: Connection, channel: str, resource: str) -> str | None:
    name = backfill.cursor_name(channel, resource)
    return conn.execute(select(pull_cursors.c.value).where(pull_cursors.c.name == name)).scalar()


# ---- per channel ---------------------------------------------------------------------------------------

def _findings(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``jobs.subscriptions.Finding``s as recorded (a check's detail, an alert's): what was wrong, what was done."""
    return [{"topic": f.get("topic"), "problem": f.get("problem"), "action": f.get("action")} for f in found]


def _check_dict(run: Run) -> dict[str, Any]:
    return {"task_id": run.task_id, "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
            "status": run.status, "error": run.error, "checked": run.detail.get("checked"),
            "repaired": _findings(run.detail.get("repaired") or [])}


def _backfill_dict(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    d = run.detail
    return {"task_id": run.task_id, "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
            "status": run.status, "error": run.error, **{k: d.get(k) for k in (
                "since", "read", "stored", "known", "calls", "watermark")}}


def _subscriptions(conn: Connection, cfg: ChannelConfig, is_managed: bool,
                   open_alerts: list[dict[str, Any]]) -> tuple[dict[str, Any], datetime | None]:
    """The channel's subscriptions part, and when its webhooks were last repaired (its newest open alert)."""
    out: dict[str, Any] = {"managed": is_managed, "topics": list(subscriptions.topics(cfg)) if is_managed else [],
                           "last_check": None, "last_repair": None, "open_alerts": open_alerts}
    if cfg.kind not in subscriptions.HANDLED:
        return out, None
    last = _runs(conn, subscriptions.TASK, cfg.id)
    out["last_check"] = _check_dict(last) if last else None
    repaired_at = max((datetime.fromisoformat(a["updated_at"]) for a in open_alerts), default=None)
    if repaired_at is None:
        return out, None
    until = _last_task_until(conn, repaired_at)
    check = _runs(conn, subscriptions.TASK, cfg.id, tasks.c.id <= until) if until is not None else None
    found = (check.detail.get("repaired") if check else None) or [  # a check that failed midway recorded none
        a["detail"] for a in open_alerts
        if check is None or datetime.fromisoformat(a["updated_at"]) >= check.started_at]
    out["last_repair"] = {"task_id": check.task_id if check else None, "at": iso(repaired_at),
                          "repaired": _findings(found), "backfilled_after": None}
    return out, repaired_at


def _backfill(conn: Connection, cfg: ChannelConfig, now: datetime) -> dict[str, Any]:
    source = change_source(cfg)
    out: dict[str, Any] = {"enabled": source is not None, "resource": source.resource if source else None,
                           "watermark": None, "last_run": None, "last_stored": None, "last_webhook_at": None,
                           "missed": 0}
    if source is not None:
        out["watermark"] = _watermark(conn, cfg.id, source.resource)
    if cfg.kind not in backfill.BACKFILL_KINDS:
        return out
    last = _runs(conn, backfill.TASK, cfg.id)
    out["last_run"] = _backfill_dict(last)
    if last is not None and int(last.detail.get("stored") or 0) > 0:
        out["last_stored"] = out["last_run"]
    elif last is not None and (first := _first_task_since(conn, now - LOOKBACK)) is not None:
        out["last_stored"] = _backfill_dict(_runs(conn, backfill.TASK, cfg.id, tasks.c.id >= first, _stored() > 0))
    return out


def _gap(conn: Connection, cfg: ChannelConfig, fill: dict[str, Any], topics_: list[Topic],
         repaired_at: datetime | None, now: datetime) -> None:
    """``fill``'s ``last_webhook_at`` (of the backfilled resource's topics) and ``missed``: the changes the
    backfill found that were made after it and after the last repair, and that no webhook brought since."""
    resource = fill["resource"]
    if resource is None:
        return
    theirs = [t.topic for t in topics_ if of_resource(t.topic, resource)]
    last_hook = max((t.last_at for t in topics_ if t.last_at and t.topic in theirs), default=None)
    after = max(x for x in (last_hook, repaired_at, now - LOOKBACK) if x is not None)
    fill["last_webhook_at"], fill["missed"] = iso(last_hook), _lost(conn, cfg.id, theirs, after, now)


def _failed(what: str, run: dict[str, Any] | None) -> tuple[Health, str] | None:
    if run is None or run["status"] != "failed":
        return None
    return Health.FAILING, f"{what} failing: {(run['error'] or 'no reason recorded')[:ERROR_CHARS]}"


def verdict(subs: dict[str, Any], topics_: list[Topic], fill: dict[str, Any], now: datetime) -> dict[str, str]:
    """The channel's status and the findings behind it, the worst first (see the module's docstring)."""
    findings = [f for f in (_failed("backfill", fill["last_run"]), _failed("webhook check", subs["last_check"]))
                if f is not None]
    resource = fill["resource"]
    if fill["missed"]:
        last = fill["last_webhook_at"]
        since = f"for {span((now - datetime.fromisoformat(last)).total_seconds())}" if last else "yet"
        what = "" if resource == EVENTS else f"{noun(resource)} "
        findings.append((Health.FAILING, f"no {what}webhook {since} while the backfill found "
                                         f"{changes(resource, fill['missed'])}"))
    repair = subs["last_repair"]
    if repair is not None and now - (at := datetime.fromisoformat(repair["at"])) <= REPAIR_RECENT:
        fixed = sorted(repair["repaired"], key=_stopped_first)
        named = ", ".join(f"{f['topic']} was {was(f['problem'] or '')}" for f in fixed[:TOPICS_NAMED])
        more = f" and {len(fixed) - TOPICS_NAMED} more" if len(fixed) > TOPICS_NAMED else ""
        text = f"webhooks repaired {ago(at, now)}: {named}{more}"
        if resource and repair["backfilled_after"]:
            text += f"; the backfill then found {changes(resource, repair['backfilled_after'])}"
        findings.append((Health.WARNING, text))
    if not findings and not any(t.last_at for t in topics_):
        findings.append((Health.UNKNOWN, "no delivery yet"))
    if not findings:
        return {"status": Health.OK.value, "reason": "ok"}
    findings.sort(key=lambda f: -_RANK[f[0]])
    return {"status": findings[0][0].value, "reason": "; ".join(text for _, text in findings)}


def channel_health(hub: Hub, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every configured channel, by id: its subscriptions, deliveries, backfill and verdict (the shape of
    ``hub.api.schemas.ChannelList``'s ``channels``)."""
    now = now or utcnow()
    keeps = set(subscriptions.managed(hub.config))
    out = []
    with hub.engine.connect() as conn:
        alerts_by_channel: dict[str, list[dict[str, Any]]] = {}
        for a in list_alerts(conn, kind=subscriptions.ALERT, limit=ALERTS_READ):
            channel = (a["detail"] or {}).get("channel") or a["key"].partition(":")[0]
            alerts_by_channel.setdefault(channel, []).append(a)
        for channel_id in sorted(hub.config.channels):
            cfg = hub.config.channels[channel_id]
            subs, repaired_at = _subscriptions(conn, cfg, channel_id in keeps, alerts_by_channel.get(channel_id, []))
            fill = _backfill(conn, cfg, now)
            topics_ = deliveries(conn, channel_id, subs["topics"], fill["resource"], now)
            _gap(conn, cfg, fill, topics_, repaired_at, now)
            if subs["last_repair"] is not None and fill["resource"] is not None:
                subs["last_repair"]["backfilled_after"] = _stored_after(conn, channel_id, repaired_at)
            out.append({
                "id": channel_id, "kind": cfg.kind, "health": verdict(subs, topics_, fill, now),
                "subscriptions": subs,
                "deliveries": {"last_at": iso(max((t.last_at for t in topics_ if t.last_at), default=None)),
                               "topics": [{"topic": t.topic, "last_at": iso(t.last_at), "webhooks_24h": t.webhooks,
                                           "backfilled_24h": t.backfilled} for t in topics_]},
                "backfill": fill,
            })
    return out
