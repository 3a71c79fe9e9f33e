"""A hub order as an Odoo sale order an accountant can trust: the channel's lines, discounts, taxes, shipping
and currency, so that Odoo's ``amount_total`` is the channel's total to the cent.

``sale_lines`` is the outbound mapper (a hub order's lines and charges -> ``SaleLine``s); ``SaleOrders``
resolves what the lines need in Odoo and makes the order:

- products by SKU (``default_code``); a line without a SKU goes on the *fallback* product under the
  channel's title, a shipping charge on the *delivery* product (``is_delivery``), a fee on the fallback;
- taxes: one ``account.tax`` per (rate, price included) the channel charged, a mapped one
  (``taxes: {"21": "VAT 21%", "21 included": ...}``), else a sale tax of that rate found or created;
  every line names its taxes, so a product's default tax never slips in;
- the currency through a pricelist of that currency (mapped, found or created; the currency is activated);
- discounts as Odoo's line ``discount`` percentage (two decimals, Odoo's precision).

Odoo rounds its own way (per line or globally, per the company's setting), a percentage of two decimals
is not every amount off, and a channel may discount the order as a whole; ``settle_total`` puts what is
left between Odoo's total and the channel's on one line of the *adjustment* product, untaxed, and says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.outbound import MissingLink, Permanent

from .client import OdooClient

logger = logging.getLogger(__name__)

PRICE_DIGITS = Decimal("0.01")  # Odoo's "Product Price" decimal precision
TAX_NAME = "{rate}%{incl} (hub)"  # taxes the hub creates; Odoo wants tax names unique per company

PRODUCT = "product"
CUSTOM = "custom"  # a line without a SKU
SHIPPING = "shipping"
FEE = "fee"


@dataclass(frozen=True)
class SaleLine:
    """One line of the sale order, in the order's currency; ``discount`` is the amount off the line."""

    kind: str
    title: str | None
    quantity: Decimal
    price_unit: Decimal
    discount: Decimal = Decimal(0)
    tax_rates: tuple[Decimal, ...] = ()
    sku: str | None = None


@dataclass(frozen=True)
class SaleSettings:
    """The ERP settings the sale orders follow (``erp:`` in the config)."""

    delivery_product: str = "HUB-SHIPPING"
    fallback_product: str = "HUB-CUSTOM"
    adjustment_product: str = "HUB-ADJUST"
    taxes: dict[str, str] = field(default_factory=dict)  # "21" / "21 included" -> an Odoo tax's name
    pricelists: dict[str, str] = field(default_factory=dict)  # currency -> an Odoo pricelist's name


@dataclass(frozen=True)
class ShipTo:
    """Where the order goes: the sale order's delivery address (a delivery contact under the customer)."""

    name: str
    street: str | None = None
    street2: str | None = None
    city: str | None = None
    zip: str | None = None
    country_code: str | None = None


@dataclass
class SaleOrderSpec:
    ref: str
    channel: str
    currency: str
    prices_include_tax: bool
    total: Decimal
    lines: list[SaleLine]
    ship_to: ShipTo | None = None  # None: the customer's own address


def tax_key(rate: Decimal, included: bool) -> str:
    """How a rate is named in ``taxes:`` mappings: ``"21"``, ``"7.5 included"``."""
    return f"{rate}{' included' if included else ''}"


def fallback_notes(spec: SaleOrderSpec, settings: SaleSettings) -> list[str]:
    """What a person should know of the order's lines without a SKU: they go on the fallback product."""
    return [f"line {n} ({ln.title or 'untitled'}) has no SKU: on {settings.fallback_product}"
            for n, ln in enumerate(spec.lines, 1) if ln.kind == CUSTOM]


def fingerprint(spec: SaleOrderSpec) -> str:
    """What the sale order was made from: a change of lines, prices, taxes, currency or total changes it."""
    data = {"currency": spec.currency, "included": spec.prices_include_tax, "total": str(spec.total),
            "lines": [{k: str(v) if not isinstance(v, tuple) else [str(x) for x in v] for k, v in asdict(ln).items()}
                      for ln in spec.lines]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def ship_hash(spec: SaleOrderSpec) -> str:
    """What the sale order's delivery address was made from (apart from ``fingerprint``: an address corrected
    on the channel changes the address, not the lines)."""
    return hashlib.sha256(json.dumps(asdict(spec.ship_to) if spec.ship_to else None).encode()).hexdigest()


def discount_percent(line: SaleLine, digits: int = 2) -> Decimal:
    """The line's discount as Odoo's percentage, to ``digits`` decimals (Odoo's "Discount" precision: 2 out of
    the box, so 5.00 off 199.00 is 2.51 % and 0.01 short; a shop that raises it gets the exact amount)."""
    gross = line.price_unit * line.quantity
    if not line.discount or not gross:
        return Decimal(0)
    return (line.discount / gross * 100).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


class SaleOrders:
    """The sale-order side of one Odoo: lookups cached for the life of the object (one job)."""

    def __init__(self, client: OdooClient, settings: SaleSettings) -> None:
        self.client, self.settings = client, settings
        self._taxes: dict[tuple[Decimal, bool], int] = {}
        self._products: dict[str, int] = {}
        self._discount_digits: int | None = None

    # ---- the order ----------------------------------------------------------------------------------

    def ensure(self, spec: SaleOrderSpec, partner_id: int) -> tuple[int, bool]:
        """The sale order whose client_order_ref is ``spec.ref``, made (draft) if there is none: (id, created).
        A retry after a lost answer finds the order made."""
        existing = self.client.sale_order(spec.ref)
        if existing:
            return existing["id"], False
        vals = {**self.vals(spec, partner_id), "partner_shipping_id": self.delivery_address(partner_id, spec.ship_to)}
        order_id = int(self.client.execute_kw("sale.order", "create", [vals]))
        logger.info("odoo sale order %s created for ref %s", order_id, spec.ref)
        return order_id, True

    def replace_lines(self, order_id: int, spec: SaleOrderSpec) -> None:
        """A draft sale order's lines (and pricelist) made those of ``spec``: the old lines go, the new come."""
        old = self.client.search_read("sale.order.line", [("order_id", "=", order_id)], ["id"])
        vals = self.vals(spec, 0)
        self.client.execute_kw("sale.order", "write", [[order_id], {
            "order_line": [(2, ln["id"]) for ln in old] + vals["order_line"], "pricelist_id": vals["pricelist_id"]}])
        logger.info("odoo sale order %s: lines replaced (%s)", order_id, spec.ref)

    def delivery_address(self, partner_id: int, ship_to: ShipTo | None) -> int:
        """The customer's delivery contact at ``ship_to`` (found among its children, else made); the customer
        itself when there is none."""
        if ship_to is None:
            return partner_id
        where = {"street": ship_to.street, "street2": ship_to.street2, "city": ship_to.city, "zip": ship_to.zip}
        known = self.client.search_read(
            "res.partner", ["|", ("id", "=", partner_id), "&", ("parent_id", "=", partner_id),
                            ("type", "=", "delivery")], ["name", "type", "country_code", *where], order="id asc")

        def there(p: dict[str, Any]) -> bool:
            return all((p.get(k) or None) == (v or None) for k, v in where.items()) and (
                not ship_to.country_code or not p.get("country_code") or p["country_code"] == ship_to.country_code)
        for p in sorted(known, key=lambda p: p["id"] != partner_id):  # the customer's own address first
            if there(p) and (p["id"] == partner_id or p["name"] == ship_to.name):
                return int(p["id"])
        vals: dict[str, Any] = {"parent_id": partner_id, "type": "delivery", "name": ship_to.name,
                                **{k: v for k, v in where.items() if v}}
        if ship_to.country_code:
            country = self.client.execute_kw("res.country", "search", [[("code", "=", ship_to.country_code)]],
                                             {"limit": 1})
            if country:
                vals["country_id"] = int(country[0])
        return int(self.client.execute_kw("res.partner", "create", [vals]))

    def readdress(self, order_id: int, partner_id: int, ship_to: ShipTo | None) -> None:
        """The sale order's delivery address made ``ship_to``; its transfers take it too (sale_stock updates
        them with ``update_delivery_shipping_partner``; without it, it only warns on them)."""
        shipping = self.delivery_address(partner_id, ship_to)
        self.client.execute_kw("sale.order", "write", [[order_id], {"partner_shipping_id": shipping}],
                               {"context": {"update_delivery_shipping_partner": True}})
        logger.info("odoo sale order %s: delivery address changed", order_id)

    def retire(self, order_id: int, ref: str, note: str) -> None:
        """A cancelled sale order gives up its reference (``<ref> (replaced)``), so that a new one takes it."""
        self.client.execute_kw("sale.order", "write", [[order_id], {"client_order_ref": f"{ref} (replaced)"}])
        self.note(order_id, note)

    def note(self, order_id: int, body: str) -> None:
        """An internal note on the sale order's chatter, for the people who work in Odoo."""
        self.client.execute_kw("sale.order", "message_post", [[order_id]], {
            "body": body, "message_type": "comment", "subtype_xmlid": "mail.mt_note"})

    def vals(self, spec: SaleOrderSpec, partner_id: int) -> dict[str, Any]:
        """``sale.order.create`` values for ``spec``."""
        skus = sorted({ln.sku for ln in spec.lines if ln.kind == PRODUCT and ln.sku})
        products = self.client.product_ids(skus)
        unknown = [sku for sku in skus if sku not in products]
        if unknown:
            raise MissingLink("; ".join(f"SKU {sku} is not a product in Odoo (default_code)" for sku in unknown))
        order_lines = []
        for ln in spec.lines:
            taxes = [self.tax_id(r, spec.prices_include_tax) for r in ln.tax_rates]
            vals: dict[str, Any] = {"product_uom_qty": float(ln.quantity), "price_unit": float(ln.price_unit),
                                    "discount": float(discount_percent(ln, self.discount_digits()) if ln.discount
                                                      else 0), "tax_ids": [(6, 0, taxes)]}
            if ln.kind == PRODUCT and ln.sku:
                vals["product_id"] = products[ln.sku]
            elif ln.kind == SHIPPING:
                vals.update(product_id=self.product(self.settings.delivery_product, "Shipping", "service"),
                            name=ln.title or "Shipping", is_delivery=True)
            else:
                vals.update(product_id=self.product(self.settings.fallback_product, "Item without SKU", "consu"),
                            name=ln.title or "Item without SKU")
            order_lines.append((0, 0, vals))
        return {"partner_id": partner_id, "client_order_ref": spec.ref, "order_line": order_lines,
                "pricelist_id": self.pricelist_id(spec.currency)}

    def settle_total(self, order_id: int, spec: SaleOrderSpec, fresh_total: Decimal | None = None
                     ) -> tuple[Decimal, Decimal]:
        """Odoo's total made the channel's: (Odoo's total now, the adjustment line's amount). What Odoo's own
        arithmetic leaves goes on the adjustment product's line (made, or changed if there is one).
        ``fresh_total``: Odoo's total of an order this job has just made (no adjustment line yet)."""
        if fresh_total is not None and fresh_total == spec.total:
            return fresh_total, Decimal(0)
        code = self.settings.adjustment_product
        adjust = self._products.get(code) or self.client.product_ids([code]).get(code)
        total, lines = self._total(order_id, adjust)
        diff = spec.total - total
        current = sum((Decimal(str(ln["price_unit"])) for ln in lines), Decimal(0))
        if not diff:
            return total, current
        price = (current + diff).quantize(PRICE_DIGITS)
        adjust = adjust or self.product(code, "Difference to the channel's total", "service")
        if lines:
            self.client.execute_kw("sale.order.line", "write", [[lines[0]["id"]], {"price_unit": float(price)}])
        else:
            self.client.execute_kw("sale.order", "write", [[order_id], {"order_line": [(0, 0, {
                "product_id": adjust, "name": f"Difference to the {spec.channel} total", "product_uom_qty": 1.0,
                "price_unit": float(price), "tax_ids": [(6, 0, [])]})]}])
        total, _ = self._total(order_id, adjust)
        if total != spec.total:
            raise Permanent(f"odoo sale order {order_id}: total {total} {spec.currency} after an adjustment of "
                            f"{price}; the channel's is {spec.total}")
        logger.info("odoo sale order %s adjusted by %s to the channel's total", order_id, diff)
        return total, price

    def _total(self, order_id: int, adjust_product: int | None) -> tuple[Decimal, list[dict[str, Any]]]:
        """Odoo's total of the order, and its lines on the adjustment product (none if there is no such
        product yet)."""
        order = self.client.execute_kw("sale.order", "read", [[order_id]], {"fields": ["amount_total"]})
        if not order:
            raise Permanent(f"odoo sale order {order_id} does not exist")
        lines = self.client.search_read("sale.order.line", [("order_id", "=", order_id),
                                                            ("product_id", "=", adjust_product)],
                                        ["price_unit"]) if adjust_product else []
        return Decimal(str(order[0]["amount_total"])), lines

    # ---- what the lines need ------------------------------------------------------------------------

    def discount_digits(self) -> int:
        """Odoo's "Discount" decimal precision (read once)."""
        if self._discount_digits is None:
            rows = self.client.search_read("decimal.precision", [("name", "=", "Discount")], ["digits"], limit=1)
            self._discount_digits = int(rows[0]["digits"]) if rows else 2
        return self._discount_digits

    def tax_id(self, rate: Decimal, included: bool) -> int:
        """The sale tax for this rate: the one ``taxes:`` maps it to, else one of that rate and inclusion,
        else a new one."""
        key = (rate, included)
        if key in self._taxes:
            return self._taxes[key]
        name = self.settings.taxes.get(tax_key(rate, included))
        if name:
            found = self.client.execute_kw("account.tax", "search", [[("name", "=", name),
                                                                       ("type_tax_use", "=", "sale")]], {"limit": 1})
            if not found:
                raise Permanent(f"odoo has no sale tax named {name!r} (erp.taxes maps {tax_key(rate, included)!r} "
                                "to it)")
        else:
            found = self.client.execute_kw("account.tax", "search", [[
                ("type_tax_use", "=", "sale"), ("amount_type", "=", "percent"), ("amount", "=", float(rate)),
                ("price_include", "=", included)]], {"limit": 1, "order": "id asc"})
        if found:
            self._taxes[key] = int(found[0])
        else:
            self._taxes[key] = int(self.client.execute_kw("account.tax", "create", [{
                "name": TAX_NAME.format(rate=rate, incl=" incl." if included else ""), "amount": float(rate),
                "amount_type": "percent", "type_tax_use": "sale",
                "price_include_override": "tax_included" if included else "tax_excluded"}]))
            logger.info("odoo sale tax %s%% (included: %s) created", rate, included)
        return self._taxes[key]

    def product(self, code: str, name: str, kind: str) -> int:
        """The product with internal reference ``code``, created (``kind``: service or consu, no taxes of its
        own) if Odoo has none."""
        if code not in self._products:
            found = self.client.product_ids([code])
            self._products[code] = found[code] if code in found else int(self.client.execute_kw(
                "product.product", "create", [{"name": name, "default_code": code, "type": kind,
                                               "taxes_id": [(6, 0, [])], "sale_ok": True}]))
        return self._products[code]

    def pricelist_id(self, currency: str) -> int:
        """A pricelist in ``currency``: the mapped one, else the first of that currency, else a new one.
        The currency is activated if it is not (Odoo ships most inactive)."""
        name = self.settings.pricelists.get(currency)
        if name:
            found = self.client.execute_kw("product.pricelist", "search", [[("name", "=", name)]], {"limit": 1})
            if not found:
                raise Permanent(f"odoo has no pricelist named {name!r} (erp.pricelists maps {currency} to it)")
            return int(found[0])
        cur = self.client.search_read("res.currency", [("name", "=", currency)], ["active"],
                                      context={"active_test": False})
        if not cur:
            raise Permanent(f"odoo has no currency {currency}")
        if not cur[0]["active"]:
            self.client.execute_kw("res.currency", "write", [[cur[0]["id"]], {"active": True}])
            logger.info("odoo currency %s activated", currency)
        found = self.client.execute_kw("product.pricelist", "search", [[("currency_id", "=", cur[0]["id"])]],
                                       {"limit": 1, "order": "id asc"})
        if found:
            return int(found[0])
        return int(self.client.execute_kw("product.pricelist", "create", [{"name": f"{currency} (hub)",
                                                                          "currency_id": cur[0]["id"]}]))
