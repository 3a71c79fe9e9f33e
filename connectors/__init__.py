"""One package per external system; each exposes the roles its platform supports.

``verifier_for(channel)`` picks the inbound webhook verifier by the channel's ``kind``; ``stock_target``,
``change_source`` and ``subscription_target`` the clients that write stock, read what changed and keep the
webhooks subscribed, where the kind has them and the hub holds the channel's API keys.
"""

from __future__ import annotations

import importlib

from connectors.base import ChannelSettings

from .base import Verifier
from .outbound import ChangeSource, StockTarget, SubscriptionTarget


def verifier_for(channel: ChannelSettings) -> Verifier:
    from .aftership.webhooks import AfterShipVerifier
    from .easypost.webhooks import EasyPostVerifier
    from .paypal.webhooks import PayPalVerifier
    from .shippo.webhooks import ShippoVerifier
    from .shopify.webhooks import ShopifyVerifier
    from .stripe.webhooks import StripeVerifier
    from .woocommerce.webhooks import WooCommerceVerifier

    table: dict[str, type] = {
        "shopify": ShopifyVerifier,
        "woocommerce": WooCommerceVerifier,
        "stripe": StripeVerifier,
        "paypal": PayPalVerifier,
        "easypost": EasyPostVerifier,
        "aftership": AfterShipVerifier,
        "shippo": ShippoVerifier,
    }
    return table[channel.kind](channel)


STOCK_TARGETS = {  # kind -> (module, class) of its StockTarget
    "shopify": ("connectors.shopify.client", "ShopifyStock"),
    "woocommerce": ("connectors.woocommerce.client", "WooStock"),
}
CHANGE_SOURCES = {  # kind -> (module, class) of its ChangeSource
    "woocommerce": ("connectors.woocommerce.client", "WooOrders"),
    "shopify": ("connectors.shopify.orders", "ShopifyOrderChanges"),
    "stripe": ("connectors.stripe.events", "StripeEvents"),
    "paypal": ("connectors.paypal.events", "PayPalEvents"),
}


def _class(table: dict[str, tuple[str, str]], kind: str) -> type:
    module, name = table[kind]
    return getattr(importlib.import_module(module), name)


def stock_target(channel: ChannelSettings) -> StockTarget:
    """The channel's stock API (``jobs.push``); ValueError for a kind the hub writes no stock to."""
    if channel.kind not in STOCK_TARGETS:
        raise ValueError(f"channel {channel.id}: the hub cannot write stock to {channel.kind}")
    return _class(STOCK_TARGETS, channel.kind)(channel)


def writes_blind(channel: ChannelSettings) -> bool:
    """Whether a stock write to ``channel`` is a plain set (no compare-and-set): it can land over a sale the hub
    has not heard of yet."""
    return channel.kind in STOCK_TARGETS and not _class(STOCK_TARGETS, channel.kind).compare_and_set


def reads_changes(channel: ChannelSettings) -> bool:
    """Whether the hub can read what changed on ``channel`` (a kind with a ChangeSource, its API keys held)."""
    return channel.kind in CHANGE_SOURCES and channel.calls_api


def change_source(channel: ChannelSettings) -> ChangeSource | None:
    """What the hub reads a channel's missed changes from (``jobs.backfill``); None: it cannot."""
    if not reads_changes(channel):
        return None
    return _class(CHANGE_SOURCES, channel.kind)(channel)


def subscription_target(channel: ChannelSettings) -> SubscriptionTarget | None:
    """The channel's webhook subscription API (``jobs.subscriptions``); None: the hub does not manage them."""
    if not channel.calls_api:
        return None
    if channel.kind == "woocommerce":
        from .woocommerce.client import WooWebhooks

        return WooWebhooks(channel)
    if channel.kind == "shopify":
        from .shopify.subscriptions import ShopifyWebhooks

        return ShopifyWebhooks(channel)
    return None
