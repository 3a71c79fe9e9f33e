"""The stock ledger's rules through real deliveries and the stock API: orders commit, ship and
release by difference only; snapshots set on_hand, all lines or none; oversell is alerted once."""

from __future__ import annotations

import copy
import json

from click.testing import CliRunner

from hub.cli import cli

from .support import corpus_json, deliver, event_rows, run_worker

WOO_ORDER = "woocommerce/live-11.0.1/004-order.created.body"  # PW-000 x2, PT-M x1, status processing


def woo_order(status: str = "processing", modified: str = "2026-11-22T06:48:10", order_id: int = 114) -> dict:
    body = copy.deepcopy(corpus_json(WOO_ORDER))
    body.update(status=status, date_modified_gmt=modified, id=order_id, number=str(order_id))
    return body


def levels(client, auth) -> dict[str, tuple[int, int]]:
    got = client.get("/api/stock", headers=auth).json["levels"]
    return {(lv["sku"]): (lv["on_hand"], lv["committed"]) for lv in got}


def snapshot(client, auth, lines: list[dict] | str):
    body = lines if isinstance(lines, str) else "\n".join(json.dumps(x) for x in lines)
    return client.post("/api/stock/snapshot", data=body, headers=auth)


def test_an_order_commits_once_then_ships_or_releases_by_difference(app, client, auth):
    assert snapshot(client, auth, [{"sku": "PW-000", "on_hand": 10}, {"sku": "PT-M", "on_hand": 5}]).status_code == 200
    deliver(client, "woo", "order.created", woo_order())
    deliver(client, "woo", "order.updated", woo_order(modified="2026-11-22T06:50:00"))  # same lines again
    run_worker(app)
    assert levels(client, auth) == {"PW-000": (10, 2), "PT-M": (5, 1)}
    deliver(client, "woo", "order.updated", woo_order("completed", "2026-11-22T07:00:00"))
    run_worker(app)
    assert levels(client, auth) == {"PW-000": (8, 0), "PT-M": (4, 0)}  # shipped: out of on_hand
    moves = client.get("/api/stock?sku=PW-000", headers=auth).json["movements"]
    assert [(m["reason"], m["delta"], m["committed_delta"]) for m in moves] == [
        ("erp_snapshot", 10, 0), ("sale", 0, 2), ("sale", -2, -2)]  # commit, then ship what was committed


def test_a_cancelled_order_releases_its_stock(app, client, auth):
    snapshot(client, auth, [{"sku": "PW-000", "on_hand": 10}, {"sku": "PT-M", "on_hand": 5}])
    deliver(client, "woo", "order.created", woo_order())
    run_worker(app)
    deliver(client, "woo", "order.updated", woo_order("cancelled", "2026-11-22T07:00:00"))
    deliver(client, "woo", "order.updated", woo_order("cancelled", "2026-11-22T07:01:00"))
    run_worker(app)
    assert levels(client, auth) == {"PW-000": (10, 0), "PT-M": (5, 0)}
    reasons = [m["reason"] for m in client.get("/api/stock?sku=PT-M", headers=auth).json["movements"]]
    assert reasons == ["erp_snapshot", "sale", "cancel"]


def test_last_unit_sold_on_two_channels_raises_one_oversell_alert(app, client, auth):
    snapshot(client, auth, [{"sku": "PW-000", "on_hand": 2}, {"sku": "PT-M", "on_hand": 1}])
    deliver(client, "woo", "order.created", woo_order(order_id=114))
    deliver(client, "woo", "order.created", woo_order(order_id=115))
    run_worker(app)
    alerts = client.get("/api/alerts?kind=oversell", headers=auth).json["alerts"]
    # one alert per SKU, not one per order
    assert sorted((a["key"], a["detail"]["available"]) for a in alerts) == [("PT-M", -1), ("PW-000", -2)]
    snapshot(client, auth, [{"sku": "PW-000", "on_hand": 10}, {"sku": "PT-M", "on_hand": 10}])
    assert client.get("/api/alerts", headers=auth).json["alerts"] == []
    assert len(client.get("/api/alerts?all=1", headers=auth).json["alerts"]) == 2


def test_snapshot_is_all_or_nothing_with_line_numbers(app, client, auth):
    bad = '{"sku": "A", "on_hand": 1}\n{"sku": "", "on_hand": 2}\nnot json\n'
    r = snapshot(client, auth, bad)
    assert r.status_code == 400 and "line 3: not JSON" in r.json["error"]
    r = snapshot(client, auth, '{"sku": "A", "on_hand": 1}\n{"sku": "B", "on_hand": -2}\n{"sku": "A", "on_hand": 3}')
    assert r.status_code == 400
    assert "line 2: on_hand must be a whole number >= 0" in r.json["error"]
    assert "line 3: A at main is counted twice" in r.json["error"]
    assert levels(client, auth) == {}
    r = snapshot(client, auth, [{"sku": "A", "warehouse": "east", "on_hand": 4}])
    assert r.json == {"lines": 1, "changed": 1, "oversold": []}
    assert client.get("/api/stock?sku=A", headers=auth).json["levels"][0]["warehouse"] == "east"
    assert client.post("/api/stock/snapshot", data="", headers={}).status_code == 401


def test_stock_import_csv(app, client, auth, tmp_path, database_url, redis_url, monkeypatch):
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(json.dumps({"database_url": database_url, "redis_url": redis_url, "channels": {}}))
    for var in ("HUB_DATABASE_URL", "HUB_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    csv = tmp_path / "counts.csv"
    csv.write_text("sku,warehouse,on_hand\nA,main,5\nB,,7\n")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "stock", "import", str(csv)])
    assert res.exit_code == 0, res.output
    assert "imported 2 count(s)" in res.output
    assert levels(client, auth) == {"A": (5, 0), "B": (7, 0)}
    csv.write_text("sku,on_hand\nA,5\n")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "stock", "import", str(csv)])
    assert res.exit_code == 1 and "header must be exactly: sku,warehouse,on_hand" in res.output


def test_order_events_say_what_they_did_to_stock(app, client, auth):
    snapshot(client, auth, [{"sku": "PW-000", "on_hand": 10}, {"sku": "PT-M", "on_hand": 5}])
    deliver(client, "woo", "order.created", woo_order())
    run_worker(app)
    (row,) = event_rows(app)
    assert "stock PT-M sale -1, PW-000 sale -2" in row.status_reason
