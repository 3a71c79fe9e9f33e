"""One package per external system; each exposes the roles its platform supports.

``verifier_for(channel)`` picks the inbound webhook verifier by the channel's ``kind``.
"""

from __future__ import annotations

from hub.config import ChannelConfig

from .base import Verifier


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
