"""``hub events``, ``hub tasks`` and ``hub replay``: the operator's commands for what came in, what ran,
and running again what failed."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from hub import create_app
from store.models import TASK_KINDS

from .base import _config, _embedded_redis_env, cli

REASON_CHARS = 70  # a list shows this much of a reason; ``show`` prints it whole


def _app():  # noqa: ANN202

    cfg = _config()
    server = _embedded_redis_env(cfg)
    app = create_app()
    app.extensions["hub_cli_redis"] = server  # keeps an embedded Redis alive as long as the app
    return app


def _cut(text: str | None, n: int = REASON_CHARS) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[:n - 3] + "..."


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _time(value: str | None) -> Any:

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.replay import ReplayError, parse_since

    try:
        return parse_since(value)
    except ReplayError as exc:
        raise click.BadParameter(str(exc)) from None


# ---- events -------------------------------------------------------------------------------------------

@cli.group()
def events() -> None:
    """Stored deliveries."""


@events.command("list")
@click.option("--channel")
@click.option("--topic")
@click.option("--status", type=click.Choice(["received", "processed", "ignored", "needs_mapping", "failed",
                                             "rejected"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--before", type=click.IntRange(1), help="Only ids below this one (the next page).")
def events_list(channel: str | None, topic: str | None, status: str | None, limit: int, before: int | None) -> None:
    """Deliveries, newest first."""
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from store.deliveries import list_events

    rows = list_events(_app().extensions["hub"].engine, channel=channel, topic=topic, status=status, limit=limit,
                       before=before)
    _table(["id", "received", "channel", "topic", "status", "reason"],
           [[e["id"], e["received_at"], e["channel"], e["topic"], e["status"], _cut(e["status_reason"])]
            for e in rows])
    if len(rows) == limit:
        click.echo(f"(more: --before {rows[-1]['id']})")


@events.command("show")
@click.argument("event_id", type=int)
@click.option("--body/--no-body", default=True, show_default=True, help="Print the raw body.")
def events_show(event_id: int, body: bool) -> None:
    """One delivery: headers (credentials redacted), status history, the tasks it caused to fail, its body."""
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.tasks import list_tasks
    from store.deliveries import get_event

    hub = _app().extensions["hub"]
    e = get_event(hub.engine, event_id)
    if e is None:
        raise click.ClickException(f"no event {event_id}")
    click.echo(f"event {e['id']}: {e['channel']} {e['topic']} ({e['kind']}), {e['status']}")
    click.echo(f"dedupe key: {e['dedupe_key']}\nreceived: {e['received_at']}  occurred: {e['occurred_at'] or '-'}")
    click.echo("headers:")
    for k, v in e["headers"].items():
        click.echo(f"  {k}: {v}")
    click.echo("history:")
    for h in e["history"]:
        click.echo(f"  {h['at']}  {h['status']:<14} {h['note'] or ''}".rstrip())
    with hub.engine.connect() as conn:
        recorded = list_tasks(conn, kind="process_event", entity=f"event:{event_id}")
    if recorded:
        click.echo("task records:")
        for t in recorded:
            click.echo(f"  task {t['id']}  attempt {t['attempt']}  {t['status']}  {t['error_class'] or ''}  "
                       f"{_cut(t['error'])}".rstrip())
    if body:
        click.echo("body:")
        try:
            click.echo(json.dumps(json.loads(e["body"]), indent=2, ensure_ascii=False))
        except ValueError:
            click.echo(e["body"])


# ---- tasks ---------------------------------------------------------------------------------------------

KINDS = list(TASK_KINDS)
CLASSES = ["retryable", "permanent", "needs_mapping"]


@cli.group()
def tasks() -> None:
    """Recorded task attempts."""


@tasks.command("list")
@click.option("--status", type=click.Choice(["running", "ok", "retrying", "failed", "cancelled"]))
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--channel", help="Target channel id, erp or crm.")
@click.option("--error-class", type=click.Choice(CLASSES))
@click.option("--since", help="ISO time, or how long ago: 30m, 2h, 7d.")
@click.option("--until", help="ISO time, or how long ago.")
@click.option("--unresolved", is_flag=True, help="Only failures no later attempt has fixed.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--before", type=click.IntRange(1), help="Only ids below this one (the next page).")
def tasks_list(status: str | None, kind: str | None, channel: str | None, error_class: str | None,
               since: str | None, until: str | None, unresolved: bool, limit: int, before: int | None) -> None:
    """Task attempts, newest first."""
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.tasks import list_tasks

    hub = _app().extensions["hub"]
    with hub.engine.connect() as conn:
        rows = list_tasks(conn, status=status, kind=kind, channel=channel, error_class=error_class,
                          since=_time(since), until=_time(until), unresolved=unresolved, limit=limit, before=before)
    _table(["id", "started", "kind", "target", "entity", "try", "status", "class", "error"],
           [[t["id"], t["started_at"], t["kind"], t["channel"], t["entity"], t["attempt"], t["status"],
             t["error_class"], _cut(t["error"], 60)] for t in rows])
    if len(rows) == limit:
        click.echo(f"(more: --before {rows[-1]['id']})")


@tasks.command("show")
@click.argument("task_id", type=int)
def tasks_show(task_id: int) -> None:
    """One attempt: arguments, what it covered, error and traceback, every attempt of the task, replays."""
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.tasks import get_task

    hub = _app().extensions["hub"]
    with hub.engine.connect() as conn:
        t = get_task(conn, task_id)
    if t is None:
        raise click.ClickException(f"no task {task_id}")
    click.echo(f"task {t['id']}: {t['kind']} {t['entity']} -> {t['channel'] or '-'}, attempt {t['attempt']}, "
               f"{t['status']}" + (f" ({t['error_class']})" if t["error_class"] else ""))
    click.echo(f"started {t['started_at']}  finished {t['finished_at'] or '-'}  job {t['job_id'] or '-'}")
    if t["idempotency_key"]:
        click.echo(f"idempotency key: {t['idempotency_key']}")
    if t["replay_of"] or t["replay_id"]:
        click.echo(f"replay of task {t['replay_of'] or '-'} in replay {t['replay_id'] or '-'}")
    if t["resolved_by"]:
        click.echo(f"resolved by task {t['resolved_by']}")
    click.echo(f"args: {json.dumps(t['args'])}")
    if t["detail"]:
        detail = dict(t["detail"])
        if len(detail.get("skus") or []) > 20:
            detail["skus"] = detail["skus"][:20] + [f"... {len(t['detail']['skus']) - 20} more"]
        if len(detail.get("quantities") or {}) > 20:
            detail["quantities"] = f"{len(detail['quantities'])} SKUs"
        click.echo(f"detail: {json.dumps(detail)}")
    if t["error"]:
        click.echo(f"error: {t['error']}")
    if t["traceback"]:
        click.echo(t["traceback"].rstrip())
    click.echo("attempts:")
    for a in t["attempts"]:
        mark = "*" if a["id"] == t["id"] else " "
        click.echo(f" {mark}task {a['id']}  attempt {a['attempt']}  {a['started_at']}  {a['status']}  "
                   f"{a['error_class'] or ''}  {_cut(a['error'], 60)}".rstrip())
    if t["replays"]:
        click.echo("replays: " + ", ".join(f"task {r['id']} ({r['status']})" for r in t["replays"]))


# ---- replay --------------------------------------------------------------------------------------------

@cli.command()
@click.option("--task", "task_id", type=click.IntRange(1), help="Replay this task.")
@click.option("--event", "event_id", type=click.IntRange(1), help="Replay this event (any status).")
@click.option("--failed", is_flag=True, help="Replay the failed tasks matching the filters below.")
@click.option("--channel", help="Target channel id, erp or crm.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--error-class", type=click.Choice(CLASSES))
@click.option("--since", help="Failed since: ISO time, or how long ago (30m, 2h, 7d).")
@click.option("--until", help="Failed before: ISO time, or how long ago.")
@click.option("--include-resolved", is_flag=True, help="Also failures a later attempt already fixed.")
@click.option("--mode", type=click.Choice(["payload", "refresh"]),
              help="payload: from the stored input; refresh: re-read the platform first (default for stock "
                   "pushes and order exports).")
@click.option("--dry-run", is_flag=True, help="Show the plan only.")
@click.option("--background", is_flag=True, help="Queue it for the workers instead of running it here.")
def replay(task_id: int | None, event_id: int | None, failed: bool, channel: str | None, kind: str | None,
           error_class: str | None, since: str | None, until: str | None, include_resolved: bool,
           mode: str | None, dry_run: bool, background: bool) -> None:
    """Run again a failed task, an event, or every failed task matching filters, with a preview.

    Replays read the current state (stock pushes publish the ledger's quantities now, exports read the
    order now) and never make a second remote record. Here they run in this process at replay_rate_per_s
    with a progress bar, then a summary table; --background queues them for the workers instead.
    """
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.replay import ReplayError, ReplayFilter, create_replay, execute

    chosen = sum(x is not None and x is not False for x in (task_id, event_id, failed or None))
    if chosen != 1:
        raise click.UsageError("give exactly one of --task ID, --event ID or --failed")
    if not failed and any((channel, kind, error_class, since, until, include_resolved)):
        raise click.UsageError("--channel, --kind, --error-class, --since and --until go with --failed")
    flt = ReplayFilter(task_id=task_id, event_id=event_id, kind=kind, channel=channel, error_class=error_class,
                       since=_time(since), until=_time(until), include_resolved=include_resolved)
    app = _app()
    hub = app.extensions["hub"]
    who = f"cli:{getpass.getuser()}"
    try:
        planned = create_replay(hub, flt, mode, dry_run=dry_run, created_by=who, enqueue=background)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    _table(["#", "action", "tasks", "mode"], [[n, a["text"], a["tasks"], a["mode"]]
                                              for n, a in enumerate(planned["actions"], 1)])
    if not planned["actions"]:
        click.echo("nothing to replay")
        return
    if dry_run:
        click.echo(f"dry run: {planned['total']} action(s) planned, nothing ran (replay {planned['id']})")
        return
    if background:
        click.echo(f"replay {planned['id']} queued: {planned['total']} action(s); "
                   f"GET /api/replays/{planned['id']} shows its progress")
        return
    with app.app_context(), click.progressbar(length=planned["total"], label=f"replay {planned['id']}",
                                              file=sys.stderr, show_pos=True) as bar:
        result = execute(hub, planned["id"], progress=lambda _outcome: bar.update(1))
    by_key = {t["entity"]: t for t in reversed(result["tasks"])}  # the attempt each action made
    _table(["action", "status", "task", "class", "error"],
           [[a["key"], by_key.get(a["key"], {}).get("status", "not run"), by_key.get(a["key"], {}).get("id"),
             by_key.get(a["key"], {}).get("error_class"), _cut(by_key.get(a["key"], {}).get("error"), 60)]
            for a in result["actions"]])
    click.echo(f"replay {result['id']}: {result['status']}, {result['done']}/{result['total']} done, "
               f"{result['failed']} failed")
    if result["failed"] or result["status"] != "done":
        raise SystemExit(1)
