"""The console's blueprint and what every page shares: the session, the sign-in limiter, the template filters
and the guard in front of every route."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from jinja2 import pass_context
from jinja2.runtime import Context
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from jobs.queueing import LIMIT_PREFIX
from store.deliveries import utcnow

from ..channel_health import ago
from ..config import Config
from ..state import Hub

SESSION_HOURS = 12  # a console session lasts this long after sign-in
SESSION_COOKIE = "hub_console"
_KEY_SALT = b"hub-console-session-key-v1"

bp = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates")


def session_key(config: Config) -> bytes:
    """``secret_key`` if set; else HKDF-SHA256 of the admin token; with neither (the console is
    closed anyway), a random key that lives as long as the process."""
    if config.secret_key:
        return config.secret_key.encode()
    if not config.admin_token:
        return os.urandom(32)

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_KEY_SALT,
                info=b"flask session signing").derive(config.admin_token.encode())


@dataclass
class LoginLimiter:
    """Sign-in attempts per client IP, in Redis (one moving window shared by every web process)."""

    limiter: MovingWindowRateLimiter
    item: RateLimitItem

    def hit(self, client: str) -> bool:
        """Count one attempt; False once the client is over the limit."""
        return self.limiter.hit(self.item, "console-login", client)

    def retry_after_s(self, client: str) -> int:
        reset = self.limiter.get_window_stats(self.item, "console-login", client).reset_time
        return max(1, int(reset - time.time()) + 1)


def init_app(app: Flask, hub: Hub) -> None:
    config = hub.config
    app.secret_key = session_key(config)
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # checked in the console's own before_request: the webhook receiver and the API (bearer
        # token, no cookie) take POSTs from other programs and carry no CSRF token
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = _SessionInterface()
    CSRFProtect(app)
    storage = RedisStorage("redis://", connection_pool=hub.redis.client.connection_pool, key_prefix=LIMIT_PREFIX)
    app.extensions["hub_login_limiter"] = LoginLimiter(MovingWindowRateLimiter(storage),
                                                       parse(config.login_rate_limit))
    app.register_blueprint(bp)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over https (directly
    or, with ``trusted_proxy_hops``, through the proxy), so plain http on 127.0.0.1 still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def token_fingerprint(token: str) -> str:
    """What the session keeps to prove the sign-in: never the token itself."""
    return hmac.new(current_app.secret_key, b"console:" + token.encode(), hashlib.sha256).hexdigest()


def signed_in() -> bool:
    token = current_app.extensions["hub"].config.admin_token
    given = session.get("auth")
    return bool(token) and isinstance(given, str) and hmac.compare_digest(given, token_fingerprint(token))


@bp.app_template_filter("dt")
def _dt(value: str | None) -> str:
    """An ISO UTC time as ``2026-11-22 10:00:03`` (the console shows UTC throughout)."""
    return value.replace("T", " ").replace("Z", "").split(".")[0] if value else "–"


@bp.app_template_filter("age")
def _age(seconds: int | float | None) -> str:
    if seconds is None:
        return "–"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


@bp.app_template_filter("ago")
@pass_context
def _ago(ctx: Context, value: str | None) -> str:
    """An ISO UTC time as how long ago it was (before the page's ``now``, else the clock's): ``just now``,
    ``10 min ago``, ``3 h ago`` (``never``: none)."""


    return ago(datetime.fromisoformat(value), ctx.get("now") or utcnow()) if value else "never"


TASK_WORDS = {"push_stock": "publish stock", "export_order": "send the order to the ERP",
              "sync_crm": "update the CRM", "push_tracking": "send tracking to the shop",
              "mark_paid": "mark the order paid on its shop",
              "payment_note": "tell the shopper a payment failed",
              "process_event": "take in a delivery", "check_subscriptions": "check webhook subscriptions",
              "backfill": "read missed changes"}
ENTITY_WORDS = {"event": "delivery #{}", "order": "order {}", "payment": "payment {}",
                "shipment": "shipment {}", "stock": "stock on {}",
                "subscriptions": "webhooks of {}", "backfill": "missed changes of {}"}


@bp.app_template_filter("task_words")
def _task_words(kind: str | None) -> str:
    """A task's kind in the shop's words (``process_event`` -> take in a delivery); unknown kinds as they are."""
    return TASK_WORDS.get(kind or "", kind or "")


@bp.app_template_filter("entity_words")
def _entity_words(entity: str | None) -> str:
    """What a task is about in words (``order:5`` -> order 5, ``stock:woo`` -> stock on woo)."""
    kind, _, ident = (entity or "").partition(":")
    return ENTITY_WORDS[kind].format(ident) if kind in ENTITY_WORDS and ident else (entity or "")


@bp.app_template_filter("replay_filter_words")
def _replay_filter_words(f: dict[str, Any] | None) -> str:
    """What a replay was asked to redo, in words (``{"task_id": 7}`` -> task 7)."""
    f = f or {}
    if f.get("task_id"):
        return f"task {f['task_id']}"
    if f.get("event_id"):
        return f"delivery #{f['event_id']}"
    words = ["failed " + (_task_words(f.get("kind")) if f.get("kind") else "tasks of any kind")]
    words += [f"on {f['channel']}"] if f.get("channel") else []
    words += [f"class {f['error_class']}"] if f.get("error_class") else []
    words += [f"since {f['since']}"] if f.get("since") else []
    return " ".join(words)


@bp.app_template_filter("replay_state")
def _replay_state(r: dict[str, Any]) -> tuple[str, str]:
    """A replay's badge: (words, colour). Finished with failures is not a green "done"."""
    if r.get("status") == "done" and r.get("failed"):
        return (f"{r['failed']} of {r['total']} failed", "failed")
    return (str(r.get("status")), str(r.get("status")))


@bp.app_template_filter("money")
def _money(value: dict[str, str] | None) -> str:
    return f"{value['amount']} {value['currency']}" if value else "–"


@bp.before_request
def _guard():  # noqa: ANN202
    """Every console page needs a session, every POST a CSRF token (sign-in included)."""
    if request.endpoint != "console.login" and not signed_in():
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.extensions["hub"].config.admin_token:
        current_app.extensions["csrf"].protect()  # with no admin token there is nothing to protect: sign-in says so
    return None
