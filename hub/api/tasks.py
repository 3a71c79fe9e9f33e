"""Tasks, replays, needs-mapping and dashboard figures under /api, behind the admin token.

Each view's docstring carries its OpenAPI operation after ``---`` (see ``hub/api/openapi.py``); query strings,
bodies and answers are the schemas in ``hub/api/schemas.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from marshmallow import Schema, ValidationError

from hub.dashboard import dashboard, needs_mapping
from hub.state import current_hub
from jobs.replay import NotFound, ReplayError, ReplayFilter, cancel_replay, create_replay, get_replay, parse_since
from jobs.tasks import get_task, list_tasks

from .admin import require_token
from .schemas import ReplayMode, ReplayRequest, TasksQuery, describe, load_query

bp = Blueprint("tasks", __name__, url_prefix="/api")
bp.before_request(require_token)
CREATED_BY = "api"


def load_body(schema: type[Schema]) -> dict[str, Any]:
    """The JSON body parsed by ``schema`` (no body at all: an empty object); 400 naming each bad key."""
    data: Any = {}
    if request.get_data():
        data = request.get_json(silent=True)
        if data is None:
            abort(400, description="the body must be JSON")
    try:
        return schema().load(data)
    except ValidationError as exc:
        abort(400, description=describe(exc.messages))


def _replay_call(fn, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
    """``jobs.replay`` errors as answers: NotFound -> 404, ReplayError -> 400."""

    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        abort(404, description=str(exc))
    except ReplayError as exc:
        abort(400, description=str(exc))


def _queue_one(**target: int) -> tuple[Any, int]:
    """A replay of one task or one event (``task_id=`` / ``event_id=``), in the mode the body asks for."""

    mode = load_body(ReplayMode)["mode"]
    return _replay_call(create_replay, current_hub(), ReplayFilter(**target), mode, created_by=CREATED_BY), 202


@bp.get("/tasks")
def tasks_list():  # noqa: ANN201
    """Task attempts, newest first: every attempt of every sync task, and every failed, parked or resumed
    event processing. Page with ``before`` = ``next_before``.
    ---
    get:
      summary: List task attempts
      tags: [tasks]
      parameters: [{in: query, schema: TasksQuery}]
      responses:
        200: {description: A page of attempts, content: {application/json: {schema: TaskList}}}
        400: BadRequest
    """

    args = load_query(TasksQuery)
    args = {"status": None, "kind": None, "channel": None, "error_class": None, "entity": None, "since": None,
            "until": None, "before": None, **args}
    try:
        args["since"], args["until"] = parse_since(args["since"]), parse_since(args["until"])
    except ReplayError as exc:
        abort(400, description=str(exc))
    with current_hub().engine.connect() as conn:
        rows = list_tasks(conn, **args)
    return {"tasks": rows, "next_before": rows[-1]["id"] if rows else None}


@bp.get("/tasks/<int:task_id>")
def tasks_show(task_id: int):  # noqa: ANN201
    """One attempt in full: arguments, what it covered, error and traceback, every attempt of the same task
    and the replays made of it.
    ---
    get:
      summary: One task attempt
      tags: [tasks]
      responses:
        200: {description: The attempt, content: {application/json: {schema: TaskDetail}}}
        404: NotFound
    """

    with current_hub().engine.connect() as conn:
        task = get_task(conn, task_id)
    if task is None:
        abort(404, description="no such task")
    return task


@bp.post("/tasks/<int:task_id>/replay")
def tasks_replay(task_id: int):  # noqa: ANN201
    """Queue a replay of the task's entity (the order's export, the channel's stock push, ...), which reads
    the current state; the answer is the replay, whose progress ``GET /api/replays/{id}`` shows.
    ---
    post:
      summary: Replay a task
      tags: [replay]
      requestBody: {required: false, content: {application/json: {schema: ReplayMode}}}
      responses:
        202: {description: The queued replay, content: {application/json: {schema: Replay}}}
        400: BadRequest
        404: NotFound
    """
    return _queue_one(task_id=task_id)


@bp.post("/events/<int:event_id>/replay")
def events_replay(event_id: int):  # noqa: ANN201
    """Queue a replay of any event, whatever its status: processed again from its stored delivery (payload)
    or from the platform's current record where it can be re-read (refresh: WooCommerce orders and products).
    Older data never overwrites newer.
    ---
    post:
      summary: Replay an event
      tags: [replay]
      requestBody: {required: false, content: {application/json: {schema: ReplayMode}}}
      responses:
        202: {description: The queued replay, content: {application/json: {schema: Replay}}}
        400: BadRequest
        404: NotFound
    """
    return _queue_one(event_id=event_id)


@bp.post("/replay")
def replay_bulk():  # noqa: ANN201
    """Replay failed tasks by filter, or preview it. One action per entity: any number of failed stock pushes
    of a channel are one push of the current quantities. ``dry_run``: the plan (stored, never run); otherwise
    the replay is queued and runs in the background at ``replay_rate_per_s``, cancellable.
    ---
    post:
      summary: Replay failed tasks by filter (or preview)
      tags: [replay]
      requestBody: {required: false, content: {application/json: {schema: ReplayRequest}}}
      responses:
        200: {description: The preview (dry run), content: {application/json: {schema: Replay}}}
        202: {description: The queued replay, content: {application/json: {schema: Replay}}}
        400: BadRequest
        404: NotFound
    """

    req = load_body(ReplayRequest)
    flt = _replay_call(ReplayFilter.from_json, {k: v for k, v in req["filter"].items() if v is not None})
    replay = _replay_call(create_replay, current_hub(), flt, req["mode"], dry_run=req["dry_run"],
                          created_by=CREATED_BY)
    return (replay, 200) if req["dry_run"] else (replay, 202)


@bp.route("/replays/<int:replay_id>", methods=["GET", "DELETE"])
def replay_one(replay_id: int):  # noqa: ANN201
    """A replay's plan, progress and the attempts it made (GET); DELETE cancels it: a queued replay never
    starts, a running one stops before its next action (the action under way finishes).
    ---
    get:
      summary: One replay
      tags: [replay]
      responses:
        200: {description: The replay, content: {application/json: {schema: Replay}}}
        404: NotFound
    delete:
      summary: Cancel a replay
      tags: [replay]
      responses:
        200: {description: The cancelled replay, content: {application/json: {schema: Replay}}}
        404: NotFound
        409: {description: The replay had already finished, content: {application/json: {schema: Error}}}
    """

    hub = current_hub()
    replay = get_replay(hub, replay_id)
    if replay is None:
        abort(404, description="no such replay")
    if request.method == "GET":
        return replay
    if replay["status"] not in ("queued", "running"):
        abort(409, description=f"replay {replay_id} is {replay['status']}: nothing to cancel")
    return cancel_replay(hub, replay_id)


@bp.get("/needs-mapping")
def needs_mapping_list():  # noqa: ANN201
    """What the hub waits for: parked events grouped by the link they wait for (adding it with POST /api/links
    resumes them), and failed tasks the target refused for want of a record, grouped by reason.
    ---
    get:
      summary: Missing links and records
      tags: [tasks]
      responses:
        200: {description: The groups (largest first), content: {application/json: {schema: NeedsMapping}}}
    """

    with current_hub().engine.connect() as conn:
        return needs_mapping(conn)


@bp.get("/stats")
def stats_show():  # noqa: ANN201
    """Dashboard figures: deliveries per minute by channel over the last hour, open failures by class and
    kind, queue depths, the oldest delivery and task still pending.
    ---
    get:
      summary: Dashboard figures
      tags: [tasks]
      responses:
        200: {description: The figures, content: {application/json: {schema: Stats}}}
    """

    return dashboard(current_hub())
