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
from collections.abc import Callable
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


@dataclass(frozen=True)
class Credit:
    """A refund as a credit note: ``lines`` {sku: quantity} it refunds (None: not said), and the money out."""

    ref: str  # "refund <channel>:<refund id>": the credit note's reference in Odoo
    memo: str  # "refund:<channel>:<refund id>": its refund payment's
    provider: str  # the erp.journals key the money goes back through
    amount: Decimal
    currency: str
    lines: dict[str, Decimal] | None = None


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

    def ensure_credit_note(self, invoice_id: int, credit: Credit, adjust_product: Callable[[], int]
                           ) -> dict[str, Any]:
        """The credit note of ``credit`` against the invoice, made once (``account.move.reversal``), with the
        refunded lines at the invoice's prices and taxes (all of them for a full refund that does not say which),
        what is left of the amount on one untaxed line of the ``adjust_product()``, posted, and its refund paid
        out."""
        note = self._credit_note(credit.ref)
        if note is None:
            note = self._reverse(invoice_id, credit, adjust_product)
        if note["state"] == "draft":
            self.client.execute_kw("account.move", "action_post", [[note["id"]]])
            note = self._credit_note(credit.ref) or note
        if note["payment_state"] not in ("paid", "in_payment"):
            self.register(note["id"], Settlement(credit.memo, credit.provider, credit.amount, credit.currency))
            note = self._credit_note(credit.ref) or note
        return note

    def _credit_note(self, ref: str) -> dict[str, Any] | None:
        rows = self.client.search_read("account.move", [("move_type", "=", "out_refund"), ("ref", "=", ref),
                                                        ("state", "!=", "cancel")],
                                       ["name", "state", "payment_state", "amount_total"], limit=1, order="id asc")
        return rows[0] if rows else None

    def _reverse(self, invoice_id: int, credit: Credit, adjust_product: Callable[[], int]) -> dict[str, Any]:
        invoice = self.client.execute_kw("account.move", "read", [[invoice_id]], {
            "fields": ["journal_id", "amount_total"]})[0]
        ctx = {"context": {"active_model": "account.move", "active_ids": [invoice_id]}}
        wizard = self.client.execute_kw("account.move.reversal", "create", [{
            "reason": credit.ref, "journal_id": invoice["journal_id"][0]}], ctx)
        note_id = int(self.client.execute_kw("account.move.reversal", "refund_moves", [[wizard]], ctx)["res_id"])
        full = credit.lines is None and credit.amount == Decimal(str(invoice["amount_total"]))
        commands: list[Any] = []
        if not full:
            lines = self.client.execute_kw("account.move", "read", [[note_id]], {"fields": ["invoice_line_ids"]})[0]
            lines = self.client.execute_kw("account.move.line", "read", [lines["invoice_line_ids"]], {
                "fields": ["product_id", "quantity"]})
            codes = self.client.product_codes(sorted({ln["product_id"][0] for ln in lines if ln["product_id"]}))
            left = dict(credit.lines or {})
            for ln in lines:
                sku = codes.get(ln["product_id"][0]) if ln["product_id"] else None
                take = min(left.get(sku, Decimal(0)), Decimal(str(ln["quantity"]))) if sku else Decimal(0)
                if take:
                    left[sku] -= take
                    commands.append((1, ln["id"], {"quantity": float(take)}))
                else:
                    commands.append((2, ln["id"]))
        self.client.execute_kw("account.move", "write", [[note_id], {"ref": credit.ref,
                                                                     "invoice_line_ids": commands}])
        total = Decimal(str(self.client.execute_kw("account.move", "read", [[note_id]], {
            "fields": ["amount_total"]})[0]["amount_total"]))
        if total != credit.amount:  # shipping, a goodwill amount, rounding: what the lines do not carry
            self.client.execute_kw("account.move", "write", [[note_id], {"invoice_line_ids": [(0, 0, {
                "product_id": adjust_product(), "name": f"Refunded beyond the lines ({credit.ref})", "quantity": 1.0,
                "price_unit": float(credit.amount - total), "tax_ids": [(6, 0, [])]})]}])
        logger.info("odoo credit note %s made for %s", note_id, credit.ref)
        return {"id": note_id, "name": False, "state": "draft", "payment_state": "not_paid"}

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
