"""Console sign-in and sign-out with the admin token."""

from __future__ import annotations

import hmac
import logging

from flask import current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError

from store.deliveries import iso, utcnow

from ..state import current_hub
from .base import bp, signed_in, token_fingerprint

logger = logging.getLogger(__name__)


def _next_page() -> str:
    """Where to go after signing in: a console path only (never another site)."""
    target = request.values.get("next") or ""
    if target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.dashboard")


CLOSED = ("This hub's console is closed: its admin_token is empty. Set admin_token in the hub's config (a long "
          "random string) and restart the hub, then sign in with it.")
EXPIRED = "That sign-in form had expired (the hub restarted, or its keys changed). Sign in again."
FORM_REFUSED = ("That form had expired or did not come from this console (its CSRF check failed): nothing was done. "
                "Go back, reload the page and try again.")


@bp.errorhandler(CSRFError)
def _csrf_failed(_: CSRFError):  # noqa: ANN202
    """A form whose CSRF token is missing or stale (a restart, a forged post): said in words, nothing done."""
    if request.endpoint == "console.login":
        return render_template("console/login.html", error=EXPIRED, next=request.form.get("next", "")), 400
    return render_template("console/refused.html", message=FORM_REFUSED), 400


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if not current_hub().config.admin_token:
        return render_template("console/login.html", closed=CLOSED), 503
    if request.method == "GET":
        if signed_in():
            return redirect(_next_page())
        return render_template("console/login.html", next=request.args.get("next", ""))
    client = request.remote_addr or "unknown"
    limiter = current_app.extensions["hub_login_limiter"]
    try:
        allowed = limiter.hit(client)
        retry_after = None if allowed else limiter.retry_after_s(client)
    except RedisError:
        logger.error("console login: the rate limit cannot be counted (redis unreachable)", extra={"client": client})
        return render_template("console/login.html", error="Sign-in is unavailable right now; try again shortly.",
                               next=request.form.get("next", "")), 503
    if not allowed:
        logger.warning("console login: too many attempts", extra={"client": client})
        return (render_template("console/login.html", next=request.form.get("next", ""),
                                error=f"Too many sign-in attempts. Try again in {retry_after} s."),
                429, {"Retry-After": str(retry_after)})
    token = current_hub().config.admin_token
    given = request.form.get("token", "")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        logger.warning("console login refused", extra={"client": client})  # never the token given
        return render_template("console/login.html", error="That token is not valid.",
                               next=request.form.get("next", "")), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session.permanent = True
    session["auth"] = token_fingerprint(token)
    session["since"] = iso(utcnow())
    logger.info("console login", extra={"client": client})
    return redirect(_next_page())


@bp.post("/logout")
def logout():  # noqa: ANN201
    session.clear()
    return redirect(url_for("console.login"))
