"""The sandbox's ORM: Odoo 17 records in memory and the model methods an integration calls over ``execute_kw``.

``call()`` is ``odoo.service.model.execute_kw`` for one request: it refuses unknown models and private
methods as Odoo does, binds ``args``/``kwargs`` against the method's real signature (``search(domain,
offset, limit, order)``, ``read(ids, fields)``, ``create(vals_list)``, ...), and runs it as one
transaction: every write of the call shares one ``write_date`` (``cr.now()``), and an error rolls the
whole call back. Business rules follow ``sale`` / ``sale_stock``: ``action_confirm`` only from
draft/sent and creates the outgoing picking; ``action_cancel`` refuses a locked order and, unless the
context has ``disable_cancel_warning``, answers with the cancel wizard's window action instead of
cancelling a confirmed order; a done delivery stays done when its order is cancelled.

Callers hold the sandbox lock around ``begin()`` ... ``commit()``/``rollback()``.
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.odoo.accounting import ACCOUNTING_ACTIONS, Accounting
from sandbox.odoo.amounts import Tax, currency_round, line_amounts, order_amounts
from sandbox.odoo.domain import compile_domain, parse_order, sort_records
from sandbox.odoo.models import (
    ACCESS_ERROR,
    ATTRIBUTE_ERROR,
    COUNTRIES,
    MODELS,
    NOT_SIMULATED,
    TYPE_ERROR,
    USER_ERROR,
    VALUE_ERROR,
    OdooError,
    fields_of,
    foreign_key,
    format_datetime,
    get_field,
    invalid_field,
    missing,
    not_null,
    to_datetime,
)
from sandbox.odoo.returns import RETURN_ACTIONS, Returns

logger = logging.getLogger(__name__)

Record = dict[str, Any]
LOG_ACCESS = frozenset({"id", "create_date", "write_date", "create_uid", "write_uid", "display_name"})
REAL_BUT_NOT_SIMULATED = frozenset({
    "unlink", "copy", "name_search", "name_create", "fields_get", "read_group", "default_get", "onchange",
    "web_read", "web_search_read", "exists", "action_archive", "action_unarchive", "toggle_active",
    "check_access_rights", "action_assign", "action_draft", "action_quotation_send"})
ACTIONS = {"sale.order": ("action_confirm", "action_cancel", "message_post"), **ACCOUNTING_ACTIONS,
           **RETURN_ACTIONS}
STOCK, CUSTOMERS = "WH/Stock", "Partners/Customers"
COMPANY_CURRENCY = "USD"  # a fresh database with the generic chart of accounts, as ../shared/peers/odoo
CURRENCIES = (("USD", 0.01, 2), ("EUR", 0.01, 2), ("GBP", 0.01, 2), ("JPY", 1.0, 0), ("CAD", 0.01, 2),
              ("AUD", 0.01, 2), ("CHF", 0.01, 2), ("BRL", 0.01, 2), ("SEK", 0.01, 2))  # name, rounding, digits
INSTALLED_MODULES = (("base", "Base"), ("contacts", "Contacts"), ("sale", "Sales"),
                     ("sale_management", "Sales"), ("stock", "Inventory"), ("sale_stock", "Sales and Warehouse"),
                     ("account", "Invoicing"), ("delivery", "Delivery Costs"))


class Orm(Accounting, Returns):
    """All records of one database; ``call()`` runs one RPC inside ``begin()``/``commit()``."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.tables: dict[str, dict[int, Record]] = {m: {} for m in MODELS}
        self.next_id: Counter[str] = Counter()
        self.sequences: Counter[str] = Counter()
        self.lock_confirmed = False  # the "Lock Confirmed Sales" setting
        self.company_currency, self.default_sale_tax = 0, 0  # set by _bootstrap
        self.denied: set[tuple[str, str]] = set()  # (model, operation) the API user's groups do not grant
        self.creates: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.now, self.uid, self.context = clock(), 2, {}
        self._saved: tuple | None = None
        self._bootstrap()

    # ---- transactions -----------------------------------------------------------------------------

    def begin(self, uid: int = 2, context: dict | None = None) -> None:
        self.now, self.uid, self.context = self.clock(), uid, dict(context or {})
        self._saved = ({m: {i: dict(r) for i, r in t.items()} for m, t in self.tables.items()},
                       Counter(self.next_id), Counter(self.sequences), Counter(self.creates), Counter(self.writes))

    def rollback(self) -> None:
        if self._saved:
            self.tables, self.next_id, self.sequences, self.creates, self.writes = self._saved
        self._saved = None

    def commit(self) -> None:
        self._saved = None

    def call(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        """execute_kw(): the model, the method's name, then the method bound to args/kwargs."""
        if model not in MODELS:
            raise OdooError(USER_ERROR, f"Object {model} doesn't exist")
        if method.startswith("_"):
            raise OdooError(ACCESS_ERROR, f"Private methods (such as {method}) cannot be called remotely.")
        kwargs = dict(kwargs)
        self.context.update(kwargs.pop("context", None) or {})
        if method in ("search", "search_count", "search_read", "read", "create", "write", "has_access") or \
                method in ACTIONS.get(model, ()):
            fn = getattr(self, f"rpc_{method}")
        elif method in REAL_BUT_NOT_SIMULATED:
            raise OdooError(NOT_SIMULATED, f"The sandbox does not simulate {model}.{method}()")
        else:
            raise OdooError(ATTRIBUTE_ERROR, f"The method '{method}' does not exist on the model '{model}'")
        try:
            bound = inspect.signature(fn).bind(model, *args, **kwargs)
        except TypeError as exc:
            raise OdooError(TYPE_ERROR, f"BaseModel.{method}() {exc}") from exc
        return fn(*bound.args, **bound.kwargs)

    # ---- model methods (the rpc_ prefix keeps Odoo's argument names for binding) -------------------

    def rpc_has_access(self, model: str, ids: list, operation: str) -> bool:
        """BaseModel.has_access(operation) (Odoo 18+): the user's groups' rights on the model, then the records'."""
        if operation not in ("read", "write", "create", "unlink"):
            raise OdooError(VALUE_ERROR, f"Invalid access mode {operation!r}")
        return (model, operation) not in self.denied

    def rpc_search(self, model: str, domain: Any, offset: int = 0, limit: int | None = None,
                   order: str | None = None, count: bool = False) -> list[int] | int:
        found = self.search(model, domain, offset, limit, order)
        return len(found) if count else [r["id"] for r in found]

    def rpc_search_count(self, model: str, domain: Any, limit: int | None = None) -> int:
        return len(self.search(model, domain, 0, limit, None))

    def rpc_search_read(self, model: str, domain: Any = None, fields: list | None = None, offset: int = 0,
                        limit: int | None = None, order: str | None = None) -> list[Record]:
        self.check_fields(model, fields)
        return [self.read_record(model, r, fields) for r in self.search(model, domain, offset, limit, order)]

    def rpc_read(self, model: str, ids: Any, fields: list | None = None, load: str = "_classic_read") -> list[Record]:
        self.check_fields(model, fields)
        return [self.read_record(model, r, fields) for r in self.browse(model, ids)]

    def rpc_create(self, model: str, vals_list: Any) -> int | list[int]:
        single = isinstance(vals_list, dict)
        ids = [self.create(model, vals) for vals in ([vals_list] if single else list(vals_list))]
        return ids[0] if single else ids

    def rpc_write(self, model: str, ids: Any, vals: dict) -> bool:
        for rec in self.browse(model, ids):
            self.write(model, rec, vals)
            if model == "sale.order" and isinstance(vals, dict) and vals.get("partner_shipping_id"):
                self._shipping_changed(rec)
        return True

    def _shipping_changed(self, order: Record) -> None:
        """sale_stock's write: with ``update_delivery_shipping_partner`` in the context every transfer of the
        order takes the new address; without, the open ones get a warning to update it by hand."""
        pickings = self.search("stock.picking", [("sale_id", "=", order["id"])], 0, None, None)
        for picking in pickings:
            if self.context.get("update_delivery_shipping_partner"):
                picking["partner_id"] = order["partner_shipping_id"]
            elif picking["state"] not in ("done", "cancel"):
                self.create("mail.message", {
                    "model": "stock.picking", "res_id": picking["id"], "message_type": "notification",
                    "body": "<p>The delivery address has been changed on the Sales Order. You should probably "
                            "update the partner on this document.</p>"})

    def rpc_message_post(self, model: str, ids: Any, body: str = "", message_type: str = "notification",
                         subtype_xmlid: str | None = None, **_: Any) -> list[int]:
        """mail.thread.message_post: a message on the record's chatter (its body as HTML)."""
        return [self.create("mail.message", {"model": model, "res_id": rec["id"], "body": f"<p>{body}</p>",
                                             "message_type": message_type, "subtype_xmlid": subtype_xmlid or False})
                for rec in self.browse(model, ids)]

    def rpc_action_confirm(self, model: str, ids: Any) -> bool:
        orders = self.browse(model, ids)
        for order in orders:
            if order["state"] not in ("draft", "sent"):
                raise OdooError(USER_ERROR, "Some orders are not in a state requiring confirmation.")
            if any(not line["product_id"] for line in self.lines(order)):
                raise OdooError(USER_ERROR, "A line on these orders missing a product, you cannot confirm it.")
        for order in orders:
            self.write(model, order, {"state": "sale", "date_order": self.now,
                                      "locked": self.lock_confirmed})
            self._create_delivery(order)
        return True

    def rpc_action_cancel(self, model: str, ids: Any) -> bool | dict:
        orders = self.browse(model, ids)
        if any(o["locked"] for o in orders):
            raise OdooError(USER_ERROR, "You cannot cancel a locked order. Please unlock it first.")
        if not self.context.get("disable_cancel_warning") and any(o["state"] != "draft" for o in orders):
            if len(orders) != 1:
                ids = ", ".join(str(o["id"]) for o in orders)
                raise OdooError(VALUE_ERROR, f"Expected singleton: sale.order({ids})")
            # _show_cancel_wizard(): the UI's confirmation dialog comes back as a window action; nothing is cancelled
            return {"name": "Cancel Sales Order", "view_mode": "form", "res_model": "sale.order.cancel",
                    "view_id": 0, "type": "ir.actions.act_window", "target": "new",
                    "context": {"default_order_id": orders[0]["id"], "mark_so_as_canceled": True}}
        for order in orders:
            for picking in self.pickings(order):
                if picking["state"] not in ("done", "cancel"):
                    self.write("stock.picking", picking, {"state": "cancel"})
                    for move in self.moves(picking):
                        if move["state"] != "done":
                            self.write("stock.move", move, {"state": "cancel"})
            self.write(model, order, {"state": "cancel"})
        return True

    # ---- records ------------------------------------------------------------------------------------

    def search(self, model: str, domain: Any, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[Record]:
        domain = list(domain or [])
        if "active" in MODELS[model].fields and self.context.get("active_test", True) and \
                not any(isinstance(leaf, list | tuple) and leaf and leaf[0] == "active" for leaf in domain):
            domain = [("active", "=", True), *domain]
        pred = compile_domain(model, domain, self.value, self.get, self.display)
        keys = parse_order(model, order or MODELS[model].order)
        rows = sort_records(model, [r for r in self.tables[model].values() if pred(r)], keys, self.value)
        offset = int(offset or 0)
        return rows[offset:offset + int(limit)] if limit else rows[offset:]

    def browse(self, model: str, ids: Any) -> list[Record]:
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if any(not isinstance(i, int) for i in ids):
            raise OdooError(VALUE_ERROR, f"Invalid ids for {model}: {ids!r}")
        absent = [i for i in ids if i not in self.tables[model]]
        if absent:
            raise missing(model, absent, self.uid)
        return [self.tables[model][i] for i in ids]

    def get(self, model: str, rid: Any) -> Record | None:
        return self.tables[model].get(rid) if isinstance(rid, int) else None

    def create(self, model: str, vals: Any) -> int:
        if not isinstance(vals, dict):
            raise OdooError(VALUE_ERROR, f"{model}.create() expects a dict of values, not {vals!r}")
        rec: Record = {"id": 0, **self._defaults(model, vals)}
        later = self._assign(model, rec, vals, creating=True)
        for fname, f in MODELS[model].fields.items():
            if f.required and rec.get(fname) in (None, False, ""):
                raise not_null(model, fname)
        self.next_id[model] += 1
        rec.update(id=self.next_id[model], create_date=self.now, write_date=self.now)
        self.tables[model][rec["id"]] = rec
        self.creates[model] += 1
        later(rec)
        if model == "stock.return.picking":
            self.return_lines(rec)
        if model == "sale.order":  # Odoo computes both from the customer when they are not given
            for fname in ("partner_shipping_id", "partner_invoice_id"):
                rec[fname] = rec.get(fname) or rec["partner_id"]
        if model == "res.partner":
            rec["type"] = rec.get("type") or "contact"
        return rec["id"]

    def write(self, model: str, rec: Record, vals: dict) -> None:
        if not isinstance(vals, dict):
            raise OdooError(VALUE_ERROR, f"{model}.write() expects a dict of values, not {vals!r}")
        self._assign(model, rec, vals, creating=False)(rec)
        rec["write_date"] = self.now
        self.writes[model] += 1

    def _assign(self, model: str, rec: Record, vals: dict, creating: bool) -> Callable[[Record], None]:
        """Check and store ``vals``; returns what must run once the record has its id (one2many commands)."""
        unknown, commands = [], []
        for fname, v in vals.items():
            f = get_field(model, fname)
            if f is None:
                if creating:  # BaseModel.create() drops them with a warning; write() refuses
                    unknown.append(fname)
                    continue
                raise invalid_field(model, fname)
            if fname in LOG_ACCESS or (f.computed and f.type != "one2many"):
                continue
            if f.type == "one2many":
                commands.append((f, v))
            else:
                rec[fname] = self._convert(model, fname, v, rec.get(fname))
        if unknown:
            logger.warning("%s.create() includes unknown fields: %s", model, ", ".join(sorted(unknown)))

        def run_commands(saved: Record) -> None:
            for f, cmds in commands:
                for cmd in cmds or []:
                    self._one2many(f.comodel or "", f.inverse or "", saved["id"], cmd)
        return run_commands

    def _one2many(self, comodel: str, inverse: str, owner: int, cmd: Any) -> None:
        """(0, 0, values) create, (1, id, values) update, (2, id) delete a line of the record."""
        op = cmd[0] if isinstance(cmd, list | tuple) and cmd else None
        if op == 0 and len(cmd) == 3:
            self.create(comodel, {**cmd[2], inverse: owner})
        elif op in (1, 2) and len(cmd) >= 2:
            [line] = self.browse(comodel, [cmd[1]])
            if line.get(inverse) != owner:
                raise OdooError(VALUE_ERROR, f"{comodel}({cmd[1]}) is not a line of this record")
            if op == 1:
                self.write(comodel, line, cmd[2])
            else:
                del self.tables[comodel][line["id"]]
        else:
            raise OdooError(NOT_SIMULATED, f"The sandbox simulates the one2many commands 0, 1 and 2, not {cmd!r}")

    def _convert(self, model: str, fname: str, v: Any, old: Any = None) -> Any:
        f = fields_of(model)[fname]
        if f.type == "many2many":
            return self._x2many_commands(model, fname, v, list(old or []))
        if v is None or v is False:
            return False if f.type not in ("float", "monetary", "integer") else 0
        if f.type == "many2one":
            if not isinstance(v, int) or isinstance(v, bool):
                raise OdooError(VALUE_ERROR, f"Wrong value for {model}.{fname}: {v!r}")
            if v not in self.tables[f.comodel or ""]:
                raise foreign_key(model, fname)
            return v
        if f.type == "selection" and v not in f.selection:
            raise OdooError(VALUE_ERROR, f"Wrong value for {model}.{fname}: {v!r}")
        if f.type == "datetime":
            return v if isinstance(v, datetime) else to_datetime(v, model, fname)
        if f.type in ("float", "monetary"):
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise OdooError(VALUE_ERROR, f"Wrong value for {model}.{fname}: {v!r}")
            return round(float(v), self.digits(f.digits)) if f.digits is not None else float(v)
        if f.type == "integer":
            return int(v)
        if f.type == "boolean":
            return bool(v)
        return str(v)

    def digits(self, digits: int | str) -> int:
        """A precision: a number, or the ``digits`` of the decimal.precision of that name (2 if none)."""
        if isinstance(digits, int):
            return digits
        found = [r["digits"] for r in self.tables["decimal.precision"].values() if r["name"] == digits]
        return found[0] if found else 2

    def _x2many_commands(self, model: str, fname: str, cmds: Any, ids: list[int]) -> list[int]:
        """The many2many commands Odoo takes: (6, 0, ids) set, (4, id) link, (3, id) unlink, (5,) clear."""
        comodel = fields_of(model)[fname].comodel or ""
        if cmds is False or cmds is None:
            return []
        if not isinstance(cmds, list | tuple):
            raise OdooError(VALUE_ERROR, f"Wrong value for {model}.{fname}: {cmds!r}")
        for cmd in cmds:
            op = cmd[0] if isinstance(cmd, list | tuple) and cmd else cmd
            if isinstance(cmd, int) and not isinstance(cmd, bool):  # a bare list of ids: (6, 0, ids)
                ids = [*ids, cmd] if cmd not in ids else ids
                continue
            if op == 6 and len(cmd) == 3:
                ids = list(cmd[2] or [])
            elif op == 4 and len(cmd) >= 2:
                ids = [*ids, cmd[1]] if cmd[1] not in ids else ids
            elif op == 3 and len(cmd) >= 2:
                ids = [i for i in ids if i != cmd[1]]
            elif op == 5:
                ids = []
            else:
                raise OdooError(NOT_SIMULATED, f"The sandbox does not simulate the x2many command {cmd!r}")
        for i in ids:
            if not isinstance(i, int) or i not in self.tables[comodel]:
                raise foreign_key(model, fname)
        return ids

    def _defaults(self, model: str, vals: dict) -> Record:
        base: Record = {n: (0.0 if f.type in ("float", "monetary") else 0 if f.type == "integer" else
                            [] if f.type == "many2many" else False)
                        for n, f in MODELS[model].fields.items() if not f.computed}
        if "active" in base:
            base["active"] = True
        if model == "product.product":  # product.template's taxes_id: the company's default sale tax
            base.update(type="consu", list_price=1.0, sale_ok=True, taxes_id=[self.default_sale_tax])
        elif model == "account.tax":
            base.update(amount_type="percent", type_tax_use="sale", sequence=1)
        elif model == "sale.order":
            self.sequences["sale.order"] += 1
            base.update(name=f"S{self.sequences['sale.order']:05d}", state="draft", date_order=self.now)
        elif model == "sale.order.line":
            product = self.get("product.product", vals.get("product_id"))
            base.update(sequence=10, product_uom_qty=1.0, price_unit=product["list_price"] if product else 0.0,
                        name=self.display("product.product", product) if product else False,
                        tax_ids=list(product["taxes_id"]) if product else [])
        elif model == "stock.picking":
            base.update(state="draft", priority="0", scheduled_date=self.now)
        return base

    # ---- values ----------------------------------------------------------------------------------------

    def value(self, model: str, rec: Record, fname: str) -> Any:
        """A field's value for domains and orders: stored, or computed the way the model computes it."""
        if fname == "display_name":
            return self.display(model, rec)
        if fname in ("id", "create_date", "write_date"):
            return rec.get(fname)
        f = fields_of(model)[fname]
        if f.type == "one2many":
            return sorted(r["id"] for r in self.tables[f.comodel or ""].values() if r.get(f.inverse or "") == rec["id"])
        if not f.computed:
            return rec.get(fname, False)
        if (model, fname) == ("res.partner", "complete_name"):
            return rec.get("name") or False
        if (model, fname) == ("res.partner", "country_code"):
            country = self.get("res.country", rec.get("country_id"))
            return country["code"] if country else False
        if model == "sale.order" and fname in ("amount_untaxed", "amount_tax", "amount_total"):
            amounts = order_amounts([self.line_amounts(ln) for ln in self.lines(rec)], self.rounding(rec))
            return float(amounts[("amount_untaxed", "amount_tax", "amount_total").index(fname)])
        if (model, fname) == ("sale.order", "currency_id"):
            pricelist = self.get("product.pricelist", rec.get("pricelist_id"))
            return pricelist["currency_id"] if pricelist else self.company_currency
        if model == "sale.order.line" and fname in ("price_subtotal", "price_tax", "price_total"):
            amounts, order = self.line_amounts(rec), self.tables["sale.order"][rec["order_id"]]
            value = {"price_subtotal": amounts.base, "price_tax": amounts.total - amounts.base,
                     "price_total": amounts.total}[fname]
            return float(currency_round(value, self.rounding(order)))
        if (model, fname) == ("sale.order", "invoice_ids"):
            return self.invoices_of(rec)
        if (model, fname) == ("sale.order", "invoice_status"):
            return self.invoice_status(rec)
        if model == "account.move" and fname in ("amount_untaxed", "amount_tax", "amount_total"):
            return float(self.move_amounts(rec)[("amount_untaxed", "amount_tax", "amount_total").index(fname)])
        if (model, fname) == ("account.move", "amount_residual"):
            return float(self.residual(rec))
        if (model, fname) == ("account.move", "payment_state"):
            return self.payment_state(rec)
        if model == "account.move.line" and fname in ("price_subtotal", "price_total"):
            amounts, move = self.line_amounts(rec), self.tables["account.move"][rec["move_id"]]
            currency = self.tables["res.currency"].get(move["currency_id"])
            value = amounts.base if fname == "price_subtotal" else amounts.total
            return float(currency_round(value, currency["rounding"] if currency else 0.01))
        if (model, fname) == ("account.tax", "price_include"):
            return rec.get("price_include_override") == "tax_included"
        if (model, fname) == ("stock.picking", "picking_type_code"):
            return rec.get("_type", "outgoing")
        if (model, fname) == ("stock.location", "warehouse_id"):
            return 1 if str(rec.get("complete_name", "")).startswith("WH") else False
        return False

    def line_amounts(self, line: Record) -> Any:
        taxes = [self.tables["account.tax"][t] for t in line.get("tax_ids") or []]
        quantity = line["product_uom_qty"] if "product_uom_qty" in line else line["quantity"]
        return line_amounts(line["price_unit"], quantity, line.get("discount") or 0.0,
                            [Tax(t["id"], Decimal(str(t["amount"])), t.get("price_include_override") == "tax_included")
                             for t in taxes if t["amount_type"] == "percent"])

    def rounding(self, order: Record) -> float:
        currency = self.tables["res.currency"].get(self.value("sale.order", order, "currency_id"))
        return currency["rounding"] if currency else 0.01

    def display(self, model: str, rec: Record | None) -> str:
        if rec is None:
            return ""
        if model == "product.product" and rec.get("default_code"):
            return f"[{rec['default_code']}] {rec['name']}"
        if model == "stock.location":
            return rec.get("complete_name") or rec.get("name") or ""
        return rec.get("name") or ""

    def check_fields(self, model: str, fields: list | None) -> None:
        for fname in fields or []:
            if get_field(model, fname) is None:
                raise invalid_field(model, fname)

    def read_record(self, model: str, rec: Record, fields: list | None) -> Record:
        names = list(fields) if fields else [n for n in fields_of(model) if n != "id"]
        out: Record = {"id": rec["id"]}
        for fname in names:
            f = get_field(model, fname)
            if f is None:
                raise invalid_field(model, fname)
            v = self.value(model, rec, fname)
            if f.type == "many2one":
                linked = self.get(f.comodel or "", v)
                out[fname] = [v, self.display(f.comodel or "", linked)] if linked else False
            elif f.type == "datetime":
                out[fname] = format_datetime(v)
            elif f.type in ("float", "monetary"):
                out[fname] = float(v or 0.0)
            else:
                out[fname] = v if v is not None else False
        return out

    # ---- sale_stock ---------------------------------------------------------------------------------------

    def lines(self, order: Record) -> list[Record]:
        return [r for r in self.tables["sale.order.line"].values() if r["order_id"] == order["id"]]

    def pickings(self, order: Record) -> list[Record]:
        return [r for r in self.tables["stock.picking"].values() if r["sale_id"] == order["id"]]

    def location(self, complete_name: str) -> Record:
        for rec in self.tables["stock.location"].values():
            if rec["complete_name"] == complete_name:
                return rec
        raise KeyError(f"no location {complete_name!r}")

    def quant(self, product_id: int, location_id: int) -> Record:
        for rec in self.tables["stock.quant"].values():
            if rec["product_id"] == product_id and rec["location_id"] == location_id:
                return rec
        return self.tables["stock.quant"][self.create("stock.quant", {"product_id": product_id,
                                                                       "location_id": location_id})]

    def _create_delivery(self, order: Record) -> None:
        """The outgoing picking of a confirmed order: ready (assigned) when every storable line is in stock
        at WH/Stock (reservations by other pickings are not counted), else waiting (confirmed)."""
        goods = [(ln, self.tables["product.product"][ln["product_id"]]) for ln in self.lines(order)]
        goods = [(ln, p) for ln, p in goods if p["type"] in ("product", "consu")]
        if not goods:
            return
        stock = self.location(STOCK)["id"]
        short = any(p["type"] == "product" and self.quant(p["id"], stock)["quantity"] < ln["product_uom_qty"]
                    for ln, p in goods)
        self._new_picking(order, "confirmed" if short else "assigned",
                          [(p["id"], ln["product_uom_qty"], self.display("product.product", p)) for ln, p in goods])

    def _new_picking(self, order: Record, state: str, moves: list[tuple[int, float, str]],
                     backorder_of: Record | None = None) -> Record:
        """An outgoing picking of ``order`` with one move per (product, demand, description)."""
        self.sequences["WH/OUT"] += 1
        stock, customers = self.location(STOCK)["id"], self.location(CUSTOMERS)["id"]
        picking = self.tables["stock.picking"][self.create("stock.picking", {
            "name": f"WH/OUT/{self.sequences['WH/OUT']:05d}", "origin": order["name"], "sale_id": order["id"],
            "partner_id": order["partner_shipping_id"] or order["partner_id"], "state": state, "location_id": stock,
            "location_dest_id": customers,
            "backorder_id": backorder_of["id"] if backorder_of else False})]
        for product_id, demand, name in moves:
            self.create("stock.move", {"name": name, "picking_id": picking["id"], "product_id": product_id,
                                       "product_uom_qty": demand, "quantity": 0.0, "state": state,
                                       "location_id": stock, "location_dest_id": customers})
        return picking

    def moves(self, picking: Record) -> list[Record]:
        return [m for m in self.tables["stock.move"].values() if m["picking_id"] == picking["id"]]

    def deliver(self, picking: Record, carrier_id: int | bool, tracking_ref: str | None,
                quantities: dict[int, float] | None = None, backorder: bool = True) -> Record | None:
        """button_validate(): stock leaves WH/Stock for Partners/Customers. ``quantities`` (product id ->
        quantity picked; every demand when None) may ship less: then, as the backorder wizard does, what is
        left goes to a new picking (``backorder_id`` = this one; returned) or, without a backorder, its
        moves are cancelled. A move picked at 0 leaves this picking whole."""
        left: list[tuple[int, float, str]] = []
        for move in self.moves(picking):
            if move["state"] in ("done", "cancel"):
                continue
            demand = move["product_uom_qty"]
            done = demand if quantities is None else max(0.0, min(demand, float(quantities.get(move["product_id"], 0))))
            if done < demand:
                left.append((move["product_id"], demand - done, move["name"]))
            if not done:
                if backorder:
                    self._drop(move)
                else:
                    self.write("stock.move", move, {"state": "cancel"})
                continue
            for loc, sign in ((picking["location_id"], -1), (picking["location_dest_id"], 1)):
                q = self.quant(move["product_id"], loc)
                self.write("stock.quant", q, {"quantity": q["quantity"] + sign * done})
            self.write("stock.move", move, {"product_uom_qty": done, "quantity": done, "state": "done"})
            if done < demand and not backorder:  # the split-off rest, cancelled (stock.move._split + _action_cancel)
                self.create("stock.move", {"name": move["name"], "picking_id": picking["id"],
                                           "product_id": move["product_id"], "product_uom_qty": demand - done,
                                           "quantity": 0.0, "state": "cancel", "location_id": move["location_id"],
                                           "location_dest_id": move["location_dest_id"]})
        if not any(m["state"] == "done" for m in self.moves(picking)):
            raise OdooError(USER_ERROR, "You cannot validate a transfer if no quantities are reserved nor done.")
        self.write("stock.picking", picking, {"state": "done", "date_done": self.now,  # cr.now(), microseconds too
                                              "carrier_id": carrier_id, "carrier_tracking_ref": tracking_ref or False})
        if left and backorder:
            return self._new_picking(self.tables["sale.order"][picking["sale_id"]], "assigned", left, picking)
        return None

    def _drop(self, move: Record) -> None:
        """A move picked at 0 with a backorder: it moves to the backorder whole (recreated there)."""
        del self.tables["stock.move"][move["id"]]

    def _bootstrap(self) -> None:
        """What a fresh database with sale_stock and delivery installed holds."""
        self.begin()
        for code, name in COUNTRIES:
            self.create("res.country", {"name": name, "code": code})
        for name in ("My Company", "OdooBot", "Mitchell Admin"):
            self.create("res.partner", {"name": name})
        for complete, usage in (("Physical Locations", "view"), ("Partners", "view"), ("Partners/Vendors", "supplier"),
                                (CUSTOMERS, "customer"), ("WH", "view"), (STOCK, "internal")):
            self.create("stock.location", {"name": complete.rsplit("/", 1)[-1], "complete_name": complete,
                                           "usage": usage})
        self.create("stock.warehouse", {"name": "My Company", "code": "WH", "sequence": 10,
                                        "lot_stock_id": self.location(STOCK)["id"]})
        for name, desc in INSTALLED_MODULES:
            self.create("ir.module.module", {"name": name, "shortdesc": desc, "state": "installed"})
        for name in ("Product Unit", "Percentage Analytic", "Product Price", "Discount", "Stock Weight", "Volume"):
            self.create("decimal.precision", {"name": name, "digits": 2})
        for name, rounding, places in CURRENCIES:
            self.create("res.currency", {"name": name, "rounding": rounding, "decimal_places": places,
                                         "active": name == COMPANY_CURRENCY})
        self.company_currency = self.search("res.currency", [("name", "=", COMPANY_CURRENCY)])[0]["id"]
        self.create("product.pricelist", {"name": "Default", "currency_id": self.company_currency})
        for name, amount, use in (("15%", 15.0, "sale"), ("15%", 15.0, "purchase"), ("0% Exports", 0.0, "sale"),
                                  ("0% Imports", 0.0, "purchase")):
            self.create("account.tax", {"name": name, "amount": amount, "type_tax_use": use})
        self.default_sale_tax = 1  # the company's account_sale_tax_id: the 15% sale tax
        for name, code, kind in (("Sales", "INV", "sale"), ("Purchases", "BILL", "purchase"),
                                 ("Miscellaneous Operations", "MISC", "general"), ("Exchange Difference", "EXCH",
                                                                                  "general"),
                                 ("Cash Basis Taxes", "CABA", "general"), ("Bank", "BNK1", "bank"),
                                 ("Inventory Valuation", "STJ", "general")):
            self.create("account.journal", {"name": name, "code": code, "type": kind})
        self.creates.clear()
        self.commit()
