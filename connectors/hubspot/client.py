"""HubSpot CRM v3/v4, one method per call the hub makes, over ``requests`` (the official SDK is not available).

A private app token goes out as ``Authorization: Bearer`` on the session and nowhere else: not in an error,
a log line or ``repr``. Every answer goes through ``connectors.outbound.error_for_status``; on top of that
table, two HubSpot specifics: a 429 is waited out here, by its policy (``Retry-After`` when sent, else one
``X-HubSpot-RateLimit-Interval-Milliseconds`` for TEN_SECONDLY_ROLLING, since a rolling window is empty one
interval after the refusal, and one second for the search endpoints' secondly limit), and raised as
``Throttled`` after ``MAX_THROTTLE_WAITS`` refusals in a row. A DAILY 429 is not waited out: it becomes a
``Retryable`` with an hour's wait, so it counts as an attempt and a spent allowance (back at midnight in the
portal's time zone) ends as a visible failed job instead of a worker asleep for hours. 423 Locked ("include a
delay of at least 2 seconds") is Retryable too, where the shared table would call a 4xx permanent.

Idempotency: contacts upsert by email, deals by the unique ``hub_order_key`` property (batch upsert, so a
retried call updates the deal it created), and the deal-contact association through the v4 default PUT,
which HubSpot keeps as a set. Notes have no idempotency key in HubSpot: the caller stores the note id.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from connectors.outbound import (
    Permanent,
    Retryable,
    SyncError,
    Throttled,
    call_failed,
    error_for_status,
    json_answer,
    retry_after,
)

from .consts import (
    API_BASE,
    ASSOCIATIONS_PAGE_LIMIT,
    BATCH_LIMIT,
    DAILY_POLICY,
    DAILY_RETRY_S,
    DEFAULT_TIMEOUT_S,
    INTERVAL_HEADER,
    MAX_THROTTLE_WAITS,
    NOTE_TO_CONTACT,
    NOTE_TO_DEAL,
    ORDER_KEY_PROPERTY,
    SEARCH_PAGE_LIMIT,
    SEARCH_WAIT_S,
    SECONDLY_MESSAGE,
    TEN_SECONDLY_WAIT_S,
)

logger = logging.getLogger(__name__)

LOCKED_WAIT_S = 2.0


class HubSpotClient:
    """One HubSpot portal, reached with one private app token."""

    def __init__(self, base_url: str = API_BASE, token: str = "", timeout_s: float = DEFAULT_TIMEOUT_S,
                 http: requests.Session | None = None) -> None:
        if not token:
            raise ValueError("HubSpotClient needs a private app token")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.http = http or requests.Session()
        self._token = token
        self.calls = 0  # HTTP requests sent, 429s included

    def __repr__(self) -> str:
        return f"HubSpotClient({self.base_url!r})"

    # -- the transport -----------------------------------------------------------------------
    def call(self, method: str, path: str, what: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One API call, 429s waited out by policy; the parsed JSON answer (None for an empty one)."""
        label = f"hubspot {what}"
        for _ in range(MAX_THROTTLE_WAITS):
            self.calls += 1
            try:
                r = self.http.request(method, self.base_url + path, json=json, params=params, timeout=self.timeout_s,
                                      headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"})
            except requests.RequestException as exc:
                raise self._safe(call_failed(exc, label)) from exc
            if r.status_code == 423:
                raise self._safe(Retryable(f"{label}: HTTP 423: {r.text[:300]}", LOCKED_WAIT_S))
            err = error_for_status(r.status_code, r.text, r.headers, label)
            if err is None:
                try:
                    return json_answer(r, label) if r.content else None
                except Retryable as exc:
                    raise self._safe(exc) from None
            if not isinstance(err, Throttled):
                raise self._safe(err)
            wait = self._throttle_wait(r, label)
            logger.info("hubspot rate limited: waiting %.2fs", wait, extra={"what": what})
            time.sleep(wait)
        raise self._safe(Throttled(f"{label}: still rate limited after {MAX_THROTTLE_WAITS} waits", wait))

    def _throttle_wait(self, r: requests.Response, label: str) -> float:
        body = _json(r)
        policy = body.get("policyName") or ("SECONDLY" if SECONDLY_MESSAGE in str(body.get("message")) else None)
        sent = retry_after(r.headers)
        if policy == DAILY_POLICY:
            raise self._safe(Retryable(f"{label}: HTTP 429: the portal's daily API allowance is used up",
                                       sent if sent is not None else DAILY_RETRY_S))
        if sent is not None:
            return sent
        if policy == "SECONDLY":
            return SEARCH_WAIT_S
        try:
            return max(0.0, float(r.headers[INTERVAL_HEADER]) / 1000)
        except (KeyError, ValueError):
            return TEN_SECONDLY_WAIT_S

    def _safe(self, err: SyncError) -> SyncError:
        """The error with the token blanked out, should any text the platform echoed contain it."""
        text = str(err)
        if self._token in text:
            err.args = (text.replace(self._token, "[token]"),)
        return err

    # -- contacts ----------------------------------------------------------------------------
    def upsert_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, str]:
        """Create or update contacts by email, ``BATCH_LIMIT`` per call; {lower-case email: contact id}.
        Each dict holds ``email`` plus any contact properties (firstname, lastname, phone, ...); None values
        are left out (an empty string would clear the property). Repeated emails are merged, later wins."""
        merged: dict[str, dict[str, str]] = {}
        for contact in contacts:
            email = str(contact.get("email") or "").strip().lower()
            if not email:
                raise ValueError("upsert_contacts: every contact needs an email (HubSpot upserts contacts by it)")
            props = {k: _text(v) for k, v in contact.items() if k != "email" and v is not None}
            merged[email] = {**merged.get(email, {}), **props, "email": email}
        out: dict[str, str] = {}
        items = list(merged.items())
        for i in range(0, len(items), BATCH_LIMIT):
            chunk = items[i:i + BATCH_LIMIT]
            answer = self.call("POST", "/crm/v3/objects/contacts/batch/upsert", "upsert contacts", json={
                "inputs": [{"idProperty": "email", "id": email, "properties": props} for email, props in chunk]})
            for result in answer.get("results") or []:
                email = str((result.get("properties") or {}).get("email") or "").lower()
                if email:
                    out[email] = str(result["id"])
            missing = sum(1 for email, _ in chunk if email not in out)
            if missing:  # a 207 multi-status answer: name HubSpot's reason, not the (PII) emails
                reasons = "; ".join(str(e.get("message")) for e in answer.get("errors") or [])[:300]
                raise Permanent(f"hubspot upsert contacts: {missing} of {len(chunk)} refused: {reasons}")
        return out

    # -- deals -------------------------------------------------------------------------------
    def upsert_deal(self, order_key: str, properties: dict[str, Any],
                    contact_id: str | None = None) -> tuple[str, bool]:
        """Create or update the order's deal, keyed by ``hub_order_key``; (deal id, created?). With a contact
        the deal is associated to it; repeating that changes nothing (HubSpot keeps one per pair and type)."""
        props = {k: _text(v) for k, v in properties.items() if v is not None}
        props[ORDER_KEY_PROPERTY] = order_key
        try:
            answer = self.call("POST", "/crm/v3/objects/deals/batch/upsert", "upsert deal", json={
                "inputs": [{"idProperty": ORDER_KEY_PROPERTY, "id": order_key, "properties": props}]})
        except Permanent as exc:
            if ORDER_KEY_PROPERTY in str(exc):  # the portal has no unique hub_order_key: nothing else will work
                raise Permanent(f"{exc} (the portal needs the unique deal property {ORDER_KEY_PROPERTY}: run "
                                "`hub doctor --fix`)") from exc
            raise
        results = answer.get("results") or []
        if not results:
            reasons = "; ".join(str(e.get("message")) for e in answer.get("errors") or [])[:300]
            raise Permanent(f"hubspot upsert deal: refused: {reasons}")
        deal_id, created = str(results[0]["id"]), bool(results[0].get("new"))
        if contact_id:
            self.associate("deals", deal_id, "contacts", contact_id)
        return deal_id, created

    def update_deal(self, deal_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        """Set deal properties (stage, amount, ...); the deal as HubSpot answers it."""
        props = {k: _text(v) for k, v in properties.items() if v is not None}
        return self.call("PATCH", f"/crm/v3/objects/deals/{_seg(deal_id)}", "update deal", json={"properties": props})

    def find_deal(self, order_key: str, properties: list[str] | None = None) -> dict[str, Any] | None:
        """The deal holding ``order_key``, through CRM search (which lags writes by a few moments)."""
        found = self.search("deals", [{"propertyName": ORDER_KEY_PROPERTY, "operator": "EQ", "value": order_key}],
                            properties, limit=1)
        return found[0] if found else None

    # -- notes and associations ---------------------------------------------------------------
    def add_note(self, body: str, timestamp: datetime | int | str, contact_id: str | None = None,
                 deal_id: str | None = None) -> str:
        """A note on the contact's and/or deal's timeline; its id. ``timestamp`` places it on the timeline."""
        links = [(contact_id, NOTE_TO_CONTACT), (deal_id, NOTE_TO_DEAL)]
        answer = self.call("POST", "/crm/v3/objects/notes", "add note", json={
            "properties": {"hs_note_body": body, "hs_timestamp": _text(timestamp)},
            "associations": [{"to": {"id": str(oid)}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}
                for oid, type_id in links if oid]})
        return str(answer["id"])

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """The default association between two records (deal -> contact is type 3); a no-op when present."""
        self.call("PUT", f"/crm/v4/objects/{from_type}/{_seg(from_id)}/associations/default/{to_type}/{_seg(to_id)}",
                  f"associate {from_type} to {to_type}")

    def associations(self, from_type: str, object_id: str, to_type: str) -> dict[str, list[int]]:
        """{associated record id: [association type ids]} through the v4 API, every page."""
        out: dict[str, list[int]] = {}
        after = None
        while True:
            params = {"limit": ASSOCIATIONS_PAGE_LIMIT, **({"after": after} if after else {})}
            page = self.call("GET", f"/crm/v4/objects/{from_type}/{_seg(object_id)}/associations/{to_type}",
                             f"read {from_type} associations", params=params)
            for item in page.get("results") or []:
                out[str(item["toObjectId"])] = [int(t["typeId"]) for t in item.get("associationTypes") or []]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return out

    # -- property definitions (``hub doctor``) ------------------------------------------------
    def get_property(self, object_type: str, name: str) -> dict[str, Any] | None:
        """A property's definition (``hasUniqueValue``, ``type``, ...); None when the portal has none by that
        name (HubSpot's 404 OBJECT_NOT_FOUND)."""
        try:
            return self.call("GET", f"/crm/v3/properties/{object_type}/{_seg(name)}", f"read {object_type} property")
        except Permanent as exc:
            if ": HTTP 404: " in str(exc):
                return None
            raise

    def create_property(self, object_type: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Create a custom property (``name``, ``label``, ``type``, ``fieldType``, ``groupName`` and optionally
        ``hasUniqueValue``, which no later update can change); HTTP 409 when one by that name exists."""
        return self.call("POST", f"/crm/v3/properties/{object_type}", f"create {object_type} property",
                         json=definition)

    # -- reads -------------------------------------------------------------------------------
    def get(self, object_type: str, object_id: str, properties: list[str] | None = None) -> dict[str, Any]:
        """One record (contacts, deals, notes); Permanent when it does not exist (404)."""
        params = {"properties": ",".join(properties)} if properties else None
        return self.call("GET", f"/crm/v3/objects/{object_type}/{_seg(object_id)}", f"read {object_type}",
                         params=params)

    def search(self, object_type: str, filters: list[dict[str, Any]], properties: list[str] | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Records matching every filter (one filter group), following ``paging.next.after``."""
        out: list[dict[str, Any]] = []
        after = "0"
        while True:
            body: dict[str, Any] = {"filterGroups": [{"filters": filters}], "after": after,
                                    "limit": min(limit or SEARCH_PAGE_LIMIT, SEARCH_PAGE_LIMIT)}
            if properties:
                body["properties"] = properties
            page = self.call("POST", f"/crm/v3/objects/{object_type}/search", f"search {object_type}", json=body)
            out += page.get("results") or []
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _text(value: Any) -> str:
    """A property value as HubSpot takes it: a string; datetimes as ISO 8601 UTC with milliseconds."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json(r: requests.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
