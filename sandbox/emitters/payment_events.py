"""Stripe's and PayPal's event lists, for the emitter service: every event it built (delivered, refused by the
hub, or never delivered) is kept here and served with the platform's own wire format and auth, so the hub's
backfill can read what its webhooks missed.

Stripe: ``GET /v1/events`` with the secret key (``Authorization: Bearer sk_...``, or Basic with the key as the
user), newest first, filtered by ``created[gte|gt|lte|lt]`` (unix seconds), ``type`` (``*`` wildcards) or
``types[]`` (up to 20), paged by ``limit`` (1..100, default 10) and ``starting_after`` / ``ending_before``; the
answer is a list object ``{"object": "list", "data", "has_more", "url": "/v1/events"}``, an error is
``{"error": {"type", "message", "param", "code"}}`` (401 for a missing or wrong key, 400 for a bad
parameter). Like Stripe's own API it lists only the events of the last 30 days (``STRIPE_EVENT_DAYS``):
older events cannot be read back there at all.

PayPal: ``POST /v1/oauth2/token`` (``grant_type=client_credentials``, Basic ``client_id:client_secret``)
answers a Bearer access token good for ``PAYPAL_TOKEN_TTL_S``; ``GET /v1/notifications/webhooks-events`` with
it lists ``{"events", "count", "links"}``, newest first, within ``start_time`` / ``end_time`` (RFC 3339, both
inclusive), ``page_size`` (default 10) at a time, optionally one ``event_type``. More pages are a ``next``
link (and a ``previous`` one) carrying ``move_to``, ``index_time`` and ``index_id``, shaped as in PayPal's
recorded answer (corpus ``paypal/webhooks_api_testEventSearch_php_sdk.json``): ``index_time`` pins the
newest event of the first page, so events arriving meanwhile do not shift the pages, ``index_id`` is the
1-based position the page starts at.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request

STRIPE_EVENT_DAYS = 30  # GET /v1/events lists the last 30 days of events only
STRIPE_LIMIT_MAX = 100
STRIPE_LIMIT_DEFAULT = 10
STRIPE_TYPES_MAX = 20
STRIPE_EVENTS_URL = "/v1/events"
PAYPAL_TOKEN_TTL_S = 32400  # what PayPal's token endpoint says in expires_in
PAYPAL_PAGE_SIZE_DEFAULT = 10
PAYPAL_TOKEN_PATH = "/v1/oauth2/token"
PAYPAL_EVENTS_PATH = "/v1/notifications/webhooks-events"
PAYPAL_SCOPE = "https://uri.paypal.com/services/applications/webhooks"
_STRIPE_CREATED = re.compile(r"^created\[(gte|gt|lte|lt)\]$")
_STRIPE_TYPES = re.compile(r"^types\[\d*\]$")
_STRIPE_IGNORED = re.compile(r"^(delivery_success|expand|expand\[\d*\])$")


class ApiError(Exception):
    """An error answer: its status and the platform's JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def stripe_error(status: int, message: str, param: str | None = None, code: str | None = None) -> ApiError:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return ApiError(status, {"error": error})


def paypal_invalid(field_name: str, value: str, issue: str, description: str) -> ApiError:
    """PayPal's 400 for a malformed request, naming the query parameter."""
    return ApiError(400, {"name": "INVALID_REQUEST", "debug_id": uuid.uuid4().hex[:13],
                          "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
                          "details": [{"field": field_name, "value": value, "location": "query", "issue": issue,
                                       "description": description}]})


PAYPAL_AUTHENTICATION_FAILURE = {
    "name": "AUTHENTICATION_FAILURE",
    "message": "Authentication failed due to missing authorization header, or invalid authentication credentials.",
    "links": [{"href": "https://developer.paypal.com/docs/api/overview/#error", "rel": "information_link"}]}


@dataclass
class PaymentEvents:
    """The events of the emitters' Stripe and PayPal accounts, in the order they were built, and the keys
    their APIs accept (none set: every key is refused)."""

    stripe_api_key: str | None = field(default=None, repr=False)
    paypal_client_id: str | None = None
    paypal_client_secret: str | None = field(default=None, repr=False)
    clock: Callable[[], float] = time.time
    stripe: list[dict[str, Any]] = field(default_factory=list)
    paypal: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)  # "GET /v1/events" -> answers given, errors included

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # PayPal access token -> when it expires (clock seconds)

    def record_stripe(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.stripe.append(event)

    def record_paypal(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.paypal.append(event)

    def expire_tokens(self) -> None:
        """Every PayPal access token given so far has expired (as after ``PAYPAL_TOKEN_TTL_S``)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    # ---- Stripe ---------------------------------------------------------------------------------------

    def stripe_list(self, args: dict[str, list[str]], authorization: str | None) -> dict[str, Any]:
        """``GET /v1/events``: the list object, or ApiError."""
        self._stripe_auth(authorization)
        q = _StripeQuery.parse(args)
        cutoff = self.clock() - STRIPE_EVENT_DAYS * 86400
        with self._lock:
            ordered = sorted(enumerate(self.stripe), key=lambda ie: (int(ie[1]["created"]), ie[0]), reverse=True)
        keys = {e["id"]: (int(e["created"]), i) for i, e in ordered}
        listed = [(keys[e["id"]], e) for _, e in ordered if e["created"] >= cutoff and q.matches(e)]
        cursor = q.starting_after or q.ending_before
        if cursor is not None and cursor not in keys:
            raise stripe_error(400, f"No such event: '{cursor}'", "starting_after" if q.starting_after
                               else "ending_before", "resource_missing")
        if q.starting_after:
            rest = [e for k, e in listed if k < keys[q.starting_after]]
            data, more = rest[:q.limit], len(rest) > q.limit
        elif q.ending_before:
            rest = [e for k, e in listed if k > keys[q.ending_before]]
            data, more = rest[-q.limit:], len(rest) > q.limit
        else:
            data, more = [e for _, e in listed[:q.limit]], len(listed) > q.limit
        return {"object": "list", "data": data, "has_more": more, "url": STRIPE_EVENTS_URL}

    def _stripe_auth(self, authorization: str | None) -> None:
        key = _stripe_key(authorization)
        if not key:
            raise stripe_error(401, "You did not provide an API key. You need to provide your API key in the "
                                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                                    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                                    "details, or we can help at https://support.stripe.com/.")
        if not self.stripe_api_key or not secrets.compare_digest(key, self.stripe_api_key):
            raise stripe_error(401, f"Invalid API Key provided: {_masked(key)}")

    # ---- PayPal ---------------------------------------------------------------------------------------

    def paypal_token(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        """``POST /v1/oauth2/token``: a new access token, or ApiError."""
        user, password = _basic(authorization)
        if not (self.paypal_client_id and self.paypal_client_secret and user is not None and password is not None
                and secrets.compare_digest(user, self.paypal_client_id)
                and secrets.compare_digest(password, self.paypal_client_secret)):
            raise ApiError(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        grant = form.get("grant_type")
        if grant != "client_credentials":
            raise ApiError(400, {"error": "unsupported_grant_type",
                                 "error_description": "Grant Type is NULL" if not grant else "Unsupported grant type"})
        token = f"A21AA{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = self.clock() + PAYPAL_TOKEN_TTL_S
        return {"scope": PAYPAL_SCOPE, "access_token": token, "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T", "expires_in": PAYPAL_TOKEN_TTL_S,
                "nonce": f"{_rfc3339(self.clock())}{secrets.token_urlsafe(24)}"}

    def paypal_list(self, args: dict[str, str], authorization: str | None, base_url: str) -> dict[str, Any]:
        """``GET /v1/notifications/webhooks-events``: ``{"events", "count", "links"}``, or ApiError."""
        self._paypal_auth(authorization)
        q = _PayPalQuery.parse(args)
        with self._lock:
            ordered = sorted(enumerate(self.paypal), key=lambda ie: (_paypal_time(ie[1]), ie[0]), reverse=True)
        window = [e for _, e in ordered if q.matches(e)]
        index_time = q.index_time if q.index_time is not None else (_paypal_time(window[0]) if window else q.end)
        pinned = [e for e in window if _paypal_time(e) <= index_time]
        first = q.index_id - 1
        page = pinned[first:first + q.page_size]
        links = []
        if first + q.page_size < len(pinned):
            links.append(q.link(base_url, "next", index_time, q.index_id + q.page_size))
        if first > 0:
            links.append(q.link(base_url, "previous", index_time, max(1, q.index_id - q.page_size)))
        return {"events": page, "count": len(page), "links": links}

    def _paypal_auth(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None:
            raise ApiError(401, PAYPAL_AUTHENTICATION_FAILURE)
        if expires <= self.clock():
            raise ApiError(401, {"error": "invalid_token", "error_description": "Access Token not found in cache"})

    # ---- HTTP -----------------------------------------------------------------------------------------

    def register(self, app: Flask) -> None:
        """The three endpoints on ``app`` (the emitter service's)."""

        def answer(name: str, produce: Callable[[], dict[str, Any]]) -> Response:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
            try:
                status, body = 200, produce()
            except ApiError as exc:
                status, body = exc.status, exc.body
            resp = Response(json.dumps(body), status=status, content_type="application/json")
            if name.endswith(STRIPE_EVENTS_URL):
                resp.headers["Request-Id"] = f"req_{uuid.uuid4().hex[:14]}"
            else:
                resp.headers["Paypal-Debug-Id"] = uuid.uuid4().hex[:13]
            return resp

        def stripe_events() -> Response:
            return answer(f"GET {STRIPE_EVENTS_URL}", lambda: self.stripe_list(
                request.args.to_dict(flat=False), request.headers.get("Authorization")))

        def paypal_token() -> Response:
            return answer(f"POST {PAYPAL_TOKEN_PATH}", lambda: self.paypal_token(
                request.form.to_dict(), request.headers.get("Authorization")))

        def paypal_events() -> Response:
            return answer(f"GET {PAYPAL_EVENTS_PATH}", lambda: self.paypal_list(
                request.args.to_dict(), request.headers.get("Authorization"), request.host_url.rstrip("/")))

        app.add_url_rule(STRIPE_EVENTS_URL, "stripe_events", stripe_events, methods=["GET"])
        app.add_url_rule(PAYPAL_TOKEN_PATH, "paypal_token", paypal_token, methods=["POST"])
        app.add_url_rule(PAYPAL_EVENTS_PATH, "paypal_events", paypal_events, methods=["GET"], strict_slashes=False)


@dataclass(frozen=True)
class _StripeQuery:
    limit: int = STRIPE_LIMIT_DEFAULT
    created: tuple[tuple[str, int], ...] = ()
    types: tuple[str, ...] = ()
    type_pattern: str | None = None
    starting_after: str | None = None
    ending_before: str | None = None

    @classmethod
    def parse(cls, args: dict[str, list[str]]) -> _StripeQuery:
        kw: dict[str, Any] = {}
        created: list[tuple[str, int]] = []
        types: list[str] = []
        for name, values in args.items():
            value = values[-1]
            if name in ("limit", "created") or _STRIPE_CREATED.match(name):
                number = _stripe_int(name, value)
                if name == "limit":
                    if not 1 <= number <= STRIPE_LIMIT_MAX:
                        raise stripe_error(400, f"This value must be greater than or equal to 1 and less than or "
                                                f"equal to {STRIPE_LIMIT_MAX}.", "limit", "parameter_invalid_integer")
                    kw["limit"] = number
                else:
                    created.append((m.group(1) if (m := _STRIPE_CREATED.match(name)) else "eq", number))
            elif _STRIPE_TYPES.match(name):
                types += values
            elif name == "type":
                kw["type_pattern"] = value
            elif name in ("starting_after", "ending_before"):
                kw[name] = value
            elif not _STRIPE_IGNORED.match(name):
                raise stripe_error(400, f"Received unknown parameter: {name}", name, "parameter_unknown")
        if kw.get("starting_after") and kw.get("ending_before"):
            raise stripe_error(400, "You may only specify one of these parameters: ending_before, starting_after.",
                               "ending_before")
        if types and "type_pattern" in kw:
            raise stripe_error(400, "You may pass either type or types, but not both.", "types")
        if len(types) > STRIPE_TYPES_MAX:
            raise stripe_error(400, f"You may pass at most {STRIPE_TYPES_MAX} types.", "types")
        return cls(created=tuple(created), types=tuple(types), **kw)

    def matches(self, event: dict[str, Any]) -> bool:
        at = int(event["created"])
        ops = {"eq": at.__eq__, "gte": at.__ge__, "gt": at.__gt__, "lte": at.__le__, "lt": at.__lt__}
        if not all(ops[op](value) for op, value in self.created):
            return False
        if self.types and event["type"] not in self.types:
            return False
        return self.type_pattern is None or fnmatch.fnmatchcase(event["type"], self.type_pattern)


@dataclass(frozen=True)
class _PayPalQuery:
    raw: dict[str, str]
    start: float = float("-inf")
    end: float = float("inf")
    page_size: int = PAYPAL_PAGE_SIZE_DEFAULT
    event_type: str | None = None
    transaction_id: str | None = None
    index_time: float | None = None
    index_id: int = 1

    @classmethod
    def parse(cls, args: dict[str, str]) -> _PayPalQuery:
        kw: dict[str, Any] = {}
        for name, key in (("start_time", "start"), ("end_time", "end"), ("index_time", "index_time")):
            if args.get(name):
                kw[key] = _paypal_param_time(name, args[name])
        for name, low in (("page_size", 1), ("index_id", 1)):
            if args.get(name):
                try:
                    kw[name] = int(args[name])
                except ValueError:
                    raise paypal_invalid(name, args[name], "INVALID_PARAMETER_SYNTAX", "Not a number.") from None
                if kw[name] < low:
                    raise paypal_invalid(name, args[name], "INVALID_PARAMETER_VALUE", f"Must be {low} or more.")
        for name in ("event_type", "transaction_id"):
            if args.get(name):
                kw[name] = args[name]
        return cls(raw=args, **kw)

    def matches(self, event: dict[str, Any]) -> bool:
        if not self.start <= _paypal_time(event) <= self.end:
            return False
        if self.event_type and event.get("event_type") != self.event_type:
            return False
        return not self.transaction_id or (event.get("resource") or {}).get("id") == self.transaction_id

    def link(self, base_url: str, rel: str, index_time: float, index_id: int) -> dict[str, str]:
        params = {k: v for k, v in self.raw.items() if k in ("start_time", "end_time", "page_size", "event_type",
                                                            "transaction_id")}
        params.update(page_size=str(self.page_size), move_to=rel, index_time=_rfc3339(index_time, ms=True),
                      index_id=str(index_id))
        return {"href": f"{base_url}{PAYPAL_EVENTS_PATH}/?{urlencode(params, safe=':')}", "rel": rel,
                "method": "GET"}


def _stripe_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise stripe_error(400, f"Invalid integer: {value}", name, "parameter_invalid_integer") from None


def _stripe_key(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        user, _password = _basic(authorization)
        return user or None
    return None


def _basic(authorization: str | None) -> tuple[str | None, str | None]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def _masked(key: str) -> str:
    """As Stripe shows a refused key: its prefix and last four characters."""
    prefix = m.group(0) if (m := re.match(r"^[a-z]{2,3}_(test|live)_", key)) else ""
    return prefix + "*" * max(0, len(key) - len(prefix) - 4) + key[-4:]


def _rfc3339(at: float, ms: bool = False) -> str:
    text = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def _paypal_param_time(name: str, value: str) -> float:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise paypal_invalid(name, value, "INVALID_PARAMETER_SYNTAX",
                             "Internet date and time format, e.g. 2013-03-06T11:00:00Z.")
    return at.timestamp()


def _paypal_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["create_time"]).replace("Z", "+00:00")).timestamp()
