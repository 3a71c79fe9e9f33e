"""Stripe's events since a time, through the ``stripe`` library: the ChangeSource ``jobs.backfill`` reads the
payments whose webhooks never reached the hub from.

``GET /v1/events?created[gte]=<since>&types[]=<each type the hub maps>&limit=100``, paged with
``starting_after``. An event is the body its webhook delivers, and its id is the dedupe key that webhook
carries: one that arrives after the backfill is a duplicate. Stripe lists newest first and offers no other
order, so every page is read before anything is handed over, then oldest first (a payment before its refund,
as the webhooks were sent); a read that fails half way stores nothing and moves no watermark. The events
wait in memory meanwhile: the watermark trails by one backfill interval, so that is usually one page, and
at most what Stripe still lists. Stripe lists only the events of the last 30 days (``EVENT_DAYS``): what a hub
missed for longer than that cannot be read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import stripe

from connectors.base import ChannelSettings
from connectors.outbound import Change, Permanent, Retryable, SyncError, error_for_status
from mappings.stripe import TOPICS

from .consts import DEFAULT_API_URL, LIST_LIMIT, TYPES_MAX

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # the backfill's watermark text, UTC
WHAT = "stripe list events"


class StripeEvents:
    """ChangeSource (``resource`` events) for one Stripe channel: its secret (or restricted, events read)
    key ``api_key``, at ``api_url`` (default Stripe's)."""

    resource = "events"

    def __init__(self, channel: ChannelSettings) -> None:
        x = channel.extra
        self.channel = channel.id
        self.calls = 0
        self.types = sorted(TOPICS)
        self._client = stripe.StripeClient(
            x["api_key"], base_addresses={"api": (x.get("api_url") or DEFAULT_API_URL).rstrip("/")},
            max_network_retries=0,  # the backfill's own retry policy decides (connectors.outbound)
            http_client=stripe.RequestsClient(timeout=channel.timeout_s))

    def changed_since(self, since: str) -> Iterator[list[Change]]:
        """ChangeSource: the events of the types the hub maps created at or after ``since`` (UTC
        ``YYYY-MM-DDTHH:MM:SS``), oldest first, ``LIST_LIMIT`` to a page; nothing new costs one call."""
        params: dict[str, Any] = {"created": {"gte": _epoch(since)}, "limit": LIST_LIMIT}
        if len(self.types) <= TYPES_MAX:  # else every type is listed and filtered here
            params["types"] = self.types
        pages: list[list[dict[str, Any]]] = []
        while True:
            data, more = self._list(params)
            pages.append(data)
            if not more or not data:
                break
            params = {**params, "starting_after": data[-1]["id"]}
        oldest_first = [e for page in reversed(pages) for e in reversed(page) if e.get("type") in TOPICS]
        for i in range(0, len(oldest_first), LIST_LIMIT):
            yield [_change(e) for e in oldest_first[i:i + LIST_LIMIT]]

    def probe(self) -> None:
        """One authenticated read of one event (``hub doctor``): the key is accepted and may read events."""
        self._list({"limit": 1})

    def _list(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """One page as Stripe sent it (the raw JSON, not the library's objects): (events, has_more)."""
        self.calls += 1
        try:
            page = self._client.v1.events.list(params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise _error(exc) from exc
        raw = page.last_response.data if page.last_response is not None else None
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
            raise Retryable(f"{WHAT}: not a list object")
        return list(raw["data"]), bool(raw.get("has_more"))


def _error(exc: stripe.StripeError) -> SyncError:
    """The library's error as the hub's typed error; a refused key is named, never echoed."""
    if exc.http_status is None:  # refused, reset, timed out: no answer came
        return Retryable(f"{WHAT}: {type(exc).__name__}: {exc.user_message or exc}")
    if exc.http_status in (401, 403):
        return Permanent(f"{WHAT}: HTTP {exc.http_status}: the channel's api_key was refused "
                         f"({type(exc).__name__})")
    body = exc.http_body if isinstance(exc.http_body, str) else str(exc.user_message or exc)
    return (error_for_status(exc.http_status, body, exc.headers or {}, WHAT)
            or Retryable(f"{WHAT}: HTTP {exc.http_status}: {body[:300]}"))


def _change(event: dict[str, Any]) -> Change:
    return Change(topic=str(event["type"]), resource=f"event:{event['id']}", version=_text(event.get("created")),
                  body=dict(event), event_id=str(event["id"]))


def _epoch(since: str) -> int:
    return int(datetime.strptime(since[:19], TIME_FORMAT).replace(tzinfo=UTC).timestamp())


def _text(created: Any) -> str:
    """Stripe's unix seconds as the watermark's text; "" when the event has none."""
    return datetime.fromtimestamp(int(created), UTC).strftime(TIME_FORMAT) if created is not None else ""
