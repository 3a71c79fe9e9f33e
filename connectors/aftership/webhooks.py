"""AfterShip webhooks: base64 HMAC-SHA256 of the raw body in ``aftership-hmac-sha256``.

Dedupe key: the payload's ``event_id`` when present, else event + tracking id + body hash.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import ChannelSettings

from ..base import Delivery, body_digest, check_base64_hmac, parse_json_object, parse_time, require

SIGNATURE_HEADER = "aftership-hmac-sha256"


class AfterShipVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.secrets = channel.webhook_secrets

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        check_base64_hmac(self.secrets, body, headers.get(SIGNATURE_HEADER), SIGNATURE_HEADER)

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        data = parse_json_object(body)
        topic = str(require(data, "event", "aftership webhook"))
        msg = data.get("msg") if isinstance(data.get("msg"), dict) else {}
        key = data.get("event_id") or f"{topic}:{msg.get('id', '')}:{body_digest(body)[:32]}"
        return Delivery(topic, str(key), parse_time(data.get("ts") or msg.get("updated_at")))
