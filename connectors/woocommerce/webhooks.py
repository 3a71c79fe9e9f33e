"""WooCommerce webhooks: base64 HMAC-SHA256 of the raw body in X-WC-Webhook-Signature.

When a webhook is saved WooCommerce pings it with an unsigned form body ``webhook_id=N``; that
is acknowledged and starts nothing. X-WC-Webhook-Delivery-ID is a hash of webhook id and the
current second, not an event id, so the dedupe key is topic + resource id + a hash of the
body: the same state delivered twice counts once, two real changes in one second both count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from connectors.base import ChannelSettings

from ..base import (
    Acknowledge,
    Delivery,
    Unparseable,
    body_digest,
    check_base64_hmac,
    parse_json_object,
    parse_time,
)
from . import consts

_PING_RE = re.compile(rb"^webhook_id=\d+$")


class WooCommerceVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.secrets = channel.webhook_secrets

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        signature = headers.get(consts.SIGNATURE_HEADER)
        if not signature and not headers.get(consts.TOPIC_HEADER) and _PING_RE.match(body.strip()):
            raise Acknowledge("woocommerce ping")
        check_base64_hmac(self.secrets, body, signature, consts.SIGNATURE_HEADER)

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        topic = headers.get(consts.TOPIC_HEADER)
        if not topic:
            raise Unparseable(f"missing {consts.TOPIC_HEADER} header")
        data = parse_json_object(body)
        resource = data
        if "id" not in data and len(data) == 1:  # legacy wc-api v3 envelope {"order": {...}}
            inner = next(iter(data.values()))
            resource = inner if isinstance(inner, dict) else data
        resource_id = resource.get("id")
        if resource_id in (None, ""):
            raise Unparseable("woocommerce body has no resource 'id'")
        occurred = parse_time(resource.get("date_modified_gmt") or resource.get("updated_at"))
        return Delivery(topic, f"{topic}:{resource_id}:{body_digest(body)[:32]}", occurred)
