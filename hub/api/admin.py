"""Admin read API under /api, behind the bearer ``admin_token`` (constant-time check)."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, request

from hub.state import current_hub
from store.deliveries import get_event, list_events

from .schemas import EventsQuery, load_query

bp = Blueprint("admin", __name__, url_prefix="/api")


def require_token() -> tuple[dict, int, dict] | None:
    """before_request guard of every /api blueprint: a bearer token equal to ``admin_token``."""
    token = current_hub().config.admin_token
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    ok = bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode())
    if not ok:
        return {"error": "unauthorized"}, 401, {"WWW-Authenticate": 'Bearer realm="hub"'}
    return None


bp.before_request(require_token)


def int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"'{name}' must be an integer")
    if value < 1:
        abort(400, description=f"'{name}' must be positive")
    return value


@bp.get("/events")
def events_list():  # noqa: ANN201
    """Stored deliveries, newest first, a page at a time.
    ---
    get:
      summary: List events (deliveries)
      tags: [events]
      parameters: [{in: query, schema: EventsQuery}]
      responses:
        200: {description: A page of events, content: {application/json: {schema: EventList}}}
        400: BadRequest
    """
    args = load_query(EventsQuery)
    rows = list_events(current_hub().engine, channel=args.get("channel"), topic=args.get("topic"),
                       status=args.get("status"), limit=args["limit"], before=args.get("before"))
    return {"events": rows, "next_before": rows[-1]["id"] if rows else None}


@bp.get("/events/<int:event_id>")
def events_show(event_id: int):  # noqa: ANN201
    """One delivery: headers (credentials redacted), raw body as text, status history.
    ---
    get:
      summary: One event
      tags: [events]
      responses:
        200: {description: The event, content: {application/json: {schema: EventDetail}}}
        404: NotFound
    """
    event = get_event(current_hub().engine, event_id)
    if event is None:
        abort(404, description="no such event")
    return event
