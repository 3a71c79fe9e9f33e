"""Admin read API under /api, behind the bearer ``admin_token`` (constant-time check)."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, request

from .models import EventStatus
from .state import current_hub
from .store import get_event, list_events

bp = Blueprint("admin", __name__, url_prefix="/api")
_STATUSES = {s.value for s in EventStatus}


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
    status = request.args.get("status") or None
    if status and status not in _STATUSES:
        abort(400, description=f"'status' must be one of {sorted(_STATUSES)}")
    rows = list_events(current_hub().engine, channel=request.args.get("channel") or None,
                       topic=request.args.get("topic") or None, status=status,
                       limit=int_arg("limit", 50), before=int_arg("before"))
    return {"events": rows, "next_before": rows[-1]["id"] if rows else None}


@bp.get("/events/<int:event_id>")
def events_show(event_id: int):  # noqa: ANN201
    event = get_event(current_hub().engine, event_id)
    if event is None:
        abort(404, description="no such event")
    return event
