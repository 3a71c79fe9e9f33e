"""Tasks, replays, needs-mapping and dashboard figures under /api, behind the admin token.

Each view's docstring carries its OpenAPI operation after ``---`` (apispec's convention); requests and
answers go through the schemas in ``hub.schemas``, so the generated document is what the API does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from marshmallow import Schema, ValidationError

from .admin import require_token
from .schemas import (
    NeedsMappingSchema,
    PreviewSchema,
    ReplayModeSchema,
    ReplayRequestSchema,
    ReplaySchema,
    StatsSchema,
    TaskDetailSchema,
    TaskListSchema,
    TaskQuerySchema,
    error_text,
)
from .state import current_hub

bp = Blueprint("tasks", __name__, url_prefix="/api")
bp.before_request(require_token)
CREATED_BY = "api"


def load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        abort(400, description=error_text(exc))


def body() -> Any:
    """The JSON body; none at all is an empty object."""
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if data is None:
        abort(400, description="the body must be JSON")
    return data


def _replay_call(fn, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
    from jobs.replay import NotFound, ReplayError

    try:
        return fn(*args, **kwargs)
    except NotFound as exc:
        abort(404, description=str(exc))
    except ReplayError as exc:
        abort(400, description=str(exc))


@bp.get("/tasks")
def tasks_list():  # noqa: ANN201
    """Task attempts, newest first.
    ---
    get:
      summary: List task attempts
      description: Every attempt of every sync task (and every failed, parked or resumed event processing),
        newest first. Page with `before` = `next_before`.
      tags: [tasks]
      parameters:
      - in: query
        schema: TaskQuerySchema
      responses:
        200:
          description: A page of attempts
          content:
            application/json:
              schema: TaskListSchema
        400:
          description: A bad filter
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import ReplayError, parse_time
    from jobs.tasks import list_tasks

    args = load(TaskQuerySchema(), request.args.to_dict())
    try:
        args["since"], args["until"] = parse_time(args["since"]), parse_time(args["until"])
    except ReplayError as exc:
        abort(400, description=str(exc))
    with current_hub().engine.connect() as conn:
        rows = list_tasks(conn, **args)
    return TaskListSchema().dump({"tasks": rows, "next_before": rows[-1]["id"] if rows else None})


@bp.get("/tasks/<int:task_id>")
def tasks_show(task_id: int):  # noqa: ANN201
    """One attempt in full.
    ---
    get:
      summary: Show a task attempt
      description: Arguments, what it covered, error and traceback, every attempt of the same task and the
        replays made of it.
      tags: [tasks]
      responses:
        200:
          description: The attempt
          content:
            application/json:
              schema: TaskDetailSchema
        404:
          description: No such task
          content:
            application/json:
              schema: Error
    """
    from jobs.tasks import get_task

    with current_hub().engine.connect() as conn:
        task = get_task(conn, task_id)
    if task is None:
        abort(404, description="no such task")
    return TaskDetailSchema().dump(task)


@bp.post("/tasks/<int:task_id>/replay")
def tasks_replay(task_id: int):  # noqa: ANN201
    """Replay one task.
    ---
    post:
      summary: Replay a task
      description: Queues a replay of the task's entity (the order's export, the channel's stock push, ...)
        reading the current state; answers 202 with the replay, whose progress `GET /api/replays/{id}` shows.
      tags: [replay]
      requestBody:
        required: false
        content:
          application/json:
            schema: ReplayModeSchema
      responses:
        202:
          description: The replay, queued
          content:
            application/json:
              schema: ReplaySchema
        400:
          description: A bad mode
          content:
            application/json:
              schema: Error
        404:
          description: No such task
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import ReplayFilter, create_replay

    mode = load(ReplayModeSchema(), body())["mode"]
    replay = _replay_call(create_replay, current_hub(), ReplayFilter(task_id=task_id), mode, created_by=CREATED_BY)
    return ReplaySchema().dump(replay), 202


@bp.post("/events/<int:event_id>/replay")
def events_replay(event_id: int):  # noqa: ANN201
    """Replay one event.
    ---
    post:
      summary: Replay an event
      description: Any event, whatever its status, is processed again from its stored delivery (payload) or
        from the platform's current record where it can be re-read (refresh; WooCommerce orders and products).
        Older data never overwrites newer. Answers 202 with the replay.
      tags: [replay]
      requestBody:
        required: false
        content:
          application/json:
            schema: ReplayModeSchema
      responses:
        202:
          description: The replay, queued
          content:
            application/json:
              schema: ReplaySchema
        400:
          description: A bad mode
          content:
            application/json:
              schema: Error
        404:
          description: No such event
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import ReplayFilter, create_replay

    mode = load(ReplayModeSchema(), body())["mode"]
    replay = _replay_call(create_replay, current_hub(), ReplayFilter(event_id=event_id), mode, created_by=CREATED_BY)
    return ReplaySchema().dump(replay), 202


@bp.post("/replay")
def replay_bulk():  # noqa: ANN201
    """Replay in bulk by filter, or preview it.
    ---
    post:
      summary: Replay failed tasks by filter
      description: Plans one action per entity (any number of failed stock pushes of a channel are one push
        of the current quantities). With `dry_run` the plan is answered (200) and nothing runs; otherwise
        the replay is queued (202) and runs in the background at `replay_rate_per_s`, cancellable.
      tags: [replay]
      requestBody:
        required: false
        content:
          application/json:
            schema: ReplayRequestSchema
      responses:
        200:
          description: The preview (dry run)
          content:
            application/json:
              schema: PreviewSchema
        202:
          description: The replay, queued
          content:
            application/json:
              schema: ReplaySchema
        400:
          description: A bad filter or mode
          content:
            application/json:
              schema: Error
        404:
          description: The task or event named does not exist
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import ReplayFilter, create_replay

    req = load(ReplayRequestSchema(), body())
    flt = _replay_call(ReplayFilter.from_json, {k: v for k, v in req["filter"].items() if v is not None})
    replay = _replay_call(create_replay, current_hub(), flt, req["mode"], dry_run=req["dry_run"],
                          created_by=CREATED_BY)
    if req["dry_run"]:
        return PreviewSchema().dump(replay)
    return ReplaySchema().dump(replay), 202


@bp.get("/replays/<int:replay_id>")
def replays_show(replay_id: int):  # noqa: ANN201
    """A replay's plan and progress.
    ---
    get:
      summary: Show a replay
      tags: [replay]
      responses:
        200:
          description: The replay, with the attempts it made
          content:
            application/json:
              schema: ReplaySchema
        404:
          description: No such replay
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import get_replay

    replay = get_replay(current_hub(), replay_id)
    if replay is None:
        abort(404, description="no such replay")
    return ReplaySchema().dump(replay)


@bp.delete("/replays/<int:replay_id>")
def replays_cancel(replay_id: int):  # noqa: ANN201
    """Cancel a replay.
    ---
    delete:
      summary: Cancel a replay
      description: A queued replay never starts; a running one stops before its next action (the action under
        way finishes).
      tags: [replay]
      responses:
        200:
          description: The replay, cancelled
          content:
            application/json:
              schema: ReplaySchema
        404:
          description: No such replay
          content:
            application/json:
              schema: Error
        409:
          description: The replay had already finished
          content:
            application/json:
              schema: Error
    """
    from jobs.replay import cancel_replay, get_replay

    hub = current_hub()
    before = get_replay(hub, replay_id)
    if before is None:
        abort(404, description="no such replay")
    if before["status"] not in ("queued", "running"):
        abort(409, description=f"replay {replay_id} is {before['status']}: nothing to cancel")
    return ReplaySchema().dump(cancel_replay(hub, replay_id))


@bp.get("/needs-mapping")
def needs_mapping_list():  # noqa: ANN201
    """What the hub waits for.
    ---
    get:
      summary: List missing links and records
      description: Parked events grouped by the link they wait for (adding it with POST /api/links resumes
        them), and failed tasks the target refused for want of a record, grouped by reason.
      tags: [tasks]
      responses:
        200:
          description: The groups, largest first
          content:
            application/json:
              schema: NeedsMappingSchema
    """
    from .stats import needs_mapping

    with current_hub().engine.connect() as conn:
        return NeedsMappingSchema().dump(needs_mapping(conn))


@bp.get("/stats")
def stats_show():  # noqa: ANN201
    """Dashboard figures.
    ---
    get:
      summary: Dashboard figures
      description: Deliveries per minute by channel over the last hour, open failures by class and kind,
        queue depths, and the oldest delivery and task still pending.
      tags: [tasks]
      responses:
        200:
          description: The figures
          content:
            application/json:
              schema: StatsSchema
    """
    from .stats import dashboard

    return StatsSchema().dump(dashboard(current_hub()))
