"""What the benchmarks share: free ports, child processes, and the store the hub runs on.

``backends`` gives a fresh PostgreSQL schema and Redis db (the servers, as in production) or
SQLite + embedded Redis under the run's work directory, and a cleanup that drops what it made.
"""

from __future__ import annotations

import json
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

# the credentials every benchmark gives its two shops and its hub (distinct enough to grep logs for)
TOKEN = "bench-admin-token"
SHOP_TOKEN, WOO_KEY, WOO_SECRET = "shpat_bench", "ck_bench", "cs_bench"
SHOP_SECRET, WOO_HOOK_SECRET = "bench-shopify-secret", "bench-woo-secret"
ERP_DB, ERP_LOGIN, ERP_KEY, CRM_TOKEN = "shop", "hub@bench.example", "odoo-bench-key", "pat-na1-bench-token"
SECRETS = (TOKEN, SHOP_TOKEN, WOO_SECRET, SHOP_SECRET, WOO_HOOK_SECRET, ERP_KEY, CRM_TOKEN)


def two_shops(shop_domain: str, shop_url: str, location: str, woo_url: str) -> dict[str, dict]:
    """The hub's ``channels`` for a Shopify sandbox ``shop`` and a WooCommerce sandbox ``woo``."""
    return {"shop": {"kind": "shopify", "webhook_secrets": [SHOP_SECRET], "shop": shop_domain,
                     "access_token": SHOP_TOKEN, "api_url": shop_url, "locations": {location: "main"}},
            "woo": {"kind": "woocommerce", "webhook_secrets": [WOO_HOOK_SECRET], "url": woo_url,
                    "consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET, "locations": {"default": "main"}}}


def bootstrap(base: str, shop_ids: dict[str, dict], skus: list[str], stock: int) -> None:
    """Links for Shopify's ids (Woo's are found by SKU) and the warehouse count, as an operator sets up."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    links = [{"channel": "shop", "sku": s, "product_id": str(v["product_id"]), "variant_id": str(v["variant_id"]),
              "inventory_item_id": str(v["inventory_item_id"])} for s, v in shop_ids.items()]
    for i in range(0, len(links), 200):
        requests.post(f"{base}/api/links", json=links[i:i + 200], headers=auth, timeout=60).raise_for_status()
    counts = "\n".join(json.dumps({"sku": s, "on_hand": stock}) for s in skus)
    requests.post(f"{base}/api/stock/snapshot", data=counts, headers=auth, timeout=120).raise_for_status()


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
    """(database URL, Redis URL, cleanup) for one run.

    Embedded: the bench starts the embedded Redis itself and hands its socket to every hub process, as
    ``hub run`` does; each process starting or attaching to its own, the first one to stop took the server
    down with it and the rest lost Redis (the hub never settled)."""
    if embedded:
        from hub.redis import embedded_url, start_embedded

        server = start_embedded(str(work / "var"))
        return f"sqlite:///{work}/hub.db", embedded_url(server), server.shutdown
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


class CpuMeter:
    """CPU seconds each group of processes used between ``start()`` and ``stop()``, read from /proc.

    ``roots``: group -> pids whose whole process tree counts (gunicorn's workers under its master);
    ``names``: group -> command names counted wherever they run (postgres, redis-server). Linux only;
    elsewhere every figure is 0.
    """

    def __init__(self, roots: dict[str, list[int]], names: dict[str, tuple[str, ...]]) -> None:
        self.roots, self.names = roots, names
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start: dict[int, tuple[str, int]] = {}
        self._t0 = 0.0
        self.wall = 0.0
        self.used: dict[str, float] = {}

    @staticmethod
    def _table() -> dict[int, tuple[int, str, int]]:
        """pid -> (ppid, command, utime + stime ticks) for every process we can read."""
        out = {}
        for d in os.listdir("/proc") if os.path.isdir("/proc") else ():
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    data = f.read()
            except OSError:
                continue
            comm, rest = data[data.index("(") + 1:data.rindex(")")], data[data.rindex(")") + 2:].split()
            out[int(d)] = (int(rest[1]), comm, int(rest[11]) + int(rest[12]))
        return out

    def _groups(self) -> dict[int, tuple[str, int]]:
        table, out = self._table(), {}
        owner = {pid: group for group, pids in self.roots.items() for pid in pids}
        for pid, (_, comm, ticks) in table.items():
            group, p, seen = None, pid, 0
            while p in table and seen < 64:
                if p in owner:
                    group = owner[p]
                    break
                p, seen = table[p][0], seen + 1
            group = group or next((g for g, names in self.names.items() if comm in names), None)
            if group:
                out[pid] = (group, ticks)
        return out

    def start(self) -> None:
        self._t0, self._start = time.monotonic(), self._groups()

    def stop(self) -> dict[str, float]:
        self.wall = time.monotonic() - self._t0
        used: dict[str, float] = {}
        for pid, (group, ticks) in self._groups().items():
            used[group] = used.get(group, 0.0) + (ticks - self._start.get(pid, (group, 0))[1]) / self.hz
        self.used = used
        return used

    def lines(self, per: int, what: str) -> list[str]:
        """One line per group: CPU seconds, share of one core over the window, ms per ``what``."""
        total = sum(self.used.values())
        out = [f"  {group:<24}{secs:8.1f} s CPU {secs / self.wall * 100:6.0f}% of a core "
               f"{secs * 1000 / max(1, per):8.2f} ms per {what}"
               for group, secs in sorted(self.used.items(), key=lambda kv: -kv[1])]
        out.append(f"  {'all':<24}{total:8.1f} s CPU {total / self.wall * 100:6.0f}% of a core over {self.wall:.0f} s "
                   f"({os.cpu_count()} cores)")
        return out
