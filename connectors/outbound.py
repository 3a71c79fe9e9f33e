"""The outbound roles a platform package implements, and the one table of retry decisions.

Errors are typed (STYLE point 8): ``Throttled`` waits as the platform says and is not a failure;
``Retryable`` (network, timeout, 5xx, 408, 409 lock) backs off and retries a bounded number of
times; ``Permanent`` (any other 4xx, a payload the platform refuses) fails at once with the
platform's reason. ``error_for_status`` is the only place an HTTP status becomes a decision.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests


class SyncError(Exception):
    """A call to a platform did not do what was asked; the message says why, never a secret."""


class Retryable(SyncError):
    def __init__(self, message: str, seconds: float | None = None) -> None:
        super().__init__(message)
        self.seconds = seconds  # what the platform asked for, if it said


class Throttled(Retryable):
    """The platform's rate limit: wait ``seconds`` and carry on; not counted as an attempt."""


class Permanent(SyncError):
    """Retrying the same call cannot succeed (refused input, unknown item, bad credentials)."""


class MissingLink(Permanent):
    """The target has no record for an id the hub sends (a SKU the ERP does not know, a location with no
    warehouse): adding it, or the link to it, is the fix, and a replay then succeeds."""


RETRYABLE_4XX = frozenset({408, 409, 425})  # timeout, conflict/lock, too early


def retry_after(headers: requests.structures.CaseInsensitiveDict | dict, default: float | None = None) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:  # an HTTP date: rare from these APIs; fall back to our own backoff
        return default


def error_for_status(status: int, body: str, headers: dict | requests.structures.CaseInsensitiveDict,
                     what: str) -> SyncError | None:
    """The table: an HTTP answer -> None (fine) or the error to raise."""
    if status < 400:
        return None
    text = f"{what}: HTTP {status}: {body[:300]}"
    if status == 429:
        return Throttled(text, retry_after(headers, 1.0))
    if status in RETRYABLE_4XX or status >= 500:
        return Retryable(text, retry_after(headers))
    return Permanent(text)


def call_failed(exc: requests.RequestException, what: str) -> Retryable:
    """Network trouble (refused, reset, timeout) is always worth another try."""
    return Retryable(f"{what}: {type(exc).__name__}: {exc}")


def json_answer(r: requests.Response, what: str) -> Any:
    """The answer's JSON. An answer that is not JSON (a proxy's or a maintenance page, a URL that is not the
    platform's API) is Retryable, as network trouble is, and says what came instead."""
    try:
        return r.json()
    except ValueError:
        kind = r.headers.get("Content-Type") or "no Content-Type"
        raise Retryable(f"{what}: the answer is not JSON (HTTP {r.status_code}, {kind}): "
                        f"{' '.join(r.text[:120].split())}") from None


@dataclass(frozen=True)
class Listing:
    """Where a SKU sits in a channel, and its quantity there when it was read."""

    sku: str
    item_id: str  # the id the channel's stock reports carry (Shopify inventory item, Woo product/variation)
    product_id: str | None = None
    variant_id: str | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class LevelWrite:
    listing: Listing
    quantity: int  # the value to set
    expected: int | None  # what the hub believes the channel holds (compare-and-set), None = unknown


@dataclass
class PushResult:
    written: dict[str, int] = field(default_factory=dict)  # sku -> value now on the channel
    stale: set[str] = field(default_factory=set)  # compare-and-set lost: the channel did not show ``expected``
    failed: dict[str, str] = field(default_factory=dict)  # sku -> why the channel refused it (permanent)
    calls: int = 0


class StockTarget(Protocol):
    """A channel the hub writes stock levels to."""

    channel: str
    batch_size: int  # the most quantities one write call takes
    cheap_reads: bool  # False where reads spend a scarce rate limit (Shopify's query cost): write blind first
    compare_and_set: bool  # a write names the value it replaces (Shopify); False: a plain set over whatever is there

    def find(self, skus: list[str]) -> dict[str, Listing]:
        """Look SKUs up in the channel, with their current quantity; absent SKUs are left out."""

    def read(self, listings: list[Listing]) -> dict[str, int]:
        """Current quantity per SKU for known listings."""

    def push_levels(self, writes: list[LevelWrite], key: str) -> PushResult:
        """Set the quantities, ``batch_size`` at most per call; ``key`` makes a retried call a no-op
        where the platform supports idempotency keys. Compare-and-set where supported: a write
        whose ``expected`` is out of date comes back in ``stale``; nothing else in its call was applied
        (those are in neither ``written`` nor ``stale``: write them again as they were)."""


@dataclass(frozen=True)
class Subscription:
    """One webhook subscription on a platform, as it lists it."""

    id: str
    topic: str
    url: str
    active: bool
    status: str  # the platform's own word (WooCommerce: active, paused, disabled)


class OrderTarget(Protocol):
    """A sales channel the hub sends an order's tracking back to (``jobs.tracking``)."""

    def send_tracking(self, order_id: str, tracking_number: str, carrier: str,
                      lines: dict[str, int] | None = None) -> str:
        """Tell the shopper (and the shop) the parcel is on its way: ``lines`` the units it carries ({sku: units})
        when the order has more left to ship, None for everything open. Idempotent by tracking number; returns
        the platform's id of what it made (a fulfillment, a note)."""
        ...

    def mark_paid(self, order_id: str, reference: str) -> str:
        """Record on the channel that the shopper paid an order it still shows unpaid (the money came through a
        gateway the channel does not see); ``reference`` the gateway's payment id. Nothing to do if the
        channel shows it paid already; Permanent for an order it cannot take a payment on. Says what it did."""
        ...

    def refund_lines(self, order_id: str) -> dict[str, dict[str, int]]:
        """{refund id: {sku: units}} of the order's refunds, for a platform whose refund webhooks do not say
        their lines; {} where they do."""
        ...

    def tell_customer(self, order_id: str, text: str, key: str) -> str:
        """A note on the order the shopper sees (and is emailed), once per ``key`` (a note already naming it is
        the one); returns its id. Permanent where the platform has no such note."""
        ...


class Refresher(Protocol):
    """A platform the hub can re-read a record from, for a replay with mode refresh (``jobs.replay_ops``)."""

    def current(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The platform's current version of what an event of ``topic`` with ``payload`` was about, as the body
        of that topic; Permanent when the payload names no record."""
        ...

    def current_order(self, order_id: str) -> tuple[str, dict[str, Any]]:
        """(topic, body): the order as its update webhook would deliver it now."""
        ...


class SubscriptionTarget(Protocol):
    """A platform whose webhook subscriptions the hub keeps (``jobs.subscriptions``)."""

    channel: str

    def subscriptions(self) -> list[Subscription]:
        """Every webhook subscription the platform holds for the hub's API key."""

    def subscribe(self, topic: str, url: str, secret: str) -> Subscription:
        """Create an active subscription of ``topic`` delivering to ``url``, signed with ``secret``."""

    def repair(self, sub: Subscription, url: str, secret: str) -> Subscription:
        """Make ``sub`` active and deliver to ``url``, signed with ``secret``."""


@dataclass(frozen=True)
class Change:
    """One record a platform changed, as its webhook would have delivered it (``jobs.backfill``)."""

    topic: str  # the webhook topic it stands for
    resource: str  # what changed, e.g. ``order:123``: with ``version`` and a body hash, the dedupe key
    version: str  # when it changed, UTC ``YYYY-MM-DDTHH:MM:SS`` (sorts as text): the watermark moves to the newest
    body: dict[str, Any]  # in the platform's webhook shape
    order_id: str | None = None  # an order of the channel: compared with the version the hub holds
    topic_if_new: str | None = None  # the topic when the hub does not hold that order (its "created" topic)
    event_id: str | None = None  # the platform's event id (Stripe, PayPal): the dedupe key its webhook carries


class ChangeSource(Protocol):
    """A platform the hub can ask what changed (``jobs.backfill``)."""

    channel: str
    resource: str  # what is read (``orders``, ``events``): names the watermark
    calls: int  # API calls made so far

    def changed_since(self, since: str) -> Iterator[list[Change]]:
        """Every change after ``since`` (UTC ``YYYY-MM-DDTHH:MM:SS``), oldest first, one page per call."""
