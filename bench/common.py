"""What the benchmarks share: free ports, child processes, and the store the hub runs on.

``backends`` gives a fresh PostgreSQL schema and Redis db (the servers, as in production) or
SQLite + embedded Redis under the run's work directory, and a cleanup that drops what it made.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def start(cmd: list[str], env: dict[str, str], cwd: Path, stderr: int | None = subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def backends(embedded: bool, work: Path, redis_db: int = 12) -> tuple[str, str, Callable[[], None]]:
    """(database URL, Redis URL, cleanup) for one run."""
    if embedded:
        return f"sqlite:///{work}/hub.db", "embedded", lambda: None
    from sqlalchemy import create_engine, text

    pg = os.environ.get("HUB_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    redis_url = os.environ.get("HUB_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")

    def cleanup() -> None:
        import redis

        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        redis.Redis.from_url(redis_url).flushdb()

    sep = "&" if "?" in pg else "?"
    return f"{pg}{sep}options=-csearch_path%3D{schema}", redis_url, cleanup


def hub_env(config: Path) -> dict[str, str]:
    """The environment for hub processes: this run's config file, no stray HUB_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_CONFIG"] = str(config)
    return env
