"""Shippo webhooks: Shippo does not sign bodies; the webhook URL carries ``?token=`` which is
compared in constant time with the channel's secrets. Shippo sends no event id, so the dedupe
key is the event + a hash of the body."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import ChannelSettings

from ..base import Delivery, Unauthorized, any_secret_matches, body_digest, parse_json_object, parse_time, require


class ShippoVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.secrets = channel.webhook_secrets

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        token = query.get("token")
        if not token:
            raise Unauthorized("missing ?token=")
        if not any_secret_matches(self.secrets, token.encode(), lambda s: s.encode()):
            raise Unauthorized("bad ?token=")

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        data = parse_json_object(body)
        topic = str(require(data, "event", "shippo webhook"))
        payload = data.get("data") if isinstance(data.get("data"), dict) else {}
        status = payload.get("tracking_status") if isinstance(payload.get("tracking_status"), dict) else {}
        return Delivery(topic, f"{topic}:{body_digest(body)}", parse_time(status.get("status_date")))
