"""Odoo 17 over its external JSON-RPC API, one method per ERP operation the hub needs.

``OdooClient`` posts ``{"jsonrpc": "2.0", "method": "call", "params": {service, method, args}}`` to
``/jsonrpc`` through one ``requests.Session`` with a timeout on every call, authenticates once
(``common.authenticate``) and keeps the uid. Failures become the types of ``connectors.outbound``:
network trouble, timeouts and HTTP 5xx are ``Retryable``; an Odoo error envelope is decided by
``consts.decision`` (serialization failures and lock timeouts retry, Odoo's refusals are ``Permanent``
with Odoo's own message). The API key never appears in a log line or an error message.

Changes are followed with cursors on ``(write_date, id)``. Odoo stores ``write_date`` with microseconds
but reads it back to the second, so the cursor is the second of the newest change reported plus the ids
reported within that second: the next call asks for later seconds, or that second minus those ids, and
several records sharing a write_date are neither skipped nor repeated across pages and calls.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from connectors.outbound import (
    Permanent,
    Retryable,
    SyncError,
    call_failed,
    error_for_status,
    json_answer,
)

from .consts import DATETIME_FORMAT, JSONRPC_PATH, MAX_PAGES, PAGE_LIMIT, RETRY, TIMEOUT_S, decision

logger = logging.getLogger(__name__)

PARTNER_FIELDS = ("street", "street2", "city", "zip", "phone")
DELIVERY_FIELDS = ["name", "sale_id", "carrier_id", "carrier_tracking_ref", "date_done", "write_date"]
QUANT_FIELDS = ["product_id", "location_id", "quantity", "write_date"]
MOVE_FIELDS = ["product_id", "quantity", "picking_id"]


class OdooClient:
    """One Odoo database, as one user authenticated by API key."""

    def __init__(self, url: str, db: str, login: str, api_key: str, timeout_s: float = TIMEOUT_S,
                 session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/") + JSONRPC_PATH
        self.db, self.login, self.timeout_s = db, login, timeout_s
        self._api_key = api_key
        self.http = session or requests.Session()
        self._uid: int | None = None
        self._ids = itertools.count(1)
        self.calls = 0

    def __repr__(self) -> str:
        return f"OdooClient({self.url!r}, db={self.db!r}, login={self.login!r})"

    # ---- transport -------------------------------------------------------------------------------

    def rpc(self, service: str, method: str, args: list, what: str) -> Any:
        """One JSON-RPC call; the answer's ``result``, or the SyncError its failure maps to."""
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids),
                   "params": {"service": service, "method": method, "args": args}}
        self.calls += 1
        try:
            r = self.http.post(self.url, json=payload, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise self._safe(call_failed(exc, f"odoo {what}")) from None
        if (err := error_for_status(r.status_code, r.text, r.headers, f"odoo {what}")) is not None:
            raise self._safe(err)
        try:
            body = json_answer(r, f"odoo {what}")
        except Retryable as exc:
            raise self._safe(exc) from None
        if not isinstance(body, dict):
            raise Permanent(f"odoo {what}: answer is not a JSON-RPC object")
        if "error" in body:
            raise self._odoo_error(body["error"], what)
        return body.get("result")

    def _odoo_error(self, error: Any, what: str) -> SyncError:
        data = error.get("data") or {} if isinstance(error, dict) else {}
        name = str(data.get("name") or "")
        message = str(data.get("message") or (error.get("message") if isinstance(error, dict) else error))
        if name == "odoo.exceptions.AccessDenied":
            self._uid = None  # a rotated key: authenticate again next time
        cls = Retryable if decision(name, message) == RETRY else Permanent
        logger.info("odoo %s refused: %s", what, name)
        return self._safe(cls(f"odoo {what}: {name or 'error'}: {message}"))

    def _safe(self, err: SyncError) -> SyncError:
        """The same error with the API key blanked out of its message, should anything have echoed it."""
        text = str(err)
        if not self._api_key or self._api_key not in text:
            return err
        text = text.replace(self._api_key, "***")
        return type(err)(text, err.seconds) if isinstance(err, Retryable) else type(err)(text)

    @property
    def uid(self) -> int:
        """The user id, from ``common.authenticate`` on first use (False from Odoo: wrong login or key)."""
        if self._uid is None:
            uid = self.rpc("common", "authenticate", [self.db, self.login, self._api_key, {}], "authenticate")
            if not uid:
                raise Permanent(f"odoo authenticate: login {self.login!r} refused on database {self.db!r} "
                                "(wrong login or API key)")
            self._uid = int(uid)
        return self._uid

    def execute_kw(self, model: str, method: str, args: list, kwargs: dict | None = None) -> Any:
        return self.rpc("object", "execute_kw", [self.db, self.uid, self._api_key, model, method, args, kwargs or {}],
                        f"{model}.{method}")

    def version(self) -> dict[str, Any]:
        return self.rpc("common", "version", [], "version")

    def search_read(self, model: str, domain: list, fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        return self.execute_kw(model, "search_read", [domain], {"fields": fields, **kw})

    # ---- ERP operations --------------------------------------------------------------------------

    def find_or_create_partner(self, email: str, name: str, street: str | None = None, street2: str | None = None,
                               city: str | None = None, zip: str | None = None,
                               country_code: str | None = None, phone: str | None = None) -> int:
        """The contact with this email (case-insensitive; the oldest if several), else a new one."""
        email = (email or "").strip()
        if not email:
            raise Permanent("odoo partner: an email is needed to match a contact")
        found = self.execute_kw("res.partner", "search", [[("email", "=ilike", like_literal(email))]],
                                {"limit": 1, "order": "id asc"})
        if found:
            return int(found[0])
        vals: dict[str, Any] = {"name": name or email, "email": email}
        given = {"street": street, "street2": street2, "city": city, "zip": zip, "phone": phone}
        vals.update({k: v for k, v in given.items() if v})
        if country_code:
            country = self.execute_kw("res.country", "search", [[("code", "=", country_code.upper())]], {"limit": 1})
            if country:
                vals["country_id"] = int(country[0])
            else:
                logger.warning("odoo has no country %s; partner created without one", country_code)
        partner_id = int(self.execute_kw("res.partner", "create", [vals]))
        logger.info("odoo partner %s created", partner_id)
        return partner_id

    def product_ids(self, skus: list[str]) -> dict[str, int]:
        """{sku: product.product id} for the SKUs Odoo has as an active product's default_code."""
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        out: dict[str, int] = {}
        rows = self.search_read("product.product", [("default_code", "in", wanted)], ["default_code"], order="id asc")
        for row in rows:
            out.setdefault(row["default_code"], int(row["id"]))
        return out

    def sale_order(self, ref: str) -> dict[str, Any] | None:
        """{id, name, state, amount_total} of the (oldest) sale order with client_order_ref ``ref``."""
        rows = self.search_read("sale.order", [("client_order_ref", "=", ref)], ["name", "state", "amount_total"],
                                limit=1, order="id asc")
        if not rows:
            return None
        row = rows[0]
        return {"id": int(row["id"]), "name": row["name"], "state": row["state"],
                "amount_total": Decimal(str(row["amount_total"]))}

    def confirm_sale_order(self, order_id: int) -> None:
        """draft/sent -> sale (Odoo creates the delivery); nothing to do if already confirmed."""
        if self._read_one("sale.order", order_id, ["state"])["state"] == "sale":
            return
        try:
            self.execute_kw("sale.order", "action_confirm", [[order_id]])
        except Permanent:
            if self._read_one("sale.order", order_id, ["state"])["state"] == "sale":
                return  # confirmed by someone else in between
            raise

    def under_way(self, order_id: int) -> list[str]:
        """What of the sale order has gone on past a simple cancel: done deliveries and posted invoices (names)."""
        order = self._read_one("sale.order", order_id, ["picking_ids", "invoice_ids"])
        done = [p["name"] for p in self.execute_kw("stock.picking", "read", [order["picking_ids"]], {
            "fields": ["name", "state"]}) if p["state"] == "done"] if order["picking_ids"] else []
        billed = [m["name"] for m in self.execute_kw("account.move", "read", [order["invoice_ids"]], {
            "fields": ["name", "state"]}) if m["state"] == "posted"] if order["invoice_ids"] else []
        return done + billed

    def cancel_sale_order(self, order_id: int) -> None:
        """-> cancel, with its open deliveries; nothing to do if already cancelled. An order with a done
        delivery is refused here: Odoo would cancel it and leave the goods shipped (a return comes first)."""
        order = self._read_one("sale.order", order_id, ["name", "state", "picking_ids"])
        if order["state"] == "cancel":
            return
        if order["picking_ids"]:
            done = [p["name"] for p in self.execute_kw("stock.picking", "read", [order["picking_ids"]],
                                                       {"fields": ["name", "state"]}) if p["state"] == "done"]
            if done:
                raise Permanent(f"odoo sale order {order['name']} has a done delivery ({', '.join(done)}): cancelling "
                                "it would leave the goods shipped; return them in Odoo first")
        # Without disable_cancel_warning, Odoo answers a confirmed order with its cancel wizard and cancels nothing
        result = self.execute_kw("sale.order", "action_cancel", [[order_id]],
                                 {"context": {"disable_cancel_warning": True}})
        if result is not True:
            raise Permanent(f"odoo sale order {order['name']}: action_cancel answered {result!r} instead of cancelling")

    def done_deliveries(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Outgoing deliveries of sale orders that are done and changed since ``cursor``, oldest change first:
        {picking, picking_id, sale_order, sale_order_ref, tracking_ref, carrier, date_done (aware UTC), lines,
        shipped}. ``lines``: what this delivery shipped, ``shipped``: what every done delivery of that sale order
        has shipped so far, each {sku: Decimal} (a partial delivery ships part; its backorder, done later, the
        rest). A delivery comes again only if it is written again after it was reported."""
        base = [("picking_type_code", "=", "outgoing"), ("state", "=", "done"), ("sale_id", "!=", False)]
        rows, new_cursor = self._changes("stock.picking", base, DELIVERY_FIELDS, cursor)
        sale_ids = sorted({r["sale_id"][0] for r in rows if r["sale_id"]})
        refs = {s["id"]: s["client_order_ref"] or None for s in
                self.execute_kw("sale.order", "read", [sale_ids], {"fields": ["client_order_ref"]})} if sale_ids else {}
        shipped, lines = self.shipped_by_sale_order(sale_ids)
        return [{"picking": r["name"], "picking_id": int(r["id"]),
                 "sale_order": r["sale_id"][1] if r["sale_id"] else None,
                 "sale_order_ref": refs.get(r["sale_id"][0]) if r["sale_id"] else None,
                 "tracking_ref": r["carrier_tracking_ref"] or None,
                 "carrier": r["carrier_id"][1] if r["carrier_id"] else None,
                 "date_done": parse_datetime(r["date_done"]), "lines": lines.get(int(r["id"]), {}),
                 "shipped": shipped.get(r["sale_id"][0], {}) if r["sale_id"] else {}} for r in rows], new_cursor

    def shipped_by_sale_order(self, sale_ids: list[int]) -> tuple[dict[int, dict[str, Decimal]],
                                                                  dict[int, dict[str, Decimal]]]:
        """What the done outgoing deliveries of these sale orders have shipped, {sku: Decimal} per sale order
        and per delivery: the done moves' ``quantity`` (Odoo 17). Products without an internal reference are
        left out. Three calls per 200 sale orders."""
        out: dict[int, dict[str, Decimal]] = {}
        by_picking: dict[int, dict[str, Decimal]] = {}
        for i in range(0, len(sale_ids), PAGE_LIMIT):
            pickings = self.search_read("stock.picking", [
                ("sale_id", "in", sale_ids[i:i + PAGE_LIMIT]), ("picking_type_code", "=", "outgoing"),
                ("state", "=", "done")], ["sale_id"])
            sale_of = {p["id"]: p["sale_id"][0] for p in pickings if p["sale_id"]}
            if not sale_of:
                continue
            moves = self.search_read("stock.move", [("picking_id", "in", sorted(sale_of)), ("state", "=", "done")],
                                     MOVE_FIELDS)
            codes = self.product_codes(sorted({m["product_id"][0] for m in moves}))
            for m in moves:
                sku = codes.get(m["product_id"][0])
                if sku and m["picking_id"]:
                    picking, qty = m["picking_id"][0], Decimal(str(m["quantity"]))
                    for totals in (out.setdefault(sale_of[picking], {}), by_picking.setdefault(picking, {})):
                        totals[sku] = totals.get(sku, Decimal(0)) + qty
        return out, by_picking

    def product_codes(self, product_ids: list[int]) -> dict[int, str]:
        """product id -> internal reference (``default_code``), for those that have one."""
        if not product_ids:
            return {}
        return {p["id"]: p["default_code"] for p in self.execute_kw(
            "product.product", "read", [product_ids], {"fields": ["default_code"]}) if p["default_code"]}

    def stock_quants(self, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Quantities on hand in internal locations changed since ``cursor``: {sku, location, quantity (Decimal)};
        products without a default_code are left out."""
        rows, new_cursor = self._changes("stock.quant", [("location_id.usage", "=", "internal")], QUANT_FIELDS, cursor)
        skus = self.product_codes(sorted({r["product_id"][0] for r in rows}))
        return [{"sku": skus[r["product_id"][0]], "location": r["location_id"][1],
                 "quantity": Decimal(str(r["quantity"]))} for r in rows if skus.get(r["product_id"][0])], new_cursor

    def quants_of(self, skus: list[str]) -> list[dict[str, Any]]:
        """Every quant of these SKUs in internal locations now: {sku, location, quantity (Decimal)}. The
        changes ``stock_quants`` reports say which SKUs moved; their totals need all their quants (a quant
        Odoo deleted at zero is never reported as changed)."""
        wanted, out = sorted(set(skus)), []
        for i in range(0, len(wanted), PAGE_LIMIT):
            rows = self.search_read("stock.quant", [("product_id.default_code", "in", wanted[i:i + PAGE_LIMIT]),
                                                    ("location_id.usage", "=", "internal")],
                                    ["product_id", "location_id", "quantity"], order="id asc")
            codes = self.product_codes(sorted({r["product_id"][0] for r in rows}))
            out += [{"sku": codes[r["product_id"][0]], "location": r["location_id"][1],
                     "quantity": Decimal(str(r["quantity"]))} for r in rows if codes.get(r["product_id"][0])]
        return out

    # ---- helpers ---------------------------------------------------------------------------------

    def _read_one(self, model: str, record_id: int, fields: list[str]) -> dict[str, Any]:
        rows = self.execute_kw(model, "read", [[record_id]], {"fields": fields})
        if not rows:
            raise Permanent(f"odoo {model} {record_id} does not exist")
        return rows[0]

    def _changes(self, model: str, base: list, fields: list[str], cursor: str | None) -> tuple[list[dict], str | None]:
        """Records matching ``base`` changed after ``cursor``, in write order, page by page."""
        cur, out = Cursor.decode(cursor), []
        for _ in range(MAX_PAGES):
            page = self.search_read(model, base + (cur.domain() if cur else []), fields,
                                    limit=PAGE_LIMIT, order="write_date asc, id asc")
            for rec in page:
                out.append(rec)
                cur = cur.after(rec["write_date"], int(rec["id"])) if cur else Cursor(rec["write_date"],
                                                                                       (int(rec["id"]),))
            if len(page) < PAGE_LIMIT:
                break
        return out, cur.encode() if cur else cursor


@dataclass(frozen=True)
class Cursor:
    """Every change before ``second`` is reported, and within ``second`` those of ``ids``."""

    second: str  # "YYYY-MM-DD HH:MM:SS", as Odoo reads write_date back
    ids: tuple[int, ...]

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        second, _, ids = text.partition("|")
        try:
            datetime.strptime(second, DATETIME_FORMAT)
            return cls(second, tuple(int(i) for i in ids.split(",") if i))
        except ValueError:
            raise Permanent(f"odoo: not a change cursor: {text[:60]!r}") from None

    def encode(self) -> str:
        return f"{self.second}|{','.join(map(str, self.ids))}"

    def after(self, second: str, record_id: int) -> Cursor:
        return Cursor(second, (self.ids if second == self.second else ()) + (record_id,))

    def domain(self) -> list:
        """Later seconds, or this second but not these ids. Odoo compares at full precision, so a write at
        12:00:00.4 is ``>= '12:00:00'`` and ``< '12:00:01'`` but not ``= '12:00:00'``."""
        nxt = (datetime.strptime(self.second, DATETIME_FORMAT) + timedelta(seconds=1)).strftime(DATETIME_FORMAT)
        return ["|", ("write_date", ">=", nxt),
                "&", "&", ("write_date", ">=", self.second), ("write_date", "<", nxt), ("id", "not in", list(self.ids))]


def like_literal(text: str) -> str:
    """``text`` for an ``=ilike`` that matches it and only it: ``_`` and ``%`` are wildcards in Odoo's likes."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_datetime(value: Any) -> datetime | None:
    """An Odoo datetime string (UTC, no zone) -> aware UTC datetime; False -> None."""
    return datetime.strptime(value, DATETIME_FORMAT).replace(tzinfo=UTC) if value else None
