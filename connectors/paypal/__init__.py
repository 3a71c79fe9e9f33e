"""paypal connector: inbound webhook verification (more roles come with the sync issues)."""
