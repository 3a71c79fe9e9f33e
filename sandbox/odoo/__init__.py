"""Odoo 17 external API simulator: JSON-RPC at ``POST /jsonrpc``, answered as ``odoo.http`` answers it.

The request is ``{"jsonrpc": "2.0", "method": "call", "params": {"service", "method", "args"}, "id"}``;
the answer is ``{"jsonrpc": "2.0", "id", "result"}`` or, for any exception, HTTP 200 with
``"error": {"code": 200, "message": "Odoo Server Error", "data": serialize_exception(exc)}``. Services:
``common`` (``version``, ``login``, ``authenticate(db, login, api_key, {})`` -> uid or False) and
``object`` (``execute_kw(db, uid, api_key, model, method, args, kwargs)``, ``execute``), with Odoo's
checks in Odoo's order (database, then credentials: ``AccessDenied``). The models and their rules live
in ``orm`` / ``models`` / ``domain``.

Tests drive the ERP in-process (``seed_products``, ``seed_carriers``, ``deliver``, ``set_quant``,
``records``) and inject faults with ``configure(fail_next=[...])``: ``timeout`` (the call runs and
commits, the answer comes ``timeout_sleep_s`` late), ``server_error`` (a proxy's 502, nothing runs) or
an exception name (``psycopg2.errors.SerializationFailure``, ``odoo.exceptions.UserError``, ...). The
same controls are served as JSON under ``/_sandbox/`` for ``python -m sandbox.odoo``.
"""

from __future__ import annotations

import argparse
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import run_simple

from sandbox.base import Latency
from sandbox.odoo.models import (
    ACCESS_DENIED,
    DEFAULT_MESSAGES,
    KEY_ERROR,
    NAME_ERROR,
    NOT_SIMULATED,
    TYPE_ERROR,
    VALUE_ERROR,
    OdooError,
)
from sandbox.odoo.orm import STOCK, Orm

SERVER_VERSION = {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""],
                  "server_serie": "17.0", "protocol_version": 1}  # odoo.service.common.RPC_VERSION_1
BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
               "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
FAULT_KEYS = {"service", "model", "method", "error", "message", "status"}
SETTINGS = {"latency", "fail_next", "lock_confirmed", "timeout_sleep_s", "api_key"}


def utcnow() -> datetime:
    """PostgreSQL's ``now() AT TIME ZONE 'UTC'``: naive UTC, microseconds kept."""
    return datetime.now(UTC).replace(tzinfo=None)


class OdooSandbox:
    """One in-memory Odoo database behind ``/jsonrpc``; ``.app`` is its WSGI (Flask) app."""

    def __init__(self, db: str = "odoo", login: str = "admin", api_key: str = "sandbox-api-key",
                 latency: tuple[float, float] = (0.0, 0.0), clock: Callable[[], datetime] | None = None,
                 lock_confirmed: bool = False, timeout_sleep_s: float = 5.0) -> None:
        self.db, self.login = db, login
        self._api_key = api_key
        self.latency = Latency(*latency)
        self.timeout_sleep_s = timeout_sleep_s
        self.orm = Orm(clock or utcnow)
        self.orm.lock_confirmed = lock_confirmed
        self._lock = threading.RLock()
        self._faults: list[dict[str, Any]] = []
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._injected: Counter[str] = Counter()
        self.app = self._build_app()

    # ---- control API ------------------------------------------------------------------------------

    def seed_products(self, products: list[dict[str, Any]]) -> dict[str, int]:
        """Create product.product records from {sku, name, price, type?="product", active?, quantity?}; a
        ``quantity`` is put on hand at WH/Stock. Returns {sku: id}."""
        def run() -> dict[str, int]:
            out = {}
            for spec in products:
                sku = str(spec["sku"])
                out[sku] = self.orm.create("product.product", {
                    "default_code": sku, "name": str(spec.get("name") or sku),
                    "list_price": float(spec.get("price", 1)),
                    "type": spec.get("type", "product"), "active": bool(spec.get("active", True))})
                if spec.get("quantity") is not None:
                    self._set_quant(sku, spec["quantity"], STOCK)
            return out
        return self._control(run)

    def seed_carriers(self, names: list[str]) -> dict[str, int]:
        return self._control(lambda: {n: self.orm.create("delivery.carrier", {"name": n}) for n in names})

    def deliver(self, order: str | int, tracking_ref: str | None = None, carrier: str | None = None,
                quantities: dict[str, float] | None = None, backorder: bool = True) -> dict[str, Any]:
        """The warehouse validates the order's open delivery: done, date_done = write_date = now, the carrier
        (created if unknown) and tracking reference set, stock moved to Partners/Customers. ``quantities``
        ({sku: quantity}; everything when None) ships part of it: the rest goes to a backorder (the next
        open delivery) or, with ``backorder=False``, is cancelled."""
        def run() -> dict[str, Any]:
            so = self._order(order)
            if so["state"] != "sale":
                raise ValueError(f"sale order {so['name']} is {so['state']}, not confirmed")
            open_ = sorted((p for p in self.orm.pickings(so) if p["state"] not in ("done", "cancel")),
                           key=lambda p: p["id"])
            if not open_:
                raise ValueError(f"sale order {so['name']} has no open delivery")
            carrier_id: int | bool = False
            if carrier:
                found = self.orm.search("delivery.carrier", [("name", "=", carrier)], limit=1)
                carrier_id = found[0]["id"] if found else self.orm.create("delivery.carrier", {"name": carrier})
            by_product = None
            if quantities is not None:
                by_product = {}
                for sku, qty in quantities.items():
                    found = self.orm.search("product.product", [("default_code", "=", sku)], limit=1)
                    if not found:
                        raise ValueError(f"no product {sku!r}")
                    by_product[found[0]["id"]] = qty
            self.orm.deliver(open_[0], carrier_id, tracking_ref, by_product, backorder)
            return self.orm.read_record("stock.picking", open_[0], None)
        return self._control(run)

    def set_quant(self, sku: str, quantity: float, location: str = STOCK) -> dict[str, Any]:
        """An inventory adjustment: the quant of ``sku`` at ``location`` (complete name) becomes ``quantity``."""
        return self._control(lambda: self._set_quant(sku, quantity, location))

    def records(self, model: str) -> list[dict[str, Any]]:
        """Every record of ``model`` (archived too) as ``read()`` shows it, by id."""
        with self._lock:
            if model not in self.orm.tables:
                raise KeyError(f"no model {model!r}")
            return [self.orm.read_record(model, r, None) for _, r in sorted(self.orm.tables[model].items())]

    @property
    def stats(self) -> dict[str, Any]:
        """RPC calls by "<model> <method>" ("common <method>" for the common service), records created and
        written by model, errors answered by exception name, faults injected by kind."""
        with self._lock:
            return {"calls": dict(self._calls), "creates": dict(self.orm.creates), "writes": dict(self.orm.writes),
                    "errors": dict(self._errors), "injected": dict(self._injected)}

    def reset_stats(self) -> None:
        with self._lock:
            self._calls, self._errors, self._injected = Counter(), Counter(), Counter()
            self.orm.creates, self.orm.writes = Counter(), Counter()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change latency=(low_s, high_s), fail_next=[{model?, method?, service?, error, message?, status?}]
        (appended; each fires once, on the first call it matches), lock_confirmed, timeout_sleep_s, api_key."""
        unknown = set(changes) - SETTINGS
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            for fault in changes.get("fail_next") or []:
                if not isinstance(fault, dict) or not fault.get("error") or set(fault) - FAULT_KEYS:
                    raise ValueError(f"a fault is {{model?, method?, service?, error, message?, status?}}: {fault!r}")
                self._faults.append(dict(fault))
            if "latency" in changes:
                self.latency = Latency(*changes["latency"])
            if "lock_confirmed" in changes:
                self.orm.lock_confirmed = bool(changes["lock_confirmed"])
            if "timeout_sleep_s" in changes:
                self.timeout_sleep_s = float(changes["timeout_sleep_s"])
            if "api_key" in changes:
                self._api_key = str(changes["api_key"])
            return {"latency": [self.latency.low_s, self.latency.high_s], "fail_next": list(self._faults),
                    "lock_confirmed": self.orm.lock_confirmed, "timeout_sleep_s": self.timeout_sleep_s}

    def _control(self, fn: Callable[[], Any]) -> Any:
        with self._lock:
            self.orm.begin()
            try:
                result = fn()
            except BaseException:
                self.orm.rollback()
                raise
            self.orm.commit()
            return result

    def _order(self, order: str | int) -> dict[str, Any]:
        if isinstance(order, int) or str(order).isdigit():
            found = self.orm.get("sale.order", int(order))
        else:
            found = next((r for r in self.orm.tables["sale.order"].values() if r["name"] == order), None)
        if found is None:
            raise KeyError(f"no sale order {order!r}")
        return found

    def _set_quant(self, sku: str, quantity: float, location: str) -> dict[str, Any]:
        product = next((p for p in self.orm.tables["product.product"].values() if p["default_code"] == sku), None)
        if product is None:
            raise KeyError(f"no product with default_code {sku!r}")
        quant = self.orm.quant(product["id"], self.orm.location(location)["id"])
        self.orm.write("stock.quant", quant, {"quantity": float(quantity)})
        return self.orm.read_record("stock.quant", quant, None)

    # ---- JSON-RPC ------------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/jsonrpc", "jsonrpc", self._jsonrpc, methods=["POST"])
        _control_routes(app, self)
        return app

    def _jsonrpc(self) -> Response:
        if request.mimetype not in ("application/json", "application/json-rpc"):
            return Response("<!doctype html>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n"
                            "<p>Request inferred type is compatible with ['http'] but /jsonrpc is type=json.</p>\n",
                            400,
                            mimetype="text/html")
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return Response("Invalid JSON data", 400)
        if not isinstance(body, dict):
            return Response("Invalid JSON-RPC data", 400)
        rid, params = body.get("id"), body.get("params") or {}
        self.latency.wait()
        service, method, args = params.get("service"), params.get("method"), params.get("args")
        model = args[3] if service == "object" and isinstance(args, list) and len(args) > 4 else None
        with self._lock:
            self._calls[f"{model or service} {args[4] if model else method}"] += 1
            fault = self._take_fault(service, model, args[4] if model else method)
        if fault and fault["error"] == "server_error":
            return Response(BAD_GATEWAY, int(fault.get("status", 502)), mimetype="text/html")
        try:
            if fault and fault["error"] != "timeout":
                raise OdooError(fault["error"], fault.get("message") or DEFAULT_MESSAGES.get(fault["error"], "Error"))
            if set(params) - {"service", "method", "args"} or None in (service, method, args):
                missing = [k for k in ("service", "method", "args") if params.get(k) is None]
                raise OdooError(TYPE_ERROR, f"RPC.jsonrpc() missing {len(missing)} required positional argument(s): "
                                f"{', '.join(repr(m) for m in missing)}" if missing else
                                "RPC.jsonrpc() got an unexpected keyword argument")
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "result": self._dispatch(service, method, args)}
        except OdooError as err:
            with self._lock:
                self._errors[err.name] += 1
            answer = {"jsonrpc": "2.0", "id": rid,
                      "error": {"code": 200, "message": "Odoo Server Error", "data": err.data()}}
        if fault and fault["error"] == "timeout":
            time.sleep(self.timeout_sleep_s)  # committed; the answer arrives after the client gave up
        return Response(json.dumps(answer), 200, mimetype="application/json")

    def _take_fault(self, service: str | None, model: str | None, method: str | None) -> dict[str, Any] | None:
        actual = {"service": service, "model": model, "method": method}
        for i, fault in enumerate(self._faults):
            if all(fault.get(k) in (None, v) for k, v in actual.items()):
                self._injected[fault["error"]] += 1
                return self._faults.pop(i)
        return None

    def _dispatch(self, service: Any, method: Any, args: Any) -> Any:
        """odoo.http.dispatch_rpc(): the service's dispatcher, then its method."""
        if not isinstance(args, list):
            raise OdooError(TYPE_ERROR, f"dispatch() argument after * must be an iterable, not {type(args).__name__}")
        if service == "common":
            return self._common(str(method), args)
        if service == "object":
            return self._object(str(method), args)
        if service == "db":
            raise OdooError(NOT_SIMULATED, "The sandbox does not simulate the db service")
        raise OdooError(KEY_ERROR, repr(service), [service])

    def _common(self, method: str, args: list) -> Any:
        if method == "version":
            return SERVER_VERSION
        if method not in ("login", "authenticate"):
            raise OdooError(KEY_ERROR, repr(f"exp_{method}"), [f"exp_{method}"])
        wanted = 3 if method == "login" else 4
        if len(args) != wanted:
            raise OdooError(TYPE_ERROR, f"exp_{method}() takes {wanted} positional arguments "
                            f"but {len(args)} were given")
        self._check_db(args[0])
        ok = args[1] == self.login and hmac.compare_digest(str(args[2]).encode(), self._api_key.encode())
        return 2 if ok else False  # exp_authenticate() turns AccessDenied into False

    def _object(self, method: str, args: list) -> Any:
        if len(args) < 3:
            raise OdooError("builtins.IndexError", "list index out of range")
        db, key = args[0], args[2]
        try:
            uid = int(args[1])  # model.dispatch(): int(params[1])
        except (TypeError, ValueError) as exc:
            raise OdooError(VALUE_ERROR, str(exc)) from exc
        self._check_db(db)
        if uid != 2 or not hmac.compare_digest(str(key).encode(), self._api_key.encode()):
            raise OdooError(ACCESS_DENIED, "Access Denied")  # security.check() -> res.users.check()
        if method == "execute_kw":
            if not 5 <= len(args) <= 7:
                raise OdooError(TYPE_ERROR, "execute_kw() takes from 4 to 6 positional arguments")
            model, name, call_args = args[3], args[4], args[5] if len(args) > 5 else []
            kwargs = args[6] if len(args) > 6 and args[6] else {}
        elif method == "execute":
            model, name, call_args, kwargs = args[3], args[4], args[5:], {}
        else:
            raise OdooError(NAME_ERROR, f"Method not available {method}")
        if not isinstance(call_args, list) or not isinstance(kwargs, dict):
            raise OdooError(TYPE_ERROR, "execute_kw() args must be a list and kwargs a dict")
        with self._lock:
            self.orm.begin(uid)
            try:
                result = self.orm.call(str(model), str(name), call_args, kwargs)
            except BaseException:
                self.orm.rollback()
                raise
            self.orm.commit()
            return result

    def _check_db(self, db: Any) -> None:
        if db != self.db:  # Registry(db) cannot open a database that does not exist
            raise OdooError("psycopg2.OperationalError", f'connection to server on socket "/var/run/postgresql/'
                            f'.s.PGSQL.5432" failed: FATAL:  database "{db}" does not exist\n')


def _control_routes(app: Flask, erp: OdooSandbox) -> None:
    """The control API as JSON under /_sandbox/ (no auth): 404 for an unknown thing, 422 if refused."""

    def call(fn: Callable[[], Any], status: int = 200) -> tuple[Any, int]:
        try:
            return fn(), status
        except KeyError as err:
            return {"error": str(err.args[0])}, 404
        except (ValueError, TypeError) as err:
            return {"error": str(err)}, 422
        except OdooError as err:
            return {"error": err.message, "name": err.name}, 422

    def body() -> dict[str, Any]:
        return request.get_json(silent=True) or {}

    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("POST", "/_sandbox/products", lambda: call(lambda: erp.seed_products(body().get("products", [])), 201)),
        ("POST", "/_sandbox/carriers", lambda: call(lambda: erp.seed_carriers(body().get("carriers", [])), 201)),
        ("POST", "/_sandbox/deliver", lambda: call(lambda: erp.deliver(
            body()["order"], body().get("tracking_ref"), body().get("carrier"), body().get("quantities"),
            body().get("backorder", True)))),
        ("POST", "/_sandbox/quants", lambda: call(lambda: erp.set_quant(
            body()["sku"], body()["quantity"], body().get("location", STOCK)))),
        ("GET", "/_sandbox/records/<model>", lambda model: call(lambda: erp.records(model))),
        ("GET", "/_sandbox/stats", lambda: call(lambda: erp.stats)),
        ("POST", "/_sandbox/stats/reset", lambda: call(lambda: erp.reset_stats() or erp.stats)),
        ("POST", "/_sandbox/config", lambda: call(lambda: erp.configure(**body()))),
    ]
    for n, (method, rule, view) in enumerate(routes):
        app.add_url_rule(rule, f"sandbox_{n}", view, methods=[method])


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox as a process: ``python -m sandbox.odoo --port 8069 --db odoo --api-key KEY``."""

    ap = argparse.ArgumentParser(description="Odoo 17 external API (JSON-RPC) sandbox")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8069)
    ap.add_argument("--db", default="odoo")
    ap.add_argument("--login", default="admin")
    ap.add_argument("--api-key", default="sandbox-api-key")
    ap.add_argument("--latency", type=float, nargs=2, default=(0.0, 0.0), metavar=("LOW_S", "HIGH_S"))
    args = ap.parse_args(argv)
    erp = OdooSandbox(db=args.db, login=args.login, api_key=args.api_key, latency=tuple(args.latency))
    run_simple(args.host, args.port, erp.app, threaded=True)


if __name__ == "__main__":
    main()
