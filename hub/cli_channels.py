"""``hub channels subscribe``: keep the platforms' webhook subscriptions alive (see jobs.subscriptions)."""

from __future__ import annotations

import click

from .cli import cli
from .cli_stock import _hub


@cli.group()
def channels() -> None:
    """Sales channel commands."""


@channels.command("subscribe")
@click.option("--channel", "chosen", multiple=True, help="Only this channel (repeatable); default: all it manages.")
@click.option("--dry-run", is_flag=True, help="Only say what is wrong; change nothing.")
def subscribe(chosen: tuple[str, ...], dry_run: bool) -> None:
    """List each channel's webhooks and create, re-activate or re-point the ones the hub needs."""
    from connectors.outbound import SyncError
    from jobs.subscriptions import check, managed

    hub, _server = _hub()
    names = managed(hub.config)
    if not hub.config.public_url:
        raise click.ClickException("public_url is not set: the hub does not know where platforms reach it")
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise click.ClickException(f"not a channel whose webhooks the hub manages: {', '.join(unknown)} "
                                   f"(those are: {', '.join(names) or 'none'})")
    failed = False
    for channel_id in chosen or names:
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
