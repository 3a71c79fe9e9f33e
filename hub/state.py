"""The hub's per-app state, kept in ``app.extensions["hub"]`` (never in module globals)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine

from connectors import SALES_KINDS, reads_changes, writes_blind
from connectors.base import Verifier
from domain.ledger import StockPolicy
from domain.orders import OrderRules
from jobs.queueing import Queues
from store.deliveries import DeliveryStore

from .config import Config
from .metrics import Metrics
from .redis import RedisHandle

logger = logging.getLogger(__name__)



def stock_policy(config: Config) -> StockPolicy:
    """Where each channel's stock lives and how the hub treats it, from the config."""
    chans = config.channels.values()
    return StockPolicy(warehouses={c.id: tuple(dict.fromkeys(c.locations.values())) for c in chans},
                       buffers={c.id: c.stock_buffer for c in chans},
                       authority={c.id: c.stock_authority for c in chans},
                       pushing=tuple(c.id for c in chans if c.pushes_stock),
                       locations={c.id: dict(c.locations) for c in chans},
                       report_hold_s=config.stock_report_hold_s,
                       reads=frozenset(c.id for c in chans if reads_changes(c) and writes_blind(c)))


# sales channels with a note on an order its shopper sees (WooCommerce's customer notes; Shopify's order note
# is the staff's)
SHOPPER_NOTE_KINDS = frozenset({"woocommerce"})


def order_rules(config: Config) -> OrderRules:
    """What the config says about orders, payments and shipments."""
    chans = config.channels.values()
    return OrderRules(match_channels={c.id: c.match_channel for c in chans if c.match_keys},
                      sales_channels=frozenset(c.id for c in chans if c.kind in SALES_KINDS),
                      api_channels=frozenset(c.id for c in chans if c.kind in SALES_KINDS and c.calls_api),
                      sla_days=dict(config.carrier_sla_days), sla_default_days=config.carrier_sla_default_days,
                      crm_notes=config.crm is not None, paid_tolerance=config.paid_tolerance,
                      note_channels=frozenset(c.id for c in chans if c.kind in SHOPPER_NOTE_KINDS and c.calls_api))


@dataclass
class Hub:
    config: Config
    engine: Engine
    redis: RedisHandle
    verifiers: dict[str, Verifier]
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.deliveries = DeliveryStore(self.engine)
        self.stock_policy = stock_policy(self.config)
        self.order_rules = order_rules(self.config)
        self.queues = Queues(self.redis.client, debounce_s=self.config.stock_push_debounce_s,
                             erp=self.config.erp is not None, crm=self.config.crm is not None,
                             pushing=self.stock_policy.pushing, order_channels=sorted(self.order_rules.api_channels))


def current_hub() -> Hub:
    return current_app.extensions["hub"]
