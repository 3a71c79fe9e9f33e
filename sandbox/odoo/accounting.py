"""The sandbox's invoicing, as the accounting wizards of Odoo 19 run it over ``execute_kw``.

``sale.advance.payment.inv.create_invoices`` (regular invoice: what a confirmed order has not invoiced yet,
as a draft ``out_invoice`` with the order's lines, currency and customer reference);
``account.move.action_post`` (draft -> posted, numbered ``INV/<year>/<00001>``);
``account.payment.register.action_create_payments`` on posted invoices (``active_ids``): a paid
``account.payment`` (``P<journal code>/<year>/<00001>``, the wizard's memo, amount and currency) reconciled
with the invoice, whose ``amount_residual`` drops and ``payment_state`` becomes ``partial`` or ``paid``.
Refusals are Odoo's ``UserError``s with Odoo's words.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.odoo.amounts import order_amounts
from sandbox.odoo.models import USER_ERROR, OdooError

Record = dict[str, Any]
WINDOW = "ir.actions.act_window"
ACCOUNTING_ACTIONS = {"sale.advance.payment.inv": ("create_invoices",), "account.move": ("action_post",),
                      "account.payment.register": ("action_create_payments",),
                      "account.move.reversal": ("refund_moves",)}


class Accounting:
    """Mixed into the sandbox's ``Orm``: ``tables``, ``create``, ``write``, ``browse``, ``value`` ... are its."""

    tables: dict[str, dict[int, Record]]
    context: dict[str, Any]
    sequences: Any
    now: Any

    # ---- computed values --------------------------------------------------------------------------------

    def invoices_of(self, order: Record) -> list[int]:
        return sorted(m["id"] for m in self.tables["account.move"].values() if m.get("_sale_id") == order["id"])

    def invoice_status(self, order: Record) -> str:
        if order["state"] != "sale":
            return "no"
        live = [m for m in self.browse("account.move", self.invoices_of(order)) if m["state"] != "cancel"]
        return "invoiced" if live else "to invoice"

    def move_amounts(self, move: Record) -> tuple[Decimal, Decimal, Decimal]:
        lines = [ln for ln in self.tables["account.move.line"].values() if ln["move_id"] == move["id"]]
        currency = self.tables["res.currency"].get(move["currency_id"])
        return order_amounts([self.line_amounts(ln) for ln in lines], currency["rounding"] if currency else 0.01)

    def residual(self, move: Record) -> Decimal:
        if move["state"] != "posted":
            return self.move_amounts(move)[2]
        return max(Decimal(0), self.move_amounts(move)[2] - move.get("_paid", Decimal(0)))

    def payment_state(self, move: Record) -> str:
        if move["state"] != "posted" or not move.get("_paid"):
            return "not_paid"
        return "paid" if self.residual(move) == 0 else "partial"

    # ---- wizards and actions -------------------------------------------------------------------------------

    def rpc_create_invoices(self, model: str, ids: Any) -> dict:
        for wizard in self.browse(model, ids):
            orders = wizard["sale_order_ids"] or list(self.context.get("active_ids") or [])
            if wizard["advance_payment_method"] != "delivered":
                raise OdooError(USER_ERROR, "The sandbox invoices regular invoices (delivered) only.")
            for order in self.browse("sale.order", orders):
                if self.invoice_status(order) != "to invoice":
                    raise OdooError(USER_ERROR, "There is no invoiceable line. If a product has a control policy "
                                    "based on received quantity, please make sure that a quantity has been "
                                    "received.")
                self._invoice(order)
        return {"name": "Invoices", "type": WINDOW, "res_model": "account.move", "view_mode": "list,form"}

    def _invoice(self, order: Record) -> int:
        move = self.create("account.move", {
            "name": False, "move_type": "out_invoice", "state": "draft", "partner_id": order["partner_id"],
            "journal_id": self.journal("sale")["id"], "invoice_origin": order["name"],
            "ref": order["client_order_ref"] or False, "date": self.now,
            "currency_id": self.value("sale.order", order, "currency_id")})
        self.tables["account.move"][move]["_sale_id"] = order["id"]
        for ln in self.lines(order):
            self.create("account.move.line", {"move_id": move, "product_id": ln["product_id"], "name": ln["name"],
                                              "quantity": ln["product_uom_qty"], "price_unit": ln["price_unit"],
                                              "discount": ln.get("discount") or 0.0,
                                              "tax_ids": [(6, 0, list(ln.get("tax_ids") or []))]})
        return move

    def rpc_refund_moves(self, model: str, ids: Any) -> dict:
        """A draft credit note per posted invoice of ``active_ids``: its lines copied, ``ref`` "Reversal of:
        <invoice>, <reason>"; the window action opens it (``res_id``)."""
        made = []
        for wizard in self.browse(model, ids):
            moves = self.browse("account.move", wizard["move_ids"] or list(self.context.get("active_ids") or []))
            for move in moves:
                if move["state"] != "posted" or move["move_type"] != "out_invoice":
                    raise OdooError(USER_ERROR, "You can only reverse posted moves.")
                note = self.create("account.move", {
                    "name": False, "move_type": "out_refund", "state": "draft", "partner_id": move["partner_id"],
                    "journal_id": wizard["journal_id"] or move["journal_id"], "currency_id": move["currency_id"],
                    "invoice_origin": move["invoice_origin"], "date": self.now, "reversed_entry_id": move["id"],
                    "ref": f"Reversal of: {move['name']}" + (f", {wizard['reason']}" if wizard["reason"] else "")})
                for ln in [x for x in self.tables["account.move.line"].values() if x["move_id"] == move["id"]]:
                    self.create("account.move.line", {
                        "move_id": note, "product_id": ln["product_id"], "name": ln["name"],
                        "quantity": ln["quantity"], "price_unit": ln["price_unit"], "discount": ln["discount"],
                        "tax_ids": [(6, 0, list(ln["tax_ids"]))]})
                made.append(note)
        action = {"name": "Credit Note", "type": WINDOW, "res_model": "account.move", "view_mode": "form",
                  "context": {"default_move_type": "out_refund"}}
        return {**action, "res_id": made[0]} if len(made) == 1 else {**action, "domain": [("id", "in", made)]}

    def rpc_action_post(self, model: str, ids: Any) -> bool:
        moves = self.browse(model, ids)
        for move in moves:
            if move["state"] == "posted":
                raise OdooError(USER_ERROR, f"The entry {move['name']} (id {move['id']}) is already posted.")
        for move in moves:
            prefix = {"out_invoice": "INV", "out_refund": "RINV"}.get(move["move_type"], "MISC")
            year = self.now.year
            self.sequences[f"{prefix}/{year}"] += 1
            self.write(model, move, {"state": "posted",
                                     "name": f"{prefix}/{year}/{self.sequences[f'{prefix}/{year}']:05d}"})
        return True

    def rpc_action_create_payments(self, model: str, ids: Any) -> dict:
        if self.context.get("active_model") != "account.move":
            raise OdooError(USER_ERROR, "The register payment wizard should only be called on account.move or "
                            "account.move.line records.")
        moves = self.browse("account.move", list(self.context.get("active_ids") or []))
        if not moves or any(m["state"] != "posted" for m in moves):
            raise OdooError(USER_ERROR, "You can only register payment for posted journal entries.")
        made = 0
        for wizard in self.browse(model, ids):
            for move in moves:
                made = self._pay(wizard, move)
        return {"name": "Payments", "type": WINDOW, "res_model": "account.payment", "context": {"create": False},
                "view_mode": "form", "res_id": made}

    def _pay(self, wizard: Record, move: Record) -> int:
        journal = self.tables["account.journal"].get(wizard["journal_id"]) or self.journal("bank")
        amount = Decimal(str(wizard["amount"])) if wizard["amount"] else self.residual(move)
        key = f"P{journal['code']}/{self.now.year}"
        self.sequences[key] += 1
        inbound = move["move_type"] == "out_invoice"
        payment = self.create("account.payment", {
            "name": f"{key}/{self.sequences[key]:05d}",
            "memo": wizard["communication"] or move["name"], "amount": float(amount),
            "currency_id": wizard["currency_id"] or move["currency_id"], "journal_id": journal["id"],
            "partner_id": move["partner_id"], "date": self.now, "state": "paid",
            "payment_type": "inbound" if inbound else "outbound", "partner_type": "customer",
            "reconciled_invoice_ids": [(6, 0, [move["id"]])]})
        move["_paid"] = move.get("_paid", Decimal(0)) + amount
        return payment

    def journal(self, kind: str) -> Record:
        for j in sorted(self.tables["account.journal"].values(), key=lambda j: j["id"]):
            if j["type"] == kind:
                return j
        raise OdooError(USER_ERROR, f"No journal of type {kind} could be found.")
