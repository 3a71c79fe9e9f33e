"""One package per external system, and the registry of what each kind of platform does: ``PLATFORMS``.

A ``Platform`` names, for its kind, the classes that play each role (``"module:Class"``, imported when first
used, so the receiver loads only its verifiers): the inbound webhook verifier, the mapper module (raw body ->
canonical records), and where the kind has them and the hub holds the channel's API keys, the clients that
write stock, read what changed, keep the webhooks subscribed, send tracking back and re-read a record. Adding
a platform is a package here, a mappings module, and one entry below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the registry loads no platform code of its own: hub.config reads its kinds cheaply
    from .base import ChannelSettings, Verifier
    from .outbound import ChangeSource, OrderTarget, Refresher, StockTarget, SubscriptionTarget


@dataclass(frozen=True)
class Platform:
    kind: str
    title: str  # how people write its name
    role: str  # "sales" (orders and stock), "payments" (matched to orders), "carrier" (tracking)
    verifier: str
    mapper: str  # the mappings module: its TOPICS map a topic to its mapper
    api_keys: tuple[str, ...] = ()  # the config keys that let the hub call its API (all or none)
    options: tuple[str, ...] = ()  # the other config keys its connector reads (an API's address, version)
    signed_by_secret: bool = True  # its webhooks are signed with a shared secret (``webhook_secrets``)
    topic_separator: str = "."  # how its topics join resource and event (orders/create on Shopify)
    stock_target: str | None = None  # writes stock levels (jobs.push)
    change_source: str | None = None  # reads what changed (jobs.backfill)
    subscriptions: str | None = None  # keeps its webhook subscriptions (jobs.subscriptions)
    order_target: str | None = None  # takes an order's tracking (jobs.tracking)
    refresher: str | None = None  # re-reads an event's record (a replay with mode refresh)
    refresh_topics: tuple[str, ...] = ()  # the topics (by prefix) the refresher re-reads


_SHOPIFY, _WOO = "connectors.shopify", "connectors.woocommerce"
PLATFORMS: dict[str, Platform] = {p.kind: p for p in (
    Platform("shopify", "Shopify", "sales", f"{_SHOPIFY}.webhooks:ShopifyVerifier", "mappings.shopify",
             api_keys=("shop", "access_token"), options=("api_url", "api_version"), topic_separator="/",
             stock_target=f"{_SHOPIFY}.client:ShopifyStock",
             change_source=f"{_SHOPIFY}.orders:ShopifyOrderChanges",
             subscriptions=f"{_SHOPIFY}.subscriptions:ShopifyWebhooks",
             order_target=f"{_SHOPIFY}.client:ShopifyOrders"),
    Platform("woocommerce", "WooCommerce", "sales", f"{_WOO}.webhooks:WooCommerceVerifier",
             "mappings.woocommerce",
             api_keys=("url", "consumer_key", "consumer_secret"),
             stock_target=f"{_WOO}.client:WooStock", change_source=f"{_WOO}.client:WooOrders",
             subscriptions=f"{_WOO}.client:WooWebhooks", order_target=f"{_WOO}.client:WooOrders",
             refresher=f"{_WOO}.client:WooOrders", refresh_topics=("order.", "product.")),
    # api_url: default https://api.stripe.com (the events the webhooks missed)
    Platform("stripe", "Stripe", "payments", "connectors.stripe.webhooks:StripeVerifier", "mappings.stripe",
             api_keys=("api_key",), options=("api_url",), change_source="connectors.stripe.events:StripeEvents"),
    # verified by PayPal's certificate, not a shared secret; api_url: default https://api-m.paypal.com
    Platform("paypal", "PayPal", "payments", "connectors.paypal.webhooks:PayPalVerifier", "mappings.paypal",
             api_keys=("client_id", "client_secret"), options=("api_url",), signed_by_secret=False,
             change_source="connectors.paypal.events:PayPalEvents"),
    Platform("easypost", "EasyPost", "carrier", "connectors.easypost.webhooks:EasyPostVerifier", "mappings.easypost"),
    Platform("aftership", "AfterShip", "carrier", "connectors.aftership.webhooks:AfterShipVerifier",
             "mappings.aftership"),
    Platform("shippo", "Shippo", "carrier", "connectors.shippo.webhooks:ShippoVerifier", "mappings.shippo"),
)}
KINDS = tuple(PLATFORMS)
SALES_KINDS = tuple(k for k, p in PLATFORMS.items() if p.role == "sales")
PAYMENT_KINDS = tuple(k for k, p in PLATFORMS.items() if p.role == "payments")
SECRET_KINDS = frozenset(k for k, p in PLATFORMS.items() if p.signed_by_secret)
OUTBOUND_KEYS = {k: p.api_keys for k, p in PLATFORMS.items() if p.api_keys}


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def verifier_for(channel: ChannelSettings) -> Verifier:
    return _load(PLATFORMS[channel.kind].verifier)(channel)


def mapper(kind: str) -> ModuleType:
    """The mappings module of ``kind``: ``TOPICS`` maps each topic the hub handles to its mapper."""
    return importlib.import_module(PLATFORMS[kind].mapper)


def stock_target(channel: ChannelSettings) -> StockTarget:
    """The channel's stock API (``jobs.push``); ValueError for a kind the hub writes no stock to."""
    path = PLATFORMS[channel.kind].stock_target
    if path is None:
        raise ValueError(f"channel {channel.id}: the hub cannot write stock to {channel.kind}")
    return _load(path)(channel)


def writes_blind(channel: ChannelSettings) -> bool:
    """Whether a stock write to ``channel`` is a plain set (no compare-and-set): it can land over a sale the hub
    has not heard of yet."""
    path = PLATFORMS[channel.kind].stock_target
    return path is not None and not _load(path).compare_and_set


def reads_changes(channel: ChannelSettings) -> bool:
    """Whether the hub can read what changed on ``channel`` (a kind with a ChangeSource, its API keys held)."""
    return PLATFORMS[channel.kind].change_source is not None and channel.calls_api


def change_source(channel: ChannelSettings) -> ChangeSource | None:
    """What the hub reads a channel's missed changes from (``jobs.backfill``); None: it cannot."""
    if not reads_changes(channel):
        return None
    return _load(PLATFORMS[channel.kind].change_source)(channel)


def subscription_target(channel: ChannelSettings) -> SubscriptionTarget | None:
    """The channel's webhook subscription API (``jobs.subscriptions``); None: the hub does not manage them."""
    path = PLATFORMS[channel.kind].subscriptions
    return _load(path)(channel) if path and channel.calls_api else None


def order_target(channel: ChannelSettings) -> OrderTarget | None:
    """Where an order's tracking goes back to (``jobs.tracking``); None: nowhere."""
    path = PLATFORMS[channel.kind].order_target
    return _load(path)(channel) if path and channel.calls_api else None


def refresher(channel: ChannelSettings) -> Refresher | None:
    """What re-reads a record of ``channel`` for a replay; None: the channel cannot be re-read."""
    path = PLATFORMS[channel.kind].refresher
    return _load(path)(channel) if path and channel.calls_api else None


def refreshable(kind: str, topic: str) -> bool:
    """Whether an event of ``kind`` and ``topic`` can be replayed from the platform's current record."""
    prefixes = PLATFORMS[kind].refresh_topics if kind in PLATFORMS else ()
    return any(topic.startswith(p) for p in prefixes) and not topic.endswith(".deleted")
