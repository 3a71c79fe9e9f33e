"""Webhook subscriptions the hub owns: every topic it needs, active, delivering to it.

The platforms drop webhooks without a word: WooCommerce disables one after 5 failed deliveries in a
row and never retries, Shopify removes a subscription that keeps failing. With ``public_url`` set, the
hub lists each sales channel's subscriptions (``hub channels subscribe``, and ``hub scheduler`` every
``subscription_check_s``) and repairs what it finds: a missing topic is created with the channel's
first webhook secret, a disabled or paused one is set active again, one delivering elsewhere is pointed
at the hub. Each check is a task record (``check_subscriptions``, what was found in its detail) and each
repair an alert (``subscription_repaired``) saying what was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from connectors import reads_changes, subscription_target
from connectors.outbound import Permanent, Subscription, SubscriptionTarget
from domain.orders import raise_alert
from hub.config import ChannelConfig, Config
from hub.state import Hub, current_hub
from mappings import shopify, woocommerce

from .tasks import annotate, recording

logger = logging.getLogger(__name__)
TASK = "check_subscriptions"
ALERT = "subscription_repaired"
HANDLED = {"woocommerce": woocommerce.TOPICS, "shopify": shopify.TOPICS}  # the topics the hub maps, per kind


@dataclass
class Finding:
    channel: str
    topic: str
    problem: str  # what was wrong: missing, disabled, delivering elsewhere
    action: str  # what the hub does (did) about it
    done: bool = False


def subscriber(channel: ChannelConfig) -> SubscriptionTarget | None:
    """The channel's subscription API, or None when the hub does not manage its subscriptions."""
    return subscription_target(channel)


def managed(config: Config) -> list[str]:
    """The channels whose subscriptions the hub keeps: ``public_url`` set, API keys held, a kind it knows."""
    if not config.public_url:
        return []
    return [cid for cid, ch in config.channels.items() if subscriber(ch) is not None]


def topics(channel: ChannelConfig) -> tuple[str, ...]:
    return channel.topics if channel.topics is not None else tuple(sorted(HANDLED.get(channel.kind, {})))


def delivery_url(config: Config, channel_id: str) -> str:
    return f"{(config.public_url or '').rstrip('/')}/webhooks/{channel_id}"


def plan(channel_id: str, subs: list[Subscription], wanted: tuple[str, ...],
         url: str) -> list[tuple[Finding, Subscription | None]]:
    """What to do per wanted topic (pure): nothing when an active subscription delivers it to ``url``;
    else re-activate the one at ``url``, or point another of that topic at ``url``, or create one."""
    out: list[tuple[Finding, Subscription | None]] = []
    for topic in wanted:
        mine = [s for s in subs if s.topic == topic]
        here = [s for s in mine if s.url == url]
        if any(s.active for s in here):
            continue
        if here:
            out.append((Finding(channel_id, topic, f"{here[0].status} (the platform stopped sending it)",
                                "set active again"), here[0]))
        elif mine:
            out.append((Finding(channel_id, topic, f"delivering to {mine[0].url}, not the hub",
                                f"pointed at {url}"), mine[0]))
        else:
            out.append((Finding(channel_id, topic, "missing", f"created, delivering to {url}"), None))
    return out


def check(hub: Hub, channel_id: str, dry_run: bool = False) -> list[Finding]:
    """Check one channel's subscriptions and (unless ``dry_run``) repair them; one task record."""
    cfg = hub.config.channels[channel_id]
    target = subscriber(cfg)
    if target is None or not hub.config.public_url:
        raise ValueError(f"{channel_id}: the hub does not manage its webhooks (public_url, the channel's API keys "
                         "and a kind whose webhooks it keeps are needed)")
    url, secret = delivery_url(hub.config, channel_id), cfg.webhook_secrets[0]
    if dry_run:
        return [f for f, _ in plan(channel_id, target.subscriptions(), topics(cfg), url)]
    with recording(hub.engine, TASK, channel=channel_id, entity=f"channel:{channel_id}"):
        todo = plan(channel_id, target.subscriptions(), topics(cfg), url)
        refused = []
        for finding, sub in todo:
            try:
                if sub is None:
                    target.subscribe(finding.topic, url, secret)
                else:
                    target.repair(sub, url, secret)
            except Permanent as exc:  # e.g. a scope the app lacks: the other topics are still kept
                refused.append(f"{finding.topic}: {exc}")
                continue
            finding.done = True
            with hub.engine.begin() as conn:
                raise_alert(conn, ALERT, f"{channel_id}:{finding.topic}",
                            f"{channel_id} webhook {finding.topic}: {finding.problem}; {finding.action}",
                            asdict(finding))
            logger.warning("webhook subscription repaired", extra=asdict(finding))
        annotate(checked=len(topics(cfg)), repaired=[asdict(f) for f, _ in todo if f.done])
        if todo and reads_changes(cfg):  # what the platform did not send meanwhile: read it now, write no stock before
            hub.queues.request_backfill(channel_id)
        if refused:  # the task fails, saying which: a person grants the scope (``hub doctor`` names it)
            raise Permanent(f"{channel_id}: {len(refused)} webhook subscription(s) refused: " + "; ".join(refused))
    return [f for f, _ in todo]


def check_subscriptions(progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """RQ job (``hub scheduler``): check every managed channel; -> repairs per channel. A channel that
    cannot be reached is recorded (its task fails) and the others are still checked."""
    hub = current_hub()
    out = {}
    for channel_id in managed(hub.config):
        try:
            out[channel_id] = len(check(hub, channel_id))
        except Exception:  # noqa: BLE001 - recorded on its task; the next channel is still checked
            logger.warning("webhook subscriptions not checked", extra={"channel": channel_id}, exc_info=True)
            out[channel_id] = -1
        if progress:
            progress(channel_id)
    return out
