"""The admin API's OpenAPI document: valid, complete, true to what the server answers (schemathesis
over every operation, on a store filled by real deliveries), and every /api route closed without
the token."""

from __future__ import annotations

import json

import pytest
import schemathesis
from flask import Blueprint
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from hub.api.openapi import OpenAPIError, api_rules, build_spec

from .support import ADMIN_TOKEN, corpus_bytes, post, run_worker, signed

# POST /api/stock/snapshot takes JSON lines: schemathesis sends its generated text as it is
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
MAX_EXAMPLES = 20  # per operation: the module runs in ~30 s here (two cores shared with four other engineers)


def seed(app, client, auth) -> None:
    """Every kind of record the API shows, made the way production makes them."""
    for channel in ("shop-eu", "woo", "stripe", "easypost", "aftership", "shippo"):
        assert post(client, channel, signed(channel)).status_code == 200
    unlinked = corpus_bytes("shopify/webhook-examples-2026-07/inventory_levels.update.json")  # parks: needs_mapping
    assert post(client, "shop-eu", signed("shop-eu", unlinked, topic="inventory_levels/update")).status_code == 200
    run_worker(app)
    orders = client.get("/api/orders", headers=auth).json["orders"]
    skus = {li["sku"] for o in orders for li in client.get(f"/api/orders/{o['id']}", headers=auth).json["lines"]
            if li["sku"]}
    counts = "\n".join(json.dumps({"sku": s, "on_hand": 0}) for s in sorted(skus))  # oversold: an alert
    assert client.post("/api/stock/snapshot", data=counts, headers=auth).status_code == 200
    assert client.post("/api/links", headers=auth, json=[
        {"channel": "woo", "sku": sorted(skus)[0], "product_id": 11},
        {"channel": "shop-eu", "location_id": "gid://shopify/Location/1", "warehouse": "main"}]).status_code == 201


def test_the_document_is_valid_openapi_and_covers_every_api_route(app, client, auth):
    doc = client.get("/api/openapi.json", headers=auth).json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "the hub's admin_token"}
    assert doc["security"] == [{"bearerAuth": []}]
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    routed = {(r.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"), m.lower())
              for r in api_rules(app) for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    assert len(routed) >= 14
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                assert op["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}, (path, method)
    assert item_params(doc, "/api/events/{event_id}") == [
        {"in": "path", "name": "event_id", "required": True,
         "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}]


def item_params(doc: dict, path: str) -> list:
    return doc["paths"][path]["parameters"]


def test_a_route_without_an_operation_fails_the_build(make_app):
    app = make_app()
    bp = Blueprint("undocumented", __name__, url_prefix="/api")

    @bp.get("/nowhere/<int:thing_id>")
    def nowhere(thing_id: int):  # noqa: ANN202
        """Prose only, no operation."""
        return {}

    @bp.route("/half", methods=["GET", "POST"])
    def half():  # noqa: ANN202
        """Only one of its methods.
        ---
        get:
          responses: {200: {description: ok}}
        """
        return {}

    app.register_blueprint(bp)
    with pytest.raises(OpenAPIError) as err:
        build_spec(app)
    assert "GET /api/nowhere/<int:thing_id> (undocumented.nowhere): no operation" in str(err.value)
    assert "POST /api/half (undocumented.half): no operation" in str(err.value)
    assert "GET /api/half" not in str(err.value)


# --- schemathesis: every operation, positive and negative examples --------------------------------

ST_CONFIG = {
    "auth": {"openapi": {"bearerAuth": {"bearer": ADMIN_TOKEN}}},
    "operations": [{
        # a body of the documented shape can still be refused: an unknown channel, a SKU link without
        # any channel id, a line that is not JSON, since after until (said in the descriptions; JSON
        # Schema cannot)
        "include-name-regex": "^POST /api/(links|stock/snapshot|replay)$",
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "409"]}},
    }],
}


@pytest.fixture
def api_schema(app, client, auth):
    seed(app, client, auth)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=auth,
                                          config=schemathesis.Config.from_dict(ST_CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32 renames the test's node through Node._nodeid, which pytest 9.2 no longer has
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@pytest.mark.slow
def test_every_operation_answers_as_documented(case):
    """No 5xx, status codes, content types and bodies as documented, 4xx for invalid input, 401
    when the token is left out (schemathesis sends the bearer token as the document says)."""
    case.call_and_validate()


# --- the token --------------------------------------------------------------------------------------

UNKNOWN = ["/api", "/api/", "/api/nope", "/api/events/1/nope", "/api/tasks/x"]


def concrete(rule) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", "1").replace(f"<{name}>", "x")
    return path


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
                                     {"Authorization": ADMIN_TOKEN}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
                                     {"Authorization": "Bearer"}, {"Authorization": "Bearer \u00e9"}])
def test_every_api_route_answers_401_and_nothing_else_without_the_token(app, client, auth, headers):
    seed(app, client, auth)
    calls = [(m, concrete(r)) for r in api_rules(app) for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    calls += [(m, concrete(r)) for r in api_rules(app) for m in ("GET", "POST", "PUT", "DELETE", "PATCH")
              if m not in r.methods]  # a 405 would say the route exists
    calls += [(m, p) for p in UNKNOWN for m in ("GET", "POST", "DELETE")]  # a 404 would say it does not
    assert len(calls) > 50
    for method, path in calls:
        resp = client.open(path, method=method, headers=headers, json={"channel": "woo", "sku": "x"})
        assert resp.status_code == 401, (method, path, resp.status_code)
        assert resp.json == {"error": "unauthorized"}, (method, path)
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="hub"'
        assert set(resp.headers.keys()) <= {"Content-Type", "Content-Length", "WWW-Authenticate"}, resp.headers
    assert client.get("/api/links", headers=auth).json["locations"][0]["warehouse"] == "main"  # nothing changed


def admin_rules(app) -> list:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and r.endpoint != "console.login"]


def forged_session(app, secret: bytes) -> str:
    """A session cookie that says signed in, signed with another key (as an attacker could make one)."""
    from flask import Flask

    other = Flask("forger")
    other.secret_key = secret
    return app.session_interface.get_signing_serializer(other).dumps({"auth": "0" * 64})


@pytest.mark.parametrize("credential", ["none", "wrong bearer", "right bearer", "garbage cookie", "forged cookie"])
def test_every_admin_page_sends_to_sign_in_without_a_session(app, client, auth, credential):
    """The API's bearer token is not a console session, and a cookie not signed by the hub is none."""
    headers = {"none": {}, "wrong bearer": {"Authorization": "Bearer wrong"}, "right bearer": auth}.get(credential, {})
    if credential == "garbage cookie":
        client.set_cookie("hub_console", "garbage")
    elif credential == "forged cookie":
        client.set_cookie("hub_console", forged_session(app, b"not the hub's key"))
    anonymous = app.test_client()
    calls = [(m, concrete(r)) for r in admin_rules(app) for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    calls += [(m, concrete(r)) for r in admin_rules(app) for m in ("GET", "POST", "DELETE") if m not in r.methods]
    calls += [(m, p) for p in ("/admin", "/admin/nope", "/admin/events/1/nope") for m in ("GET", "POST")]
    assert len(calls) > 40
    for method, path in calls:
        resp = client.open(path, method=method, headers=headers, data={"channel": "woo", "csrf_token": "x"})
        baseline = anonymous.open(path, method=method)
        assert resp.status_code == 302, (method, path, resp.status_code)
        assert resp.headers["Location"].startswith("/admin/login"), (method, path)
        assert (resp.headers["Location"], resp.data) == (baseline.headers["Location"], baseline.data), (method, path)
    assert client.get("/api/links", headers=auth).json == {"skus": [], "locations": []}  # nothing was added


def test_bad_query_values_are_400_with_the_parameter_named(app, client, auth):
    for path, name in [("/api/events?limit=x", "limit"), ("/api/events?limit=0", "limit"),
                       ("/api/events?before=99999999999999999999999", "before"), ("/api/events?status=bogus", "status"),
                       ("/api/orders?limit=501", "limit"), ("/api/orders?channel=a%00b", "channel"),
                       ("/api/payments?unmatched=perhaps", "unmatched"), ("/api/alerts?all=2", "all"),
                       ("/api/reports/carriers?since=yesterday", "since"), ("/api/stock?sku=" + "x" * 129, "sku")]:
        resp = client.get(path, headers=auth)
        assert resp.status_code == 400, path
        assert resp.json["error"].startswith(f"'{name}': "), (path, resp.json)
    assert client.get("/api/events?channel=&topic=", headers=auth).status_code == 200  # an empty text filter: none
    assert client.get("/api/events?limit=", headers=auth).json == {"error": "'limit': Not a valid integer."}
    assert client.get("/api/events?chanel=woo", headers=auth).json == {"error": "'chanel': Unknown field."}
    assert client.get("/api/events/99999999999999999999999", headers=auth).status_code == 404
    assert client.get("/api/orders/9223372036854775807", headers=auth).status_code == 404
    snap = client.post("/api/stock/snapshot", data='{"sku": "A", "on_hand": 99999999999}', headers=auth)
    assert snap.status_code == 400 and "on_hand" in snap.json["error"]
    links = client.post("/api/links", headers=auth, json={"channel": "woo", "sku": "A", "colour": "red"})
    assert links.status_code == 400 and links.json["error"].startswith("item 0: 'colour'")
    assert client.post("/api/links", headers=auth, json=[]).status_code == 400
    assert client.post("/api/links", headers=auth, json={"channel": "woo", "sku": 7, "product_id": 123}).json == {
        "stored": 1, "resumed_events": []}
    assert client.get("/api/links?sku=7", headers=auth).json["skus"][0]["product_id"] == "123"
    wrong_method = client.delete("/api/events", headers=auth)
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
