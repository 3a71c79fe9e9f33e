"""A paid sale order invoiced and its payments registered, so that Odoo shows the invoice paid.

The calls are Odoo's own wizards, as the accounting UI runs them: ``sale.advance.payment.inv`` (regular
invoice of what is to invoice) then ``account.move.action_post``; ``account.payment.register`` on the
posted invoice (its journal per gateway, the amount and currency the gateway settled, the memo
``<provider>:<payment id>``) then ``action_create_payments``. Each step looks first: an invoice the sale
order already has is not made again, a payment whose memo is already in Odoo is not registered again, so a
retry after a lost answer, or a replay, adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.outbound import Permanent

from .client import OdooClient

logger = logging.getLogger(__name__)

DEFAULT_JOURNAL = "default"  # the erp.journals key for payments no other key names


@dataclass(frozen=True)
class Settlement:
    """Money a gateway (or the channel itself) settled for an order."""

    memo: str  # "<provider>:<payment id>": the payment's reference in Odoo
    provider: str  # its erp.journals key: stripe, paypal, a channel id
    amount: Decimal
    currency: str


class Invoicing:
    """The invoicing side of one Odoo; journal and currency lookups cached for the life of the object."""

    def __init__(self, client: OdooClient, journals: dict[str, str]) -> None:
        self.client, self.journals = client, journals
        self._journal_ids: dict[str, int] = {}
        self._currencies: dict[str, int] = {}

    def ensure_invoice(self, order_id: int) -> dict[str, Any]:
        """The sale order's customer invoice, made and posted if it has none: {id, name, payment_state,
        amount_residual (Decimal), created}."""
        invoice = self._invoice_of(order_id)
        created = False
        if invoice is None:
            ctx = {"context": {"active_model": "sale.order", "active_ids": [order_id], "active_id": order_id}}
            wizard = self.client.execute_kw("sale.advance.payment.inv", "create", [{
                "advance_payment_method": "delivered", "sale_order_ids": [(6, 0, [order_id])]}], ctx)
            self.client.execute_kw("sale.advance.payment.inv", "create_invoices", [[wizard]], ctx)
            invoice, created = self._invoice_of(order_id), True
            if invoice is None:
                raise Permanent(f"odoo sale order {order_id}: no invoice was made (nothing left to invoice?)")
        if invoice["state"] == "draft":
            self.client.execute_kw("account.move", "action_post", [[invoice["id"]]])
            logger.info("odoo invoice %s posted for sale order %s", invoice["id"], order_id)
            invoice = self._invoice_of(order_id) or invoice
        if invoice["state"] != "posted":
            raise Permanent(f"odoo invoice {invoice['name']} is {invoice['state']}: a person must look at it")
        return {"id": invoice["id"], "name": invoice["name"], "payment_state": invoice["payment_state"],
                "amount_residual": Decimal(str(invoice["amount_residual"])), "created": created}

    def _invoice_of(self, order_id: int) -> dict[str, Any] | None:
        rows = self.client.execute_kw("sale.order", "read", [[order_id]], {"fields": ["invoice_ids"]})
        if not rows:
            raise Permanent(f"odoo sale order {order_id} does not exist")
        if not rows[0]["invoice_ids"]:
            return None
        moves = self.client.execute_kw("account.move", "read", [rows[0]["invoice_ids"]], {
            "fields": ["name", "state", "move_type", "payment_state", "amount_residual"]})
        invoices = [m for m in moves if m["move_type"] == "out_invoice" and m["state"] != "cancel"]
        return min(invoices, key=lambda m: m["id"]) if invoices else None

    def register(self, invoice_id: int, payment: Settlement, when: datetime | None = None) -> bool:
        """``payment`` registered against the invoice on its journal; False if Odoo has it already."""
        if self.client.execute_kw("account.payment", "search", [[("memo", "=", payment.memo)]], {"limit": 1}):
            return False
        ctx = {"context": {"active_model": "account.move", "active_ids": [invoice_id]}}
        wizard = self.client.execute_kw("account.payment.register", "create", [{
            "journal_id": self.journal_id(payment.provider), "amount": float(payment.amount),
            "currency_id": self.currency_id(payment.currency), "communication": payment.memo,
            "payment_date": (when or datetime.now(UTC)).strftime("%Y-%m-%d")}], ctx)
        self.client.execute_kw("account.payment.register", "action_create_payments", [[wizard]], ctx)
        logger.info("odoo payment %s registered on invoice %s", payment.memo, invoice_id)
        return True

    def journal_id(self, provider: str) -> int:
        """The journal ``erp.journals`` names for ``provider`` (else its ``default``), else Odoo's first bank
        journal."""
        name = self.journals.get(provider) or self.journals.get(DEFAULT_JOURNAL)
        key = name or ""
        if key not in self._journal_ids:
            domain = [("name", "=", name)] if name else [("type", "=", "bank")]
            found = self.client.execute_kw("account.journal", "search", [domain], {"limit": 1, "order": "id asc"})
            if not found:
                raise Permanent(f"odoo has no journal named {name!r} (erp.journals)" if name else
                                "odoo has no bank journal to register payments on (set erp.journals)")
            self._journal_ids[key] = int(found[0])
        return self._journal_ids[key]

    def currency_id(self, code: str) -> int:
        if code not in self._currencies:
            found = self.client.execute_kw("res.currency", "search", [[("name", "=", code)]],
                                           {"limit": 1, "context": {"active_test": False}})
            if not found:
                raise Permanent(f"odoo has no currency {code}")
            self._currencies[code] = int(found[0])
        return self._currencies[code]
