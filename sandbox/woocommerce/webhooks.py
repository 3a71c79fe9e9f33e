"""The WooCommerce sandbox's webhooks (``/wc/v3/webhooks``) and how they are delivered, as the real
WooCommerce 10.0.2 of ../shared/peers/woocommerce does it:

- one delivery per active webhook whose topic matches, signed with that webhook's secret, to its URL;
- **never retried**: a failure (no answer, or not a 2xx) adds one to the webhook's failure count, a success
  resets it, and after more than 5 consecutive failures the webhook becomes ``disabled`` and sends nothing
  until someone sets it ``active`` again (``PUT /wc/v3/webhooks/<id>``);
- a webhook created through the API is pinged at once, before the API answers (``deliver_ping()`` in
  ``WC_REST_Webhooks_V1_Controller::create_item``): an unsigned form body ``webhook_id=<id>``; its answer
  changes nothing (the webhook is created either way);
- ``configure(webhook_url=...)`` stands for the shop manager adding the hub's webhooks in wp-admin: one per
  topic of ``DEFAULT_TOPICS``, all pointing at that URL (an empty URL deletes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from flask import request

from sandbox import signing
from sandbox.base import Emitter
from sandbox.woocommerce import wire
from sandbox.woocommerce.wire import WooError

DEFAULT_TOPICS = ("order.created", "order.updated", "order.deleted", "product.created", "product.updated")
TOPICS = {  # the topics WooCommerce offers (resource.event), with the hooks it lists for them
    "order.created": ["woocommerce_new_order"], "order.updated": ["woocommerce_update_order"],
    "order.deleted": ["wp_trash_post"], "order.restored": ["untrashed_post"],
    "product.created": ["woocommerce_new_product"], "product.updated": ["woocommerce_update_product"],
    "product.deleted": ["wp_trash_post"], "product.restored": ["untrashed_post"],
    "customer.created": ["user_register"], "customer.updated": ["profile_update"],
    "customer.deleted": ["delete_user"], "coupon.created": ["woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_update_coupon"], "coupon.deleted": ["wp_trash_post"],
}
STATUSES = ("active", "paused", "disabled")
MAX_FAILURES = 5  # more than this many failures in a row disable a webhook
PING_TIMEOUT_S = 5.0


@dataclass
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str = "active"
    failures: int = 0
    created: datetime = field(default_factory=wire.now)
    modified: datetime = field(default_factory=wire.now)
    by_configure: bool = False  # made by configure(webhook_url=...), not through the API


def webhook_body(w: Webhook, base: str) -> dict[str, Any]:
    """The REST shape (the docs' example and the real 10.0.2's answer; the secret is never shown)."""
    resource, event = w.topic.split(".", 1)
    url = f"{base}/wp-json/wc/v3/webhooks"
    return {"id": w.id, "name": w.name, "status": w.status, "topic": w.topic, "resource": resource, "event": event,
            "hooks": TOPICS.get(w.topic, []), "delivery_url": w.delivery_url,
            "date_created": wire.wc_date(w.created), "date_created_gmt": wire.wc_date(w.created),
            "date_modified": wire.wc_date(w.modified), "date_modified_gmt": wire.wc_date(w.modified),
            "_links": {"self": [{"href": f"{url}/{w.id}", "targetHints": {"allow": ["GET", "POST", "PUT", "PATCH",
                                                                                    "DELETE"]}}],
                       "collection": [{"href": url}]}}


class WebhookRoutes:
    """Mixin for ``WooSandbox``: the webhook registry, its REST handlers and its deliveries."""

    _lock: Any
    emitter: Emitter
    webhook_secret: str | None
    _webhooks: dict[int, Webhook]
    _hook_ids: Any
    pings: int  # webhooks pinged on creation

    def _base(self) -> str: ...  # noqa: D102 - WooSandbox's

    # ---- control ------------------------------------------------------------------------------------

    def _point_webhooks(self, url: str | None) -> None:
        """The shop manager's webhooks for the hub: one per default topic at ``url`` (None/"": removed)."""
        mine = {w.topic: w for w in self._webhooks.values() if w.by_configure}
        if not url:
            for w in mine.values():
                del self._webhooks[w.id]
            return
        for topic in DEFAULT_TOPICS:
            w = mine.get(topic)
            if w is None:
                w = Webhook(next(self._hook_ids), f"hub {topic}", topic, url, self.webhook_secret or "",
                            by_configure=True)
                self._webhooks[w.id] = w
            w.delivery_url, w.secret, w.status, w.failures, w.modified = (url, self.webhook_secret or "", "active", 0,
                                                                         wire.now())

    def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook as ``GET /wc/v3/webhooks`` lists it, plus its failure count (wp-admin shows it)."""
        with self._lock:
            return [{**webhook_body(w, self._base()), "failure_count": w.failures} for w in self._webhooks.values()]

    # ---- delivery ---------------------------------------------------------------------------------

    def _deliver(self, topic: str, body: bytes, sign: Any) -> None:
        """One delivery of ``body`` per active webhook of ``topic`` (``sign(secret, webhook_id)`` signs it)."""
        for w in list(self._webhooks.values()):
            if w.topic == topic and w.status == "active" and w.delivery_url:
                self.emitter.emit(topic, sign(w.secret, w.id), url=w.delivery_url,
                                  answered=lambda status, w=w: self._answered(w, status))

    def _answered(self, w: Webhook, status: int | None) -> None:
        """WC_Webhook::deliver(): a 2xx resets the failure count, anything else adds one; more than
        ``MAX_FAILURES`` in a row disable the webhook."""
        with self._lock:
            if status is not None and 200 <= status < 300:
                w.failures = 0
                return
            w.failures += 1
            if w.failures > MAX_FAILURES and w.status == "active":
                w.status, w.modified = "disabled", wire.now()

    # ---- REST handlers ------------------------------------------------------------------------------

    def _list_webhooks(self, params: dict[str, str], authed: bool) -> tuple[Any, dict[str, str]]:
        page, per_page = wire.paging(params)
        status = params.get("status", "all")
        if status not in ("all", *STATUSES):
            raise wire.invalid_param("status", "rest_not_in_enum", f"status is not one of all, {', '.join(STATUSES)}.",
                                     {"param": "status"})
        wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        with self._lock:
            hooks = [w for w in self._webhooks.values() if status == "all" or w.status == status]
            return wire.collection(hooks, page, per_page, lambda w: webhook_body(w, self._base()),
                                   f"{self._base()}/wp-json/wc/v3/webhooks", params)

    def _get_webhook(self, params: dict[str, str], authed: bool, hook_id: int) -> tuple[Any, dict[str, str]]:
        wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        with self._lock:
            return webhook_body(self._webhook(hook_id), self._base()), {}

    def _create_webhook(self, params: dict[str, str], authed: bool) -> tuple[Any, dict[str, str], int]:
        fields = wire.json_body(request.get_data())
        wire.require(authed, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        if fields.get("topic") not in TOPICS:
            raise WooError("woocommerce_rest_shop_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.", 400)
        if not str(fields.get("delivery_url") or "").startswith(("http://", "https://")):
            raise WooError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
        status = fields.get("status", "active")
        if status not in STATUSES:
            raise wire.invalid_param("status", "rest_not_in_enum", f"status is not one of {', '.join(STATUSES)}.",
                                     {"param": "status"})
        with self._lock:
            w = Webhook(next(self._hook_ids), str(fields.get("name") or fields["topic"]), fields["topic"],
                        fields["delivery_url"], str(fields.get("secret") or ""), status)
            self._webhooks[w.id] = w
            body = webhook_body(w, self._base())
        self.pings += 1
        try:  # outside the lock: the receiver may call the shop while it answers
            requests.post(w.delivery_url, data=f"webhook_id={w.id}", headers={"User-Agent": signing.HOOKSHOT_UA},
                          timeout=PING_TIMEOUT_S)
        except requests.RequestException:
            pass  # WooCommerce ignores the ping's failure here too
        return body, {}, 201

    def _put_webhook(self, params: dict[str, str], authed: bool, hook_id: int) -> tuple[Any, dict[str, str]]:
        fields = wire.json_body(request.get_data())
        wire.require(authed, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
        with self._lock:
            w = self._webhook(hook_id)
            if "status" in fields:
                if fields["status"] not in STATUSES:
                    raise wire.invalid_param("status", "rest_not_in_enum",
                                             f"status is not one of {', '.join(STATUSES)}.", {"param": "status"})
                w.status = fields["status"]
                if w.status == "active":
                    w.failures = 0  # as the peer's webhooks.php and wp-admin's re-activation
            if "topic" in fields:
                if fields["topic"] not in TOPICS:
                    raise WooError("woocommerce_rest_shop_webhook_invalid_topic",
                                   "Webhook topic is required and must be valid.", 400)
                w.topic = fields["topic"]
            for name in ("name", "delivery_url", "secret"):
                if name in fields:
                    setattr(w, name, str(fields[name]))
            w.modified = wire.now()
            return webhook_body(w, self._base()), {}

    def _delete_webhook(self, params: dict[str, str], authed: bool, hook_id: int) -> tuple[Any, dict[str, str]]:
        wire.require(authed, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
        with self._lock:
            w = self._webhook(hook_id)
            del self._webhooks[w.id]
            return webhook_body(w, self._base()), {}

    def _webhook(self, hook_id: int) -> Webhook:
        w = self._webhooks.get(hook_id)
        if w is None:
            raise WooError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", 404)
        return w
