"""PayPal constants: webhook transmission headers, certificate fetch limits, the REST API's paths."""

TRANSMISSION_ID = "PAYPAL-TRANSMISSION-ID"
TRANSMISSION_TIME = "PAYPAL-TRANSMISSION-TIME"
TRANSMISSION_SIG = "PAYPAL-TRANSMISSION-SIG"
CERT_URL = "PAYPAL-CERT-URL"
AUTH_ALGO = "PAYPAL-AUTH-ALGO"
SUPPORTED_ALGOS = ("SHA256withRSA",)
CERT_FETCH_TIMEOUT_S = 5
CERT_MAX_BYTES = 64 * 1024
CERT_CACHE_MAX = 64  # distinct cert URLs kept per channel

DEFAULT_API_URL = "https://api-m.paypal.com"
TOKEN_PATH = "/v1/oauth2/token"  # client credentials -> Bearer access token
EVENTS_PATH = "/v1/notifications/webhooks-events"  # the webhook events of the app, newest first
EVENTS_PAGE_SIZE = 100  # events asked for per list call (``page_size``)
