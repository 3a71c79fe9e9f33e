"""The Odoo models the sandbox holds, their fields, and the errors its ORM raises, as Odoo words them.

Only what an ERP integration touches: partners and countries, products, sale orders and their lines,
outgoing pickings, carriers, quants, locations and the one warehouse. Each model lists its fields with
Odoo's types (``many2one`` read back as ``[id, display_name]``, ``one2many`` as a list of ids, datetimes
as ``"YYYY-MM-DD HH:MM:SS"`` UTC). ``OdooError`` carries the exception's dotted name the way
``odoo.http.serialize_exception`` reports it (``odoo.exceptions.UserError``, ``builtins.ValueError``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # odoo.tools.DEFAULT_SERVER_DATETIME_FORMAT

USER_ERROR = "odoo.exceptions.UserError"
VALIDATION_ERROR = "odoo.exceptions.ValidationError"
MISSING_ERROR = "odoo.exceptions.MissingError"
ACCESS_ERROR = "odoo.exceptions.AccessError"
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
VALUE_ERROR = "builtins.ValueError"
TYPE_ERROR = "builtins.TypeError"
KEY_ERROR = "builtins.KeyError"
NAME_ERROR = "builtins.NameError"
ATTRIBUTE_ERROR = "builtins.AttributeError"
NOT_SIMULATED = "builtins.NotImplementedError"

# Messages of faults a test can inject by name alone (psycopg2 ends its messages with a newline)
DEFAULT_MESSAGES = {
    "psycopg2.errors.SerializationFailure": "could not serialize access due to concurrent update\n",
    "psycopg2.errors.LockNotAvailable": 'could not obtain lock on row in relation "stock_quant"\n',
    "psycopg2.errors.DeadlockDetected": "deadlock detected\n",
    "psycopg2.OperationalError": "server closed the connection unexpectedly\n",
    USER_ERROR: "The operation cannot be completed.",
    VALIDATION_ERROR: "The operation cannot be completed.",
    ACCESS_DENIED: "Access Denied",
}


class OdooError(Exception):
    """An exception as it leaves Odoo: its dotted class name, message and ``args``."""

    def __init__(self, name: str, message: str, arguments: list | None = None) -> None:
        super().__init__(message)
        self.name, self.message = name, message
        self.arguments = [message] if arguments is None else arguments

    def data(self) -> dict:
        """``odoo.http.serialize_exception()``: the ``error.data`` member of a JSON-RPC answer."""
        short = self.name.removeprefix("builtins.")
        debug = ("Traceback (most recent call last):\n"
                 '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1784, in _serve_db\n'
                 "    return service_model.retrying(self._serve_ir_http, self.env)\n"
                 f"{short}: {self.message}\n")
        return {"name": self.name, "debug": debug, "message": self.message, "arguments": self.arguments,
                "context": {}}


@dataclass(frozen=True)
class Field:
    type: str  # char text selection float monetary integer boolean datetime many2one one2many many2many
    string: str = ""
    comodel: str | None = None
    inverse: str | None = None  # one2many: the many2one on the comodel pointing back
    required: bool = False
    computed: bool = False  # not stored: read-only, writes are ignored
    selection: tuple[str, ...] = ()
    digits: int | str | None = None  # a float's decimal precision (or a decimal.precision's name): writes round


@dataclass(frozen=True)
class Model:
    description: str
    order: str  # the model's _order
    fields: dict[str, Field] = field(default_factory=dict)


def _f(type_: str, string: str = "", **kw: object) -> Field:
    return Field(type_, string, **kw)  # type: ignore[arg-type]


BASE_FIELDS = {
    "id": _f("integer", "ID", computed=True),
    "display_name": _f("char", "Display Name", computed=True),
    "create_date": _f("datetime", "Created on", computed=True),
    "write_date": _f("datetime", "Last Updated on", computed=True),
}

MODELS: dict[str, Model] = {
    "ir.module.module": Model("Module", "name, id", {
        "name": _f("char", "Technical Name", required=True), "shortdesc": _f("char", "Module Name"),
        "state": _f("selection", "Status", selection=("uninstallable", "uninstalled", "installed", "to upgrade",
                                                        "to remove", "to install"))}),
    "res.country": Model("Country", "name", {
        "name": _f("char", "Country Name", required=True), "code": _f("char", "Country Code")}),
    "res.partner": Model("Contact", "complete_name ASC, id DESC", {
        "name": _f("char", "Name"), "complete_name": _f("char", "Complete Name", computed=True),
        "email": _f("char", "Email"), "phone": _f("char", "Phone"),
        "street": _f("char", "Street"), "street2": _f("char", "Street2"), "city": _f("char", "City"),
        "zip": _f("char", "Zip"), "country_id": _f("many2one", "Country", comodel="res.country"),
        "country_code": _f("char", "Country Code", computed=True), "active": _f("boolean", "Active"),
        "parent_id": _f("many2one", "Related Company", comodel="res.partner"),
        "type": _f("selection", "Address Type", selection=("contact", "invoice", "delivery", "other"))}),
    "decimal.precision": Model("Decimal Precision", "id", {
        "name": _f("char", "Usage", required=True), "digits": _f("integer", "Digits", required=True)}),
    "res.currency": Model("Currency", "active desc, name", {
        "name": _f("char", "Currency", required=True), "active": _f("boolean", "Active"),
        "rounding": _f("float", "Rounding Factor"), "decimal_places": _f("integer", "Decimal Places")}),
    "account.tax": Model("Tax", "sequence,id", {
        "name": _f("char", "Tax Name", required=True), "sequence": _f("integer", "Sequence"),
        "amount": _f("float", "Amount", digits=4), "active": _f("boolean", "Active"),
        "amount_type": _f("selection", "Tax Computation", selection=("group", "fixed", "percent", "division")),
        "type_tax_use": _f("selection", "Tax Type", selection=("sale", "purchase", "none")),
        "price_include_override": _f("selection", "Included in Price", selection=("tax_included", "tax_excluded")),
        "price_include": _f("boolean", "Price Include", computed=True)}),
    "product.pricelist": Model("Pricelist", "sequence, id, name", {
        "name": _f("char", "Pricelist Name", required=True), "sequence": _f("integer", "Sequence"),
        "currency_id": _f("many2one", "Currency", comodel="res.currency", required=True),
        "active": _f("boolean", "Active")}),
    "product.product": Model("Product Variant", "default_code, name, id", {
        "default_code": _f("char", "Internal Reference"), "name": _f("char", "Name", required=True),
        "list_price": _f("float", "Sales Price"), "active": _f("boolean", "Active"),
        "type": _f("selection", "Product Type", selection=("consu", "service", "product")),
        "sale_ok": _f("boolean", "Can be Sold"),
        "taxes_id": _f("many2many", "Sales Taxes", comodel="account.tax")}),
    "sale.order": Model("Sales Order", "date_order desc, id desc", {
        "name": _f("char", "Order Reference"), "client_order_ref": _f("char", "Customer Reference"),
        "partner_id": _f("many2one", "Customer", comodel="res.partner", required=True),
        "partner_shipping_id": _f("many2one", "Delivery Address", comodel="res.partner"),
        "partner_invoice_id": _f("many2one", "Invoice Address", comodel="res.partner"),
        "state": _f("selection", "Status", selection=("draft", "sent", "sale", "cancel")),
        "date_order": _f("datetime", "Order Date"), "note": _f("text", "Terms and conditions"),
        "locked": _f("boolean", "Locked"), "amount_total": _f("monetary", "Total", computed=True),
        "amount_untaxed": _f("monetary", "Untaxed Amount", computed=True),
        "amount_tax": _f("monetary", "Taxes", computed=True),
        "pricelist_id": _f("many2one", "Pricelist", comodel="product.pricelist"),
        "invoice_ids": _f("many2many", "Invoices", comodel="account.move", computed=True),
        "invoice_status": _f("selection", "Invoice Status", computed=True,
                             selection=("upselling", "invoiced", "to invoice", "no")),
        "currency_id": _f("many2one", "Currency", comodel="res.currency", computed=True),
        "order_line": _f("one2many", "Order Lines", comodel="sale.order.line", inverse="order_id"),
        "picking_ids": _f("one2many", "Transfers", comodel="stock.picking", inverse="sale_id", computed=True)}),
    "sale.order.line": Model("Sales Order Line", "order_id, sequence, id", {
        "order_id": _f("many2one", "Order Reference", comodel="sale.order", required=True),
        "sequence": _f("integer", "Sequence"), "name": _f("text", "Description"),
        "product_id": _f("many2one", "Product", comodel="product.product"),
        "product_uom_qty": _f("float", "Quantity"), "price_unit": _f("float", "Unit Price", digits="Product Price"),
        "discount": _f("float", "Discount (%)", digits="Discount"),
        "tax_ids": _f("many2many", "Taxes", comodel="account.tax"),
        "is_delivery": _f("boolean", "Is a Delivery"),
        "price_subtotal": _f("monetary", "Subtotal", computed=True),
        "price_tax": _f("float", "Total Tax", computed=True),
        "price_total": _f("monetary", "Total", computed=True)}),
    "account.journal": Model("Journal", "sequence, type, code", {
        "name": _f("char", "Journal Name", required=True), "code": _f("char", "Short Code"),
        "sequence": _f("integer", "Sequence"),
        "type": _f("selection", "Type", selection=("sale", "purchase", "cash", "bank", "credit", "general"))}),
    "account.move": Model("Journal Entry", "date desc, name desc, id desc", {
        "name": _f("char", "Number"), "ref": _f("char", "Reference"), "invoice_origin": _f("char", "Origin"),
        "move_type": _f("selection", "Type", selection=("entry", "out_invoice", "out_refund", "in_invoice",
                                                         "in_refund")),
        "state": _f("selection", "Status", selection=("draft", "posted", "cancel")),
        "partner_id": _f("many2one", "Partner", comodel="res.partner"),
        "journal_id": _f("many2one", "Journal", comodel="account.journal"),
        "currency_id": _f("many2one", "Currency", comodel="res.currency"),
        "date": _f("datetime", "Date"), "reversed_entry_id": _f("many2one", "Reversal of", comodel="account.move"),
        "invoice_line_ids": _f("one2many", "Invoice lines", comodel="account.move.line", inverse="move_id"),
        "amount_untaxed": _f("monetary", "Untaxed Amount", computed=True),
        "amount_tax": _f("monetary", "Tax", computed=True),
        "amount_total": _f("monetary", "Total", computed=True),
        "amount_residual": _f("monetary", "Amount Due", computed=True),
        "payment_state": _f("selection", "Payment Status", computed=True,
                            selection=("not_paid", "in_payment", "paid", "partial", "reversed"))}),
    "account.move.line": Model("Journal Item", "date desc, move_name desc, id", {
        "move_id": _f("many2one", "Journal Entry", comodel="account.move", required=True),
        "product_id": _f("many2one", "Product", comodel="product.product"), "name": _f("char", "Label"),
        "quantity": _f("float", "Quantity"), "price_unit": _f("float", "Unit Price", digits="Product Price"),
        "discount": _f("float", "Discount (%)", digits="Discount"),
        "tax_ids": _f("many2many", "Taxes", comodel="account.tax"),
        "price_subtotal": _f("monetary", "Subtotal", computed=True),
        "price_total": _f("monetary", "Total", computed=True)}),
    "account.payment": Model("Payments", "date desc, name desc", {
        "name": _f("char", "Number"), "memo": _f("char", "Memo"), "amount": _f("monetary", "Amount"),
        "currency_id": _f("many2one", "Currency", comodel="res.currency"),
        "journal_id": _f("many2one", "Journal", comodel="account.journal"),
        "partner_id": _f("many2one", "Customer/Vendor", comodel="res.partner"),
        "date": _f("datetime", "Date"),
        "state": _f("selection", "Status", selection=("draft", "in_process", "paid", "canceled", "rejected")),
        "payment_type": _f("selection", "Payment Type", selection=("outbound", "inbound")),
        "partner_type": _f("selection", "Partner Type", selection=("customer", "supplier")),
        "reconciled_invoice_ids": _f("many2many", "Reconciled Invoices", comodel="account.move")}),
    "sale.advance.payment.inv": Model("Sales Advance Payment Invoice", "id", {
        "advance_payment_method": _f("selection", "Create Invoice",
                                     selection=("delivered", "percentage", "fixed")),
        "sale_order_ids": _f("many2many", "Sale Orders", comodel="sale.order")}),
    "mail.message": Model("Message", "id desc", {
        "model": _f("char", "Related Document Model"), "res_id": _f("integer", "Related Document ID"),
        "body": _f("html", "Contents"), "message_type": _f("selection", "Type",
                                                          selection=("email", "comment", "notification")),
        "subtype_xmlid": _f("char", "Subtype")}),
    "account.move.reversal": Model("Account move reversal", "id", {
        "reason": _f("char", "Reason displayed on Credit Note"), "date": _f("datetime", "Reversal date"),
        "journal_id": _f("many2one", "Use Specific Journal", comodel="account.journal"),
        "move_ids": _f("many2many", "Move", comodel="account.move")}),
    "account.payment.register": Model("Pay", "id", {
        "journal_id": _f("many2one", "Journal", comodel="account.journal"),
        "amount": _f("monetary", "Amount"), "currency_id": _f("many2one", "Currency", comodel="res.currency"),
        "communication": _f("char", "Memo"), "payment_date": _f("char", "Payment Date"),
        "group_payment": _f("boolean", "Group Payments")}),
    "stock.location": Model("Inventory Locations", "complete_name, id", {
        "name": _f("char", "Location Name", required=True), "complete_name": _f("char", "Full Location Name"),
        "usage": _f("selection", "Location Type",
                    selection=("supplier", "view", "internal", "customer", "inventory", "transit")),
        "warehouse_id": _f("many2one", "Warehouse", comodel="stock.warehouse", computed=True)}),
    "stock.warehouse": Model("Warehouse", "sequence,id", {
        "name": _f("char", "Warehouse", required=True), "code": _f("char", "Short Name"),
        "sequence": _f("integer", "Sequence"), "lot_stock_id": _f("many2one", "Location Stock",
                                                                    comodel="stock.location")}),
    "delivery.carrier": Model("Shipping Methods", "sequence, id", {
        "name": _f("char", "Delivery Method", required=True), "sequence": _f("integer", "Sequence")}),
    "stock.picking": Model("Transfer", "priority desc, scheduled_date asc, id desc", {
        "name": _f("char", "Reference"), "origin": _f("char", "Source Document"),
        "priority": _f("selection", "Priority", selection=("0", "1")),
        "sale_id": _f("many2one", "Sales Order", comodel="sale.order"),
        "partner_id": _f("many2one", "Contact", comodel="res.partner"),
        "picking_type_code": _f("selection", "Type of Operation", computed=True,
                                selection=("incoming", "outgoing", "internal")),
        "state": _f("selection", "Status", selection=("draft", "waiting", "confirmed", "assigned", "done", "cancel")),
        "location_id": _f("many2one", "Source Location", comodel="stock.location"),
        "location_dest_id": _f("many2one", "Destination Location", comodel="stock.location"),
        "carrier_id": _f("many2one", "Carrier", comodel="delivery.carrier"),
        "carrier_tracking_ref": _f("char", "Tracking Reference"),
        "scheduled_date": _f("datetime", "Scheduled Date"), "date_done": _f("datetime", "Date of Transfer"),
        "move_ids": _f("one2many", "Stock Moves", comodel="stock.move", inverse="picking_id", computed=True),
        "backorder_id": _f("many2one", "Back Order of", comodel="stock.picking"),
        "return_id": _f("many2one", "Return of", comodel="stock.picking")}),
    "stock.move": Model("Stock Move", "sequence, id", {
        "name": _f("char", "Description", required=True), "sequence": _f("integer", "Sequence"),
        "picking_id": _f("many2one", "Transfer", comodel="stock.picking"),
        "product_id": _f("many2one", "Product", comodel="product.product", required=True),
        # Odoo 17: the demand, and the quantity picked (done once the move is done; quantity_done before 17)
        "product_uom_qty": _f("float", "Demand"), "quantity": _f("float", "Quantity"),
        "picked": _f("boolean", "Picked"),
        "state": _f("selection", "Status",
                    selection=("draft", "waiting", "confirmed", "partially_available", "assigned", "done", "cancel")),
        "location_id": _f("many2one", "Source Location", comodel="stock.location"),
        "location_dest_id": _f("many2one", "Destination Location", comodel="stock.location")}),
    "stock.return.picking": Model("Return Picking", "id", {
        "picking_id": _f("many2one", "Transfer", comodel="stock.picking"),
        "product_return_moves": _f("one2many", "Moves", comodel="stock.return.picking.line", inverse="wizard_id")}),
    "stock.return.picking.line": Model("Return Picking Line", "id", {
        "wizard_id": _f("many2one", "Wizard", comodel="stock.return.picking"),
        "product_id": _f("many2one", "Product", comodel="product.product"), "quantity": _f("float", "Quantity"),
        "move_id": _f("many2one", "Move", comodel="stock.move"), "to_refund": _f("boolean", "Update quantities")}),
    "stock.quant": Model("Quants", "id", {
        "product_id": _f("many2one", "Product", comodel="product.product", required=True),
        "location_id": _f("many2one", "Location", comodel="stock.location", required=True),
        "quantity": _f("float", "Quantity")}),
}

COUNTRIES = [("US", "United States"), ("CA", "Canada"), ("GB", "United Kingdom"), ("IE", "Ireland"),
             ("DE", "Germany"), ("FR", "France"), ("NL", "Netherlands"), ("BE", "Belgium"), ("LU", "Luxembourg"),
             ("AT", "Austria"), ("CH", "Switzerland"), ("ES", "Spain"), ("PT", "Portugal"), ("IT", "Italy"),
             ("DK", "Denmark"), ("SE", "Sweden"), ("NO", "Norway"), ("FI", "Finland"), ("PL", "Poland"),
             ("AU", "Australia"), ("NZ", "New Zealand"), ("JP", "Japan")]


def fields_of(model: str) -> dict[str, Field]:
    return {**BASE_FIELDS, **MODELS[model].fields}


def get_field(model: str, name: str) -> Field | None:
    return MODELS[model].fields.get(name) or BASE_FIELDS.get(name)


def invalid_field(model: str, name: str) -> OdooError:
    """BaseModel.read()/write()/_order_to_sql() on a name the model does not have."""
    return OdooError(VALUE_ERROR, f"Invalid field {name!r} on model {model!r}")


def missing(model: str, ids: list[int], uid: int) -> OdooError:
    """BaseModel._read() / check_access on ids that are not (or no longer) there."""
    return OdooError(MISSING_ERROR, "Record does not exist or has been deleted.\n"
                     f"(Record: {model}({', '.join(map(str, ids))},), User: {uid})")


def not_null(model: str, fname: str) -> OdooError:
    """service.model._as_validation_error() for a NOT NULL violation."""
    f = get_field(model, fname)
    return OdooError(VALIDATION_ERROR, "The operation cannot be completed:\n"
                     "- Create/update: a mandatory field is not set.\n"
                     "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
                     f"Model: {MODELS[model].description} ({model})\n"
                     f"Field: {f.string if f else fname} ({fname})\n")


def foreign_key(model: str, fname: str) -> OdooError:
    """_as_validation_error() for a FOREIGN KEY violation: Odoo words it for deletes even on an insert."""
    return OdooError(VALIDATION_ERROR, "The operation cannot be completed: another model requires the record "
                     "being deleted. If possible, archive it instead.\n\n"
                     f"Model: {MODELS[model].description} ({model})\n"
                     f"Constraint: {model.replace('.', '_')}_{fname}_fkey\n")


def to_datetime(value: object, model: str, fname: str) -> datetime:
    """A datetime as a domain or a write gives it: "YYYY-MM-DD[ HH:MM:SS[.ffffff]]"."""
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d %H:%M:%S.%f", DATETIME_FORMAT, "%Y-%m-%d"):
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                continue
    raise OdooError(VALUE_ERROR, f"time data {value!r} does not match format '{DATETIME_FORMAT}' "
                    f"({model}.{fname})")


def format_datetime(value: datetime | None) -> str | bool:
    """Datetime.to_string(): seconds only, although PostgreSQL keeps the microseconds of cr.now()."""
    return value.strftime(DATETIME_FORMAT) if value else False
