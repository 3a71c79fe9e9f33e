"""Sale order amounts as Odoo computes them, for percentage taxes: ``account.tax._get_tax_totals_summary``
with the company's ``tax_calculation_rounding_method = 'round_globally'`` (a fresh database's setting).

Each line's base is its unit price less its discount, times its quantity; a price-included tax takes its
share out of that (``base = price / (1 + rates)``), an excluded one adds ``base * rate``. Nothing is
rounded per line: the order's untaxed amount is the sum of the bases rounded once, its tax each tax's sum
rounded once, its total the two added (``price_subtotal`` / ``price_total`` of a line are that line's
figures rounded, for display). Rounding is half-up to the currency's rounding, as ``float_round``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Tax:
    id: int
    rate: Decimal  # percent
    included: bool


@dataclass
class LineAmounts:
    base: Decimal
    taxes: dict[int, Decimal] = field(default_factory=dict)  # tax id -> amount, unrounded

    @property
    def total(self) -> Decimal:
        return self.base + sum(self.taxes.values(), Decimal(0))


def dec(value: float | int | None) -> Decimal:
    return Decimal(str(value or 0))


def line_amounts(price_unit: float, quantity: float, discount: float, taxes: list[Tax]) -> LineAmounts:
    gross = dec(price_unit) * (1 - dec(discount) / 100) * dec(quantity)
    included = sum((t.rate for t in taxes if t.included), Decimal(0))
    base = gross / (1 + included / 100) if included else gross
    return LineAmounts(base, {t.id: base * t.rate / 100 for t in taxes})


def currency_round(value: Decimal, rounding: float) -> Decimal:
    step = dec(rounding) or Decimal("0.01")
    return (value / step).quantize(Decimal(1), ROUND_HALF_UP) * step


def order_amounts(lines: list[LineAmounts], rounding: float) -> tuple[Decimal, Decimal, Decimal]:
    """(amount_untaxed, amount_tax, amount_total) of an order's lines."""
    untaxed = currency_round(sum((ln.base for ln in lines), Decimal(0)), rounding)
    per_tax: dict[int, Decimal] = {}
    for ln in lines:
        for tax_id, amount in ln.taxes.items():
            per_tax[tax_id] = per_tax.get(tax_id, Decimal(0)) + amount
    tax = sum((currency_round(v, rounding) for v in per_tax.values()), Decimal(0))
    return untaxed, tax, untaxed + tax
