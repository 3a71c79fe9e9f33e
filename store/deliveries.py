"""The durable event store: one row per delivery, exactly once per (channel, dedupe key).

``insert_delivery`` is the ingest hot path: a single ``INSERT .. ON CONFLICT DO NOTHING
RETURNING id`` (plus a lookup only for duplicates), so concurrent copies of one delivery end
as one row without an IntegrityError dance. Status moves are recorded in ``event_history``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Insert

from .models import EventStatus, UTCDateTime, event_history, events, parked

MAX_LIST_LIMIT = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Stored:
    event_id: int
    created: bool
    status: str


@functools.cache
def _insert_stmt(dialect: str) -> Insert:
    mod = postgresql if dialect == "postgresql" else sqlite
    return (mod.insert(events)
            .on_conflict_do_nothing(index_elements=["channel", "dedupe_key"])
            .returning(events.c.id))


@functools.cache
def _insert_ignoring(dialect: str, table: Any, returning_id: bool) -> Any:
    """Built once per table (SQLAlchemy then skips building the statement and its cache key)."""
    q = (postgresql if dialect == "postgresql" else sqlite).insert(table).on_conflict_do_nothing()
    return q.returning(table.c.id) if returning_id else q


def insert_ignore(conn: Connection, table: Any, row: dict[str, Any]) -> None:
    """INSERT that is a no-op when a unique constraint already holds the row (both backends)."""
    conn.execute(_insert_ignoring(conn.dialect.name, table, False), row)


def insert_returning_id(conn: Connection, table: Any, row: dict[str, Any]) -> int | None:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id: the new id, or None when a unique key already
    holds such a row (e.g. a concurrent worker inserted it first; under PostgreSQL this waits for
    that worker's commit instead of failing the job)."""
    return conn.execute(_insert_ignoring(conn.dialect.name, table, True), row).scalar()


_ROW_KEYS = ["channel", "kind", "topic", "dedupe_key", "received_at", "occurred_at", "status", "status_reason",
             "updated_at", "headers", "body"]


class DeliveryStore:
    """Writes deliveries: the ingest hot path.

    A new delivery is one ``INSERT .. ON CONFLICT DO NOTHING RETURNING id``, compiled once from
    the SQLAlchemy statement and run on a raw pooled DBAPI connection in autocommit (the lone
    statement is atomic by itself): no BEGIN/COMMIT round trips, no per-call compilation, which
    halves the CPU of the write. Duplicates and rejected bodies take the ordinary Core path.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        compiled = _insert_stmt(self.dialect.name).compile(dialect=self.dialect, column_keys=_ROW_KEYS)
        self._sql = str(compiled)
        self._positions = compiled.positiontup  # qmark drivers (SQLite) take a tuple
        self._time = UTCDateTime()

    def add(self, *, channel: str, kind: str, topic: str, dedupe_key: str, occurred_at: datetime | None,
            headers: dict[str, str], body: bytes, status: EventStatus = EventStatus.RECEIVED,
            reason: str | None = None) -> Stored:
        """Store one delivery; a second copy (same channel + dedupe key) returns the first row."""
        now = utcnow()
        row = {"channel": channel, "kind": kind, "topic": topic[:128], "dedupe_key": dedupe_key[:255],
               "received_at": now, "occurred_at": occurred_at, "status": status.value,
               "status_reason": reason, "updated_at": now, "headers": headers, "body": body}
        if status is EventStatus.RECEIVED:
            new_id = self._insert_autocommit(row)
            if new_id is not None:
                return Stored(new_id, True, status.value)
        with self.engine.begin() as conn:
            if status is not EventStatus.RECEIVED:
                new_id = conn.execute(_insert_stmt(self.dialect.name), row).scalar()
                if new_id is not None:
                    _history(conn, new_id, status, reason, now)
                    return Stored(new_id, True, status.value)
            existing = conn.execute(
                select(events.c.id, events.c.status).where(events.c.channel == channel,
                                                           events.c.dedupe_key == row["dedupe_key"])
            ).one()
        return Stored(existing.id, False, existing.status)

    def _insert_autocommit(self, row: dict[str, Any]) -> int | None:
        row = dict(row)
        for key in ("received_at", "occurred_at", "updated_at"):
            row[key] = self._time.process_bind_param(row[key], self.dialect)
        row["headers"] = orjson.dumps(row["headers"]).decode()
        params = tuple(row[k] for k in self._positions) if self._positions else row
        pg = self.dialect.name == "postgresql"
        raw = None
        try:
            raw = self.engine.raw_connection()
            if pg:
                raw.driver_connection.autocommit = True
            cur = raw.cursor()
            cur.execute(self._sql, params)
            found = cur.fetchone()
            cur.close()
            if pg:
                raw.driver_connection.autocommit = False
        except BaseException as err:
            if raw is not None:
                raw.invalidate()  # unknown state after a failed statement: never reuse it
            if isinstance(err, self.dialect.loaded_dbapi.Error):
                raise DBAPIError.instance(self._sql, None, err, self.dialect.loaded_dbapi.Error,
                                          hide_parameters=True, dialect=self.dialect) from err
            raise
        finally:
            if raw is not None:
                raw.close()
        return found[0] if found else None


# statements every processed delivery runs, built once: SQLAlchemy then skips building them and their cache key
_HISTORY = event_history.insert()
_SET_STATUS = update(events).where(events.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), status_reason=bindparam("b_reason"), hold_until=bindparam("b_hold"),
    updated_at=bindparam("b_at"))
_LOAD_EVENT = select(events).where(events.c.id == bindparam("b_id"))
_LOAD_EVENT_LOCKED = _LOAD_EVENT.with_for_update()


def _history(conn: Connection, event_id: int, status: EventStatus, note: str | None, at: datetime) -> None:
    conn.execute(_HISTORY, {"event_id": event_id, "at": at, "status": status.value, "note": note})


def set_status(conn: Connection, event_id: int, status: EventStatus, note: str | None = None,
               hold_until: datetime | None = None) -> None:
    """The event's status and its note; ``hold_until``: the deadline of a held stock report (any other status
    clears it)."""
    now = utcnow()
    conn.execute(_SET_STATUS, {"b_id": event_id, "b_status": status.value, "b_reason": note, "b_hold": hold_until,
                               "b_at": now})
    _history(conn, event_id, status, note, now)


def event_source(headers: dict[str, Any] | None) -> str:
    """How a stored delivery came: ``webhook`` (the platform sent it), ``backfill`` (the hub read it from the
    platform because no webhook came, ``jobs.backfill``) or ``refresh`` (re-read by a replay)."""
    headers = headers or {}
    if headers.get("X-Hub-Source") == "backfill":
        return "backfill"
    return "refresh" if headers.get("X-Hub-Refresh") else "webhook"


def event_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "channel": row.channel, "kind": row.kind, "topic": row.topic,
        "source": event_source(row.headers),
        "dedupe_key": row.dedupe_key, "status": row.status, "status_reason": row.status_reason,
        "received_at": iso(row.received_at), "occurred_at": iso(row.occurred_at),
        "updated_at": iso(row.updated_at),
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


_SUMMARY_COLS = [events.c.id, events.c.channel, events.c.kind, events.c.topic, events.c.headers, events.c.dedupe_key,
                 events.c.status, events.c.status_reason, events.c.received_at, events.c.occurred_at,
                 events.c.updated_at]


def list_events(engine: Engine, *, channel: str | None = None, topic: str | None = None,
                status: str | None = None, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the id cursor of the next page."""
    q = select(*_SUMMARY_COLS).order_by(events.c.id.desc()).limit(max(1, min(limit, MAX_LIST_LIMIT)))
    if channel:
        q = q.where(events.c.channel == channel)
    if topic:
        q = q.where(events.c.topic == topic)
    if status:
        q = q.where(events.c.status == status)
    if before:
        q = q.where(events.c.id < before)
    with engine.connect() as conn:
        return [event_summary(r) for r in conn.execute(q)]


def get_event(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.id == event_id)).one_or_none()
        if row is None:
            return None
        hist = conn.execute(select(event_history).where(event_history.c.event_id == event_id)
                            .order_by(event_history.c.id)).all()
    out = event_summary(row)
    out["headers"] = row.headers
    out["body"] = bytes(row.body).decode("utf-8", "replace")
    out["history"] = [{"status": EventStatus.RECEIVED.value, "at": iso(row.received_at), "note": None}]
    out["history"] += [{"status": h.status, "at": iso(h.at), "note": h.note} for h in hist]
    return out


def load_event(conn: Connection, event_id: int, for_update: bool = False) -> Any:
    return conn.execute(_LOAD_EVENT_LOCKED if for_update else _LOAD_EVENT, {"b_id": event_id}).one_or_none()


def stuck_received(engine: Engine, older_than: datetime, limit: int = 1000) -> list[int]:
    """Ids of deliveries still ``received`` since before ``older_than`` (their job was lost), and of parked ones
    whose links were all added before it (``needs_mapping`` with no ``parked`` row left: the job that resumes
    them was lost)."""
    unparked = ~select(parked.c.id).where(parked.c.event_id == events.c.id).exists()
    q = (select(events.c.id).where(or_(
        and_(events.c.status == EventStatus.RECEIVED.value, events.c.received_at < older_than),
        and_(events.c.status == EventStatus.NEEDS_MAPPING.value, events.c.updated_at < older_than, unparked)))
         .order_by(events.c.id).limit(limit))
    with engine.connect() as conn:
        return [r.id for r in conn.execute(q)]


def counts_by_channel_status(engine: Engine) -> list[tuple[str, str, int]]:

    q = select(events.c.channel, events.c.status, func.count()).group_by(events.c.channel, events.c.status)
    with engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(q)]
