"""Console replays: one task or one event at the press of a button, failed tasks in bulk by the
failed-tasks filter after a preview of what would run, and a progress page that refreshes itself
(meta refresh, no script) until the replay is done, with a cancel button. Everything goes
through ``jobs.replay`` (the same planning and runner as the API and ``hub replay``)."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from jobs.replay import (
    NotFound,
    ReplayError,
    ReplayFilter,
    cancel_replay,
    create_replay,
    get_replay,
    list_replays,
    parse_since,
    preview,
)
from jobs.replay_ops import MODES
from store.models import ReplayStatus

from ..state import current_hub
from .base import bp
from .tasks import filter_args, task_filter

logger = logging.getLogger(__name__)
REPLAY_MODES = ("auto", *MODES)  # auto: each kind's default (refresh for stock and orders)
REFRESH_S = 2  # the progress page reloads itself this often while the replay runs
LIVE = (ReplayStatus.QUEUED.value, ReplayStatus.RUNNING.value)
CREATED_BY = "console"


@bp.context_processor
def _replay_modes() -> dict[str, Any]:
    return {"replay_modes": REPLAY_MODES}


def _mode(form: Any) -> str | None:
    mode = form.get("mode") or "auto"
    if mode not in REPLAY_MODES:
        abort(400, description="unknown mode")
    return None if mode == "auto" else mode


def bulk_filter(args: MultiDict[str, str]) -> tuple[dict[str, Any], ReplayFilter]:
    """The failed-tasks page's filter, as the page shows it and as a replay filter."""
    f = task_filter(args)
    if f["status"] != "failed":
        abort(400, description="only failed tasks are replayed in bulk")
    try:
        flt = ReplayFilter(kind=f["kind"], channel=f["channel"], error_class=f["error_class"],
                           since=parse_since(f["since"]), include_resolved=not f["open"])
        flt.check()
    except ReplayError as exc:
        abort(400, description=str(exc))
    return f, flt


def _start(flt: ReplayFilter, mode: str | None, back: str):  # noqa: ANN202
    hub = current_hub()
    try:
        replay = create_replay(hub, flt, mode, created_by=CREATED_BY)
    except NotFound as exc:
        abort(404, description=str(exc))
    except ReplayError as exc:
        flash(f"Not replayed: {exc}", "error")
        return redirect(back)
    logger.info("console: replay started", extra={"replay_id": replay["id"], "actions": replay["total"]})
    return redirect(url_for("console.replay", replay_id=replay["id"]))


@bp.post("/tasks/<int:task_id>/replay")
def replay_task(task_id: int):  # noqa: ANN201
    return _start(ReplayFilter(task_id=task_id), _mode(request.form), url_for("console.task", task_id=task_id))


@bp.post("/events/<int:event_id>/replay")
def replay_event(event_id: int):  # noqa: ANN201
    return _start(ReplayFilter(event_id=event_id), _mode(request.form), url_for("console.event", event_id=event_id))


@bp.get("/replays/preview")
def replay_preview():  # noqa: ANN201
    """Dry run of a bulk replay: the actions the failed-tasks filter calls for, nothing stored."""
    f, flt = bulk_filter(request.args)
    mode = _mode(request.args)
    try:
        actions = preview(current_hub(), flt, mode)
    except ReplayError as exc:
        abort(400, description=str(exc))
    return render_template("console/replay_preview.html", f=f, fargs=filter_args(f), actions=actions,
                           mode=mode or "auto", tasks_total=sum(a["tasks"] for a in actions))


@bp.post("/replays")
def replay_start():  # noqa: ANN201
    """Start the bulk replay the preview showed (the filter comes back in the form)."""
    f, flt = bulk_filter(request.form)
    return _start(flt, _mode(request.form), url_for("console.tasks_page", **filter_args(f)))


@bp.get("/replays")
def replays():  # noqa: ANN201
    return render_template("console/replays.html", rows=list_replays(current_hub(), limit=50))


@bp.get("/replays/<int:replay_id>")
def replay(replay_id: int):  # noqa: ANN201
    r = get_replay(current_hub(), replay_id)
    if r is None:
        abort(404, description="no such replay")
    return render_template("console/replay.html", r=r, live=r["status"] in LIVE, refresh_s=REFRESH_S,
                           percent=int(r["progress"] * 100))


@bp.post("/replays/<int:replay_id>/cancel")
def replay_cancel(replay_id: int):  # noqa: ANN201
    r = cancel_replay(current_hub(), replay_id)
    if r is None:
        abort(404, description="no such replay")
    flash(f"Replay {replay_id} is {r['status']}: {r['done']} of {r['total']} action(s) ran.", "ok")
    return redirect(url_for("console.replay", replay_id=replay_id))
