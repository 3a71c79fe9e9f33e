"""What HubSpot's CRM v3/v4 API puts on the wire, for the HubSpot sandbox: the object types the hub writes
(contacts, deals, notes) with their properties, the HUBSPOT_DEFINED association type ids, the default deal
pipeline, error bodies, timestamps, property validation and the CRM search filters. Pure functions of the
sandbox's records; the state and the HTTP layer live in ``hubspot.py``.

Shapes follow HubSpot's published OpenAPI specs (HubSpot/HubSpot-public-api-spec-collection: ``Error``,
``SimplePublicObject``, ``SimplePublicUpsertObject``, ``PublicObjectSearchRequest``, v4
``MultiAssociatedObjectWithLabel``), the error-handling guide (the ``Property values were not valid`` body) and
captured live answers (401, 409 ``Contact already exists``, the 429 bodies).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.hubspot.consts import CUSTOM_DEAL_PROPERTIES

PORTAL_ID = 1512050  # the sandbox account's hub id (shows in error bodies and rate-limit group names)
APP_ID = 26892217  # the private app's id, as in the ten-secondly groupName
SEARCH_MAX_LIMIT = 200  # objects per search page
SEARCH_MAX_RESULTS = 10_000  # paging past this is a 400
SEARCH_MAX_GROUPS = 5
SEARCH_MAX_FILTERS = 18  # across all groups, at most 6 per group
SEARCH_MAX_GROUP_FILTERS = 6
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")

# object type -> (objectTypeId, the properties the portal defines, the unique ones, default properties returned)
# Read-only properties (dates, hs_object_id) are set by HubSpot and refused in input.
OBJECT_TYPES: dict[str, dict[str, Any]] = {
    "contacts": {"id": "0-1", "singular": "contact", "created": "createdate", "modified": "lastmodifieddate",
                 "writable": {"email", "firstname", "lastname", "phone", "mobilephone", "company", "website",
                              "address", "city", "zip", "state", "country", "jobtitle", "lifecyclestage",
                              "hs_lead_status", "hubspot_owner_id"},
                 "unique": {"email"},
                 "defaults": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]},
    "deals": {"id": "0-3", "singular": "deal", "created": "createdate", "modified": "hs_lastmodifieddate",
              "writable": {"dealname", "amount", "dealstage", "pipeline", "closedate", "dealtype", "description",
                           "deal_currency_code", "hubspot_owner_id", "hub_order_key"},
              "unique": {"hub_order_key"},  # the hub's custom property, created with hasUniqueValue: true
              "defaults": ["amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
                           "hs_object_id", "pipeline"]},
    "notes": {"id": "0-46", "singular": "note", "created": "hs_createdate", "modified": "hs_lastmodifieddate",
              "writable": {"hs_note_body", "hs_timestamp", "hubspot_owner_id", "hs_attachment_ids"},
              "unique": set(),
              "defaults": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]},
}
# the hub's custom properties (created by `hub doctor --fix`), as the hub defines them
HUB_PROPERTIES: dict[tuple[str, str], dict[str, Any]] = {(
    "deals", p["name"]): p for p in CUSTOM_DEAL_PROPERTIES}
ALIASES = {alias: name for name, spec in OBJECT_TYPES.items() for alias in (name, spec["singular"], spec["id"])}
DATETIME_PROPS = {"closedate", "hs_timestamp"}
NUMBER_PROPS = {"amount"}

# HUBSPOT_DEFINED association types: (from, typeId) -> to; each has its reverse (developers.hubspot.com
# associations v4 "association type ID values": deal->contact 3, contact->deal 4, note->contact 202,
# contact->note 201, note->deal 214, deal->note 213)
ASSOCIATION_TYPES = {("deals", 3): "contacts", ("contacts", 4): "deals", ("notes", 202): "contacts",
                     ("contacts", 201): "notes", ("notes", 214): "deals", ("deals", 213): "notes"}
REVERSE_TYPE = {3: 4, 4: 3, 202: 201, 201: 202, 214: 213, 213: 214}
DEFAULT_TYPE = {(f, t): type_id for (f, type_id), t in ASSOCIATION_TYPES.items()}
TYPE_NAMES = {3: "deal_to_contact", 4: "contact_to_deal", 202: "note_to_contact", 201: "contact_to_note",
              214: "note_to_deal", 213: "deal_to_note"}

# The default sales pipeline every portal starts with: (stage id, label, probability)
DEFAULT_PIPELINE = "default"
DEFAULT_STAGES = [("appointmentscheduled", "Appointment Scheduled", "0.2"),
                  ("qualifiedtobuy", "Qualified To Buy", "0.4"),
                  ("presentationscheduled", "Presentation Scheduled", "0.6"),
                  ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
                  ("contractsent", "Contract Sent", "0.9"),
                  ("closedwon", "Closed Won", "1.0"),
                  ("closedlost", "Closed Lost", "0.0")]


class HubSpotError(Exception):
    """An error answer: HTTP status plus HubSpot's JSON error body (status, message, correlationId, category)."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra

    def body(self) -> dict[str, Any]:
        return {"status": "error", "message": self.message, "correlationId": correlation_id(),
                **self.extra, "category": self.category}


def correlation_id() -> str:
    return str(uuid.uuid4())


def invalid(errors: list[dict[str, Any]]) -> HubSpotError:
    """The 400 for refused property values: the message embeds the per-property list as JSON text."""
    shown = [{"isValid": False, "message": e["message"], "error": e["error"], "name": e["name"],
              "localizedErrorMessage": e["message"], "portalId": PORTAL_ID} for e in errors]
    details = [{"message": e["message"], "code": e["error"], "context": {"propertyName": [e["name"]]}} for e in errors]
    return HubSpotError(400, "Property values were not valid: " + json.dumps(shown, separators=(",", ":")),
                        "VALIDATION_ERROR", errors=details)


def bad_request(message: str) -> HubSpotError:
    return HubSpotError(400, message, "VALIDATION_ERROR")


def not_found(object_id: str) -> HubSpotError:
    return HubSpotError(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                        context={"id": [object_id]})


def object_type(name: str) -> str:
    try:
        return ALIASES[name.lower()]
    except KeyError:
        raise bad_request(f"Unable to infer object type from: {name}") from None


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso(ms: int) -> str:
    """HubSpot's timestamps: UTC, millisecond precision, ``Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_datetime(value: str) -> int | None:
    """A datetime property value as epoch ms: ms since epoch, or ISO 8601 (date or date-time)."""
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


@dataclass
class Record:
    id: str
    type: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    indexed_ms: int  # when search starts to see it (HubSpot's search index lags the write)
    archived: bool = False


def clean_properties(object_type_name: str, raw: Any, pipelines: dict[str, list[str]],
                     current: dict[str, str] | None = None) -> dict[str, str]:
    """Validate input properties as the CRM does; returns them normalised to the stored strings.
    Every problem is collected so one 400 names them all."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("Invalid input JSON: properties must be an object")
    spec = OBJECT_TYPES[object_type_name]
    errors, out = [], {}
    for name, value in raw.items():
        text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        if name not in spec["writable"]:
            read_only = name in {"hs_object_id", spec["created"], spec["modified"]}
            errors.append({"name": name, "error": "READ_ONLY_VALUE" if read_only else "PROPERTY_DOESNT_EXIST",
                           "message": f'{name} is a read only property; its value cannot be set.' if read_only
                           else f'Property "{name}" does not exist'})
            continue
        problem = _check_value(name, text)
        if problem:
            errors.append({"name": name, **problem})
        out[name] = _normalise(name, text)
    if object_type_name == "deals" and ("dealstage" in out or "pipeline" in out):
        merged = {**(current or {}), **out}
        pipeline = merged.get("pipeline") or DEFAULT_PIPELINE
        stages = pipelines.get(pipeline)
        if stages is None:
            errors.append({"name": "pipeline", "error": "INVALID_OPTION",
                           "message": f"{pipeline} was not one of the allowed options: [{', '.join(pipelines)}]"})
        elif merged.get("dealstage") and merged["dealstage"] not in stages:
            errors.append({"name": "dealstage", "error": "INVALID_OPTION",
                           "message": f"{merged['dealstage']} was not one of the allowed options: "
                                      f"[{', '.join(stages)}]"})
    if errors:
        raise invalid(errors)
    return out


def _check_value(name: str, text: str) -> dict[str, str] | None:
    if text == "":
        return None  # an empty string clears a property
    if name == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return {"error": "INVALID_EMAIL", "message": f"Email address {text} is invalid"}
    if name in NUMBER_PROPS:
        try:
            Decimal(text)
        except InvalidOperation:
            return {"error": "INVALID_FLOAT", "message": f"{text} was not a valid number."}
    if name in DATETIME_PROPS and parse_datetime(text) is None:
        return {"error": "INVALID_DATE", "message": f"{text} was not a valid long or ISO 8601 formatted date."}
    return None


def _normalise(name: str, text: str) -> str:
    if name == "email":
        return text.strip().lower()  # HubSpot keeps emails lower-case
    if name in DATETIME_PROPS and text:
        return iso(parse_datetime(text) or 0)
    return text


def full_properties(rec: Record) -> dict[str, str]:
    """Every property value of a record, the ones HubSpot maintains included (what search filters see)."""
    spec = OBJECT_TYPES[rec.type]
    return {**rec.properties, "hs_object_id": rec.id, spec["created"]: iso(rec.created_ms),
            spec["modified"]: iso(rec.updated_ms)}


def object_body(rec: Record, wanted: list[str] | None = None) -> dict[str, Any]:
    """SimplePublicObject: the asked-for properties (null when unset) plus the ones HubSpot always returns."""
    spec = OBJECT_TYPES[rec.type]
    props = full_properties(rec)
    names = wanted if wanted is not None else spec["defaults"]
    always = ["hs_object_id", spec["created"], spec["modified"]]
    shown = {n: props.get(n) for n in dict.fromkeys([*names, *always])}
    return {"id": rec.id, "properties": dict(sorted(shown.items())), "createdAt": iso(rec.created_ms),
            "updatedAt": iso(rec.updated_ms), "archived": rec.archived}


def written_body(rec: Record, written: dict[str, str]) -> dict[str, Any]:
    """Create/update/upsert answers carry the properties written plus the always-returned ones."""
    return object_body(rec, list(written))


# ---- CRM search -------------------------------------------------------------------------------------


def search_request(body: Any) -> dict[str, Any]:
    """Validate a PublicObjectSearchRequest; returns limit, after (an int offset), groups, properties, sort."""
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object")
    groups = body.get("filterGroups") or []
    if len(groups) > SEARCH_MAX_GROUPS or sum(len(g.get("filters") or []) for g in groups) > SEARCH_MAX_FILTERS \
            or any(len(g.get("filters") or []) > SEARCH_MAX_GROUP_FILTERS for g in groups):
        raise bad_request(f"Too many filters: at most {SEARCH_MAX_GROUPS} filterGroups with up to "
                          f"{SEARCH_MAX_GROUP_FILTERS} filters each, {SEARCH_MAX_FILTERS} filters in total.")
    limit = int(body.get("limit") or 10)
    if not 0 < limit <= SEARCH_MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {SEARCH_MAX_LIMIT}")
    after = str(body.get("after") or "0")
    if not after.isdigit():
        raise bad_request("after must be formatted as an integer")
    if int(after) + limit > SEARCH_MAX_RESULTS:
        raise bad_request(f"The search endpoints are limited to {SEARCH_MAX_RESULTS} total results for any query.")
    for g in groups:
        for f in g.get("filters") or []:
            if f.get("operator") not in OPERATORS:
                raise bad_request(f"Unknown operator {f.get('operator')!r}")
    sorts = body.get("sorts") or []
    return {"limit": limit, "after": int(after), "groups": groups, "properties": body.get("properties"),
            "sort": _sort_key(sorts[0]) if sorts else ("hs_object_id", False)}


def _sort_key(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, str):  # the SDK's "-createdate" form
        return sort.lstrip("-"), sort.startswith("-")
    return sort.get("propertyName", "hs_object_id"), sort.get("direction") == "DESCENDING"


def matches(props: dict[str, str], groups: list[dict[str, Any]]) -> bool:
    """Groups are OR-ed, the filters inside a group AND-ed; no groups matches everything."""
    return not groups or any(all(_filter(props, f) for f in g.get("filters") or []) for g in groups)


def _comparable(value: str | None) -> Decimal | str | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        ms = parse_datetime(value) if re.match(r"\d{4}-\d{2}-\d{2}", value) else None
        return Decimal(ms) if ms is not None else value.lower()


def _filter(props: dict[str, str], f: dict[str, Any]) -> bool:
    op, value = f["operator"], props.get(f.get("propertyName", ""))
    return OPERATORS[op](value, f)


def _cmp(value: str | None, other: Any, test: Any) -> bool:
    a, b = _comparable(value), _comparable(None if other is None else str(other))
    if a is None or b is None or type(a) is not type(b):
        return False
    return bool(test(a, b))


def _tokens(value: str | None) -> list[str]:
    return re.findall(r"[\w.@+-]+", (value or "").lower())


def _contains_token(value: str | None, token: Any) -> bool:
    pattern = re.escape(str(token or "").lower()).replace(r"\*", ".*")
    return any(re.fullmatch(pattern, t) for t in _tokens(value)) or \
        bool(re.fullmatch(pattern, (value or "").lower()))


def _in(value: str | None, values: Any) -> bool:
    return value is not None and value.lower() in {str(v).lower() for v in values or []}


OPERATORS = {
    "EQ": lambda v, f: v is not None and v.lower() == str(f.get("value", "")).lower(),
    "NEQ": lambda v, f: v is None or v.lower() != str(f.get("value", "")).lower(),
    "IN": lambda v, f: _in(v, f.get("values")),
    "NOT_IN": lambda v, f: not _in(v, f.get("values")),
    "HAS_PROPERTY": lambda v, f: v not in (None, ""),
    "NOT_HAS_PROPERTY": lambda v, f: v in (None, ""),
    "CONTAINS_TOKEN": lambda v, f: _contains_token(v, f.get("value")),
    "NOT_CONTAINS_TOKEN": lambda v, f: not _contains_token(v, f.get("value")),
    "GT": lambda v, f: _cmp(v, f.get("value"), lambda a, b: a > b),
    "GTE": lambda v, f: _cmp(v, f.get("value"), lambda a, b: a >= b),
    "LT": lambda v, f: _cmp(v, f.get("value"), lambda a, b: a < b),
    "LTE": lambda v, f: _cmp(v, f.get("value"), lambda a, b: a <= b),
    "BETWEEN": lambda v, f: _cmp(v, f.get("value"), lambda a, b: a >= b)
    and _cmp(v, f.get("highValue"), lambda a, b: a <= b),
}


def sort_records(records: list[Record], key: tuple[str, bool]) -> list[Record]:
    name, descending = key

    def value(rec: Record) -> tuple[int, Any]:
        if name == "hs_object_id":
            return 0, int(rec.id)
        v = _comparable(full_properties(rec).get(name))
        return (1, "") if v is None else (0, v) if isinstance(v, Decimal) else (0, str(v))

    return sorted(records, key=value, reverse=descending)


def pipelines_body(pipelines: dict[str, list[str]]) -> dict[str, Any]:
    """GET /crm/v3/pipelines/deals for the default pipeline (other pipelines get generic labels)."""
    labels = {s: (label, p) for s, label, p in DEFAULT_STAGES}
    out = []
    for n, (pid, stages) in enumerate(pipelines.items()):
        out.append({"label": "Sales Pipeline" if pid == DEFAULT_PIPELINE else pid, "displayOrder": n, "id": pid,
                    "stages": [{"label": labels.get(s, (s, "0.5"))[0], "displayOrder": i, "id": s,
                                "metadata": {"isClosed": str(s in {"closedwon", "closedlost"}).lower(),
                                             "probability": labels.get(s, (s, "0.5"))[1]},
                                "archived": False} for i, s in enumerate(stages)],
                    "archived": False})
    return {"results": out}
