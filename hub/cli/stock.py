"""``hub stock import`` and ``hub reconcile stock``: the stock commands of the ``hub`` CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub import create_app

from .base import _config, _embedded_redis_env, cli


def _hub():  # noqa: ANN202
    """The hub for a one-shot command, its app context pushed for the command's life: a reconcile or backfill
    processes what it finds there, as a worker would (it stopped with "Working outside of application
    context" when a backfill found anything)."""
    cfg = _config()
    server = _embedded_redis_env(cfg)
    app = create_app()
    app.app_context().push()
    return app.extensions["hub"], server


def chosen_channels(chosen: tuple[str, ...], names: list[str], what: str) -> list[str]:
    """The channels a command acts on: ``chosen`` (each must be one of ``names``), else all of ``names``."""
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise click.ClickException(f"not a channel {what}: {', '.join(unknown)} "
                                   f"(those are: {', '.join(names) or 'none'})")
    return list(chosen or names)


@cli.group()
def stock() -> None:
    """Stock ledger commands."""


@stock.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def stock_import(file: str) -> None:
    """Set on_hand from an ERP or warehouse count, FILE.csv with the header sku,warehouse,on_hand.

    Every line is checked first; one bad line and nothing is applied. The channels are then
    pushed the new quantities (by the workers).
    """
    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from domain.snapshot import SnapshotError, parse_csv
    from jobs.snapshot import apply_snapshot

    hub, _server = _hub()
    try:
        counts = parse_csv(Path(file).read_text(encoding="utf-8-sig"), hub.stock_policy.default_warehouse)
    except SnapshotError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    result = apply_snapshot(hub, counts)
    click.echo(f"imported {result.lines} count(s) from {file}: {result.changed} changed on_hand"
               + (f"; oversold: {', '.join(result.oversold)}" if result.oversold else ""))


@cli.group()
def reconcile() -> None:
    """Compare what the channels show with what the hub publishes, and repair."""


@reconcile.command("stock")
@click.option("--channel", "channels", multiple=True, help="Only this channel (repeatable); default: all.")
@click.option("--no-repair", is_flag=True, help="Only read and report the drift.")
def reconcile_stock(channels: tuple[str, ...], no_repair: bool) -> None:
    """Read every SKU's quantity from each channel, report the drift, push the repairs."""
    # loaded by the commands that use it: every hub process starts sooner
    from connectors.outbound import SyncError

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.reconcile import reconcile as run

    hub, _server = _hub()
    chosen = chosen_channels(channels, list(hub.stock_policy.pushing), "the hub publishes stock to")
    reports, failed = [], False
    for ch in chosen:
        with click.progressbar(length=_sku_count(hub), label=f"reading {ch}", file=sys.stderr,
                               show_pos=True) as bar:
            try:
                reports.append(run(hub, ch, progress=bar.update, repair=not no_repair))
            except SyncError as exc:
                failed = True
                click.echo(f"\n{ch}: failed: {exc}", err=True)
    click.echo(f"{'channel':<16} {'read':>6} {'drifted':>8} {'in flight':>10} {'unlisted':>9} {'repaired':>9}")
    for r in reports:
        click.echo(f"{r.channel:<16} {r.checked:>6} {len(r.drifted):>8} {r.in_flight:>10} {r.unlisted:>9} "
                   f"{r.push.written if r.push else 0:>9}")
        if r.first_counts:
            click.echo(f"  {r.first_counts} SKU(s) never counted before: counted from what {r.channel} shows")
        if r.push is not None and r.push.shadow:
            click.echo(f"  shadow mode (push: shadow): {len(r.push.shadow)} would be written, nothing was: "
                       + ", ".join(f"{k} -> {v}" for k, v in list(r.push.shadow.items())[:20]))
        for sku, shows, publishes in r.drifted[:20]:
            click.echo(f"  {sku}: channel shows {shows}, hub publishes {publishes}")
        if len(r.drifted) > 20:
            click.echo(f"  ... and {len(r.drifted) - 20} more (GET /api/stock/drift)")
    if failed:
        raise SystemExit(1)


def _sku_count(hub) -> int:  # noqa: ANN001


    # loaded by the commands that use it: every hub process starts sooner
    from sqlalchemy import func, select

    from store.models import stock_levels

    with hub.engine.connect() as conn:
        return conn.execute(select(func.count(stock_levels.c.sku.distinct()))).scalar() or 0
