"""Database engine set-up: SQLite (WAL, busy timeout) by default, PostgreSQL via psycopg 3.

Also applies the Alembic migrations that ship inside the package (``hub db upgrade``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
PG_POOL_SIZE = 5  # connections per process; gunicorn workers each get their own pool


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, busy_timeout_s: float = 5.0, var_dir: str = "var") -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            # Let SQLAlchemy manage transactions (pysqlite's implicit BEGIN is off below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # noqa: ANN001
            # IMMEDIATE takes the write lock up front: no deadlock-prone lock upgrades.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        # No pre-ping (a round trip per checkout on the hot path); a dropped connection is
        # invalidated on its first error and that delivery gets 503, which the platform retries.
        engine = create_engine(url, pool_size=PG_POOL_SIZE, max_overflow=10, pool_recycle=1800,
                               pool_timeout=5, connect_args={"connect_timeout": 5})
    _guard_fork(engine)
    return engine


def _guard_fork(engine: Engine) -> None:
    """Never share a pooled connection across fork (RQ work horses, gunicorn workers)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, record) -> None:  # noqa: ANN001
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy) -> None:  # noqa: ANN001
        if record.info.get("pid") != os.getpid():

            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection belongs to another process")


def alembic_config(engine: Engine):  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config as AlembicConfig  # migrations only: `hub db upgrade` and test set-up

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    from alembic import command  # migrations only

    command.upgrade(alembic_config(engine), revision)
    logger.info("database migrated", extra={"revision": revision})
