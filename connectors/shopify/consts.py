"""Shopify constants: pinned API version and webhook header names."""

API_VERSION = "2026-07"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"

MAX_INPUT_ITEMS = 250  # Shopify's limit on an input array (inventorySetQuantities quantities)
STALE_CODE = "CHANGE_FROM_QUANTITY_STALE"  # InventorySetQuantitiesUserErrorCode for a lost compare-and-set
VARIANTS_PAGE = 100  # SKUs per lookup query, when the rate-limit bucket allows
NODE_COST = 5  # calculated cost of one variant node in the lookup query (variant, product, item, level, list)
MAX_THROTTLE_WAITS = 50  # THROTTLED answers in a row before the call counts as failed
FULFILLABLE_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})  # FulfillmentOrderStatus values fulfillmentCreate takes
FULFILLMENT_ORDER_LINES_PAGE = 100  # line items read per fulfillment order, for a partial fulfillment
FULFILLMENT_ORDERS_PAGE = 20  # fulfillment orders read per order (one per location/split: a handful)
FULFILLMENTS_PAGE = 50  # fulfillments read per order, to find one that already carries a tracking number
TRACKING_PAGE = 10  # tracking numbers read per fulfillment
SUBSCRIPTIONS_PAGE = 100  # webhook subscriptions listed per call (one page holds every topic the hub keeps)
# Orders changed since the backfill's watermark (connectors.shopify.orders). One order as the hub reads it
# costs 30 + 14 x ORDER_LINES_PAGE points requested (5 money bags at 3, customer 4, addresses 2, line items
# 2 + 10 each, fulfillment and refund line items 1 + 2 + 2 each): 100 at 5 lines, so a page of 6 requests
# 602 of Shopify's 1,000 per query and of a 1,000-point bucket; what comes back costs far less and the rest
# is refunded. Connections that hold more than a page are read on in follow-up calls of their own.
ORDERS_PAGE = 6
ORDER_LINES_PAGE = 5  # line items (and fulfillment / refund line items) read with each order
MORE_LINES_PAGE = 50  # line items per follow-up: 3 + 10 x 50 = 503 points
MORE_ITEMS_PAGE = 250  # fulfillment or refund line items per follow-up: 3 + 2 x 250 = 503 points

# the Admin API access scopes the hub's calls need (``hub doctor`` checks the app has them): products and
# inventory to find and set stock, locations, orders to read what webhooks missed, fulfillment orders to ship,
# returns for the returns/* webhooks
REQUIRED_SCOPES = ("read_products", "read_inventory", "write_inventory", "read_locations", "read_orders",
                   "write_merchant_managed_fulfillment_orders", "read_returns")
