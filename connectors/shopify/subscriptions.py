"""The webhook subscriptions a Shopify channel holds for the hub's app, read and set through the Admin
GraphQL API (``webhookSubscriptions``, ``webhookSubscriptionCreate``, ``webhookSubscriptionUpdate``).

Shopify names a topic by a ``WebhookSubscriptionTopic`` value (``ORDERS_CREATE``), its webhooks by the
header topic the hub uses (``orders/create``): the value is the header topic upper-cased with ``/`` as
``_``. That does not run backwards unambiguously (``INVENTORY_LEVELS_UPDATE``), so a listed value is named
by the hub topics this client knows: the ones the hub maps and the channel's own ``topics``; any other
keeps its value as its name.
"""

from __future__ import annotations

from typing import Any

import requests

from connectors.base import ChannelSettings
from connectors.outbound import Permanent, Subscription
from mappings.shopify import TOPICS as MAPPED_TOPICS

from .client import ShopifyClient
from .consts import SUBSCRIPTIONS_PAGE

SUBSCRIPTION_FIELDS = "id topic uri"

LIST_SUBSCRIPTIONS = f"""
query HubWebhookSubscriptions($first: Int!, $after: String) {{
  webhookSubscriptions(first: $first, after: $after) {{
    nodes {{ {SUBSCRIPTION_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

CREATE_SUBSCRIPTION = f"""
mutation HubWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $input: WebhookSubscriptionInput!) {{
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $input) {{
    webhookSubscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

UPDATE_SUBSCRIPTION = f"""
mutation HubWebhookSubscriptionUpdate($id: ID!, $input: WebhookSubscriptionInput!) {{
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $input) {{
    webhookSubscription {{ {SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""


def topic_enum(topic: str) -> str:
    """The ``WebhookSubscriptionTopic`` value of a header topic: ``orders/create`` -> ``ORDERS_CREATE``."""
    return topic.upper().replace("/", "_").replace(".", "_")


class ShopifyWebhooks(ShopifyClient):
    """SubscriptionTarget for one Shopify channel. Shopify has no paused or disabled subscription: one whose
    deliveries kept failing is deleted, so it is found missing and created again; ``repair`` only re-points
    one delivering elsewhere. Every subscription is ``active``.

    The ``secret`` arguments are not used: Shopify signs every webhook of every subscription with the app's
    client secret (the channel's webhook secret), and a subscription has no secret of its own to set.
    """

    page_size = SUBSCRIPTIONS_PAGE

    def __init__(self, channel: ChannelSettings, http: requests.Session | None = None) -> None:
        super().__init__(channel, http)
        known = {*MAPPED_TOPICS, *(channel.topics or ())}
        self._names = {topic_enum(t): t for t in known}

    def subscriptions(self) -> list[Subscription]:
        """Every subscription the app holds on the shop, ``page_size`` per call."""
        out: list[Subscription] = []
        after = None
        while True:
            page = self.execute(LIST_SUBSCRIPTIONS, {"first": self.page_size, "after": after},
                                "list webhook subscriptions")["webhookSubscriptions"]
            out += [self._subscription(node) for node in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                return out
            after = page["pageInfo"]["endCursor"]

    def subscribe(self, topic: str, url: str, secret: str) -> Subscription:
        """A subscription of ``topic`` delivering JSON to ``url``; Permanent with Shopify's reason if refused."""
        variables = {"topic": topic_enum(topic), "input": {"uri": url, "format": "JSON"}}
        payload = self.execute(CREATE_SUBSCRIPTION, variables, "webhookSubscriptionCreate")
        return self._subscription(_accepted(payload["webhookSubscriptionCreate"], "webhookSubscriptionCreate"))

    def repair(self, sub: Subscription, url: str, secret: str) -> Subscription:
        """``sub`` delivering to ``url`` from now on (webhooks Shopify is still retrying keep their old address)."""
        variables = {"id": sub.id, "input": {"uri": url}}
        payload = self.execute(UPDATE_SUBSCRIPTION, variables, "webhookSubscriptionUpdate")
        return self._subscription(_accepted(payload["webhookSubscriptionUpdate"], "webhookSubscriptionUpdate"))

    def _subscription(self, node: dict[str, Any]) -> Subscription:
        return Subscription(node["id"], self._names.get(node["topic"], node["topic"]), node["uri"], True, "active")


def _accepted(payload: dict[str, Any], what: str) -> dict[str, Any]:
    errors = payload.get("userErrors") or []
    if errors or not payload.get("webhookSubscription"):
        raise Permanent(f"shopify {what} refused: " + "; ".join(
            f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors))
    return payload["webhookSubscription"]
