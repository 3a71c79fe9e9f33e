"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``."""

from hub import create_app
from hub.logs import configure_logging

app = create_app()
configure_logging(app.config["HUB_CONFIG"].log_level)
