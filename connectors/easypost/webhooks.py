"""EasyPost webhooks: ``X-Hmac-Signature: hmac-sha256-hex=<hex>``, keyed with the secret
NFKD-normalised (as EasyPost's own SDKs do; an NFC key does not match)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from connectors.base import ChannelSettings

from ..base import (
    Delivery,
    Unauthorized,
    any_secret_matches,
    hmac_sha256,
    parse_json_object,
    parse_time,
    require,
)

SIGNATURE_HEADER = "X-Hmac-Signature"
PREFIX = "hmac-sha256-hex="


class EasyPostVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.keys = [unicodedata.normalize("NFKD", s).encode() for s in channel.webhook_secrets]

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            raise Unauthorized(f"missing {SIGNATURE_HEADER}")
        given_b = given.strip().lower().encode("ascii", "replace")
        if not any_secret_matches(self.keys, given_b,
                                  lambda k: (PREFIX + hmac_sha256(k, body).hex()).encode()):
            raise Unauthorized(f"bad {SIGNATURE_HEADER}")

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        data = parse_json_object(body)
        return Delivery(require(data, "description", "easypost event"), str(require(data, "id", "easypost event")),
                        parse_time(data.get("updated_at") or data.get("created_at")))
