"""``hub channels subscribe`` and ``hub backfill``: nothing lost when a platform drops its webhooks
(see jobs.subscriptions and jobs.backfill)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta

import click

from .base import cli
from .stock import _hub, chosen_channels


@cli.group()
def channels() -> None:
    """Sales channel commands."""


@channels.command("subscribe")
@click.option("--channel", "chosen", multiple=True, help="Only this channel (repeatable); default: all it manages.")
@click.option("--dry-run", is_flag=True, help="Only say what is wrong; change nothing.")
def subscribe(chosen: tuple[str, ...], dry_run: bool) -> None:
    """List each channel's webhooks and create, re-activate or re-point the ones the hub needs."""
    # loaded by the commands that use it: every hub process starts sooner
    from connectors.outbound import SyncError

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.subscriptions import check, managed

    hub, _server = _hub()
    names = managed(hub.config)
    if not hub.config.public_url:
        raise click.ClickException("public_url is not set: the hub does not know where platforms reach it")
    failed = False
    for channel_id in chosen_channels(chosen, names, "whose webhooks the hub manages"):
        try:
            findings = check(hub, channel_id, dry_run=dry_run)
        except SyncError as exc:
            failed = True
            click.echo(f"{channel_id}: failed: {exc}", err=True)
            continue
        if not findings:
            click.echo(f"{channel_id}: every webhook the hub needs is active")
        for f in findings:
            click.echo(f"{channel_id}: {f.topic}: {f.problem}; " + (f"would be {f.action}" if dry_run else f.action))
    if failed:
        raise SystemExit(1)


def _since(value: str | None) -> datetime | None:
    """``2h``, ``30m``, ``3d`` ago, or an ISO time (UTC when it names no zone)."""
    if not value:
        return None
    m = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(m.group(1))})
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: give 2h, 30m, 3d or an ISO time", param_hint="--since") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@cli.command()
@click.option("--channel", "chosen", multiple=True, help="Only this channel (repeatable); default: all it can read.")
@click.option("--since", "since", help="From this long ago (2h, 30m, 3d) or this ISO time; default: the watermark.")
def backfill(chosen: tuple[str, ...], since: str | None) -> None:
    """Read what changed on each channel it can read (shop orders, payment events) since its watermark, and
    store and process what the hub missed, as deliveries."""
    # loaded by the commands that use it: every hub process starts sooner
    from connectors.outbound import SyncError

    # the jobs and the store load in the commands that use them: every hub process starts ~0.4 s sooner
    from jobs.backfill import backfill as run
    from jobs.backfill import backfills

    start = _since(since)
    hub, _server = _hub()
    names = [cid for cid, ch in hub.config.channels.items() if backfills(ch)]
    failed = False
    for channel_id in chosen_channels(chosen, names, "the hub can backfill"):
        with click.progressbar(length=0, label=f"reading {channel_id}", file=sys.stderr, show_pos=True) as bar:
            try:
                report = run(hub, channel_id, since=start, progress=bar.update)
            except SyncError as exc:
                failed = True
                click.echo(f"\n{channel_id}: failed: {exc}", err=True)
                continue
        click.echo(str(report))
    if failed:
        raise SystemExit(1)
