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
