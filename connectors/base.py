"""The inbound roles every platform package implements, and the helpers they share.

A ``Verifier`` answers two questions about one raw delivery: is it genuinely from the
platform (``verify``), and what is it (``identify``: topic, the platform's own event id used
as the dedupe key, when it happened). Both are pure apart from PayPal's certificate fetch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from mappings import Unmappable
from mappings.common import when


class Unauthorized(Exception):
    """Signature missing or wrong: answer 401, store nothing. The message holds no secret."""


class Unparseable(Exception):
    """Genuine but unusable body: keep it as ``rejected`` with this reason, answer 400."""


class Unavailable(Exception):
    """Cannot verify right now (e.g. a certificate cannot be fetched): answer 503 so the
    platform retries."""


class Acknowledge(Exception):
    """A platform handshake (e.g. WooCommerce's ping on save): answer 200, start nothing."""


@dataclass(frozen=True)
class Delivery:
    """What a delivery is. Built from a platform's body by ``identify``: a value no store could keep (not
    text, empty, a NUL character) makes the body ``Unparseable`` here, once for every platform, rather
    than an error in the store (a 5xx the platform would retry for ever)."""

    topic: str
    dedupe_key: str
    occurred_at: datetime | None

    def __post_init__(self) -> None:
        for name in ("topic", "dedupe_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise Unparseable(f"the delivery's {_FIELD_NAMES[name]} is not text: {value!r:.80}")
            if "\x00" in value:
                raise Unparseable(f"the delivery's {_FIELD_NAMES[name]} holds a NUL character")


_FIELD_NAMES = {"topic": "topic", "dedupe_key": "event id"}


class ChannelSettings(Protocol):
    """What a connector reads of a configured channel (``hub.config.ChannelConfig`` is one); connectors know
    nothing of the hub's config beyond this."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def webhook_secrets(self) -> tuple[str, ...]: ...
    @property
    def tolerance_s(self) -> int: ...
    @property
    def webhook_id(self) -> str | None: ...
    @property
    def cert_hosts(self) -> tuple[str, ...]: ...
    @property
    def cert_ca_bundle(self) -> str | None: ...
    @property
    def locations(self) -> Mapping[str, str]: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...
    @property
    def topics(self) -> tuple[str, ...] | None: ...
    @property
    def calls_api(self) -> bool: ...


class Verifier(Protocol):
    def verify(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        """Raise Unauthorized (or Unavailable / Acknowledge); return None when genuine."""

    def identify(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """Raise Unparseable when the body cannot be understood."""


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def any_secret_matches(secrets: Iterable[str], given: bytes, sign: Any) -> bool:
    """Constant-time compare of ``given`` with ``sign(secret)`` for every configured secret.

    All secrets are tried (no early exit) so timing does not reveal which one matched.
    """
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(sign(secret), given)
    return ok


def check_base64_hmac(secrets: Iterable[str], body: bytes, header_value: str | None, header_name: str) -> None:
    """The common scheme: header = base64(HMAC-SHA256(secret, raw body))."""
    if not header_value:
        raise Unauthorized(f"missing {header_name}")
    given = header_value.strip().encode("ascii", "replace")
    if not any_secret_matches(secrets, given,
                              lambda s: base64.b64encode(hmac_sha256(s.encode(), body))):
        raise Unauthorized(f"bad {header_name}")


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)  # on the ingest hot path: ~5x faster than json.loads
    except orjson.JSONDecodeError as exc:
        raise Unparseable(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Unparseable("body is JSON but not an object")
    return data


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (any fraction length, Z or offset) or unix seconds -> aware UTC; None if absent
    (``mappings.common.when``, its failure as ``Unparseable``)."""
    try:
        return when(value)
    except Unmappable as exc:
        raise Unparseable(str(exc)) from None


def require(data: Mapping[str, Any], key: str, what: str) -> Any:
    value = data.get(key)
    if value in (None, ""):
        raise Unparseable(f"{what} body has no '{key}'")
    return value
