"""The platform registry (connectors.PLATFORMS): every role it names exists and does what the role asks."""

from __future__ import annotations

import importlib

import pytest

from connectors import KINDS, OUTBOUND_KEYS, PLATFORMS, SALES_KINDS, SECRET_KINDS, mapper, refreshable

ROLE_METHODS = {  # role -> what its class must have
    "verifier": ("verify",),
    "stock_target": ("find", "read", "push_levels", "compare_and_set", "cheap_reads", "batch_size"),
    "change_source": ("changed_since",),
    "subscriptions": ("subscriptions",),
    "order_target": ("send_tracking",),
    "refresher": ("current", "current_order"),
}


def _load(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("kind", KINDS)
def test_every_role_a_platform_names_exists(kind):
    p = PLATFORMS[kind]
    for role, needs in ROLE_METHODS.items():
        path = getattr(p, role)
        if path is None:
            continue
        cls = _load(path)
        missing = [n for n in needs if not hasattr(cls, n)]
        assert not missing, f"{kind} {role} {path} lacks {missing}"
    assert mapper(kind).TOPICS, f"{p.mapper} handles no topic"
    assert p.role in ("sales", "payments", "carrier")


def test_what_the_config_reads_of_the_registry():
    assert SALES_KINDS == ("shopify", "woocommerce")
    assert SECRET_KINDS == frozenset(KINDS) - {"paypal"}  # PayPal is verified by its certificate
    assert OUTBOUND_KEYS["woocommerce"] == ("url", "consumer_key", "consumer_secret")
    assert set(OUTBOUND_KEYS) == {"shopify", "woocommerce", "stripe", "paypal"}


def test_only_what_a_refresher_can_read_is_refreshable():
    assert refreshable("woocommerce", "order.updated") and refreshable("woocommerce", "product.updated")
    assert not refreshable("woocommerce", "order.deleted")
    assert not refreshable("shopify", "orders/updated") and not refreshable("nosuch", "order.updated")
