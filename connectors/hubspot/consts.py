"""HubSpot constants: API host, batch and page sizes, rate-limit policies, association type ids, and the
canonical order status -> default-pipeline deal stage table."""

from __future__ import annotations

API_BASE = "https://api.hubapi.com"
DEFAULT_TIMEOUT_S = 10.0
BATCH_LIMIT = 100  # inputs per batch call (object APIs: "limited to 100 inputs per request")
SEARCH_PAGE_LIMIT = 200  # objects per CRM search page
ASSOCIATIONS_PAGE_LIMIT = 500  # v4 associations per page

# The hub's custom deal property: created once per portal as a single-line text property with
# hasUniqueValue: true, so batch upsert can key deals by it (idProperty) and a duplicate is refused.
ORDER_KEY_PROPERTY = "hub_order_key"

# Rate limits (developers.hubspot.com API usage guidelines). Waits are what the client sleeps before it
# tries again when the 429 carries no Retry-After.
TEN_SECONDLY_POLICY = "TEN_SECONDLY_ROLLING"
DAILY_POLICY = "DAILY"
SECONDLY_MESSAGE = "secondly limit"  # the search endpoints' 429 names no policy, only this message
INTERVAL_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
TEN_SECONDLY_WAIT_S = 10.0  # when the interval header is missing: one whole window frees every slot
SEARCH_WAIT_S = 1.0  # search: five calls per second per account
DAILY_RETRY_S = 3600.0  # a spent daily allowance returns at midnight in the portal's time zone
MAX_THROTTLE_WAITS = 20  # 429s in a row inside one call before it gives up as Throttled

# HUBSPOT_DEFINED association type ids (associations v4 "association type ID values")
DEAL_TO_CONTACT = 3
NOTE_TO_CONTACT = 202
NOTE_TO_DEAL = 214

# The default sales pipeline every portal starts with, in display order
DEFAULT_PIPELINE = "default"
DEFAULT_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
                  "contractsent", "closedwon", "closedlost")

# Canonical OrderStatus value -> deal stage in the default pipeline. An order is a deal in progress until
# it is paid: pending (placed, unpaid) sits at decision-maker-bought-in, partly paid one step on; paid and
# everything after it (fulfilment, delivery, a partial refund) is won; cancelled or fully refunded is lost.
# Portals with their own pipeline map through configuration instead.
ORDER_STATUS_STAGE = {
    "pending": "decisionmakerboughtin",
    "partially_paid": "contractsent",
    "paid": "closedwon",
    "partially_fulfilled": "closedwon",
    "fulfilled": "closedwon",
    "delivered": "closedwon",
    "partially_refunded": "closedwon",
    "cancelled": "closedlost",
    "refunded": "closedlost",
}

# the deal properties the hub writes that a portal does not have by itself: created by `hub doctor --fix`
# (POST /crm/v3/properties/deals); deals are upserted by hub_order_key, which must be unique
CUSTOM_DEAL_PROPERTIES = (
    {"name": "hub_order_key", "label": "Hub order key", "type": "string", "fieldType": "text",
     "groupName": "dealinformation", "hasUniqueValue": True,
     "description": "<channel>:<order id>: the hub finds the deal of an order by it"},
)
