"""Stripe constants: the API's address, its list limits and how far back it lists events."""

DEFAULT_API_URL = "https://api.stripe.com"
LIST_LIMIT = 100  # objects one list call returns at most (``limit`` 1..100)
TYPES_MAX = 20  # event types one ``types[]`` filter takes at most
EVENT_DAYS = 30  # GET /v1/events lists the events of the last 30 days only
