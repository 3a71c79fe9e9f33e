"""Test helpers: the corpus loader, signed-request builders per platform, a live server."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

from sandbox import signing
from sandbox.base import serve
from sandbox.shopify_graphql import corpus_dir

CORPUS = corpus_dir()  # HUB_CORPUS, or ../shared/corpus beside the repository

SECRETS = {
    "shop-eu": ["shpss_new_secret", "shpss_old_secret"],
    "woo": ["s3cret"],
    "stripe": ["whsec_new", "whsec_old"],
    "easypost": ["sécret"],
    "aftership": ["aftership-secret"],
    "shippo": ["shippo-token-1", "shippo-token-2"],
}
ADMIN_TOKEN = "test-admin-token-0123456789"
PAYPAL_WEBHOOK_ID = "WH-TEST-3TR748995U920805P"


def corpus_path(rel: str) -> Path:
    p = CORPUS / rel
    if not p.exists():
        raise FileNotFoundError(f"corpus file missing: {p} (set HUB_CORPUS to the shared/corpus folder)")
    return p


def corpus_bytes(rel: str, strip_newline: bool = True) -> bytes:
    """Raw corpus bytes; SOURCES.md says one trailing newline was appended to most files."""
    data = corpus_path(rel).read_bytes()
    return data[:-1] if strip_newline and data.endswith(b"\n") else data


def corpus_json(rel: str) -> object:
    return json.loads(corpus_bytes(rel))


# one sample delivery per kind: (corpus file, topic for header-topic platforms)
SAMPLES = {
    "shop-eu": ("shopify/webhook-examples-2026-07/orders.create.json", "orders/create"),
    "woo": ("woocommerce/live-11.0.1/004-order.created.body", "order.created"),
    "stripe": ("stripe/object_event_fixtures3.json", None),
    "easypost": ("carriers/easypost_event_tracker_updated.json", None),
    "aftership": (None, None),
    "shippo": (None, None),
}

AFTERSHIP_BODY = json.dumps({
    "event": "tracking_update", "event_id": "c2b8ea42-6f3a-4f4d-9d2a-2a1e5e3d6b11", "is_tracking_first_tag": False,
    "msg": {"id": "5b0d1e1f3c7b4f0a9b1c2d3e", "tracking_number": "1Z999AA10123456784", "slug": "ups",
            "tag": "InTransit", "updated_at": "2026-11-20T10:00:00+00:00"},
    "ts": 1763632800,
}).encode()
SHIPPO_BODY = json.dumps({
    "event": "track_updated", "test": True,
    "data": {"carrier": "usps", "tracking_number": "9205590164917312751089",
             "tracking_status": {"status": "TRANSIT", "status_details": "Arrived at facility",
                                 "status_date": "2026-11-20T10:00:00Z"}},
}).encode()


def sample_body(channel: str) -> bytes:
    if channel == "aftership":
        return AFTERSHIP_BODY
    if channel == "shippo":
        return SHIPPO_BODY
    rel, _ = SAMPLES[channel]
    return corpus_bytes(rel, strip_newline=channel != "easypost")


def signed(channel: str, body: bytes | None = None, secret: str | None = None, **kw: object) -> signing.SignedRequest:
    """A delivery for ``channel`` signed as its platform signs it (first secret unless given)."""
    body = sample_body(channel) if body is None else body
    secret = SECRETS[channel][0] if secret is None else secret
    topic = kw.pop("topic", SAMPLES.get(channel, (None, None))[1])
    if channel == "shop-eu":
        return signing.shopify(secret, body, topic, **kw)  # type: ignore[arg-type]
    if channel == "woo":
        return signing.woocommerce(secret, body, topic, **kw)  # type: ignore[arg-type]
    builders = {"stripe": signing.stripe, "easypost": signing.easypost, "aftership": signing.aftership,
                "shippo": signing.shippo}
    return builders[channel](secret, body, **kw)


def post(client, channel: str, req: signing.SignedRequest):  # noqa: ANN001
    return client.post(f"/webhooks/{channel}", data=req.body, headers=req.headers, query_string=req.query)


class ManualClock:
    """Seconds that move only when told (``sleep`` moves them): a sandbox's rate limit on this clock gives
    the same answers however busy the machine is."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def live_server(app) -> AbstractContextManager[str]:  # noqa: ANN001
    """``app`` served on a free port for the duration of the block; yields its base URL."""
    return serve(app)


def run_worker(app, queues: list[str] | None = None) -> None:  # noqa: ANN001
    """Drain the hub's queues (or just ``queues``) with a real RQ worker (in-process, burst mode); events
    held meanwhile (a stock report waiting for its channel's orders) are waited for and processed too."""
    import time

    from hub.state import EVENTS_DUE_KEY
    from jobs.worker import HubWorker

    hub = app.extensions["hub"]
    while True:
        relay(app)
        with app.app_context():
            HubWorker(queues or hub.queue_names(), connection=hub.redis.client).work(burst=True)
        if queues and hub.events_queue.name not in queues or not hub.redis.client.zcard(EVENTS_DUE_KEY):
            return
        wait = hub.release_due()
        time.sleep(min(wait or 0.0, 60.0))


def event_rows(app) -> list:  # noqa: ANN001
    from sqlalchemy import select

    from hub.models import events

    with app.extensions["hub"].engine.connect() as conn:
        return conn.execute(select(events).order_by(events.c.id)).all()


def relay(app) -> int:  # noqa: ANN001
    """What `hub relay` does: turn announced deliveries into process_event jobs."""
    hub = app.extensions["hub"]
    moved = 0
    hub.release_due()  # held events whose hold is over go back to the inbox (what the live relay does)
    while n := hub.relay_inbox():
        moved += n
    return moved


def queued_job_ids(app) -> list[str]:  # noqa: ANN001
    """``event-<id>`` per delivery waiting in a job, once the relay has run (as it does within a
    second in `hub run`): the relay's batch jobs name their ids in their arguments."""
    relay(app)
    out = []
    for job in app.extensions["hub"].events_queue.get_jobs():
        ids = job.args[0] if job.func_name == "jobs.events.process_events" else [job.args[0]]
        out += [f"event-{i}" for i in ids]
    return out
