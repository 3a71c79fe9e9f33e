"""The admin JSON API under /api: its views by resource, the request and response schemas, the OpenAPI
document built from them, and the bearer-token guard (admin.py)."""
