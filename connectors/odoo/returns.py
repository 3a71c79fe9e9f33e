"""Returned goods back into Odoo's stock: returns of a sale order's done deliveries (``stock.return.picking``),
validated, for what the shop's refunds restocked after shipping.

Idempotent by quantities: what the order's earlier returns brought back is counted first, and only the rest
is returned, so a retry or a replay returns nothing twice; a return made but not validated (a lost answer)
is validated. Units never delivered in Odoo cannot be returned and are left out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from connectors.outbound import Permanent

from .client import OdooClient

logger = logging.getLogger(__name__)


class Returns:
    def __init__(self, client: OdooClient) -> None:
        self.client = client

    def ensure_returned(self, order_id: int, want: dict[str, Decimal]) -> list[str]:
        """Returns of the sale order's done deliveries until ``want`` {sku: units} has come back; the names of
        the returns made or validated now."""
        deliveries = self.client.search_read("stock.picking", [
            ("sale_id", "=", order_id), ("picking_type_code", "=", "outgoing"), ("state", "=", "done")],
            ["name"], order="id asc")
        if not deliveries or not any(want.values()):
            return []
        returns = self.client.search_read("stock.picking", [
            ("return_id", "in", [d["id"] for d in deliveries]), ("state", "!=", "cancel")], ["name", "state"])
        done = [self._validate(r) for r in returns if r["state"] != "done"]
        back = self._by_sku([r["id"] for r in returns])
        owed = {sku: n - back.get(sku, Decimal(0)) for sku, n in want.items() if n > back.get(sku, Decimal(0))}
        for delivery in deliveries:
            if not owed:
                break
            made = self._return(delivery, owed)
            if made:
                done.append(made)
        return done

    def _by_sku(self, picking_ids: list[int]) -> dict[str, Decimal]:
        if not picking_ids:
            return {}
        moves = self.client.search_read("stock.move", [("picking_id", "in", picking_ids), ("state", "!=", "cancel")],
                                        ["product_id", "quantity"])
        codes = self.client.product_codes(sorted({m["product_id"][0] for m in moves}))
        out: dict[str, Decimal] = defaultdict(Decimal)
        for m in moves:
            if codes.get(m["product_id"][0]):
                out[codes[m["product_id"][0]]] += Decimal(str(m["quantity"]))
        return dict(out)

    def _return(self, delivery: dict[str, Any], owed: dict[str, Decimal]) -> str | None:
        """A return of what ``delivery`` shipped of ``owed`` (lowered by what it takes), validated."""
        ctx = {"context": {"active_id": delivery["id"], "active_ids": [delivery["id"]],
                           "active_model": "stock.picking"}}
        wizard = self.client.execute_kw("stock.return.picking", "create", [{"picking_id": delivery["id"]}], ctx)
        line_ids = self.client.execute_kw("stock.return.picking", "read", [[wizard]], {
            "fields": ["product_return_moves"]})[0]["product_return_moves"]
        lines = self.client.execute_kw("stock.return.picking.line", "read", [line_ids], {
            "fields": ["product_id", "move_id"]})
        moves = {m["id"]: Decimal(str(m["quantity"])) for m in self.client.execute_kw(
            "stock.move", "read", [[ln["move_id"][0] for ln in lines if ln["move_id"]]], {"fields": ["quantity"]})}
        codes = self.client.product_codes(sorted({ln["product_id"][0] for ln in lines if ln["product_id"]}))
        taken = 0
        for ln in lines:
            sku = codes.get(ln["product_id"][0]) if ln["product_id"] else None
            units = min(owed.get(sku, Decimal(0)), moves.get(ln["move_id"][0], Decimal(0))) if sku else Decimal(0)
            if units > 0:
                self.client.execute_kw("stock.return.picking.line", "write", [[ln["id"]], {"quantity": float(units)}])
                owed[sku] -= units
                taken += 1
                if not owed[sku]:
                    del owed[sku]
        if not taken:
            return None
        made = self.client.execute_kw("stock.return.picking", "action_create_returns", [[wizard]], ctx)
        picking = self.client.execute_kw("stock.picking", "read", [[int(made["res_id"])]], {
            "fields": ["name", "state"]})
        logger.info("odoo return %s made of %s", picking[0]["name"], delivery["name"])
        return self._validate(picking[0])

    def _validate(self, picking: dict[str, Any]) -> str:
        moves = self.client.search_read("stock.move", [("picking_id", "=", picking["id"]), ("state", "!=", "cancel")],
                                        ["product_uom_qty"])
        for m in moves:
            self.client.execute_kw("stock.move", "write", [[m["id"]], {"quantity": m["product_uom_qty"],
                                                                      "picked": True}])
        # skip_sms: stock_sms would answer with its "text the customer?" wizard instead of validating
        answer = self.client.execute_kw("stock.picking", "button_validate", [[picking["id"]]],
                                        {"context": {"skip_sms": True}})
        if answer is not True:
            state = self.client.search_read("stock.picking", [("id", "=", picking["id"])], ["state"])
            if not state or state[0]["state"] != "done":
                raise Permanent(f"odoo return {picking['name']} was not validated; Odoo answered {answer!r}")
        return picking["name"]
