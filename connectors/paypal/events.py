"""PayPal's webhook events since a time, over ``requests``: the ChangeSource ``jobs.backfill`` reads the
payments whose webhooks never reached the hub from.

``POST /v1/oauth2/token`` (client credentials) gives a Bearer token, kept for every page of the read (a 401
on a later page gets one new token); ``GET /v1/notifications/webhooks-events?start_time=<since>&
end_time=<now>&page_size=100`` lists the app's events, and each further page is the ``next`` link PayPal
returns, asked of the channel's ``api_url`` (the link's host is not trusted with the token). PayPal filters
by one ``event_type`` at most, so every type is listed and the ones the hub does not map are dropped here:
one list call rather than one per type. An event is the body its webhook delivers, and its id is the dedupe
key that webhook carries: one arriving after the backfill is a duplicate. Every page is read before anything
is handed over, oldest first whatever order PayPal lists in (a capture before its refund); a read that fails
half way stores nothing and moves no watermark. The token is kept by the process until shortly before it
expires (PayPal's ``expires_in``, ~9 h), so a backfill with nothing new is one call: the list.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from connectors.base import ChannelSettings
from connectors.outbound import Change, Permanent, Retryable, call_failed, error_for_status, json_answer
from mappings.paypal import TOPICS

from .consts import DEFAULT_API_URL, EVENTS_PAGE_SIZE, EVENTS_PATH, TOKEN_PATH

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # the backfill's watermark text, UTC
TOKEN_MARGIN_S = 60  # a kept token is given up this long before PayPal says it expires
DEFAULT_TOKEN_TTL_S = 300  # when the answer says nothing of it
_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (api_url, client_id) -> (token, monotonic expiry)
_tokens_lock = threading.Lock()


class PayPalEvents:
    """ChangeSource (``resource`` events) for one PayPal channel: the REST app's ``client_id`` and
    ``client_secret``, at ``api_url`` (default PayPal's live API)."""

    resource = "events"

    def __init__(self, channel: ChannelSettings) -> None:
        x = channel.extra
        self.channel = channel.id
        self.api_url = (x.get("api_url") or DEFAULT_API_URL).rstrip("/")
        self.timeout_s = channel.timeout_s
        self.calls = 0
        self._credentials = (str(x["client_id"]), str(x["client_secret"]))
        self._http = requests.Session()

    @property
    def _token(self) -> str | None:
        with _tokens_lock:
            token, until = _tokens.get((self.api_url, self._credentials[0]), ("", 0.0))
        return token if token and time.monotonic() < until else None

    def _forget_token(self) -> None:
        with _tokens_lock:
            _tokens.pop((self.api_url, self._credentials[0]), None)

    def changed_since(self, since: str) -> Iterator[list[Change]]:
        """ChangeSource: the events of the types the hub maps created at or after ``since`` (UTC
        ``YYYY-MM-DDTHH:MM:SS``), oldest first, ``EVENTS_PAGE_SIZE`` to a page."""
        url: str | None = f"{self.api_url}{EVENTS_PATH}"
        params: dict[str, Any] | None = {"start_time": f"{since[:19]}Z", "page_size": EVENTS_PAGE_SIZE,
                                         "end_time": _now()}
        seen: dict[str, dict[str, Any]] = {}  # id -> event: a page boundary may show one twice
        while url is not None:
            page = self._get(url, params)
            for event in page.get("events") or []:
                if isinstance(event, dict) and event.get("id") is not None:
                    seen.setdefault(str(event["id"]), event)
            following = self._next(page)
            url, params = (following, None) if following != url else (None, None)
        changes = [_change(e) for e in reversed(seen.values()) if e.get("event_type") in TOPICS]
        changes.sort(key=lambda c: c.version)  # stable: same-second events keep the order PayPal gave
        for i in range(0, len(changes), EVENTS_PAGE_SIZE):
            yield changes[i:i + EVENTS_PAGE_SIZE]

    def probe(self) -> None:
        """A new token, then one page of one event (``hub doctor``): the app's credentials are accepted (a token
        kept from earlier would hide a changed secret)."""
        self._forget_token()
        self._get(f"{self.api_url}{EVENTS_PATH}", {"page_size": 1, "start_time": f"{_now()[:10]}T00:00:00Z",
                                                   "end_time": _now()})

    def _get(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        for _ in range(2):
            fresh = self._token is None
            token = self._token or self._new_token()
            r = self._send("GET", url, "list events", params=params, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 401 and not fresh:  # expired since it was given: one new token
                self._forget_token()
                continue
            return self._json(r, "list events")
        raise Permanent("paypal list events: a new access token was refused too")

    def _new_token(self) -> str:
        r = self._send("POST", f"{self.api_url}{TOKEN_PATH}", "get access token", auth=self._credentials,
                       data={"grant_type": "client_credentials"})
        answer = self._json(r, "get access token")
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise Retryable("paypal get access token: no access_token in the answer")
        try:
            ttl = float(answer.get("expires_in") or DEFAULT_TOKEN_TTL_S)
        except (TypeError, ValueError):
            ttl = DEFAULT_TOKEN_TTL_S
        with _tokens_lock:
            _tokens[(self.api_url, self._credentials[0])] = (token, time.monotonic() + max(0.0, ttl - TOKEN_MARGIN_S))
        return token

    def _next(self, page: dict[str, Any]) -> str | None:
        """The ``next`` link's path and query on ``api_url``; None on the last page."""
        href = next((link.get("href") for link in page.get("links") or []
                     if isinstance(link, dict) and link.get("rel") == "next"), None)
        if not href:
            return None
        parts = urlsplit(str(href))
        if parts.path.rstrip("/") != EVENTS_PATH:
            raise Permanent(f"paypal list events: a next link to another resource: {parts.path}")
        base = urlsplit(self.api_url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

    def _send(self, method: str, url: str, what: str, **kw: Any) -> requests.Response:
        self.calls += 1
        try:
            return self._http.request(method, url, timeout=self.timeout_s, headers={
                "Accept": "application/json", **kw.pop("headers", {})}, **kw)
        except requests.RequestException as exc:
            raise call_failed(exc, f"paypal {what}") from exc

    @staticmethod
    def _json(r: requests.Response, what: str) -> dict[str, Any]:
        if (err := error_for_status(r.status_code, r.text, r.headers, f"paypal {what}")) is not None:
            raise err
        body = json_answer(r, f"paypal {what}")
        if not isinstance(body, dict):
            raise Retryable(f"paypal {what}: the answer is not a JSON object")
        return body


def _change(event: dict[str, Any]) -> Change:
    return Change(topic=str(event["event_type"]), resource=f"event:{event['id']}",
                  version=_text(event.get("create_time")), body=event, event_id=str(event["id"]))


def _now() -> str:
    """``end_time``: now, to the millisecond as PayPal stamps its events. An event stamped later (created
    meanwhile, or a clock ahead of the hub's) is read by the next backfill: the watermark stays before it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(create_time: Any) -> str:
    """PayPal's RFC 3339 time as the watermark's text (UTC, to the second); "" when missing or unreadable."""
    try:
        at = datetime.fromisoformat(str(create_time).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime(TIME_FORMAT)
