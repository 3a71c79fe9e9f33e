"""What every platform sandbox shares: a webhook emitter, an in-process server, call latency.

The emitter delivers webhooks the way the platforms do: after the change that caused them, from
a background sender, in order, retried a few times on failure. Tests call ``wait_idle()`` to know
every webhook has reached the hub; a sandbox run as a process just keeps sending.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests
from werkzeug.serving import make_server

from sandbox.signing import SignedRequest

logger = logging.getLogger(__name__)

EMIT_ATTEMPTS = 5
STOP_POLL_S = 0.05  # how often a served sandbox looks for a stop request (socketserver waits 0.5 s)
EMIT_BACKOFF_S = 0.2
EMIT_TIMEOUT_S = 10.0


@dataclass
class EmitterStats:
    sent: int = 0
    failed: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


Observer = Callable[[str, str, SignedRequest], None]  # (stage "emitted" | "delivered", topic, request)
Answered = Callable[[int | None], None]  # a delivery's last answer: its status code, None when none came


class Emitter:
    """Posts signed webhooks to ``url`` in the order they were emitted, on one sender thread.

    ``observer``, if set, is called when a webhook is emitted (at the change, under the sandbox's
    lock) and when the hub accepted it (a 2xx): benchmarks time stock changes and deliveries by it.
    """

    def __init__(self, url: str | None = None, attempts: int = EMIT_ATTEMPTS) -> None:
        self.url = url
        self.attempts = attempts  # 1: never retried (WooCommerce)
        self.observer: Observer | None = None
        self.stats = EmitterStats()
        self._queue: queue.Queue[tuple[str, str, SignedRequest, Answered | None] | None] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-emitter", daemon=True)
        self._thread.start()

    def emit(self, topic: str, request: SignedRequest, url: str | None = None,
             answered: Answered | None = None) -> None:
        """Queue one delivery to ``url`` (default: the emitter's); dropped when there is none. ``answered``
        is called with the last answer's status code (None: no answer) once the delivery is done."""
        target = url or self.url
        if not target:
            return
        with self._cond:
            self._pending += 1
        if self.observer:
            self.observer("emitted", topic, request)
        self._queue.put((target, topic, request, answered))

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every emitted webhook was delivered (or given up); raise on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"sandbox emitter: {self._pending} webhook(s) still pending")
                self._cond.wait(left)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            url, topic, req, answered = item
            ok, status = False, None
            for attempt in range(self.attempts):
                try:
                    r = self._http.post(url, data=req.body, headers=req.headers, params=req.query,
                                        timeout=EMIT_TIMEOUT_S)
                    ok, status = r.status_code < 500, r.status_code
                    if ok:
                        if self.observer and r.status_code < 300:
                            self.observer("delivered", topic, req)
                        break
                except requests.RequestException as exc:
                    status = None
                    logger.warning("sandbox webhook %s to %s failed: %s", topic, url, exc)
                if attempt + 1 < self.attempts:
                    time.sleep(EMIT_BACKOFF_S * (2 ** attempt))
            if answered:
                answered(status)
            with self._cond:
                if ok:
                    self.stats.sent += 1
                    self.stats.by_topic[topic] = self.stats.by_topic.get(topic, 0) + 1
                else:
                    self.stats.failed += 1
                self._pending -= 1
                self._cond.notify_all()


@dataclass
class Latency:
    """Each API call sleeps uniformly in [low_s, high_s] (0, 0 = none) before it answers."""

    low_s: float = 0.0
    high_s: float = 0.0

    def wait(self) -> None:
        if self.high_s > 0:
            time.sleep(random.uniform(self.low_s, self.high_s))


@contextmanager
def serve(app: Callable, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run a WSGI app on a thread for the duration of the block; yields its base URL."""
    server = make_server(host, port, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), name="sandbox-server", daemon=True)
    t.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        t.join(5)
