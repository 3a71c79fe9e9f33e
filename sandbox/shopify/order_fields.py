"""Pieces of the Shopify sandbox's order views: ``MoneyBag``, ``MailingAddress`` and ``Customer`` shown
from the REST shapes the sandbox keeps (so an order's GraphQL and its webhook body say the same), and the
``orders`` connection: Shopify's search syntax on the order's times, id and name, the sort keys
``ID`` (when none is given), ``CREATED_AT``, ``PROCESSED_AT`` and ``UPDATED_AT``, and keyset cursors.

A cursor carries the sort value and id of its order (``{"last_id": .., "last_value": ..}``, the shape of
Shopify's): ``after`` resumes strictly beyond that value and id, so an order that changes while a reader
pages moves ahead of it and is read again, never skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from sandbox.shopify.model import Order, Store, gid, gql_time, parse_search, search_matches, search_time
from sandbox.shopify.payloads import CURRENCY
from sandbox.shopify.resolvers import Connection, bad_request

CENT = Decimal("0.01")
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF")  # OrderCancelReason


def money_bag(amount: Decimal | int) -> dict:
    """MoneyBag: the amount in the shop's currency, which is also the presentment currency."""
    money = {"amount": f"{Decimal(amount).quantize(CENT)}", "currencyCode": CURRENCY}
    return {"shopMoney": dict(money), "presentmentMoney": dict(money)}


def mailing_address(rest: dict | None) -> dict | None:
    """MailingAddress from a REST address (``first_name``, ``province_code``, ``country_code``, ...)."""
    if not rest:
        return None
    out = {camel(key): rest.get(key) for key in ("first_name", "last_name", "name", "company", "address1",
                                                  "address2", "city", "province", "province_code", "zip", "country",
                                                  "phone", "latitude", "longitude")}
    out["countryCodeV2"] = rest.get("country_code")
    return out


def customer_view(rest: dict | None) -> dict | None:
    """Customer from an order's REST ``customer``. Its times are left out: the REST body has none (null)
    where GraphQL must give one, so asking for them is reported as not simulated."""
    if not rest:
        return None
    email, phone = rest.get("email"), rest.get("phone")
    return {"id": gid("Customer", rest["id"]), "legacyResourceId": str(rest["id"]),
            "firstName": rest.get("first_name"), "lastName": rest.get("last_name"), "note": rest.get("note"),
            "state": str(rest.get("state") or "disabled").upper(), "verifiedEmail": bool(rest.get("verified_email")),
            "taxExempt": bool(rest.get("tax_exempt")), "email": email, "phone": phone,
            "defaultEmailAddress": {"emailAddress": email} if email else None,
            "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
            "defaultAddress": mailing_address(rest.get("default_address"))}


def cancel_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason.upper() if reason.upper() in CANCEL_REASONS else "OTHER"


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


# --- the orders connection -----------------------------------------------------------------------

def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)  # Shopify keeps an order's times in whole seconds


SORT_KEYS: dict[str, Callable[[Order], datetime | int]] = {
    "ID": lambda o: o.id,
    "CREATED_AT": lambda o: _second(o.created_at),
    "PROCESSED_AT": lambda o: _second(o.created_at),  # the sandbox processes an order as it is placed
    "UPDATED_AT": lambda o: _second(o.updated_at or o.created_at),
}


def _search_fields(order: Order) -> dict[str, Any]:
    return {"id": order.id, "name": f"#{order.number}", "created_at": order.created_at,
            "processed_at": order.created_at, "updated_at": order.updated_at or order.created_at}


@dataclass
class KeysetConnection(Connection):
    """A connection whose cursors carry the sort value as well as the id."""

    cursors: list[str] = field(default_factory=list)

    @property
    def edges(self) -> list[dict]:
        return [{"cursor": c, "node": view} for c, (_, view) in zip(self.cursors, self.page, strict=True)]

    @property
    def pageInfo(self) -> dict:  # noqa: N802 - GraphQL field name
        return {"hasNextPage": self.has_next, "hasPreviousPage": self.has_previous,
                "startCursor": self.cursors[0] if self.cursors else None,
                "endCursor": self.cursors[-1] if self.cursors else None}


def _encode(value: datetime | int, number: int) -> str:
    shown = gql_time(value) if isinstance(value, datetime) else str(value)
    return base64.b64encode(json.dumps({"last_id": number, "last_value": shown},
                                       separators=(",", ":")).encode()).decode()


def _decode(cursor: str, sort_key: str) -> tuple[datetime | int, int]:
    try:
        data = json.loads(base64.b64decode(cursor, validate=True))
        number = int(data["last_id"])
        value = number if sort_key == "ID" else search_time(str(data["last_value"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"Invalid cursor: {cursor!r}") from exc
    return value, number


def orders_connection(store: Store, args: dict, view: Callable[[Order], Any]) -> KeysetConnection:
    """QueryRoot.orders(first, last, after, before, query, sortKey, reverse)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise bad_request("you must provide one of first or last")
    if first is not None and last is not None:
        raise bad_request("providing both first and last is not supported")
    sort_key = args.get("sortKey") or "ID"
    if sort_key not in SORT_KEYS or args.get("savedSearchId"):
        raise GraphQLError(f"orders(sortKey: {sort_key}) / savedSearchId is not simulated by the sandbox",
                           extensions={"code": "SANDBOX_NOT_SIMULATED"})
    records = [((SORT_KEYS[sort_key](o), o.id), o) for o in store.orders.values()]
    if args.get("query"):
        try:
            groups = parse_search(args["query"])
            records = [r for r in records if search_matches(groups, _search_fields(r[1]))]
        except ValueError as exc:
            raise GraphQLError(str(exc), extensions={"code": "SANDBOX_NOT_SIMULATED"}) from exc
    reverse = bool(args.get("reverse"))
    records.sort(key=lambda r: r[0], reverse=reverse)

    def beyond(key: tuple, mark: tuple) -> bool:
        return key < mark if reverse else key > mark

    window = records
    if args.get("after"):
        mark = _decode(args["after"], sort_key)
        window = [r for r in window if beyond(r[0], mark)]
    has_previous = len(window) < len(records)
    end = len(window)
    if args.get("before"):
        mark = _decode(args["before"], sort_key)
        window = [r for r in window if beyond(mark, r[0])]
    has_next = len(window) < end
    if first is not None:
        page, has_next = window[:first], has_next or len(window) > first
    else:
        page, has_previous = (window[len(window) - last:] if last else []), len(window) > last
    return KeysetConnection([(o.id, view(o)) for _, o in page], has_next, has_previous,
                            [_encode(key[0], key[1]) for key, _ in page])
