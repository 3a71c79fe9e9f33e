"""Odoo constants: the RPC endpoint, page sizes, the server's datetime format, and the one table that turns an
Odoo exception into a retry decision."""

from __future__ import annotations

JSONRPC_PATH = "/jsonrpc"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # DEFAULT_SERVER_DATETIME_FORMAT, always UTC
PAGE_LIMIT = 200  # records per search_read page when following a cursor
MAX_PAGES = 50  # pages per done_deliveries()/stock_quants() call; the cursor carries on from there
TIMEOUT_S = 30.0  # default per-request timeout

RETRY, PERMANENT = "retry", "permanent"

# error.data.name -> decision. Serialization failures and lock timeouts already survived Odoo's own five
# retries (service.model.retrying) when they reach us: a later try usually succeeds. Anything else Odoo
# raises is about the call itself (refused input, rights, a missing record, a wrong name): the same call
# fails the same way.
ERROR_DECISIONS = {
    "odoo.exceptions.AccessDenied": PERMANENT,  # wrong login or API key
    "odoo.exceptions.AccessError": PERMANENT,
    "odoo.exceptions.ValidationError": PERMANENT,
    "odoo.exceptions.UserError": PERMANENT,
    "odoo.exceptions.MissingError": PERMANENT,
    "odoo.exceptions.RedirectWarning": PERMANENT,
    "psycopg2.errors.SerializationFailure": RETRY,
    "psycopg2.errors.LockNotAvailable": RETRY,
    "psycopg2.errors.DeadlockDetected": RETRY,
    "psycopg2.OperationalError": RETRY,  # database restarting or out of connections (but see below)
    "psycopg2.InterfaceError": RETRY,  # "connection already closed": the database went away under a worker
}
# Messages that decide regardless of the name (a psycopg2 error re-raised under another class)
RETRY_MESSAGES = ("could not serialize access due to concurrent update", "could not obtain lock",
                  "deadlock detected")
PERMANENT_MESSAGES = ("does not exist",)  # "database "x" does not exist": configuration, not load


def decision(name: str, message: str) -> str:
    """RETRY or PERMANENT for an Odoo error; names not in the table are programming errors: PERMANENT."""
    text = message.lower()
    if any(m in text for m in RETRY_MESSAGES):
        return RETRY
    if name.startswith("psycopg2") and any(m in text for m in PERMANENT_MESSAGES):
        return PERMANENT
    return ERROR_DECISIONS.get(name, PERMANENT)
