"""The admin API's OpenAPI 3.1 document, generated from the code and served at ``GET /api/openapi.json``.

How to document an /api route (``build_spec`` raises, and tests/test_openapi.py fails, for any
/api rule and method without an operation):
1. Query parameters, request and response bodies are marshmallow schemas in ``hub/api/schemas.py``;
   responses: ``unknown = RAISE`` with every key ``required`` (``REQ`` / ``NUL``), so a key the view
   adds or drops fails schemathesis. Parse the query with ``args = load_query(MyQuery)`` (400 on bad input).
2. The view's docstring: one paragraph for people, then ``---`` and the operation as YAML, e.g.
       get:
         summary: One event
         parameters: [{in: query, schema: EventsQuery}]
         responses: {200: {content: {application/json: {schema: EventDetail}}}, 404: NotFound}
3. Path parameters come from the rule (``<int:id>``) and ``401: Unauthorized`` plus the bearer
   security from this module: write neither. Errors are ``BadRequest`` / ``NotFound`` (``Error`` body).
4. One URL rule per view function (apispec's FlaskPlugin documents a view's first rule only).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from apispec import APISpec, BasePlugin, yaml_utils
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Rule

from . import schemas
from .admin import require_token
from .schemas import DB_INT_MAX

API_PREFIX = "/api"
OPENAPI_VERSION = "3.1.0"
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_ERRORS = {"BadRequest": "The request is malformed: the message names the bad parameter or line",
           "Unauthorized": "No bearer token, or not the admin token (the same answer either way)",
           "NotFound": "No such record"}

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)
bp.before_request(require_token)


class OpenAPIError(RuntimeError):
    """The app has /api routes the document cannot describe; the message lists every one."""


class DbIntConverter(IntegerConverter):
    """``<int:...>`` that stops at the largest database id: a bigger number is a 404, not an overflow.

    The 404 is raised here rather than the rule not matching, which Werkzeug would answer with a 405
    when another method's rule has the same path."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = DB_INT_MAX, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=None, signed=signed)
        self.db_max = max

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if self.db_max is not None and number > self.db_max:
            raise NotFound()
        return number


class _BearerGuarded(BasePlugin):
    """Every operation answers 401 without the token: said once here, not in every docstring."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for op in (operations or {}).values():
            op.setdefault("responses", {}).setdefault("401", "Unauthorized")


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    out = []
    for name, conv in rule._converters.items():
        if isinstance(conv, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": 1 if conv.min is None else conv.min}
            top = getattr(conv, "db_max", conv.max)
            if top is not None:
                schema["maximum"] = top
        else:
            schema = {"type": "string", "minLength": 1}
        out.append({"in": "path", "name": name, "required": True, "schema": schema})
    return out


def api_rules(app: Flask) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if r.rule == API_PREFIX or r.rule.startswith(API_PREFIX + "/")),
                  key=lambda r: r.rule)


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every /api route of ``app``; OpenAPIError if a route is undocumented."""
    spec = APISpec(title="hub admin API", version=importlib.metadata.version("hub"), openapi_version=OPENAPI_VERSION,
                   plugins=[FlaskPlugin(), MarshmallowPlugin(), _BearerGuarded()],
                   info={"description": "Admin API of the hub. Every operation needs the header "
                                        "`Authorization: Bearer <admin_token>` (config `admin_token`, env "
                                        "`HUB_ADMIN_TOKEN`); without it, or with another token, the answer is "
                                        "401 `{\"error\": \"unauthorized\"}`."},
                   security=[{"bearerAuth": []}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                   "description": "the hub's admin_token"})

    spec.components.schema("Error", schema=schemas.Error)
    for name, text in _ERRORS.items():
        spec.components.response(name, {"description": text, "content": {"application/json": {"schema": "Error"}}})

    problems: list[str] = []
    done: set[str] = set()
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in done:
            problems.append(f"{rule.rule}: a second rule for view {rule.endpoint} (one rule per view)")
            continue
        done.add(rule.endpoint)
        path = FlaskPlugin.flaskpath2openapi(rule.rule)
        try:
            spec.path(view=view, app=app, parameters=_path_parameters(rule))
        except Exception as exc:  # noqa: BLE001 - re-raised below with every other problem
            problems.append(f"{rule.rule} ({rule.endpoint}): {type(exc).__name__}: {exc}")
            continue
        ops = spec._paths.get(path, {})
        documented = set(yaml_utils.load_operations_from_docstring(view.__doc__ or ""))
        wanted = {m.lower() for m in rule.methods or ()} - {m.lower() for m in _IGNORED_METHODS}
        for method in sorted(wanted - documented):
            problems.append(f"{method.upper()} {rule.rule} ({rule.endpoint}): no operation in the view's docstring")
        for method in sorted(documented - wanted):
            problems.append(f"{method.upper()} {rule.rule} ({rule.endpoint}): documented but not routed")
        for method in sorted(wanted & documented):
            if not any(str(code).startswith("2") for code in ops[method].get("responses", {})):
                problems.append(f"{method.upper()} {rule.rule} ({rule.endpoint}): no 2xx response documented")
    if problems:
        raise OpenAPIError("undocumented /api routes (see hub/api/openapi.py):\n  " + "\n  ".join(problems))
    return spec.to_dict()


def openapi_document(app: Flask) -> dict[str, Any]:
    """``build_spec`` once per app."""
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = build_spec(app)
    return app.extensions["openapi"]


@bp.get("/openapi.json")
def openapi_json():  # noqa: ANN201
    """This document.
    ---
    get:
      summary: The OpenAPI document of the admin API
      tags: [meta]
      responses:
        200:
          description: OpenAPI 3.1 document
          content: {application/json: {schema: {type: object}}}
    """
    return openapi_document(current_app._get_current_object())  # type: ignore[attr-defined]
