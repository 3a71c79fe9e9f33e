"""What the tests share, and only here (no test module imports another): the corpus loader, signed
deliveries per platform, payload builders, a live server, an in-process worker, settable clocks, the
hub's test config. The environments that serve several sandboxes around a hub are submodules: ``run``
(``hub run`` as processes), ``stock`` (two shops), ``story`` (every platform), ``erp_crm`` (Odoo and
HubSpot)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from jobs.erp_pull import shipment_from_erp
from sandbox import signing
from sandbox.base import serve
from sandbox.corpus import corpus_dir
from sandbox.woocommerce import WooSandbox
from store.models import tasks

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

    def __init__(self, start: float = 0.0) -> None:
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

    from jobs.queueing import EVENTS_DUE_KEY
    from jobs.worker import HubWorker

    hub = app.extensions["hub"]
    while True:
        relay(app)
        with app.app_context():
            HubWorker(queues or hub.queues.queue_names(), connection=hub.redis.client).work(burst=True)
        if queues and hub.queues.events_queue.name not in queues or not hub.redis.client.zcard(EVENTS_DUE_KEY):
            return
        wait = hub.queues.release_due()
        time.sleep(min(wait or 0.0, 60.0))


@contextmanager
def redis_gone(client) -> Iterator[None]:  # noqa: ANN001
    """``client``'s Redis unreachable inside the block, as if it had died (its connections dropped, new ones
    refused), and back after it: the server itself is shared by the tests of this worker."""
    pool = client.connection_pool
    saved = dict(pool.connection_kwargs)
    pool.connection_kwargs.update({"path": "/nonexistent/redis.sock"} if "path" in saved else {"port": 1})
    pool.reset()  # its connections are made again, with these
    try:
        yield
    finally:
        pool.connection_kwargs.clear()
        pool.connection_kwargs.update(saved)
        pool.reset()


def event_rows(app) -> list:  # noqa: ANN001
    from sqlalchemy import select

    from store.models import events

    with app.extensions["hub"].engine.connect() as conn:
        return conn.execute(select(events).order_by(events.c.id)).all()


def relay(app) -> int:  # noqa: ANN001
    """What `hub relay` does: turn announced deliveries into process_event jobs."""
    hub = app.extensions["hub"]
    moved = 0
    hub.queues.release_due()  # held events whose hold is over go back to the inbox (what the live relay does)
    while n := hub.queues.relay_inbox():
        moved += n
    return moved


def queued_job_ids(app) -> list[str]:  # noqa: ANN001
    """``event-<id>`` per delivery waiting in a job, once the relay has run (as it does within a
    second in `hub run`): the relay's batch jobs name their ids in their arguments."""
    relay(app)
    out = []
    for job in app.extensions["hub"].queues.events_queue.get_jobs():
        ids = job.args[0] if job.func_name == "jobs.events.process_events" else [job.args[0]]
        out += [f"event-{i}" for i in ids]
    return out


# ---- payload builders and posting ------------------------------------------------------------------

ORDER_ID = 7001


def shopify_order(updated_at: str, financial: str = "pending", note: str = "", **extra: object) -> dict:
    """The docs orders body as a live, uncancelled order with our id and timestamps."""
    body = copy.deepcopy(corpus_json("shopify/webhook_orders_docs_2022-10.json"))
    body.update(id=ORDER_ID, name="#1001", cancelled_at=None, cancel_reason=None, financial_status=financial,
                fulfillment_status=None, updated_at=updated_at, note=note, email="Ada@Example.com ", **extra)
    return body


def deliver(client, channel: str, topic: str, body: dict, event_id: str | None = None, times: int = 1):
    raw = json.dumps(body).encode()
    req = (signing.shopify(SECRETS["shop-eu"][0], raw, topic, event_id=event_id) if channel == "shop-eu"
           else signing.woocommerce(SECRETS["woo"][0], raw, topic))
    return [post(client, channel, req).json for _ in range(times)]


def woo_order(status: str = "pending", modified: str = "2026-11-22T06:48:10") -> dict:
    body = copy.deepcopy(corpus_json("woocommerce/live-11.0.1/004-order.created.body"))
    body.update(status=status, date_modified_gmt=modified)
    return body  # id / number 114, total 40.00 USD


def stripe(client, event: dict, times: int = 1) -> None:
    for _ in range(times):
        assert post(client, "stripe", signed("stripe", json.dumps(event).encode())).status_code == 200


def order_of(client, auth, channel: str) -> dict:
    (order,) = client.get(f"/api/orders?channel={channel}", headers=auth).json["orders"]
    return client.get(f"/api/orders/{order['id']}", headers=auth).json


# ---- the hub's config, clocks, store reads ----------------------------------------------------------

def cli_config(path: Path, hub, channels: list[str], monkeypatch, **settings: object) -> Path:  # noqa: ANN001
    """A config file for ``hub --config`` holding ``channels`` of the test ``hub`` as it has them, its database
    and Redis, and ``settings``; the environment's HUB_DATABASE_URL / HUB_REDIS_URL (which override the file)
    removed for the test."""
    chans = {cid: {"kind": ch.kind, "webhook_secrets": list(ch.webhook_secrets), "locations": ch.locations,
                   **ch.extra} for cid, ch in hub.config.channels.items() if cid in channels}
    path.write_text(json.dumps({"database_url": hub.config.database_url, "redis_url": hub.config.redis_url,
                                "channels": chans, **settings}))
    for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    return path


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/admin/login") -> str:  # noqa: ANN001
    """The console form's CSRF token on ``path``."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF_RE.search(page.text).group(1)


def login(client, token: str = ADMIN_TOKEN, ip: str = "10.0.0.1", next_: str = ""):  # noqa: ANN001, ANN201
    """Sign in to the console as the admin (a Flask test client)."""
    return client.post("/admin/login", data={"csrf_token": csrf(client), "token": token, "next": next_},
                       environ_base={"REMOTE_ADDR": ip})


def make_config(db_url: str, r_url: str, **overrides) -> dict:
    cfg = {
        "database_url": db_url,
        "redis_url": r_url,
        "admin_token": ADMIN_TOKEN,
        "max_body_bytes": 64 * 1024,
        "db_busy_timeout_s": 5,
        "stock_report_hold_s": 0.05,  # unexplained stock reports wait (once) this long: run_worker waits for them
        "channels": {
            "shop-eu": {"kind": "shopify", "webhook_secrets": SECRETS["shop-eu"]},
            "woo": {"kind": "woocommerce", "webhook_secrets": SECRETS["woo"]},
            "stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"], "tolerance_s": 300},
            "paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID, "cert_hosts": ["localhost"]},
            "easypost": {"kind": "easypost", "webhook_secrets": SECRETS["easypost"]},
            "aftership": {"kind": "aftership", "webhook_secrets": SECRETS["aftership"]},
            "shippo": {"kind": "shippo", "webhook_secrets": SECRETS["shippo"]},
        },
    }
    cfg.update(overrides)
    return cfg


class OdooClock:
    """A settable clock: PostgreSQL's now(), with microseconds."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, 0, 100_000)

    def __call__(self) -> datetime:
        return self.now

    def at(self, micro: int, second: int = 0) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, second, micro)


def task_rows(env, **where) -> list:
    q = select(tasks).order_by(tasks.c.id)
    for k, v in where.items():
        q = q.where(tasks.c[k] == v)
    with env.hub.engine.connect() as conn:
        return conn.execute(q).all()


# ---- shipments and a WooCommerce shop's view of an order -------------------------------------------

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TRACKING = "9400111899223197428490"


def erp_shipment(app, tracking: str = TRACKING, carrier: str = "usps", done: datetime = START) -> int:
    from jobs.fanout import owing

    hub = app.extensions["hub"]
    with app.app_context(), owing(hub) as conn:
        from sqlalchemy import select

        from store.models import orders
        order_id = conn.execute(select(orders.c.id)).scalar_one()
        return shipment_from_erp(conn, order_id, tracking, carrier, done)


def _woo_orders(shop: WooSandbox):  # noqa: ANN202
    from connectors.woocommerce.client import WooOrders
    from hub.config import ChannelConfig

    return WooOrders(ChannelConfig(id="woo", kind="woocommerce", extra={
        "url": shop.base_url, "consumer_key": "ck_t", "consumer_secret": "cs_t"}))


def shop_order_body(shop: WooSandbox, order_id: int) -> dict:
    """The order as WooCommerce's REST API shows it."""
    return _woo_orders(shop).order(order_id)


def shop_notes(shop: WooSandbox, order_id: int) -> list[dict]:
    return _woo_orders(shop).notes(order_id)
