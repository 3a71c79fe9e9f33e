"""The store: tables, the delivery store, links, the database and its migrations (no Flask, no RQ)."""
