"""The webhook receiver: raw bytes, verify, store, enqueue by id, answer. Nothing else.

No outbound call (PayPal's certificate fetch, once per URL, is the documented exception), no
business logic: mapping and every consequence happen in the workers.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from connectors.base import Acknowledge, Delivery, Unauthorized, Unavailable, Unparseable, body_digest
from store.models import EventStatus

from .state import current_hub

logger = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
CHUNK_BYTES = 64 * 1024  # a chunked body is read this much at a time
_CREDENTIAL_HEADER = re.compile(r"authorization|cookie|signature|hmac|token|transmission-sig|api-key",
                                re.IGNORECASE)


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("[redacted]" if _CREDENTIAL_HEADER.search(k) else v) for k, v in headers.items()}


@bp.post("/webhooks/<channel_id>")
def receive(channel_id: str):  # noqa: ANN201 - a Flask response tuple
    started = time.perf_counter()
    hub = current_hub()
    verifier = hub.verifiers.get(channel_id)
    if verifier is None:
        return {"error": "unknown channel"}, 404
    body = read_body(hub.config.max_body_bytes)
    headers = request.headers
    try:
        verifier.verify(body, headers, request.args)
    except Acknowledge:
        return {"status": "ignored"}, 200
    except Unauthorized as exc:
        hub.metrics.verification_failures.labels(channel_id).inc()
        logger.warning("webhook refused", extra={"channel": channel_id, "reason": str(exc)})
        return {"error": "invalid signature"}, 401
    except Unavailable as exc:
        logger.warning("webhook cannot be verified now", extra={"channel": channel_id, "reason": str(exc)})
        return {"error": "verification unavailable, retry later"}, 503
    status, reason = EventStatus.RECEIVED, None
    try:
        delivery = verifier.identify(body, headers)
    except Unparseable as exc:
        status, reason = EventStatus.REJECTED, str(exc)
        delivery = Delivery(_topic_hint(headers), f"rejected:{body_digest(body)}", None)
    try:
        stored = hub.deliveries.add(channel=channel_id, kind=hub.config.channels[channel_id].kind,
                                 topic=delivery.topic, dedupe_key=delivery.dedupe_key,
                                 occurred_at=delivery.occurred_at, headers=redact(dict(headers)), body=body,
                                 status=status, reason=reason)
    except SQLAlchemyError as exc:
        logger.error("event store unavailable", extra={"channel": channel_id, "error": type(exc).__name__})
        hub.metrics.deliveries.labels(channel_id, "unavailable").inc()
        return {"error": "store unavailable, retry later"}, 503
    if stored.created and status is EventStatus.RECEIVED:
        try:
            hub.queues.announce_event(stored.event_id)
        except RedisError as exc:  # the row is safe; the outbox sweeper queues it later
            logger.warning("enqueue failed; left for the outbox sweeper",
                           extra={"event_id": stored.event_id, "channel": channel_id, "error": type(exc).__name__})
    outcome = "rejected" if status is EventStatus.REJECTED else ("accepted" if stored.created else "duplicate")
    hub.metrics.deliveries.labels(channel_id, outcome).inc()
    hub.metrics.ingest_seconds.labels(channel_id).observe(time.perf_counter() - started)
    logger.info("webhook %s", outcome, extra={"event_id": stored.event_id, "channel": channel_id,
                                              "topic": delivery.topic})
    if status is EventStatus.REJECTED:
        return {"status": "rejected", "event_id": stored.event_id, "reason": reason}, 400
    return {"status": outcome, "event_id": stored.event_id}, 200


def read_body(limit: int) -> bytes:
    """The raw body; 413 past ``limit`` bytes however it is framed.

    With a Content-Length werkzeug answers 413 before reading. A chunked body has none: werkzeug then
    reads the server's stream up to the limit and stops there without a word, so a larger body arrived
    cut (then refused as a bad signature, or stored and rejected as broken JSON). Here one byte past the
    limit is asked for, and getting it is the 413.
    """
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=False)  # no framing to read past (werkzeug's safe empty stream)
    stream, chunks, size = request.environ["wsgi.input"], [], 0
    while size <= limit:
        chunk = stream.read(min(CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise RequestEntityTooLarge()
    return b"".join(chunks)


def _topic_hint(headers) -> str:  # noqa: ANN001
    for name in ("X-Shopify-Topic", "X-WC-Webhook-Topic"):
        if headers.get(name):
            return headers[name]
    return "unknown"
