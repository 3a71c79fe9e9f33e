"""The operator console at /admin: server-rendered pages (Jinja, no script needed) over the same
store functions as the JSON API.

Sign-in is with the admin token; the session is Flask's signed cookie (HttpOnly, SameSite=Lax),
keyed by ``secret_key`` or, when that is empty, by a key derived from the admin token with HKDF,
so rotating the token ends every session. Every form carries a CSRF token (Flask-WTF) and a
POST without a valid one is refused with 400. Sign-in attempts are limited per client IP
(``login_rate_limit``, counted in Redis with ``limits``' moving window).
"""

from __future__ import annotations

from . import auth, pages, replays, tasks  # noqa: F401  (the views register on ``bp``)
from .base import bp, init_app, signed_in

__all__ = ["bp", "init_app", "signed_in"]
