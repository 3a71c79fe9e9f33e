"""Stripe webhooks: ``Stripe-Signature: t=...,v1=...`` checked by the stripe library's own
verifier (every v1 in the header, the timestamp tolerance), once per configured secret."""

from __future__ import annotations

from collections.abc import Mapping

import stripe

from connectors.base import ChannelSettings

from ..base import Delivery, Unauthorized, parse_json_object, parse_time, require

SIGNATURE_HEADER = "Stripe-Signature"


class StripeVerifier:
    def __init__(self, channel: ChannelSettings) -> None:
        self.secrets = channel.webhook_secrets
        self.tolerance_s = channel.tolerance_s

    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        header = headers.get(SIGNATURE_HEADER)
        if not header:
            raise Unauthorized(f"missing {SIGNATURE_HEADER}")
        reason = "bad signature"
        for secret in self.secrets:
            try:
                stripe.WebhookSignature.verify_header(body.decode("utf-8", "replace"), header, secret,
                                                      tolerance=self.tolerance_s)
                return
            except stripe.SignatureVerificationError as exc:
                # The library's message says "timestamp outside the tolerance zone" or "no
                # signatures found matching"; neither contains the secret.
                reason = str(exc.user_message or exc)
        raise Unauthorized(f"{SIGNATURE_HEADER}: {reason}")

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        data = parse_json_object(body)
        return Delivery(require(data, "type", "stripe event"), str(require(data, "id", "stripe event")),
                        parse_time(data.get("created")))
