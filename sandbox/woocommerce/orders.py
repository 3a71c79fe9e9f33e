"""Orders of the WooCommerce sandbox: the storefront checkout (``place_order``), status changes with
WooCommerce's side effects (stock reduced or restored, ``date_paid``/``date_completed``, the
"Order status changed from X to Y." note, one ``order.updated``), order notes, and the REST handlers
for ``orders``, ``orders/<id>`` and ``orders/<id>/notes`` as the wc/v3 controllers answer them.

A mixin of ``WooSandbox`` (which holds the lock, the records, the id sequences and the emitter); the
bodies come from ``wire``, the note bodies and enum errors from here.
"""

from __future__ import annotations

import itertools
import re
import secrets
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import request

from sandbox.woocommerce import wire
from sandbox.woocommerce.wire import Item, Note, Order, WooError

API_USER = "admin"  # display name of the user owning the sandbox's API key: author of added_by_user notes
DEFAULT_BILLING = {"first_name": "Sandbox", "last_name": "Customer", "email": "customer@example.com"}
# offline gateways put an unpaid order on hold, and so does the Stripe plugin's SEPA Direct Debit (its payment
# clears days later); COD goes processing
ON_HOLD_GATEWAYS = {"bacs", "cheque", "stripe_sepa"}
REDUCING = {"processing", "on-hold", "completed"}  # wc_maybe_reduce_stock_levels() hooks these statuses
PAID = {"processing", "completed"}  # wc_get_is_paid_statuses()
NOTE_FIELDS = {"note", "customer_note", "added_by_user"}
ORDER_SORTS = {"date": lambda o: (o.created, o.id), "id": lambda o: o.id,  # the list's orderby (the ones used)
               "modified": lambda o: (o.modified.replace(microsecond=0), o.id)}
ORDER_FIELDS = {"status", "set_paid", "transaction_id", "customer_note"}  # the order fields the sandbox updates
# woocommerce_valid_order_statuses_for_payment_complete: the statuses a gateway payment completes
PAYMENT_COMPLETE_FROM = ("on-hold", "pending", "failed", "cancelled")
CANNOT_CREATE = ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")


class OrderRoutes:
    """Orders, status transitions and notes; expects the attributes ``WooSandbox`` sets up."""

    _lock: Any
    _orders: dict[int, Order]
    _items: dict[int, Item]
    _ids: Any
    _meta_ids: Any
    _note_ids: Any

    def _init_orders(self) -> None:
        self._note_ids = itertools.count(100)  # WordPress comment ids: their own sequence

    # ---- control API -------------------------------------------------------------------------------

    def place_order(self, lines: list[dict[str, Any]], billing: dict[str, Any] | None = None,
                    shipping: dict[str, Any] | None = None, payment_method: str = "cod",
                    payment_method_title: str = "", set_paid: bool = False) -> dict[str, Any]:
        """A storefront checkout: order.created, then the stock drops (one product.updated per line) unless the
        order waits for payment. Paid (``set_paid``) or COD: processing; bacs/cheque: on-hold; else pending."""
        with self._lock:
            items = [(self._by_sku(line["sku"]), int(line["quantity"])) for line in lines]
            wanted: dict[int, int] = {}
            for item, qty in items:
                if item.type == "variable" or qty < 1:
                    raise ValueError(f"cannot order {qty} x {item.sku} ({item.type})")
                wanted[item.id] = wanted.get(item.id, 0) + qty
                if item.manage_stock and wanted[item.id] > (item.stock_quantity or 0):
                    raise ValueError(f"not enough stock for {item.sku}: {item.stock_quantity} left, "
                                     f"{wanted[item.id]} ordered")
            key = "wc_order_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(13))
            status = "processing" if set_paid or payment_method == "cod" else \
                "on-hold" if payment_method in ON_HOLD_GATEWAYS else "pending"
            order = Order(next(self._ids), key, [], status=status,
                          billing=wire.address(billing, DEFAULT_BILLING, billing=True),
                          shipping=wire.address(shipping, {}, billing=False), payment_method=payment_method,
                          payment_method_title=payment_method_title)
            order.date_paid = order.created if set_paid else None
            for n, (item, qty) in enumerate(items, 1):
                attr_ids = [next(self._meta_ids) for _ in item.attributes] if item.type == "variation" else []
                order.lines.append({"item": item, "quantity": qty, "line_id": n, "attr_meta_ids": attr_ids,
                                    "reduced_meta_id": None, "reduced": 0, "restock_meta_id": None,
                                    "restocked": 0})
            self._orders[order.id] = order
            for item, qty in items:
                (self._items.get(item.parent_id) or item).total_sales += qty
            marked = self._mark_reduced(order) if status in REDUCING else []
            self._emit("order.created", self._order_body(order))  # carries _reduced_stock, as captured
            self._reduce_stock(order, marked)
            return self._order_body(order)

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """Status -> cancelled and reduced stock restored: order.updated, then product.updated per line."""
        with self._lock:
            order = self._order(order_id)
            self._set_status(order, "cancelled")
            return self._order_body(order)

    def pay_order(self, order_id: int, transaction_id: str = "") -> dict[str, Any]:
        """The payment gateway's callback inside the shop (``WC_Order::payment_complete()``): the transaction
        id and ``date_paid`` set, on-hold/pending/failed/cancelled -> processing (stock reduced), one
        order.updated. (``set_paid`` through the API runs it only for an order that needs payment.)"""
        with self._lock:
            order = self._order(order_id)
            if order.status in PAYMENT_COMPLETE_FROM and order.date_paid is None:
                now = wire.now()
                order.transaction_id, order.date_paid = transaction_id, now
                self._set_status(order, "processing", now)
            else:
                self._update_order(order, {"transaction_id": transaction_id})
            return self._order_body(order)

    def refund_order(self, order_id: int, lines: list[dict[str, Any]], amount: str | None = None,
                     reason: str = "") -> dict[str, Any]:
        """A refund as ``POST orders/<id>/refunds`` (``api_refund: false``) makes it: ``lines`` [{sku or
        line_id, quantity}] go back on the stock; no lines and an ``amount``: money only. ``amount`` defaults
        to the lines' value. Returns the refund."""
        with self._lock:
            order = self._order(order_id)
            by_sku = {line["item"].sku: line for line in order.lines}
            wanted = [{"id": li.get("line_id") or by_sku[li["sku"]]["line_id"], "quantity": li["quantity"]}
                      for li in lines]
            return self._refund(order, wanted, amount, reason)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as GET orders/<id> returns it, plus its notes (newest first) under ``notes``."""
        with self._lock:
            order = self._order(order_id)
            return {**self._order_body(order), "notes": [note_body(n, order.id, self._base())
                                                         for n in reversed(order.notes)]}

    def orders(self) -> list[dict[str, Any]]:
        """Every order, oldest first, as wp-admin's order list shows it (id, status, total, customer note count)."""
        with self._lock:
            bodies = [(self._order_body(o), o) for o in self._orders.values()]
        return [{"id": b["id"], "number": b["number"], "status": b["status"], "total": b["total"],
                 "currency": b["currency"], "email": b["billing"].get("email"),
                 "customer_notes": sum(1 for n in o.notes if n.customer_note)} for b, o in bodies]

    # ---- state (callers hold the lock) -------------------------------------------------------------

    def _order(self, order_id: int) -> Order:
        order = self._orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _add_note(self, order: Order, text: str, customer_note: bool = False, by_user: bool = False) -> Note:
        note = Note(next(self._note_ids), text, customer_note, API_USER if by_user else "system")
        order.notes.append(note)
        return note

    def _mark_reduced(self, order: Order) -> list[dict[str, Any]]:
        """wc_reduce_stock_levels(), first half: each managed line not yet reduced gets its _reduced_stock meta
        (the order's webhook, built at delivery, already shows it)."""
        marked = [line for line in order.lines if line["item"].manage_stock and not line["reduced_meta_id"]]
        for line in marked:
            line["reduced_meta_id"] = next(self._meta_ids)
            line["reduced"] = line["quantity"] - line["restocked"]  # what a refund put back is not taken again
        return marked

    def _reduce_stock(self, order: Order, marked: list[dict[str, Any]]) -> None:
        """Second half: the quantities drop (one product.updated each) and one note lists the changes."""
        changes = []
        for line in marked:
            item = line["item"]
            before = item.stock_quantity or 0
            self._set_quantity(item, before - line["reduced"])
            changes.append(f"{item.name} ({item.sku or '#' + str(item.id)}) {before}&rarr;{item.stock_quantity}")
        if changes:
            self._add_note(order, "Stock levels reduced: " + ", ".join(changes))

    def _restore_stock(self, order: Order) -> list[tuple[Item, int, int]]:
        """wc_increase_stock_levels(): drops the _reduced_stock meta now; the quantities go back after the
        order.updated delivery, as WooCommerce's hooks order them."""
        restored = []
        for line in order.lines:
            if line["reduced_meta_id"]:
                line["reduced_meta_id"] = None
                if line["reduced"]:
                    restored.append((line["item"], line["item"].stock_quantity or 0, line["reduced"]))
                line["reduced"] = 0
        return restored

    def _set_status(self, order: Order, status: str, when: datetime | None = None) -> bool:
        """One status transition as WC_Order::status_transition() makes it; False when nothing changed."""
        old = order.status
        if status == old:
            return False
        order.status, order.modified = status, when or wire.now()
        if status in PAID and order.date_paid is None:
            order.date_paid = order.modified
        if status == "completed":
            order.date_completed = order.modified
        self._add_note(order, f"Order status changed from {wire.ORDER_STATUSES[old]} to "
                              f"{wire.ORDER_STATUSES[status]}.")
        # wc_maybe_increase_stock_levels() hooks cancelled and pending only (seen: failed and refunded keep it)
        restored = self._restore_stock(order) if status in {"cancelled", "pending"} else []
        marked = self._mark_reduced(order) if status in REDUCING else []
        if status == "refunded":
            self._refund_rest(order)
        self._emit("order.updated", self._order_body(order))
        for item, before, qty in restored:
            self._set_quantity(item, before + qty)
        if restored:
            self._add_note(order, "Stock levels increased: " + ", ".join(
                f"{i.name} ({i.sku or '#' + str(i.id)}) {b}&rarr;{b + q}" for i, b, q in restored))
        self._reduce_stock(order, marked)
        return True

    def _refund(self, order: Order, wanted: list[dict[str, Any]], amount: Any, reason: str) -> dict[str, Any]:
        """A refund through the REST API, as WooCommerce 10.0.2 makes it: each refunded line's units go back
        on the product's stock at once (product.updated), whatever ``restock_items`` says (seen with it
        false), its ``_reduced_stock`` drops and ``_restock_refunded_items`` grows; then order.updated, and
        the status becomes ``refunded`` when the refunds reach the order's total (a partial one leaves it)."""
        lines = {line["line_id"]: line for line in order.lines}
        picked = []
        for li in wanted:
            line = lines.get(int(li.get("id") or 0))
            qty = int(li.get("quantity") or 0)
            refunded = sum(q for r in order.refunds for lid, q, _ in r["lines"] if lid == line["line_id"]) \
                if line else 0
            if line is None or qty < 0 or qty > line["quantity"] - refunded:
                raise WooError("woocommerce_rest_cannot_create_order_refund",
                               "Invalid refund amount.", 500)
            if qty:
                picked.append((line["line_id"], qty, line))
        total = sum((line["item"].price * line["quantity"] for line in order.lines), Decimal(0))
        done = sum((r["amount"] for r in order.refunds), Decimal(0))
        value = Decimal(str(amount)) if amount not in (None, "") else \
            sum((line["item"].price * q for _, q, line in picked), Decimal(0))
        if value <= 0 or value > total - done:
            raise WooError("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500)
        refund = {"id": next(self._ids), "reason": reason, "amount": value, "created": wire.now(), "lines": picked}
        order.refunds.insert(0, refund)
        order.modified = refund["created"]
        for _, qty, line in picked:
            item, back = line["item"], min(qty, line["reduced"])
            if not item.manage_stock or not back:
                continue
            line["reduced"] -= back
            line["restocked"] += back
            line["restock_meta_id"] = line["restock_meta_id"] or next(self._meta_ids)
            before = item.stock_quantity or 0
            self._set_quantity(item, before + back)
            self._add_note(order, f"Item #{item.id} stock increased from {before} to {before + back}.")
        self._add_note(order, f"Refunded ${wire.money(value)}" + (f": {reason}" if reason else ""))
        if done + value >= total:
            self._set_status(order, "refunded", refund["created"])
        else:
            self._emit("order.updated", self._order_body(order))
        return wire.refund_body(refund, order, self._base())

    def _refund_rest(self, order: Order) -> None:
        """wc_order_fully_refunded(): an order set to refunded gets a refund of what was left, money only."""
        total = sum((line["item"].price * line["quantity"] for line in order.lines), Decimal(0))
        left = total - sum((r["amount"] for r in order.refunds), Decimal(0))
        if left > 0:
            order.refunds.insert(0, {"id": next(self._ids), "reason": "Order fully refunded.", "amount": left,
                                     "created": order.modified, "lines": []})

    # ---- REST handlers: (params, authed, *ids) -> (data, headers[, status]) --------------------------

    def _create_refund(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str], int]:
        fields = wire.json_body(request.get_data())
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
            wire.require(authed, *CANNOT_CREATE)
            if wire.to_bool(fields.get("api_refund", True)):
                raise WooError("sandbox_not_implemented", "The sandbox has no payment gateway: send api_refund: false.",
                               501)
            return self._refund(order, list(fields.get("line_items") or []), fields.get("amount"),
                                str(fields.get("reason") or "")), {}, 201

    def _list_refunds(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str]]:
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
            wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            return [wire.refund_body(r, order, self._base()) for r in order.refunds], {}

    def _list_orders(self, params: dict[str, str], authed: bool) -> tuple[Any, dict[str, str]]:
        page, per_page = wire.paging(params)
        statuses = _status_filter(params.get("status"))
        after = _date_param(params, "after")
        before = _date_param(params, "before")
        changed_after = _date_param(params, "modified_after")  # strict, to the second, as WP_Query's date_query
        changed_before = _date_param(params, "modified_before")
        orderby, order = params.get("orderby", "date"), params.get("order", "desc")
        if orderby not in ORDER_SORTS:
            raise not_in_enum("orderby", "orderby", tuple(ORDER_SORTS))
        if order not in ("asc", "desc"):
            raise not_in_enum("order", "order", ("asc", "desc"))
        wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        with self._lock:
            orders = [o for o in self._orders.values() if statuses is None or o.status in statuses]
            orders = [o for o in orders if (after is None or o.created > after)
                      and (before is None or o.created < before)
                      and (changed_after is None or o.modified.replace(microsecond=0) > changed_after)
                      and (changed_before is None or o.modified.replace(microsecond=0) < changed_before)]
            return wire.collection(orders, page, per_page, self._order_body, f"{self._base()}/wp-json/wc/v3/orders",
                                   params, sort_key=ORDER_SORTS[orderby], descending=order == "desc")

    def _get_order(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str]]:
        with self._lock:
            order = self._orders.get(order_id)
            if order:
                wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
                return self._order_body(order), {}
        raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)

    def _put_order(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str]]:
        fields = wire.json_body(request.get_data())
        if "status" in fields and fields["status"] not in wire.ORDER_STATUSES:
            raise not_in_enum("status", "status", wire.ORDER_STATUSES)
        unknown = set(fields) - ORDER_FIELDS - {"id"}
        if unknown:
            raise WooError("sandbox_not_implemented", f"The sandbox does not update {', '.join(sorted(unknown))}.",
                           501)
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 400)
            wire.require(authed, "woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")
            self._update_order(order, fields)
            return self._order_body(order), {}

    def _update_order(self, order: Order, fields: dict[str, Any]) -> None:
        now = wire.now()
        for name in ("transaction_id", "customer_note"):
            if name in fields:
                setattr(order, name, str(fields[name]))
                order.modified = now
        status = fields.get("status")
        # payment_complete() runs on an update only for an order that needs_payment(): pending or failed (an
        # on-hold order is left as it is, as the real WooCommerce 10.0.2 does)
        if wire.to_bool(fields.get("set_paid")) and order.status in {"pending", "failed"} and order.date_paid is None:
            order.date_paid = now
            status = status or "processing"
        if not (status and self._set_status(order, status, now)) and order.modified == now:
            self._emit("order.updated", self._order_body(order))  # saved without a status change

    def _list_notes(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str]]:
        kind = params.get("type", "any")
        if kind not in {"any", "customer", "internal"}:
            raise not_in_enum("type", "type", ("any", "customer", "internal"))
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid order ID.", 404)
            wire.require(authed, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
            notes = [n for n in reversed(order.notes)  # get_comments(): newest first
                     if kind == "any" or n.customer_note == (kind == "customer")]
            return [note_body(n, order.id, self._base()) for n in notes], {}

    def _create_note(self, params: dict[str, str], authed: bool, order_id: int) -> tuple[Any, dict[str, str], int]:
        fields = wire.json_body(request.get_data())
        if not isinstance(fields.get("note"), str) or not fields["note"]:
            if "note" not in fields:
                raise WooError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
            raise wire.invalid_param("note", "rest_invalid_type", "note is not of type string.", {"param": "note"})
        for flag in ("customer_note", "added_by_user"):
            if flag in fields and not _is_boolean(fields[flag]):
                raise wire.invalid_param(flag, "rest_invalid_type", f"{flag} is not of type boolean.",
                                         {"param": flag})
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
            wire.require(authed, *CANNOT_CREATE)
            note = self._add_note(order, fields["note"], wire.to_bool(fields.get("customer_note", False)),
                                  wire.to_bool(fields.get("added_by_user", False)))
            location = f"{self._base()}/wp-json/wc/v3/orders/{order.id}/notes/{note.id}"
            return note_body(note, order.id, self._base()), {"Location": location}, 201


def _is_boolean(value: Any) -> bool:
    """rest_is_boolean(): true/false, 0/1 and their strings."""
    return isinstance(value, bool) or str(value).lower() in {"true", "false", "0", "1", "yes", "no"}


def _status_filter(raw: str | None) -> set[str] | None:
    """The list's ``status`` (an array; the client sends a comma list): any, trash or order statuses."""
    if not raw:
        return None
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    allowed = ("any", "trash", *wire.ORDER_STATUSES)
    for n, value in enumerate(wanted):
        if value not in allowed:
            raise not_in_enum("status", f"status[{n}]", allowed)
    return None if "any" in wanted else set(wanted)


def _date_param(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:  # rest_parse_date(): ISO 8601; a zone, if given, is converted to the site's (UTC)
        parsed = datetime.fromisoformat(re.sub(r"Z$", "+00:00", raw.strip()))
    except ValueError:
        raise wire.invalid_param(name, "rest_invalid_date", "Invalid date.") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def note_body(note: Note, order_id: int, base: str) -> dict[str, Any]:
    """The order-notes controller (wc/v3): id, author, dates, note, customer_note and links; ``added_by_user``
    is a request field only (its schema context is "edit" and prepare_item_for_response never sets it)."""
    url = f"{base}/wp-json/wc/v3/orders/{order_id}"
    return {"id": note.id, "author": note.author, "date_created": wire.wc_date(note.created),
            "date_created_gmt": wire.wc_date(note.created), "note": note.note, "customer_note": note.customer_note,
            "_links": {"self": [{"href": f"{url}/notes/{note.id}", "targetHints": wire.ALLOW}],
                       "collection": [{"href": f"{url}/notes"}], "up": [{"href": url}]}}


def not_in_enum(param: str, value_name: str, allowed: Any) -> WooError:
    """rest_validate_enum(): "<param> is not one of a, b, and c." (wp_sprintf_l's list)."""
    values = list(allowed)
    listed = ", ".join(values[:-1]) + (", and " if len(values) > 2 else " and ") + values[-1]
    return wire.invalid_param(param, "rest_not_in_enum", f"{value_name} is not one of {listed}.")
