"""The sandbox's returns, as Odoo 19's stock wizards run them over ``execute_kw`` (seen on the real one):
``stock.return.picking.create({picking_id})`` lists the done picking's moves as lines of quantity 0;
``action_create_returns`` makes an incoming picking (``WH/IN/<00001>``, origin ``Return of <picking>``,
``return_id`` the picking) of the lines' quantities, ready; the moves' ``quantity`` and ``picked`` are
written, then ``stock.picking.button_validate`` puts the units back in WH/Stock.
"""

from __future__ import annotations

from typing import Any

from sandbox.odoo.models import USER_ERROR, OdooError

Record = dict[str, Any]
RETURN_ACTIONS = {"stock.return.picking": ("action_create_returns",), "stock.picking": ("button_validate",)}
CUSTOMERS, STOCK = "Partners/Customers", "WH/Stock"


class Returns:
    """Mixed into the sandbox's ``Orm``."""

    tables: dict[str, dict[int, Record]]
    sequences: Any
    now: Any

    def return_lines(self, wizard: Record) -> None:
        """What a new wizard shows: a line per done move of its picking, quantity 0 (Odoo 19's default)."""
        picking = self.tables["stock.picking"].get(wizard["picking_id"])
        if picking is None or picking["state"] != "done":
            raise OdooError(USER_ERROR, "You may only return Done pickings.")
        for move in self.moves(picking):
            if move["state"] == "done":
                self.create("stock.return.picking.line", {"wizard_id": wizard["id"], "product_id": move["product_id"],
                                                          "quantity": 0.0, "move_id": move["id"]})

    def rpc_action_create_returns(self, model: str, ids: Any) -> dict:
        made = 0
        for wizard in self.browse(model, ids):
            origin = self.tables["stock.picking"][wizard["picking_id"]]
            lines = [ln for ln in self.tables["stock.return.picking.line"].values()
                     if ln["wizard_id"] == wizard["id"] and ln["quantity"] > 0]
            if not lines:
                raise OdooError(USER_ERROR, "Please specify at least one non-zero quantity.")
            self.sequences["WH/IN"] += 1
            stock, customers = self.location(STOCK)["id"], self.location(CUSTOMERS)["id"]
            made = self.create("stock.picking", {
                "name": f"WH/IN/{self.sequences['WH/IN']:05d}", "origin": f"Return of {origin['name']}",
                "sale_id": origin["sale_id"], "partner_id": origin["partner_id"], "state": "assigned",
                "location_id": customers, "location_dest_id": stock, "return_id": origin["id"]})
            self.tables["stock.picking"][made]["_type"] = "incoming"
            for ln in lines:
                self.create("stock.move", {"name": self.display("product.product",
                                                                self.tables["product.product"][ln["product_id"]]),
                                           "picking_id": made, "product_id": ln["product_id"],
                                           "product_uom_qty": ln["quantity"], "quantity": ln["quantity"],
                                           "state": "assigned", "location_id": customers, "location_dest_id": stock})
        return {"name": "Returned Picking", "type": "ir.actions.act_window", "res_model": "stock.picking",
                "res_id": made, "view_mode": "form"}

    def rpc_button_validate(self, model: str, ids: Any) -> bool:
        """An incoming (return) picking: its picked quantities move from Customers back to WH/Stock. Outgoing
        deliveries are validated through the sandbox's ``deliver`` control."""
        for picking in self.browse(model, ids):
            if picking.get("_type") != "incoming":
                raise OdooError(USER_ERROR, "The sandbox validates returns only; deliver a delivery with "
                                "/_sandbox/deliver")
            if picking["state"] == "done":
                raise OdooError(USER_ERROR, "You cannot validate a transfer that is already done.")
            moves = [m for m in self.moves(picking) if m["state"] != "cancel" and m["quantity"] > 0]
            if not moves:
                raise OdooError(USER_ERROR, "You cannot validate a transfer if no quantities are reserved nor done.")
            for move in moves:
                for loc, sign in ((picking["location_id"], -1), (picking["location_dest_id"], 1)):
                    q = self.quant(move["product_id"], loc)
                    self.write("stock.quant", q, {"quantity": q["quantity"] + sign * move["quantity"]})
                self.write("stock.move", move, {"state": "done"})
            self.write("stock.picking", picking, {"state": "done", "date_done": self.now})
        return True
