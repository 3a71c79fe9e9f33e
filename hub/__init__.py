"""The hub: webhooks in from every platform, one canonical store, every system kept in step.

``create_app`` builds the Flask app: defaults, then the YAML config and the environment, then
the database, Redis and the channel verifiers (in ``app.extensions["hub"]``), then blueprints.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, redirect, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config, load_config, load_config_dict

logger = logging.getLogger(__name__)


def create_app(test_config: Config | dict[str, Any] | None = None) -> Flask:
    # the web app's modules load when an app is made, not with the package: a worker or the CLI importing
    # hub.state or hub.config does not load Flask's views, the console and the OpenAPI document
    from connectors import verifier_for
    from hub.api import admin, openapi
    from hub.api import channels as api_channels
    from hub.api import records as api_records
    from hub.api import reports as api_reports
    from hub.api import stock as api_stock
    from hub.api import tasks as api_tasks
    from store.db import make_engine

    from . import console, ops, webhooks
    from .redis import connect
    from .state import Hub

    app = Flask(__name__)
    app.url_map.converters["int"] = openapi.DbIntConverter  # before any rule: ids past BIGINT are 404s
    if isinstance(test_config, Config):
        config = test_config
    elif isinstance(test_config, dict):
        config = load_config_dict(test_config, environ={})  # explicit: no env overrides
    else:
        config = load_config()
    app.config.update(MAX_CONTENT_LENGTH=config.max_body_bytes, JSON_SORT_KEYS=False, HUB_CONFIG=config)

    engine = make_engine(config.database_url, config.db_busy_timeout_s, config.var_dir)
    redis_handle = connect(config.redis_url, config.var_dir)
    verifiers = {cid: verifier_for(ch) for cid, ch in config.channels.items()}
    app.extensions["hub"] = Hub(config=config, engine=engine, redis=redis_handle, verifiers=verifiers)
    if not config.admin_token:
        logger.warning("admin_token is empty: the admin API answers 401 to everyone")

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api_records.bp)
    app.register_blueprint(api_stock.bp)
    app.register_blueprint(api_reports.bp)
    app.register_blueprint(api_tasks.bp)
    app.register_blueprint(api_channels.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openapi.bp)
    console.init_app(app, app.extensions["hub"])
    if config.trusted_proxy_hops:  # the client's address (sign-in limits, logs) from the proxies' headers
        hops = config.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.before_request
    def _guard_api_and_console():  # noqa: ANN202
        # every /api path, routed or not: without the token a 404 or 405 would tell which routes exist
        if request.path == openapi.API_PREFIX or request.path.startswith(openapi.API_PREFIX + "/"):
            return admin.require_token()
        # the console guards its own routes; a path it does not route (404, 405, the slash redirect)
        # goes to the sign-in page too, for the same reason
        if (request.url_rule is None and (request.path == "/admin" or request.path.startswith("/admin/"))
                and not console.signed_in()):
            return redirect(url_for("console.login"))
        return None

    @app.errorhandler(HTTPException)
    def _json_errors(exc: HTTPException):  # noqa: ANN202
        if request.path.startswith(("/webhooks/", "/api/")) or request.path in ("/api", "/healthz", "/readyz"):
            headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]  # e.g. 405's Allow
            return {"error": exc.description or exc.name}, exc.code, headers
        return exc

    return app
