"""Channel health under /api (admin token): per channel, whether its webhooks arrive, what the hub
repaired and what its backfill found (``hub.channel_health``)."""

from __future__ import annotations

from flask import Blueprint

from hub.channel_health import channel_health
from hub.state import current_hub
from store.deliveries import iso, utcnow

from .admin import require_token

bp = Blueprint("channels", __name__, url_prefix="/api")
bp.before_request(require_token)


@bp.get("/channels")
def channels_list():  # noqa: ANN201
    """Every configured channel with a verdict on its webhooks: the deliveries per topic (the last one and
    the count over 24 h), the subscription checks and repairs, and the backfill runs.
    ---
    get:
      summary: Channel health
      tags: [channels]
      responses:
        200: {description: Every channel, content: {application/json: {schema: ChannelList}}}
    """
    now = utcnow()
    return {"generated_at": iso(now), "channels": channel_health(current_hub(), now)}
