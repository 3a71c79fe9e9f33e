"""The web console at /admin through Flask's test client, on the real database and Redis: sign-in,
sessions, CSRF, the sign-in rate limit, and what each page shows after real deliveries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.ledger import StockTouch, check_oversell, record_movement, set_on_hand
from jobs.erp_pull import shipment_from_erp
from jobs.fanout import owing
from mappings.canonical import MovementReason
from sandbox.emitters import carriers
from sandbox.emitters import payments as pay
from store.links import Link, add_links
from store.models import TASK_KINDS, orders, replays, sku_links

from .support import (
    ADMIN_TOKEN,
    CSRF_RE,
    corpus_json,
    csrf,
    deliver,
    event_rows,
    login,
    post,
    run_worker,
    shopify_order,
    signed,
    stripe,
    woo_order,
)


def console_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every console route but the sign-in page, ids filled with 1."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint == "console.login":
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        out += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def test_every_console_route_redirects_to_login_without_a_session(app, client):
    routes = console_routes(app)
    assert {"/admin/", "/admin/events", "/admin/events/1", "/admin/needs-mapping", "/admin/stock", "/admin/orders",
            "/admin/orders/1", "/admin/reports", "/admin/logout"} <= {p for _, p in routes}
    for method, path in routes:
        resp = client.open(path, method=method)
        assert resp.status_code == 302, (method, path, resp.status_code)
        assert resp.headers["Location"].startswith("/admin/login?next="), (method, path)


def test_login_sets_a_session_cookie_that_is_httponly_and_samesite_lax(client):
    resp = login(client, next_="/admin/events")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/events"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("hub_console=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ADMIN_TOKEN not in cookie
    assert client.get("/admin/events").status_code == 200
    assert client.get("/admin/login").headers["Location"] == "/admin/"  # signed in already


def test_login_never_redirects_off_the_console(app):
    for target in ("https://evil.example/", "//evil.example/admin", "/api/events", "/admin\\..\\x"):
        resp = login(app.test_client(), next_=target)
        assert resp.status_code == 302 and resp.headers["Location"] == "/admin/", target


def test_wrong_token_fails_and_reveals_nothing(client):
    wrong = login(client, token="test-admin-token-012345678X")
    assert wrong.status_code == 401 and "That token is not valid." in wrong.text
    assert ADMIN_TOKEN not in wrong.text and "test-admin-token" not in wrong.text
    empty = login(client, token="")
    # the same page whatever was given (only the CSRF token differs)
    assert CSRF_RE.sub("", empty.text) == CSRF_RE.sub("", wrong.text) and empty.status_code == 401
    assert client.get("/admin/").status_code == 302


def test_console_is_closed_without_an_admin_token(make_app):
    """Signing in to a hub with no admin token gave a raw "Bad Request - The CSRF session token is missing" (each
    process signs sessions with a key of its own then); the page now says the console is closed and what to do."""
    client = make_app(admin_token="").test_client()
    for resp in (client.get("/admin/login"), client.post("/admin/login", data={"token": ""}),
                 client.post("/admin/login", data={"token": "guess"})):  # no CSRF token: a form from another process
        assert resp.status_code == 503 and "console is closed: its admin_token is empty" in resp.text, resp.text
        assert "CSRF" not in resp.text and "<form" not in resp.text
    assert client.get("/admin/").status_code == 302


def test_a_stale_sign_in_form_says_so_and_the_banner_says_when_the_console_is_closed(make_app, client, tmp_path):
    from hub.cli.core import run_banner
    from hub.config import load_config_dict

    resp = client.post("/admin/login", data={"token": ADMIN_TOKEN})  # its CSRF token lost with a restart
    assert resp.status_code == 400 and "That sign-in form had expired" in resp.text and "<form" in resp.text
    closed = run_banner(load_config_dict({"admin_token": ""}), "http://127.0.0.1:8000")
    assert "admin API  closed, and the console at http://127.0.0.1:8000/admin: admin_token is empty" in closed
    assert "sign in with the admin token" not in closed
    assert "sign in with the admin token" in run_banner(load_config_dict({"admin_token": "t" * 20}), "http://h")


def test_sixth_login_attempt_in_a_minute_is_429_per_client_ip(client):
    for _ in range(5):
        assert login(client, token="nope", ip="10.0.0.7").status_code == 401
    sixth = login(client, token=ADMIN_TOKEN, ip="10.0.0.7")  # even the right token: the limit comes first
    assert sixth.status_code == 429 and 0 < int(sixth.headers["Retry-After"]) <= 61
    assert "Too many sign-in attempts" in sixth.text
    assert client.get("/admin/").status_code == 302
    assert login(client, ip="10.0.0.8").status_code == 302  # another client is not held back


def test_login_limit_counts_the_forwarded_client_behind_a_trusted_proxy(make_app):
    client = make_app(trusted_proxy_hops=1).test_client()
    for _ in range(5):
        client.post("/admin/login", data={"csrf_token": csrf(client), "token": "x"},
                    headers={"X-Forwarded-For": "203.0.113.9"})
    blocked = client.post("/admin/login", data={"csrf_token": csrf(client), "token": "x"},
                          headers={"X-Forwarded-For": "203.0.113.9"})
    other = client.post("/admin/login", data={"csrf_token": csrf(client), "token": "x"},
                        headers={"X-Forwarded-For": "203.0.113.10"})
    assert (blocked.status_code, other.status_code) == (429, 401)


def test_posts_without_a_csrf_token_are_refused(app, client):
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 400  # sign-in too
    assert client.get("/admin/").status_code == 302
    assert login(client).status_code == 302
    resp = client.post("/admin/needs-mapping", data={"channel": "shop-eu", "missing": "location_id",
                                                     "key": "24826418", "value": "main"})
    assert resp.status_code == 400 and "CSRF" in resp.text
    bad = client.post("/admin/needs-mapping", data={"csrf_token": "forged", "channel": "shop-eu",
                                                    "missing": "location_id", "key": "24826418", "value": "main"})
    assert bad.status_code == 400
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still signed in: nothing was done
    with app.extensions["hub"].engine.connect() as conn:
        assert conn.execute(select(sku_links)).all() == []


def test_a_session_ends_when_the_admin_token_changes(make_app, database_url, redis_url):
    first = make_app()
    client = first.test_client()
    assert login(client).status_code == 302 and client.get("/admin/").status_code == 200
    rotated = make_app(admin_token="a-new-admin-token-987")
    assert rotated.secret_key != first.secret_key  # derived from the token (HKDF), never a constant
    with rotated.test_client() as other:
        other.set_cookie("hub_console", client.get_cookie("hub_console").value)
        assert other.get("/admin/").status_code == 302
    keyed = make_app(secret_key="k" * 40)
    assert keyed.secret_key == b"k" * 40
    with keyed.test_client() as c:  # an explicit key: the session still proves the token it was made with
        assert login(c).status_code == 302 and c.get("/admin/").status_code == 200
    keyed_rotated = make_app(secret_key="k" * 40, admin_token="a-new-admin-token-987")
    with keyed_rotated.test_client() as c2:
        c2.set_cookie("hub_console", c.get_cookie("hub_console").value)
        assert c2.get("/admin/").status_code == 302


def test_logout_ends_the_session(client):
    login(client)
    assert client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/")}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_events_list_filters_and_detail(app, client):
    created = deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z"), "e-1")[0]
    deliver(client, "woo", "order.created", woo_order())
    run_worker(app)
    login(client)
    page = client.get("/admin/events?channel=shop-eu")
    assert f'/admin/events/{created["event_id"]}' in page.text and "<td>woo</td>" not in page.text
    assert "orders/create" in client.get("/admin/events?status=processed").text
    assert "No events." in client.get("/admin/events?status=failed").text
    detail = client.get(f"/admin/events/{created['event_id']}").text
    assert "X-Shopify-Topic" in detail and "shpss_" not in detail  # headers, credentials redacted at ingest
    assert "&#34;id&#34;: 7001" in detail or "&quot;id&quot;: 7001" in detail or '"id":7001' in detail.replace(" ", "")
    assert "processed" in detail and "Records it built" in detail
    order_id = client.get("/api/orders?channel=shop-eu", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                          ).json["orders"][0]["id"]
    assert f'/admin/orders/{order_id}' in detail
    assert client.get("/admin/events/999999").status_code == 404
    assert client.get("/admin/events?status=nope").status_code == 400


def test_needs_mapping_link_added_in_place_resumes_the_parked_event(app, client):
    body = corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json")
    deliver(client, "shop-eu", "inventory_levels/update", body)
    run_worker(app)
    (row,) = event_rows(app)
    assert row.status == "needs_mapping"
    login(client)
    page = client.get("/admin/needs-mapping").text
    assert "271878346596884000" in page and "24826418" in page and f"#{row.id}" in page
    token = CSRF_RE.search(page).group(1)
    for missing, key, value in (("inventory_item_id", "271878346596884000", "SKU-AVIATOR"),
                                ("location_id", "24826418", "main")):
        resp = client.post("/admin/needs-mapping", data={"csrf_token": token, "channel": "shop-eu",
                                                         "missing": missing, "key": key, "value": value},
                           follow_redirects=True)
        assert resp.status_code == 200 and "parked event(s) queued again" in resp.text
    run_worker(app)
    assert event_rows(app)[0].status == "processed"
    assert "Nothing is waiting for a link." in client.get("/admin/needs-mapping").text
    stock = client.get("/admin/stock?q=SKU-AV").text
    assert "SKU-AVIATOR" in stock


def test_needs_mapping_refuses_a_bad_link_and_keeps_the_event_parked(app, client):
    deliver(client, "shop-eu", "inventory_levels/update",
             corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json"))
    run_worker(app)
    login(client)
    token = csrf(client, "/admin/needs-mapping")
    resp = client.post("/admin/needs-mapping", data={"csrf_token": token, "channel": "shop-eu",
                                                     "missing": "location_id", "key": "24826418", "value": ""},
                       follow_redirects=True)
    assert "Give the warehouse" in resp.text
    assert client.post("/admin/needs-mapping", data={"csrf_token": token, "channel": "nowhere",
                                                     "missing": "location_id", "key": "1", "value": "x"}
                       ).status_code == 400
    assert event_rows(app)[0].status == "needs_mapping"


def test_linking_an_id_to_a_sku_that_has_one_asks_first_and_says_what_changes(app, client):
    """The needs-mapping form stored any link: an inventory item linked to a SKU that already had one replaced that
    link, and every later push of the SKU went to the wrong item (Shopify: INVALID_INVENTORY_ITEM)."""
    hub = app.extensions["hub"]
    add_links(hub.engine, [Link(channel="shop-eu", sku="SKU-AVIATOR", inventory_item_id="111"),
                           Link(channel="shop-eu", sku="SKU-OTHER", inventory_item_id="222")], lambda _: None)
    login(client)
    form = {"csrf_token": csrf(client, "/admin/needs-mapping"), "channel": "shop-eu",
            "missing": "inventory_item_id", "key": "222", "value": "SKU-AVIATOR"}
    asked = client.post("/admin/needs-mapping", data=form)
    assert asked.status_code == 200 and 'id="confirm-relink"' in asked.text
    assert ("SKU-AVIATOR already links to shop-eu inventory item 111: linking inventory item 222 instead replaces "
            "that link, and the hub writes SKU-AVIATOR&#39;s stock to inventory item 222 from then on") in asked.text
    assert "shop-eu inventory item 222 is linked to SKU-OTHER now: both SKUs would name it" in asked.text

    def item_of(sku: str) -> str:
        with hub.engine.connect() as conn:
            return conn.execute(select(sku_links.c.inventory_item_id).where(sku_links.c.sku == sku)).scalar_one()

    assert item_of("SKU-AVIATOR") == "111"  # nothing stored yet
    done = client.post("/admin/needs-mapping", data=form | {"confirm": "1"}, follow_redirects=True)
    assert "Linked shop-eu inventory_item_id 222 to SKU-AVIATOR" in done.text and item_of("SKU-AVIATOR") == "222"
    fresh = form | {"key": "333", "value": "SKU-NEW"}  # a new SKU: linked at once, nothing to ask
    assert "Linked shop-eu inventory_item_id 333 to SKU-NEW" in client.post("/admin/needs-mapping", data=fresh,
                                                                             follow_redirects=True).text


def test_orders_page_and_timeline_across_payments_and_shipments(app, client):
    deliver(client, "woo", "order.created", woo_order("processing"))
    # Fixed times, none from the clock: placed 06:48, paid 08:00, shipped 09:00 and delivered days later.
    paid = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    stripe(client, pay.stripe_payment("114", 4000, "usd", intent_id="pi_console", created=int(paid.timestamp())))
    run_worker(app)
    start = paid + timedelta(hours=1)
    emitter = carriers.CarrierEmitter("http://unused", {})
    hub = app.extensions["hub"]
    with app.app_context(), owing(hub) as conn:
        order_id = conn.execute(select(orders.c.id)).scalar_one()
        shipment_from_erp(conn, order_id, "9400111899223197428490", "usps", start)
    for body in emitter.bodies("easypost", "9400111899223197428490", "USPS", carriers.journey(start),
                               estimate=start + timedelta(days=4)):
        assert post(client, "easypost", signed("easypost", body)).status_code == 200
    run_worker(app)
    login(client)
    listing = client.get("/admin/orders?q=114").text
    assert f"/admin/orders/{order_id}" in listing and "40.00 USD" in listing
    page = client.get(f"/admin/orders/{order_id}").text
    assert "Timeline" in page and "pi_console" in page and "9400111899223197428490: delivered" in page
    assert page.index("order 114 placed") < page.index("pi_console") < page.index(": delivered")
    assert client.get("/admin/orders/424242").status_code == 404


def test_reports_show_carriers_unmatched_payments_and_oversell(app, client):
    stripe(client, pay.stripe_payment("no-such-order", 1234, "eur", intent_id="pi_waiting"))
    run_worker(app)
    hub = app.extensions["hub"]
    with hub.engine.begin() as conn:
        touch = StockTouch()
        set_on_hand(conn, touch, "OVER-1", "main", 0, MovementReason.ERP_SNAPSHOT)  # counted: none left
        record_movement(conn, touch, "OVER-1", "main", MovementReason.SALE, "woo", None, committed=3)
        check_oversell(conn, touch)
    login(client)
    page = client.get("/admin/reports").text
    assert "pi_waiting" in page and "12.34 EUR" in page and "no-such-order" in page
    assert "OVER-1" in page and ">-3<" in page
    assert client.get("/admin/reports?since=yesterday").status_code == 400


def test_dashboard_counts_deliveries_failures_and_queues(app, client):
    deliver(client, "shop-eu", "orders/create", shopify_order("2026-11-20T10:00:00Z"), "d-1")
    deliver(client, "shop-eu", "inventory_levels/update",
            corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json"))
    login(client)
    before = client.get("/admin/").text
    assert "inbox" in before and "Oldest pending" in before and "waiting" in before
    run_worker(app)
    page = client.get("/admin/").text
    rates = re.search(r'id="rates".*?</div>', page, re.S).group(0)
    assert "shop-eu" in rates and "0.40" in rates  # 2 deliveries over the 5-minute window
    failures = re.search(r'id="failures".*?</div>', page, re.S).group(0)
    assert re.search(r'>needs_mapping</a></td><td class="num">1<', failures)  # the parked event's record
    assert re.search(r'>parked events</a></td><td class="num">1<', failures)
    assert page.count('class="bar-deliveries"') == 24 and "Σ 2" in page



def test_failed_tasks_list_filters_and_detail(app, client):
    bad = shopify_order("2026-11-20T10:00:00Z")
    bad["line_items"][0]["quantity"] = "many"
    (resp,) = deliver(client, "shop-eu", "orders/create", bad, "bad-1")
    deliver(client, "shop-eu", "inventory_levels/update",
            corpus_json("shopify/webhook-examples-2026-07/inventory_levels.update.json"))
    run_worker(app)
    login(client)
    page = client.get("/admin/tasks").text
    assert page.count('class="badge permanent"') == 1 and page.count('class="badge needs_mapping"') == 1
    assert "quantity: Not a valid integer" in page and f"event:{resp['event_id']}" in page
    only = client.get("/admin/tasks?error_class=needs_mapping").text
    assert "parked: no link for" in only and "quantity: Not a valid integer" not in only
    assert "No tasks match." in client.get("/admin/tasks?kind=push_stock").text
    assert client.get("/admin/tasks?error_class=bogus").status_code == 400
    task_id = int(re.search(r'/admin/tasks/(\d+)">\d+</a></td>\s*<td>[^<]*</td><td title="process_event">take in '
                            r'a delivery</td><td>shop-eu</td>\s*<td title="event:\d+"><a href="/admin/events/'
                            + str(resp["event_id"]), page).group(1))
    detail = client.get(f"/admin/tasks/{task_id}").text
    assert "quantity: Not a valid integer" in detail and "Every attempt of this task" in detail
    assert f'href="/admin/events/{resp["event_id"]}"' in detail
    event_page = client.get(f"/admin/events/{resp['event_id']}").text
    assert f"/admin/tasks/{task_id}" in event_page
    dash = client.get("/admin/").text
    assert re.search(r'>permanent</a></td><td class="num">1<', dash)
    assert client.get("/admin/tasks/999999").status_code == 404


def test_bulk_replay_preview_start_progress_and_cancel(app, client):
    for n in range(3):
        bad = shopify_order("2026-11-20T10:00:00Z")
        bad.update(id=9000 + n, name=f"#{9000 + n}")
        bad["line_items"][0]["quantity"] = "many"
        deliver(client, "shop-eu", "orders/create", bad, f"bad-{n}")
    run_worker(app)
    login(client)
    listing = client.get("/admin/tasks?kind=process_event").text
    assert 'id="bulk"' in listing and listing.count(">Replay</button>") == 3
    preview = client.get("/admin/replays/preview?status=failed&kind=process_event&open=1&mode=auto")
    assert preview.status_code == 200
    assert re.search(r'id="covers"><b>3</b> failed task attempt\(s\) in <b>3</b> action\(s\)', preview.text)
    assert preview.text.count("re-process shop-eu orders/create event") == 3
    with app.extensions["hub"].engine.connect() as conn:
        assert conn.execute(select(replays)).all() == []  # a preview stores nothing
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                           preview.text.split('id="start"')[1].split("</form>")[0]))
    assert client.post("/admin/replays", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 400
    started = client.post("/admin/replays", data=form)
    assert started.status_code == 302
    replay_url = started.headers["Location"]
    page = client.get(replay_url).text
    assert 'http-equiv="refresh"' in page and 'id="percent">0%' in page and "queued" in page
    run_worker(app)
    page = client.get(replay_url).text
    assert 'http-equiv="refresh"' not in page and 'id="percent">100%' in page
    assert "3 of 3 action(s) done, 3 failed" in page  # the payloads are still unusable: failed again, recorded
    assert page.count('class="badge failed"') == 3 + 1  # each action, and the replay's own: not a green "done"
    assert 'id="status">3 of 3 failed<' in page

    second = client.post("/admin/replays", data=form).headers["Location"]
    token = csrf(client, second)
    cancelled = client.post(second + "/cancel", data={"csrf_token": token}, follow_redirects=True).text
    assert "cancelled" in cancelled and "0 of 3 action(s) ran" in cancelled
    run_worker(app)
    assert "0 of 3 action(s) done" in client.get(second).text
    assert f'href="{replay_url}"' in client.get("/admin/replays").text
    assert client.get("/admin/replays/preview?status=ok").status_code == 400
    assert client.get("/admin/replays/4242").status_code == 404


def test_the_session_cookie_is_secure_when_the_request_came_over_https(make_app):
    behind_proxy = make_app(trusted_proxy_hops=1).test_client()
    token = csrf(behind_proxy)
    https = {"X-Forwarded-Proto": "https"}
    # over https Flask-WTF also wants a same-origin Referer (a browser sends one with the form)
    assert behind_proxy.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN},
                             headers=https).status_code == 400
    resp = behind_proxy.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN},
                             headers={**https, "Referer": "https://localhost/admin/login"})
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]
    direct = make_app().test_client()  # plain http on 127.0.0.1: a Secure cookie would never come back
    assert "Secure" not in login(direct).headers["Set-Cookie"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("login_rate_limit", "lots", "login_rate_limit: not a rate limit like '5/minute'"),
    ("trusted_proxy_hops", -1, "trusted_proxy_hops:"),
])
def test_console_config_errors_name_the_key(key, value, message):
    from hub.config import ConfigError, load_config_dict

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config_dict({key: value}, environ={})


def test_login_rate_limit_is_configurable(make_app):
    client = make_app(login_rate_limit="2/minute").test_client()
    assert [login(client, token="x").status_code for _ in range(3)] == [401, 401, 429]


def test_the_menu_links_replays_and_a_replay_that_failed_is_no_green_done(client):
    """There was no way to Replays from the menu, and a replay whose only action failed showed a green "done"."""
    from hub.console.base import _replay_state

    login(client)
    assert 'href="/admin/replays"' in client.get("/admin/").text
    assert _replay_state({"status": "done", "failed": 1, "total": 1}) == ("1 of 1 failed", "failed")
    assert _replay_state({"status": "done", "failed": 0, "total": 3}) == ("done", "done")
    assert _replay_state({"status": "running", "failed": 1, "total": 3}) == ("running", "running")


def test_a_drift_from_a_reading_the_channel_has_moved_past_is_not_shown_red(app, client, auth):
    """The Stock page showed a red drift of -2 from a reconcile's reading long overtaken by a write, with no time."""
    from store.deliveries import utcnow
    from store.models import stock_sync

    assert client.post("/api/stock/snapshot", data='{"sku": "MUG", "on_hand": 5}', headers=auth).status_code == 200
    read = utcnow() - timedelta(hours=3)
    with app.extensions["hub"].engine.begin() as conn:
        conn.execute(stock_sync.insert().values(channel="woo", sku="MUG", read_quantity=3, read_at=read, drift=-2,
                                                believed=3, believed_at=read, updated_at=read))
    login(client)

    def drift_cell() -> str:
        page = client.get("/admin/stock?q=MUG").text
        return re.findall(r'<td class="num[^"]*"[^>]*>[^<]*-2.*?</td>', page)[0]

    assert 'class="num bad"' in drift_cell() and "3 h ago" in drift_cell()  # the reading is what the hub knows
    with app.extensions["hub"].engine.begin() as conn:
        conn.execute(stock_sync.update().values(believed=5, believed_at=utcnow()))  # a write since
    assert 'class="num muted"' in drift_cell() and "3 h ago, since changed" in drift_cell()


def test_an_events_tasks_are_those_it_caused_not_those_of_later_events(app, client):
    """An event's "tasks it caused" listed every task of its order, those later versions of the order caused too."""
    from hub.console.tasks import event_tasks
    from store.deliveries import utcnow
    from store.models import event_history, tasks

    deliver(client, "woo", "order.created", woo_order("processing"))
    run_worker(app)
    deliver(client, "woo", "order.updated", woo_order("completed", modified="2026-11-22T09:00:00"))
    run_worker(app)
    hub = app.extensions["hub"]
    first, second = (r.id for r in event_rows(app))
    with hub.engine.begin() as conn:
        order_id = conn.execute(select(orders.c.id)).scalar_one()
        at = dict(conn.execute(select(event_history.c.event_id, event_history.c.at)
                               .where(event_history.c.status == "processed")).all())
        for started in (at[first] + timedelta(milliseconds=1), at[second] + timedelta(milliseconds=1)):
            conn.execute(tasks.insert().values(kind="export_order", entity=f"order:{order_id}", status="ok",
                                               started_at=started, finished_at=utcnow()))
        caused = {e: [t["started_at"] for t in event_tasks(conn, e) if t["entity"] == f"order:{order_id}"]
                  for e in (first, second)}
    assert [len(caused[first]), len(caused[second])] == [1, 1], caused


def test_tasks_speak_the_shops_words_with_the_internal_names_a_hover_away(app, client):
    """The console showed "process_event", "entity order:5" and "dedupe key" where an operator reads first."""
    from hub.console.base import _entity_words, _task_words

    bad = shopify_order("2026-11-20T10:00:00Z")
    bad["line_items"][0]["quantity"] = "many"  # a failed processing leaves its task record
    deliver(client, "shop-eu", "orders/create", bad, "bad-words")
    run_worker(app)
    login(client)
    (row,) = event_rows(app)
    page = client.get(f"/admin/events/{row.id}").text
    tasks_table = page.split('id="event-tasks"')[1].split("</table>")[0]
    assert "take in a delivery" in tasks_table and f"delivery #{row.id}" in tasks_table
    assert ">process_event<" not in tasks_table and f">event:{row.id}<" not in tasks_table
    assert 'title="process_event"' in tasks_table  # the internal name, one hover away
    assert "dedupe key</dt>" not in page and "the platform's delivery id" in page
    assert [_task_words(k) for k in ("push_stock", "export_order", "sync_crm")] == [
        "publish stock", "send the order to the ERP", "update the CRM"]
    assert all(_task_words(k) != k for k in TASK_KINDS)  # every kind of task has its words
    assert [_entity_words(e) for e in ("order:5", "stock:woo", "odd")] == ["order 5", "stock on woo", "odd"]
