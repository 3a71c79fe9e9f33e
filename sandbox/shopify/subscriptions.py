"""Webhook subscriptions of the Shopify sandbox: the registry, the GraphQL root fields that manage it
(``webhookSubscriptions``, ``webhookSubscription``, ``webhookSubscriptionsCount``,
``webhookSubscriptionCreate``, ``webhookSubscriptionUpdate``, ``webhookSubscriptionDelete``, with the
2026-07 schema's names), and what happens to a subscription whose deliveries fail.

Shopify sends each webhook once per subscription of its topic (``ORDERS_CREATE`` is ``orders/create`` in
the ``X-Shopify-Topic`` header), to that subscription's URI, signed with the app's client secret: there
is no secret per subscription. A delivery not answered with a 2xx is retried 8 times over 4 hours, and a
subscription made through the Admin API whose deliveries still fail after that is deleted (shopify.dev
changelog "Updates to webhook retry mechanism", 2024-09-10; the webhooks troubleshooting guide). The
sandbox compresses that: a delivery is tried ``delivery_attempts`` times (the emitter's 5 by default,
about 3 s in all; it retries a missing answer and a 5xx), a delivery whose last answer is not a 2xx is one
failed delivery, ``remove_after_failures`` failed deliveries in a row (default 1: a delivery that still
fails after its retries) delete the subscription, and a 2xx resets the count.

The userErrors are Shopify's own, from 2026-04 captures of a live shop (airhorns/shopify-draft-proxy
``fixtures/conformance/.../webhooks``): ``Address can't be blank``, ``Address protocol http:// is not
supported``, ``Address cannot be a Shopify or an internal domain``, ``Webhook subscription does not exist``;
a second subscription of one topic at one address gets the text of Shopify's ``TAKEN`` code, ``Address for
this topic has already been taken``, on the same field as the other address errors.
Shopify takes only https addresses outside its own and private networks; the sandbox also takes http and
loopback ones, where the hub it delivers to listens, unless ``strict_addresses`` is set.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from graphql import GraphQLError

from sandbox.shopify.graphql_schema import admin_schema
from sandbox.shopify.model import Store, gid, gql_time
from sandbox.shopify.resolvers import Connection, paginate

logger = logging.getLogger(__name__)

# every topic the sandbox sends: configure(webhook_url=) subscribes these
SENT_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled",
               "orders/partially_fulfilled", "fulfillments/create", "fulfillments/update", "refunds/create",
               "inventory_levels/update", "returns/request", "returns/approve", "returns/decline", "returns/close",
               "returns/cancel", "returns/reopen")
ID_BASE = 1_924_089_413_000  # Shopify-sized WebhookSubscription ids (a 2026-04 capture: 1924089413938)
REMOVE_AFTER_FAILURES = 1  # failed deliveries in a row that delete a subscription (see the module docstring)
SHOPIFY_DOMAINS = ("shopify.com", "myshopify.com", "shopifypreview.com", "myshopify.dev")
CLOUD_PREFIXES = ("pubsub://", "arn:aws:events:")  # Google Pub/Sub and EventBridge destinations
ADDRESS = ["webhookSubscription", "callbackUrl"]  # where Shopify points address errors, even for ``uri`` input
NO_SUCH = "Webhook subscription does not exist"
TAKEN = "Address for this topic has already been taken"
# topics an app may subscribe to only with one of these access scopes (Shopify's webhook reference: returns need
# read_returns or read_marketplace_returns); the refusal's wording is the sandbox's (no capture of it)
TOPIC_SCOPES = {t: ("read_returns", "read_marketplace_returns") for t in (
    "RETURNS_REQUEST", "RETURNS_APPROVE", "RETURNS_DECLINE", "RETURNS_CLOSE", "RETURNS_CANCEL", "RETURNS_REOPEN",
    "RETURNS_PROCESS", "RETURNS_UPDATE")}
_TOPIC_IN_DESCRIPTION = re.compile(r"The webhook topic for `([^`]+)` events")


def topic_enum(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE``, the WebhookSubscriptionTopic value."""
    return topic.upper().replace("/", "_").replace(".", "_")


@functools.cache
def header_topics() -> dict[str, str]:
    """WebhookSubscriptionTopic value -> the topic its webhooks carry, as the schema describes each value."""
    out = {}
    for name, value in admin_schema().get_type("WebhookSubscriptionTopic").values.items():
        found = _TOPIC_IN_DESCRIPTION.search(value.description or "")
        out[name] = found.group(1) if found else name.lower()
    return out


def not_simulated(what: str) -> GraphQLError:
    return GraphQLError(f"{what} is not simulated by the sandbox", extensions={"code": "SANDBOX_NOT_SIMULATED"})


def user_error(path: list[str], message: str) -> dict[str, Any]:
    return {"field": path, "message": message}


@dataclass
class Subscription:
    id: int
    topic: str  # the WebhookSubscriptionTopic value
    uri: str
    name: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    failures: int = 0  # failed deliveries in a row
    by_configure: bool = False  # made by configure(webhook_url=...), not through the API


class Registry:
    """The shop's subscriptions for the app (plain state: the sandbox holds its lock around every call)."""

    def __init__(self) -> None:
        self.subs: dict[int, Subscription] = {}
        self.remove_after = REMOVE_AFTER_FAILURES
        self.strict_addresses = False  # True: refuse http and private addresses, as Shopify does
        self._count = 0

    def add(self, topic: str, uri: str, name: str | None = None, by_configure: bool = False) -> Subscription:
        self._count += 1
        sub = Subscription(ID_BASE + self._count, topic, uri, name, by_configure=by_configure)
        self.subs[sub.id] = sub
        return sub

    def point(self, url: str | None, topics: tuple[str, ...] = SENT_TOPICS) -> None:
        """The merchant's subscriptions for the hub: one per topic of ``topics`` at ``url`` (None/"": removed)."""
        mine = {s.topic: s for s in self.subs.values() if s.by_configure}
        if not url:
            for s in mine.values():
                del self.subs[s.id]
            return
        for topic in map(topic_enum, topics):
            sub = mine.get(topic)
            if self.taken(topic, url, but=sub.id if sub else None):  # the app subscribed it there already
                if sub is not None:
                    del self.subs[sub.id]
                continue
            sub = sub or self.add(topic, url, by_configure=True)
            sub.uri, sub.failures, sub.updated_at = url, 0, datetime.now(UTC)

    def taken(self, topic: str, uri: str, but: int | None = None) -> bool:
        return any(s.topic == topic and s.uri == uri and s.id != but for s in self.subs.values())

    def targets(self, topic: str) -> list[Subscription]:
        """The subscriptions a webhook of ``topic`` (``orders/create``) goes to, oldest first; ValueError for
        a topic missing from ``SENT_TOPICS`` (configure(webhook_url=) would never subscribe it)."""
        if topic not in SENT_TOPICS:
            raise ValueError(f"the sandbox sends {topic}: add it to SENT_TOPICS")
        wanted = topic_enum(topic)
        return [s for s in self.subs.values() if s.topic == wanted]

    def answered(self, sub_id: int, status: int | None) -> None:
        """One delivery's last answer (None: none came): a 2xx resets the failure count, anything else adds
        one, and ``remove_after`` in a row delete the subscription."""
        sub = self.subs.get(sub_id)
        if sub is None:
            return
        if status is not None and 200 <= status < 300:
            sub.failures = 0
            return
        sub.failures += 1
        if sub.failures >= self.remove_after:
            del self.subs[sub_id]
            logger.info("sandbox deleted webhook subscription %s (%s to %s) after %d failed deliveries",
                        sub.id, sub.topic, sub.uri, sub.failures)

    def listing(self) -> list[dict[str, Any]]:
        return [{"id": gid("WebhookSubscription", s.id), "topic": header_topics().get(s.topic, s.topic),
                 "uri": s.uri, "failures": s.failures, "created_at": gql_time(s.created_at),
                 "updated_at": gql_time(s.updated_at)} for s in self.subs.values()]

    def address_errors(self, uri: str | None) -> list[dict[str, Any]]:
        """Shopify's checks of a subscription's address (``uri`` or the deprecated ``callbackUrl``)."""
        uri = (uri or "").strip()
        if not uri:
            return [user_error(ADDRESS, "Address can't be blank")]
        if uri.startswith(CLOUD_PREFIXES):
            raise not_simulated("a Pub/Sub or EventBridge webhook subscription")
        parts = urlsplit(uri)
        if "://" not in uri or not parts.scheme:
            return [user_error(ADDRESS, "Address is not a valid URL")]
        if parts.scheme != "https" and (parts.scheme != "http" or self.strict_addresses):
            return [user_error(ADDRESS, f"Address protocol {parts.scheme}:// is not supported")]
        host = (parts.hostname or "").rstrip(".").lower()
        if not host or any(c.isspace() for c in uri):
            return [user_error(ADDRESS, "Address is not a valid URL")]
        if any(host == d or host.endswith("." + d) for d in SHOPIFY_DOMAINS) or \
                (self.strict_addresses and _internal(host)):
            return [user_error(ADDRESS, "Address cannot be a Shopify or an internal domain")]
        return []


def _internal(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_unspecified


class SubscriptionView:
    typename = "WebhookSubscription"

    def __init__(self, sub: Subscription, api_version: str) -> None:
        self.id = gid("WebhookSubscription", sub.id)
        self.legacyResourceId = str(sub.id)
        self.topic, self.uri, self.callbackUrl, self.name = sub.topic, sub.uri, sub.uri, sub.name
        self.endpoint = HttpEndpointView(sub.uri)
        self.format = "JSON"
        self.filter = None
        self.includeFields: list[str] = []
        self.metafieldNamespaces: list[str] = []
        self.metafields: list[dict] = []
        self.apiVersion = {"handle": api_version, "displayName": api_version, "supported": True}
        self.createdAt, self.updatedAt = gql_time(sub.created_at), gql_time(sub.updated_at)


class HttpEndpointView:
    typename = "WebhookHttpEndpoint"

    def __init__(self, uri: str) -> None:
        self.callbackUrl = uri


class SubscriptionRoot:
    """Mixin for ``ShopRoot``: the webhook subscription fields. The sandbox hands each root its registry
    (``webhooks``) and API version before the call runs."""

    _s: Store
    webhooks: Registry
    api_version: str = "2026-07"

    def webhookSubscriptions(self, info: Any, **args: Any) -> Connection:  # noqa: N802
        if args.get("query"):
            raise not_simulated("webhookSubscriptions(query:)")
        topics, uri = args.get("topics"), args.get("uri") or args.get("callbackUrl")
        if args.get("format") not in (None, "JSON"):
            return paginate([], args)
        found = [s for s in self.webhooks.subs.values()
                 if (topics is None or s.topic in topics) and (uri is None or s.uri == uri)]
        # CREATED_AT (the default) and ID sort alike: ids grow with creation
        return paginate([(s.id, SubscriptionView(s, self.api_version)) for s in found], args)

    def webhookSubscription(self, info: Any, id: str) -> SubscriptionView | None:  # noqa: N802,A002
        sub = self.webhooks.subs.get(self._s.parse_gid(id, "WebhookSubscription") or 0)
        return SubscriptionView(sub, self.api_version) if sub else None

    def webhookSubscriptionsCount(self, info: Any, query: str | None = None,  # noqa: N802
                                  limit: int | None = None) -> dict[str, Any]:
        if query:
            raise not_simulated("webhookSubscriptionsCount(query:)")
        n = len(self.webhooks.subs)
        return {"count": min(n, limit) if limit is not None else n,
                "precision": "AT_LEAST" if limit is not None and n > limit else "EXACT"}

    def node(self, info: Any, id: str) -> Any:  # noqa: A002
        if id.startswith("gid://shopify/WebhookSubscription/"):
            return self.webhookSubscription(info, id=id)
        return super().node(info, id)  # type: ignore[misc]

    def webhookSubscriptionCreate(self, info: Any, topic: str,  # noqa: N802
                                  webhookSubscription: dict) -> dict[str, Any]:  # noqa: N803
        data = _supported(webhookSubscription)
        uri = data.get("uri", data.get("callbackUrl"))
        errors = self.webhooks.address_errors(uri)
        needed = TOPIC_SCOPES.get(topic, ())
        granted = {s["handle"] for s in self.currentAppInstallation["accessScopes"]}
        if not errors and needed and not granted & set(needed):
            errors = [user_error(["topic"], f"Access denied for topic {topic}: requires one of the access scopes "
                                            f"{', '.join(needed)}")]
        if not errors and self.webhooks.taken(topic, uri.strip()):
            errors = [user_error(ADDRESS, TAKEN)]
        if errors:
            return {"webhookSubscription": None, "userErrors": errors}
        sub = self.webhooks.add(topic, uri.strip(), data.get("name"))
        return {"webhookSubscription": SubscriptionView(sub, self.api_version), "userErrors": []}

    def webhookSubscriptionUpdate(self, info: Any, id: str,  # noqa: N802,A002
                                  webhookSubscription: dict) -> dict[str, Any]:  # noqa: N803
        data = _supported(webhookSubscription)
        sub = self.webhooks.subs.get(self._s.parse_gid(id, "WebhookSubscription") or 0)
        if sub is None:
            return {"webhookSubscription": None, "userErrors": [user_error(["id"], NO_SUCH)]}
        uri = data.get("uri", data.get("callbackUrl"))
        if uri is not None:
            errors = self.webhooks.address_errors(uri)
            if not errors and self.webhooks.taken(sub.topic, uri.strip(), but=sub.id):
                errors = [user_error(ADDRESS, TAKEN)]
            if errors:
                return {"webhookSubscription": None, "userErrors": errors}
            if uri.strip() != sub.uri:
                sub.uri, sub.failures = uri.strip(), 0
        if "name" in data:
            sub.name = data["name"]
        sub.updated_at = datetime.now(UTC)
        return {"webhookSubscription": SubscriptionView(sub, self.api_version), "userErrors": []}

    def webhookSubscriptionDelete(self, info: Any, id: str) -> dict[str, Any]:  # noqa: N802,A002
        number = self._s.parse_gid(id, "WebhookSubscription") or 0
        if self.webhooks.subs.pop(number, None) is None:
            return {"deletedWebhookSubscriptionId": None, "userErrors": [user_error(["id"], NO_SUCH)]}
        return {"deletedWebhookSubscriptionId": gid("WebhookSubscription", number), "userErrors": []}


def _supported(data: dict) -> dict:
    """The input fields the sandbox honours (address, name, JSON); the rest would change what is delivered."""
    if data.get("format") not in (None, "JSON"):
        raise not_simulated("an XML webhook subscription")
    for name in ("filter", "includeFields", "metafieldNamespaces", "metafields"):
        if data.get(name):
            raise not_simulated(f"WebhookSubscriptionInput.{name}")
    return data
