"""HubSpot CRM API simulator: the calls the hub makes to sync customers and orders, answered as HubSpot answers.

Contacts, deals and notes live in memory behind one lock, with their HUBSPOT_DEFINED associations (stored
both ways, as a set: associating twice is a no-op). ``/crm/v3/objects/...`` and ``/crm/v4/objects/...``
authenticate with a private app's ``Authorization: Bearer`` token and answer with HubSpot's bodies and
errors (``wire``). The limits are HubSpot's: the rolling TEN_SECONDLY_ROLLING window (headers
``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` plus the daily ones on every counted answer), a
DAILY cap, and the search endpoints' own per-second limit (search is exempt from the ten-secondly window, as
the OpenAPI specs' ``x-hubspot-rate-limit-exemptions: ["ten-secondly"]`` say). Tests drive it in-process
(``configure``, ``stats``, ``records``, ``associations``, ``seed``); the same controls are served as JSON under
``/_sandbox/`` for a sandbox run as a process (``python -m sandbox.hubspot``).
"""

from __future__ import annotations

import argparse
import fnmatch
import hmac
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import run_simple

from sandbox.base import Latency
from sandbox.hubspot import limits, wire
from sandbox.hubspot.store import Store
from sandbox.hubspot.wire import HubSpotError

BATCH_LIMIT = 100  # inputs per batch call
LIMITS = {"ten_second_limit", "interval_ms", "search_per_second", "daily_limit"}
ASSOC_PAGE_LIMIT = 500  # v4 associations per page
_TYPE = r"([A-Za-z0-9_-]+)"
_ID = r"([^/]+)"

# (method, route under /crm/, template for stats, handler); anything else is a 404
ROUTES = [
    ("POST", rf"v3/objects/{_TYPE}/batch/upsert", "v3/objects/<type>/batch/upsert", "_upsert"),
    ("POST", rf"v3/objects/{_TYPE}/search", "v3/objects/<type>/search", "_search"),
    ("POST", rf"v3/objects/{_TYPE}", "v3/objects/<type>", "_create"),
    ("GET", rf"v3/objects/{_TYPE}/{_ID}", "v3/objects/<type>/<id>", "_get"),
    ("PATCH", rf"v3/objects/{_TYPE}/{_ID}", "v3/objects/<type>/<id>", "_patch"),
    ("GET", rf"v4/objects/{_TYPE}/{_ID}/associations/{_TYPE}", "v4/objects/<type>/<id>/associations/<type>",
     "_list_associations"),
    ("PUT", rf"v4/objects/{_TYPE}/{_ID}/associations/default/{_TYPE}/{_ID}",
     "v4/objects/<type>/<id>/associations/default/<type>/<id>", "_associate_default"),
    ("GET", r"v3/pipelines/deals", "v3/pipelines/deals", "_pipelines"),
    ("GET", rf"v3/properties/{_TYPE}/{_ID}", "v3/properties/<type>/<name>", "_get_property"),
    ("POST", rf"v3/properties/{_TYPE}", "v3/properties/<type>", "_create_property"),
]
_COMPILED = [(m, re.compile(rx), t, h) for m, rx, t, h in ROUTES]


@dataclass
class _Stats:
    calls: dict[str, int] = field(default_factory=dict)  # "METHOD template" -> count, every answer
    errors: dict[int, int] = field(default_factory=dict)  # status -> error answers (429s included)
    batch_inputs_max: int = 0


class HubSpotSandbox:
    """An in-memory HubSpot portal speaking the CRM v3/v4 API; ``.app`` is its WSGI (Flask) app."""

    def __init__(self, token: str = "pat-na1-sandbox", latency: tuple[float, float] = (0.0, 0.0),  # noqa: S107
                 ten_second_limit: int = 190, interval_ms: int = 10_000, search_per_second: int = 5,
                 daily_limit: int | None = 650_000, search_lag_s: float = 0.0,
                 hub_properties: bool = False) -> None:
        self.token = token
        # the custom properties created in the portal (POST /crm/v3/properties/<type>). A new portal has none,
        # so it refuses deal upserts by hub_order_key as HubSpot does until someone creates it (`hub doctor
        # --fix`, or `hub sandboxes` at start-up); hub_properties=True: a portal where that was done
        self.properties: dict[tuple[str, str], dict[str, Any]] = (
            {(kind, name): dict(spec) for (kind, name), spec in wire.HUB_PROPERTIES.items()} if hub_properties else {})
        self.latency = Latency(*latency)
        # Professional tier: 190 calls / 10 s; search: "five requests per second per account"
        self.limits = limits.Limits(ten_second_limit, interval_ms, search_per_second, daily_limit)
        self.search_lag_s = search_lag_s  # new/changed records reach search after this long (0: at once)
        self.pipelines = {wire.DEFAULT_PIPELINE: [s for s, _, _ in wire.DEFAULT_STAGES]}
        self._lock = threading.RLock()
        self._store = Store()
        self._fail_next: list[dict[str, Any]] = []
        self._stats = _Stats()
        self.app = self._build_app()

    # ---- control API ------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change latency=(lo, hi), ten_second_limit, interval_ms, search_per_second, daily_limit, search_lag_s,
        token, pipelines={id: [stage, ...]}; fail_next=[{"path": glob, "status": 5xx|4xx, "method"?: ..}]
        queues one injected failure per entry, each answering the next matching API call."""
        unknown = set(changes) - LIMITS - {"latency", "search_lag_s", "token", "pipelines", "fail_next"}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "latency" in changes:
                self.latency = Latency(*changes["latency"])
            for entry in changes.get("fail_next") or []:
                if not isinstance(entry, dict) or not entry.get("path") or int(entry.get("status", 0)) < 400:
                    raise ValueError("fail_next entries need a path and an error status")
                self._fail_next.append(dict(entry))
            for name in LIMITS & set(changes):
                setattr(self.limits, name, changes[name])
            for name in {"search_lag_s", "token", "pipelines"} & set(changes):
                setattr(self, name, changes[name])
            lim = self.limits
            return {"latency": [self.latency.low_s, self.latency.high_s], "ten_second_limit": lim.ten_second_limit,
                    "interval_ms": lim.interval_ms, "search_per_second": lim.search_per_second,
                    "daily_limit": lim.daily_limit, "search_lag_s": self.search_lag_s,
                    "pipelines": self.pipelines, "fail_next": list(self._fail_next)}

    @property
    def stats(self) -> dict[str, Any]:
        """API calls by method + route template, 429s by policy (and in total), records created and updated by
        object type, error answers by status, and the largest batch asked for, since ``reset_stats()``."""
        with self._lock:
            s = self._stats
            refused = dict(self.limits.refused)
            return {"calls": dict(s.calls), "rate_limited": sum(refused.values()),
                    "rate_limited_by_policy": refused, "creates": dict(self._store.creates),
                    "updates": dict(self._store.updates), "errors": dict(s.errors),
                    "batch_inputs_max": s.batch_inputs_max}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = _Stats()
            self._store.creates, self._store.updates = {}, {}
            self.limits.refused = {}

    def reset(self) -> None:
        """Forget every record, association, rate-limit hit and queued failure (settings stay)."""
        with self._lock:
            self._store = Store()
            self._fail_next.clear()
            self._stats = _Stats()
        self.limits.reset()

    def seed(self, object_type: str, properties: dict[str, Any]) -> dict[str, Any]:
        """Create a record as if a user had typed it in (no rate limit, visible to search at once)."""
        kind = wire.object_type(object_type)
        with self._lock:
            props = wire.clean_properties(kind, properties, self.pipelines)
            rec = self._store.new(kind, props, lag_s=0.0)
            return wire.object_body(rec, list(wire.full_properties(rec)))

    def records(self, object_type: str) -> list[dict[str, Any]]:
        """Every record of a type with all its properties, oldest first."""
        kind = wire.object_type(object_type)
        with self._lock:
            return [wire.object_body(r, list(wire.full_properties(r))) for r in self._store.records[kind].values()]

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[dict[str, Any]]:
        """The v4 view: [{"toObjectId", "associationTypes": [{"category", "typeId", "label"}]}]."""
        frm, to = wire.object_type(from_type), wire.object_type(to_type)
        with self._lock:
            return [{"toObjectId": int(tid), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in sorted(types)]}
                for tid, types in self._store.linked(frm, str(object_id), to)]

    # ---- HTTP -------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/crm/<path:route>", "api", self._api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        _control_routes(app, self)
        return app

    def _api(self, route: str) -> Response:
        target = _match(request.method, route.rstrip("/"))
        with self._lock:
            key = f"{request.method} {_stat_route(target[0], target[2]) if target else route}"
            self._stats.calls[key] = self._stats.calls.get(key, 0) + 1
        auth = request.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), self.token.encode())):
            return self._error(HubSpotError(401, wire.AUTH_MESSAGE, "INVALID_AUTHENTICATION"))
        if (injected := self._take_failure()) is not None:
            return injected
        refused, headers = self.limits.admit(search=bool(target) and target[0].endswith("/search"))
        if refused is not None:
            return self._limited(*refused)
        self.latency.wait()
        try:
            if target is None:
                raise HubSpotError(404, f"Unable to route {request.method} /crm/{route}", "OBJECT_NOT_FOUND")
            data, status = getattr(self, target[1])(*target[2])
            return _reply(data, status, headers)
        except HubSpotError as err:
            return self._error(err, headers)

    def _error(self, err: HubSpotError, headers: dict[str, str] | None = None) -> Response:
        with self._lock:
            self._stats.errors[err.status] = self._stats.errors.get(err.status, 0) + 1
        return _reply(err.body(), err.status, headers)

    def _take_failure(self) -> Response | None:
        with self._lock:
            for n, f in enumerate(self._fail_next):
                if fnmatch.fnmatch(request.path, f["path"]) and f.get("method", request.method) == request.method:
                    del self._fail_next[n]
                    break
            else:
                return None
        status = int(f["status"])
        if status == 429:
            return self._limited(limits.body_for("TEN_SECONDLY_ROLLING"), {})
        category = "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR"
        return self._error(HubSpotError(status, f.get("message") or "internal error", category))

    def _limited(self, body: dict[str, Any], headers: dict[str, str]) -> Response:
        with self._lock:
            self._stats.errors[429] = self._stats.errors.get(429, 0) + 1
        return _reply(body, 429, headers)

    # ---- handlers: (*path args) -> (data, status) --------------------------------------------------

    def _unique_here(self, kind: str, prop: str) -> bool:
        """A HubSpot-defined unique property, or a custom one this portal has, created with hasUniqueValue."""
        return (kind, prop) not in wire.HUB_PROPERTIES or bool(self.properties.get((kind, prop), {}).get(
            "hasUniqueValue"))

    def _get_property(self, type_name: str, name: str) -> tuple[Any, int]:
        kind = wire.object_type(type_name)
        with self._lock:
            prop = self.properties.get((kind, name))
        if prop is None and (kind, name) not in wire.HUB_PROPERTIES and name in wire.OBJECT_TYPES[kind]["writable"]:
            prop = {"name": name, "label": name, "type": "string", "fieldType": "text", "hubspotDefined": True}
        if prop is None:
            raise HubSpotError(404, f"Unable to find property {name} for object type {wire.OBJECT_TYPES[kind]['id']}",
                               "OBJECT_NOT_FOUND")
        return prop, 200

    def _create_property(self, type_name: str) -> tuple[Any, int]:
        kind, body = wire.object_type(type_name), _json_body()
        name = body.get("name") if isinstance(body, dict) else None
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not (body or {}).get(k)]
        if missing:
            raise wire.bad_request(f"Property is missing required field(s): {', '.join(missing)}")
        with self._lock:
            if (kind, name) in self.properties or name in wire.OBJECT_TYPES[kind]["writable"] - {
                    p for k, p in wire.HUB_PROPERTIES if k == kind}:
                raise HubSpotError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
            prop = {**body, "hasUniqueValue": bool(body.get("hasUniqueValue")), "hubspotDefined": False,
                    "createdAt": wire.iso(wire.now_ms())}
            self.properties[(kind, name)] = prop
        return prop, 201

    def _upsert(self, type_name: str) -> tuple[Any, int]:
        """batch/upsert by a unique idProperty: all inputs are validated before any is written."""
        kind, body, started = wire.object_type(type_name), _json_body(), wire.now_ms()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise wire.bad_request("Invalid input JSON: inputs must be a list")
        with self._lock:
            self._stats.batch_inputs_max = max(self._stats.batch_inputs_max, len(inputs))
        if len(inputs) > BATCH_LIMIT:
            raise wire.bad_request(f"Batch input must contain at most {BATCH_LIMIT} inputs; got {len(inputs)}")
        spec = wire.OBJECT_TYPES[kind]
        with self._lock:
            plan, seen = [], set()
            for item in inputs:
                id_prop, value = item.get("idProperty") or "hs_object_id", str(item.get("id") or "")
                if id_prop not in spec["unique"] or not self._unique_here(kind, id_prop):
                    raise wire.bad_request(f"Unable to perform update/upsert by non-unique {spec['id']} property "
                                           f"{id_prop} in portal ID {wire.PORTAL_ID}")
                value = value.strip().lower() if id_prop == "email" else value
                if not value:
                    raise wire.bad_request("Every input needs an id: the value of its idProperty")
                if value in seen:
                    raise wire.bad_request(f"Duplicate IDs found in batch input: [{value}]. IDs must be unique")
                seen.add(value)
                existing = self._store.by_unique(kind, id_prop, value)
                props = wire.clean_properties(kind, {**(item.get("properties") or {}), id_prop: value},
                                              self.pipelines, existing.properties if existing else None)
                plan.append((existing, props))
            results = []
            for existing, props in plan:
                if existing is None:
                    rec = self._store.new(kind, props, self.search_lag_s)
                else:
                    rec = existing
                    self._store.update(rec, props, self.search_lag_s)
                results.append({**wire.written_body(rec, list(props)), "new": existing is None})
        return {"status": "COMPLETE", "results": results, "startedAt": wire.iso(started),
                "completedAt": wire.iso(wire.now_ms())}, 200

    def _create(self, type_name: str) -> tuple[Any, int]:
        kind, body = wire.object_type(type_name), _json_body()
        body = body if isinstance(body, dict) else {}
        with self._lock:
            props = wire.clean_properties(kind, body.get("properties"), self.pipelines)
            if kind == "notes" and not props.get("hs_timestamp"):
                raise wire.invalid([{"name": "hs_timestamp", "error": "REQUIRED_PROPERTY",
                                     "message": "hs_timestamp is required"}])
            links = self._store.inline_associations(kind, body.get("associations"))
            self._store.check_unique(kind, props, None)
            rec = self._store.new(kind, props, self.search_lag_s)
            for to, to_id, type_id in links:
                self._store.link(kind, rec.id, to, to_id, type_id)
            return wire.written_body(rec, list(props)), 201

    def _get(self, type_name: str, object_id: str) -> tuple[Any, int]:
        kind = wire.object_type(type_name)
        wanted = [p for v in request.args.getlist("properties") for p in v.split(",") if p] or None
        id_prop = request.args.get("idProperty")
        with self._lock:
            if id_prop:
                rec = self._store.by_unique(kind, id_prop, object_id) if id_prop in wire.OBJECT_TYPES[kind]["unique"] \
                    else None
                if rec is None:
                    raise wire.not_found(object_id)
            else:
                rec = self._store.get(kind, object_id)
            out = wire.object_body(rec, wanted)
            for other in [a for v in request.args.getlist("associations") for a in v.split(",") if a]:
                to = wire.object_type(other)
                if ids := self._store.linked(kind, rec.id, to):
                    out.setdefault("associations", {})[to] = {"results": [
                        {"id": tid, "type": wire.TYPE_NAMES[t]} for tid, types in ids for t in sorted(types)]}
            return out, 200

    def _patch(self, type_name: str, object_id: str) -> tuple[Any, int]:
        kind, body = wire.object_type(type_name), _json_body()
        with self._lock:
            rec = self._store.get(kind, object_id)
            props = wire.clean_properties(kind, (body or {}).get("properties") if isinstance(body, dict) else None,
                                          self.pipelines, rec.properties)
            self._store.check_unique(kind, props, rec.id)
            self._store.update(rec, props, self.search_lag_s)
            return wire.written_body(rec, list(props)), 200

    def _search(self, type_name: str) -> tuple[Any, int]:
        kind, query = wire.object_type(type_name), wire.search_request(_json_body())
        now = wire.now_ms()
        with self._lock:
            hits = [r for r in self._store.records[kind].values() if not r.archived and r.indexed_ms <= now
                    and wire.matches(wire.full_properties(r), query["groups"])]
            hits = wire.sort_records(hits, query["sort"])
            start, end = query["after"], query["after"] + query["limit"]
            out: dict[str, Any] = {"total": len(hits),
                                   "results": [wire.object_body(r, query["properties"]) for r in hits[start:end]]}
        if end < len(hits):
            out["paging"] = {"next": {"after": str(end)}}
        return out, 200

    def _list_associations(self, type_name: str, object_id: str, to_name: str) -> tuple[Any, int]:
        items = self.associations(type_name, object_id, to_name)
        limit = min(int(request.args.get("limit") or ASSOC_PAGE_LIMIT), ASSOC_PAGE_LIMIT)
        start = int(request.args.get("after") or 0)
        out: dict[str, Any] = {"results": items[start:start + limit]}
        if start + limit < len(items):
            out["paging"] = {"next": {"after": str(start + limit), "link": None}}
        return out, 200

    def _associate_default(self, type_name: str, object_id: str, to_name: str, to_id: str) -> tuple[Any, int]:
        """The default (unlabelled) association, both directions; doing it again changes nothing."""
        frm, to, started = wire.object_type(type_name), wire.object_type(to_name), wire.now_ms()
        type_id = wire.DEFAULT_TYPE.get((frm, to))
        if type_id is None:
            raise wire.bad_request(f"No default association type between {frm} and {to}")
        with self._lock:
            self._store.get(frm, object_id)
            self._store.get(to, to_id)
            self._store.link(frm, object_id, to, to_id, type_id)
        spec = [(object_id, to_id, type_id), (to_id, object_id, wire.REVERSE_TYPE[type_id])]
        return {"status": "COMPLETE", "results": [
            {"from": {"id": a}, "to": {"id": b},
             "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}}
            for a, b, t in spec], "startedAt": wire.iso(started), "completedAt": wire.iso(wire.now_ms())}, 200

    def _pipelines(self) -> tuple[Any, int]:
        with self._lock:
            return wire.pipelines_body(self.pipelines), 200


def _match(method: str, route: str) -> tuple[str, str, list[str]] | None:
    for m, pattern, template, handler in _COMPILED:
        found = pattern.fullmatch(route)
        if found and m == method:
            return template, handler, list(found.groups())
    return None


def _stat_route(template: str, args: list[str]) -> str:
    """The route as stats count it: object types filled in, ids left as ``<id>``."""
    values = iter(args)

    def fill(m: re.Match[str]) -> str:
        value = next(values)
        return value if m.group(1) == "type" else "<id>"

    return re.sub(r"<(type|id)>", fill, template)


def _json_body() -> Any:
    raw = request.get_data()
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise wire.bad_request(f"Invalid input JSON on line 1: {exc}") from None


def _reply(data: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status,
                    {"Content-Type": "application/json;charset=utf-8", **(headers or {})})


def _control_routes(app: Flask, hub: HubSpotSandbox) -> None:
    """The control API as JSON under /_sandbox/ (no auth): 422 when a setting or seed is refused."""

    def call(fn: Callable[..., Any], status: int = 200) -> tuple[Any, int]:
        try:
            return fn(), status
        except HubSpotError as err:
            return err.body(), err.status
        except (KeyError, ValueError, TypeError) as err:
            return {"error": str(err)}, 422

    def body() -> dict[str, Any]:
        return request.get_json(silent=True) or {}

    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/_sandbox/stats", lambda: call(lambda: hub.stats)),
        ("POST", "/_sandbox/stats/reset", lambda: call(lambda: hub.reset_stats() or hub.stats)),
        ("POST", "/_sandbox/config", lambda: call(lambda: hub.configure(**body()))),
        ("POST", "/_sandbox/reset", lambda: call(lambda: hub.reset() or {"reset": True})),
        ("GET", "/_sandbox/records/<kind>", lambda kind: call(lambda: hub.records(kind))),
        ("POST", "/_sandbox/records/<kind>", lambda kind: call(lambda: hub.seed(kind, body()), status=201)),
        ("GET", "/_sandbox/associations/<frm>/<oid>/<to>",
         lambda frm, oid, to: call(lambda: hub.associations(frm, oid, to))),
    ]
    for n, (method, rule, view) in enumerate(routes):
        app.add_url_rule(rule, f"sandbox_{n}", view, methods=[method])


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox as a process: ``python -m sandbox.hubspot --port 8093 --token pat-...``."""

    ap = argparse.ArgumentParser(description="HubSpot CRM API sandbox")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8093)
    ap.add_argument("--token", default="pat-na1-sandbox")
    ap.add_argument("--ten-second-limit", type=int, default=190)
    ap.add_argument("--search-per-second", type=int, default=5)
    ap.add_argument("--latency", type=float, nargs=2, default=(0.0, 0.0), metavar=("LOW_S", "HIGH_S"))
    args = ap.parse_args(argv)
    hub = HubSpotSandbox(token=args.token, latency=tuple(args.latency), ten_second_limit=args.ten_second_limit,
                         search_per_second=args.search_per_second)
    run_simple(args.host, args.port, hub.app, threaded=True)


if __name__ == "__main__":
    main()
