"""The ``hub`` commands that run the hub (all in one, or web / relay / worker / scheduler apart), migrate the
database, check the config, import links and send a signed test delivery."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import time
from pathlib import Path

import click
import requests

from connectors import PLATFORMS
from hub import create_app
from hub.config import ConfigError
from hub.redis import EMBEDDED, connect, redacted_url, stop_embedded
from jobs.queueing import BACKFILL_GATE_TTL_S, ERP_QUEUE, EVENTS_QUEUE, backfill_due_key

from .base import DEFAULT_BIND, RELAY_BLOCK_S, STOP_GRACE_S, StopOnSignal, _config, _embedded_redis_env, cli, logger


@cli.command("check-config")
def check_config() -> None:
    """Validate the config file and print what it configures (no secret is printed)."""
    # loaded by the commands that use it: every hub process starts sooner
    from sqlalchemy.engine import make_url



    cfg = _config()
    click.echo(f"config: {cfg.source} OK")
    click.echo(f"database: {make_url(cfg.database_url).render_as_string(hide_password=True)}")
    click.echo(f"redis: {redacted_url(cfg.redis_url)}")
    click.echo(f"admin API: {'enabled' if cfg.admin_token else 'DISABLED (admin_token is empty)'}")
    for cid, ch in cfg.channels.items():
        secrets = f"{len(ch.webhook_secrets)} secret(s)" if ch.webhook_secrets else f"webhook_id {ch.webhook_id}"
        click.echo(f"channel {cid}: kind={ch.kind}, {secrets}")
    if cfg.erp:
        click.echo(f"erp: kind={cfg.erp.kind}, url={cfg.erp.url}, db={cfg.erp.db}, login={cfg.erp.login}, "
                   f"api key set, pay later: {', '.join(cfg.erp.pay_later_methods) or '-'}")
    if cfg.crm:
        click.echo(f"crm: kind={cfg.crm.kind}, url={cfg.crm.url}, token set")
    if cfg.sandbox:
        from sandbox.stack import plan  # the simulators (~0.3 s to import) only where a sandbox: section is

        try:
            simulated = plan(cfg)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        for s in simulated:
            click.echo(f"sandbox: {s.system} ({s.key}) on {s.url}")


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (safe to run repeatedly)."""
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from store.db import make_engine, upgrade

    cfg = _config()
    upgrade(make_engine(cfg.database_url, cfg.db_busy_timeout_s, cfg.var_dir))
    click.echo("database is up to date")


@cli.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True)
@click.option("--workers", default=(os.cpu_count() or 1) + 1, show_default="cores + 1",
              help="gunicorn worker processes")
@click.option("--threads", default=1, show_default=True, help="threads per worker (1 = sync workers, fastest here)")
def web(bind: str, workers: int, threads: int) -> None:
    """Serve the hub with gunicorn."""
    # loaded by the commands that use it: every hub process starts sooner
    from gunicorn.app.base import BaseApplication  # only `hub web` serves with gunicorn

    from hub.logs import configure_logging

    cfg = _config()
    server = _embedded_redis_env(cfg)  # noqa: F841 - keeps the embedded server alive
    metrics_dir = Path(cfg.var_dir, "metrics").resolve()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            opts = {"bind": bind, "workers": workers, "threads": threads, "accesslog": None,
                    "worker_class": "gthread" if threads > 1 else "sync", "timeout": 30,
                    "child_exit": _mark_process_dead}
            for key, value in opts.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202

            app = create_app()
            configure_logging(app.config["HUB_CONFIG"].log_level)
            gc.freeze()  # the app's long-lived objects leave the collector's scans (steadier p99)
            return app

    Gunicorn().run()


def _mark_process_dead(server, worker) -> None:  # noqa: ANN001
    from prometheus_client import multiprocess  # reads PROMETHEUS_MULTIPROC_DIR, set by `hub web`

    multiprocess.mark_process_dead(worker.pid)


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork/--no-fork", default=False, show_default=True,
              help="Run each job in a forked work horse (RQ's Worker) instead of in the worker process.")
def worker(burst: bool, fork: bool) -> None:
    """Run an RQ worker (with RQ's scheduler for delayed retries) on the hub's queues.

    By default jobs run in the worker process itself (RQ's SimpleWorker): a forked work horse
    starts with no pooled database connection and a cold SQLAlchemy statement cache, which made
    each event cost several times more (see bench/stock_sync.py). Job timeouts still hold (the
    timer is a signal in this process); ``--fork`` isolates every job in a child as RQ's Worker does.
    """
    # loaded by the commands that use it: every hub process starts sooner
    from redis.exceptions import RedisError

    from hub.logs import chatty_level, configure_logging

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.worker import REDIS_WAIT_CAP_S, HubForkWorker, HubWorker



    cfg = _config()
    server = _embedded_redis_env(cfg)  # noqa: F841
    configure_logging(cfg.log_level)
    app = create_app()
    hub = app.extensions["hub"]
    worker_class = HubForkWorker if fork else HubWorker
    wait = 1.0
    with app.app_context():
        while True:
            w = worker_class(hub.queues.queue_names(), connection=hub.redis.client)
            try:
                w.work(burst=burst, with_scheduler=True, logging_level=chatty_level(cfg.log_level))
                if burst or w._shutdown_requested_date is not None:  # noqa: SLF001 - RQ's own stop flag
                    return
                why = "stopped on an error"
            except RedisError as exc:  # RQ gives up when Redis goes away at some points of its loop
                why = f"redis unavailable ({type(exc).__name__})"
            logger.warning("worker: %s; starting again in %.0f s", why, wait)
            time.sleep(wait)
            wait = min(wait * 2, REDIS_WAIT_CAP_S)


@cli.command()
def relay() -> None:
    """Turn the deliveries the receiver announces into process_event jobs, in batches."""
    # loaded by the commands that use it: every hub process starts sooner
    from redis.exceptions import RedisError

    from hub.logs import configure_logging



    cfg = _config()
    server = _embedded_redis_env(cfg)  # noqa: F841
    configure_logging(cfg.log_level)
    hub = create_app().extensions["hub"]
    stop = StopOnSignal()
    logger.info("relay started")
    while not stop.requested:
        try:
            hub.queues.relay_step(block_s=RELAY_BLOCK_S)
        except RedisError as exc:
            logger.warning("relay: redis unavailable", extra={"error": type(exc).__name__})
            time.sleep(1)


@cli.command()
def scheduler() -> None:
    """Run the periodic jobs (outbox and stock sweepers, stock reconcile, ERP pulls) with RQ's cron scheduler.

    When Redis goes away the scheduler waits for it (backoff up to ``REDIS_WAIT_CAP_S``) and starts again;
    RQ's own CronScheduler exits on the first connection error.
    """
    # loaded by the commands that use it: every hub process starts sooner
    from redis.exceptions import RedisError
    from rq.cron import CronScheduler
    from rq.exceptions import StopRequested
    from sqlalchemy.exc import SQLAlchemyError

    from hub.logs import configure_logging

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.backfill import backfill_all, start_watermarks
    from jobs.erp_pull import pull_erp
    from jobs.outbox import sweep_outbox, sweep_stock
    from jobs.reconcile import schedule_reconcile
    from jobs.subscriptions import check_subscriptions
    from jobs.tasks import SWEEP_TASKS_INTERVAL_S, sweep_tasks
    from jobs.worker import REDIS_WAIT_CAP_S
    from store.db import make_engine



    cfg = _config()
    server = _embedded_redis_env(cfg)  # noqa: F841
    configure_logging(cfg.log_level)
    client = connect(os.environ.get("HUB_REDIS_URL") or cfg.redis_url, cfg.var_dir).client
    if cfg.backfill_interval_s:


        engine = make_engine(cfg.database_url, cfg.db_busy_timeout_s, cfg.var_dir)
        try:
            for channel_id in start_watermarks(engine, cfg):  # nothing is written there before its backfill
                client.set(backfill_due_key(channel_id), 1, ex=BACKFILL_GATE_TTL_S)
        except (SQLAlchemyError, RedisError) as exc:  # away: the first backfill starts from the channel's events
            logger.warning("scheduler: backfill watermarks not started", extra={"error": type(exc).__name__})
        finally:
            engine.dispose()
    wait = 1.0
    while True:
        cron = CronScheduler(connection=client)
        cron.register(sweep_outbox, queue_name=EVENTS_QUEUE, interval=cfg.outbox_interval_s)
        cron.register(sweep_stock, queue_name=EVENTS_QUEUE, interval=cfg.outbox_interval_s)
        cron.register(sweep_tasks, queue_name=EVENTS_QUEUE, interval=SWEEP_TASKS_INTERVAL_S)
        if cfg.stock_reconcile_interval_s:
            cron.register(schedule_reconcile, queue_name=EVENTS_QUEUE, interval=cfg.stock_reconcile_interval_s)
        if cfg.erp and cfg.erp.pull_interval_s:
            cron.register(pull_erp, queue_name=ERP_QUEUE, interval=cfg.erp.pull_interval_s)
        if cfg.public_url and cfg.subscription_check_s:
            cron.register(check_subscriptions, queue_name=EVENTS_QUEUE, interval=cfg.subscription_check_s)
        if cfg.backfill_interval_s:
            cron.register(backfill_all, queue_name=EVENTS_QUEUE, interval=cfg.backfill_interval_s)
        started = time.monotonic()
        try:
            cron.start()
            return  # SIGTERM or SIGINT: the scheduler stopped by itself
        except RedisError as exc:
            if time.monotonic() - started > REDIS_WAIT_CAP_S:
                wait = 1.0  # it ran a while: a new outage starts a new backoff
            logger.warning("scheduler: redis unavailable; starting again in %.0f s", wait,
                           extra={"error": type(exc).__name__})
        try:
            time.sleep(wait)  # the cron's signal handlers are still in place: a stop request ends the wait
        except StopRequested:
            return
        wait = min(wait * 2, REDIS_WAIT_CAP_S)


def local_url(bind: str) -> str:
    """The URL this machine reaches a server bound to ``bind`` (HOST:PORT) at."""
    host, _, port = bind.rpartition(":")
    anywhere = host in ("", "0.0.0.0", "[::]", "::")  # noqa: S104 - recognised, not bound
    return f"http://{'127.0.0.1' if anywhere else host}:{port}"


@cli.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True)
@click.option("--sandboxes/--no-sandboxes", "with_sandboxes", default=None,
              help="Also serve the platform sandboxes (hub sandboxes); default: when the config has a sandbox: "
                   "section.")
@click.option("--fresh", is_flag=True,
              help="Start clean: clear the embedded stores under var_dir first (the sandboxes always start empty).")
def run(bind: str, with_sandboxes: bool | None, fresh: bool) -> None:
    """Web + relay + worker + scheduler in one command, on the configured (embedded by default) stores,
    and the platform sandboxes when the config has a ``sandbox:`` section.

    The banner comes once the web server answers /readyz and the sandboxes listen. A child that dies is
    started again (backoff up to 30 s); the hub stops on Ctrl-C / SIGTERM, or when a child keeps dying.
    """
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from sandbox.stack import check_needs, check_ports, plan  # the simulators (~0.3 s): only the commands serving them
    from store.db import make_engine, upgrade

    from .supervise import Supervisor, VarInUse, clear_var, lock_var, port_free, wait_ready

    cfg = _config()
    if with_sandboxes and cfg.sandbox is None:
        raise click.ClickException(f"--sandboxes: {cfg.source} has no sandbox: section (see hub.example.yaml)")
    try:
        lock = lock_var(cfg.var_dir)  # before anything else: a second hub on this var/ must not touch its stores
    except VarInUse as exc:
        raise click.ClickException(f"{exc}; nothing was started") from None
    if fresh:
        _fresh(cfg, clear_var)
    try:
        simulated = plan(cfg) if with_sandboxes is not False else []
        check_needs(simulated)
        check_ports(simulated)
    except (ConfigError, OSError) as exc:
        raise click.ClickException(f"{exc}; nothing was started") from None
    host, _, port = bind.rpartition(":")
    if port.isdigit() and (why := port_free(host or "0.0.0.0", int(port))):  # noqa: S104 - checked, not bound
        raise click.ClickException(f"the hub cannot listen on {bind}: {why} (another hub or program has it: "
                                   "stop it, or give --bind another port); nothing was started")
    engine = make_engine(cfg.database_url, cfg.db_busy_timeout_s, cfg.var_dir)
    upgrade(engine)
    kept = not fresh and simulated and _has_records(engine)
    engine.dispose()
    server = _embedded_redis_env(cfg)  # the children share this server
    url = local_url(bind)
    base = [sys.executable, "-m", "hub.cli"]
    commands = {"web": ["web", "--bind", bind], "relay": ["relay"], "worker": ["worker"], "scheduler": ["scheduler"]}
    if simulated:
        commands = {"sandboxes": ["sandboxes", "--hub-url", url], **commands}
    stop = StopOnSignal()  # before the children: a signal from now on stops them all
    sup = Supervisor({name: base + args for name, args in commands.items()}, lambda m: click.echo(m, err=True),
                     pass_fds=[lock])  # the children hold var/'s lock too: one left running keeps it
    sup.start_all()
    why = wait_ready(sup, url, [(s.key, s.host, s.port) for s in simulated if s.system != "paypal-certs"],
                     lambda: stop.requested)
    if why is None and not stop.requested:
        click.echo(run_banner(cfg, url))
        if simulated:
            click.echo("  sandboxes  " + "\n             ".join(f"{s.system:<13}{s.url}  ({s.key})" for s in simulated)
                       + f"\n             try: hub --config {cfg.source} demo")
        if kept:
            click.echo("  note       the hub's records under var/ are kept between runs, but the sandboxes start "
                       f"empty:\n             hub --config {cfg.source} run --fresh starts both clean")
        click.echo("Press Ctrl-C to stop.\n")
    while why is None and not stop.requested:
        why = sup.watch()
        if why is None and server is not None and not _alive(server.pid):
            server = _embedded_redis_again(cfg, sup, [name for name in commands if name != "sandboxes"])
        time.sleep(0.5)
    if why is not None:
        click.echo(f"hub run: {why}; stopping", err=True)
    sup.stop(STOP_GRACE_S, lambda m: click.echo(m, err=True))
    if server is not None:  # started here, for these children, all gone now: whatever the server still
        stop_embedded(server, only_if_last=False)  # counts as connected is their closing sockets
    sys.exit(0 if why is None else 1)


def _fresh(cfg, clear_var) -> None:  # noqa: ANN001
    """``hub run --fresh``: only the embedded stores under var_dir are the hub's to clear."""
    from sqlalchemy.engine import make_url  # loaded by the commands that use it: every hub process starts sooner

    db = make_url(cfg.database_url)
    in_var = db.get_backend_name() == "sqlite" and Path(db.database or "").resolve().is_relative_to(
        Path(cfg.var_dir).resolve())
    if not in_var or cfg.redis_url != EMBEDDED:
        raise click.ClickException("--fresh clears only the embedded stores under var_dir; this config's database "
                                   "or Redis is elsewhere: clear them yourself; nothing was started")
    removed = clear_var(cfg.var_dir)
    click.echo(f"--fresh: cleared {Path(cfg.var_dir).resolve()} ({', '.join(removed) or 'it was empty'})")


def _has_records(engine) -> bool:  # noqa: ANN001
    """Whether the store holds anything from an earlier run (a delivery or a link)."""
    # the store loads in the commands that use it: every hub process starts ~0.4 s sooner
    from sqlalchemy import func, select

    from store.models import events, sku_links

    with engine.connect() as conn:
        return any(conn.execute(select(func.count()).select_from(t)).scalar() for t in (events, sku_links))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _embedded_redis_again(cfg, sup, names: list[str]):  # noqa: ANN001, ANN202
    """The embedded Redis died: start it again on its data file and the hub's children with it (its socket is
    new)."""
    click.echo("hub run: the embedded Redis stopped; starting it again", err=True)
    os.environ.pop("HUB_REDIS_URL", None)
    server = _embedded_redis_env(cfg)
    sup.restart(set(names), "hub run: the embedded Redis is back")
    return server


@cli.group()
def links() -> None:
    """Links between hub SKUs / warehouses and each channel's ids."""


@links.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def links_import(file: str) -> None:
    """Import FILE.csv (header: sku,channel,product_id,variant_id,inventory_item_id,location_id,warehouse).

    Every row is checked first; one bad row and nothing of the file is applied. Events parked
    for want of these links resume by themselves.
    """
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from store.links import LinkError, add_links, parse_csv

    cfg = _config()
    server = _embedded_redis_env(cfg)  # noqa: F841
    hub = create_app().extensions["hub"]
    try:
        rows = parse_csv(Path(file).read_text(encoding="utf-8-sig"), set(cfg.channels))
    except LinkError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    resumed = add_links(hub.engine, rows, hub.queues.enqueue_event)
    click.echo(f"imported {len(rows)} link(s) from {file}; {len(resumed)} parked event(s) resumed")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--channel", "channel_id", required=True, help="Configured channel id to post to.")
@click.option("--topic", help="Topic header for shopify / woocommerce (guessed from names like orders.create.json).")
@click.option("--url", "base_url", default=f"http://{DEFAULT_BIND}", show_default=True)
def send(file: str, channel_id: str, topic: str | None, base_url: str) -> None:
    """Sign FILE with the channel's (first) secret and post it, as the platform would."""

    from sandbox.signing import sign_for_channel  # the platforms' signing, only for `hub send`

    cfg = _config()
    channel = cfg.channels.get(channel_id)
    if channel is None:
        raise click.ClickException(f"no channel '{channel_id}' in {cfg.source} (have: {', '.join(cfg.channels)})")
    body = Path(file).read_bytes()
    topic = topic or _guess_topic(channel.kind, Path(file).name)
    try:
        signed = sign_for_channel(channel.kind, channel.webhook_secrets[0] if channel.webhook_secrets else "",
                                  body, topic)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        resp = requests.post(f"{base_url.rstrip('/')}/webhooks/{channel_id}", data=signed.body,
                             headers=signed.headers, params=signed.query, timeout=30)
    except requests.ConnectionError:
        raise click.ClickException(f"no hub answers at {base_url}: start it with `hub run` (or give its address "
                                   "with --url)") from None
    click.echo(f"{resp.status_code} {resp.text.strip()}")
    if resp.status_code >= 400:
        sys.exit(1)


def run_banner(cfg, url: str) -> str:  # noqa: ANN001
    """What `hub run` prints once its processes are started: where everything answers."""
    # loaded by the commands that use it: every hub process starts sooner
    from sqlalchemy.engine import make_url

    admin = (f"  admin API  {url}/api/events   (Authorization: Bearer <admin_token>)\n"
             f"  console    {url}/admin   (sign in with the admin token)\n" if cfg.admin_token else
             f"  admin API  closed, and the console at {url}/admin: admin_token is empty in {cfg.source}\n")
    return (f"\nhub is running ({cfg.source})\n"
            f"  webhooks   {url}/webhooks/<channel>   channels: {', '.join(cfg.channels) or '(none)'}\n" + admin
            + f"  health     {url}/healthz  {url}/readyz  metrics {url}/metrics\n"
            f"  database   {make_url(cfg.database_url).render_as_string(hide_password=True)}\n"
            f"  redis      {redacted_url(os.environ.get('HUB_REDIS_URL', cfg.redis_url))}")


def _guess_topic(kind: str, name: str) -> str | None:
    """``orders.create.json`` -> orders/create (shopify), ``order.created.json`` -> order.created."""
    parts = name.split(".")
    if len(parts) != 3 or parts[2] != "json":
        return None
    return f"{parts[0]}{PLATFORMS[kind].topic_separator}{parts[1]}"
