"""WooCommerce constants: webhook header names."""

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"

API_VERSION = "wc/v3"
BATCH_LIMIT = 100  # items per products/batch or variations/batch call (more: 413 entity_too_large)
PAGE_LIMIT = 100  # per_page maximum
CLOSED_STATUSES = frozenset({"cancelled", "refunded", "failed", "trash"})  # orders never to complete
PAID_STATUSES = frozenset({"processing", "completed"})  # wc_get_is_paid_statuses()
USER_AGENT = "integration-hub (woocommerce)"  # how the shop's REST log names the hub's calls
