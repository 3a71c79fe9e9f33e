"""Shopify webhooks: base64 HMAC-SHA256 of the raw body in X-Shopify-Hmac-Sha256.

Dedupe key: X-Shopify-Event-Id (the same across retries), else X-Shopify-Webhook-Id, prefixed
with the topic because one Shopify event can fan out to several topics.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import ChannelSettings

from ..base import Delivery, Unparseable, body_digest, check_base64_hmac, parse_json_object, parse_time
from . import consts


class ShopifyVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.secrets = channel.webhook_secrets

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        check_base64_hmac(self.secrets, body, headers.get(consts.HMAC_HEADER), consts.HMAC_HEADER)

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        topic = headers.get(consts.TOPIC_HEADER)
        if not topic:
            raise Unparseable(f"missing {consts.TOPIC_HEADER} header")
        parse_json_object(body)
        event_id = headers.get(consts.EVENT_ID_HEADER) or headers.get(consts.WEBHOOK_ID_HEADER)
        key = f"{topic}:{event_id}" if event_id else f"{topic}:sha256:{body_digest(body)}"
        return Delivery(topic, key, parse_time(headers.get(consts.TRIGGERED_AT_HEADER)))
