"""One package per external system; each exposes the roles its platform supports.

``verifier_for(channel)`` picks the inbound webhook verifier by the channel's ``kind``; ``change_source`` and
``subscription_target`` the clients that read what changed and keep the webhooks subscribed, where the kind
has them and the hub holds the channel's API keys.
"""

from __future__ import annotations

from hub.config import ChannelConfig

from .base import Verifier
from .outbound import ChangeSource, SubscriptionTarget


def verifier_for(channel: ChannelConfig) -> Verifier:
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


def change_source(channel: ChannelConfig) -> ChangeSource | None:
    """What the hub reads a channel's missed changes from (``jobs.backfill``); None: it cannot."""
    if not channel.calls_api:
        return None
    if channel.kind == "woocommerce":
        from .woocommerce.client import WooOrders

        return WooOrders(channel)
    if channel.kind == "shopify":
        from .shopify.orders import ShopifyOrderChanges

        return ShopifyOrderChanges(channel)
    if channel.kind == "stripe":
        from .stripe.events import StripeEvents

        return StripeEvents(channel)
    if channel.kind == "paypal":
        from .paypal.events import PayPalEvents

        return PayPalEvents(channel)
    return None


def subscription_target(channel: ChannelConfig) -> SubscriptionTarget | None:
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
