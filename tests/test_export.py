"""Orders to the ERP (Odoo) and the CRM (HubSpot), end to end: signed WooCommerce order webhooks into the
hub, RQ jobs through the real clients against the Odoo and HubSpot sandboxes served over HTTP. Outcomes as
a merchant would see them: one partner and one sale order per channel order, confirmed only when paid, one
contact and one deal with a note per step, failures retried or recorded with a readable reason."""

from __future__ import annotations

import json

import pytest
from rq.registry import FailedJobRegistry

from sandbox import signing
from store.models import crm_deals, crm_notes, erp_orders

from .support import SECRETS, post, shopify_order
from .support.erp_crm import Env, erp_crm_env
from .support.erp_crm import erp_woo_order as woo_order


@pytest.fixture
def env(make_app):
    with erp_crm_env(make_app) as e:
        yield e


def test_an_order_reaches_the_erp_and_the_crm_once(env):
    env.deliver(woo_order(), times=3)
    env.run()
    env.deliver(woo_order(modified="2026-11-22T07:00:00"), topic="order.updated")  # a change: both jobs again
    env.run()
    [partner] = [p for p in env.erp.records("res.partner") if p.get("email") == "ada@example.com"]
    [so] = env.sale_orders()
    assert (so["client_order_ref"], so["state"], so["partner_id"][0]) == ("woo:114", "draft", partner["id"])
    assert so["amount_total"] == 40.0
    [contact] = env.crm.records("contacts")
    [deal] = env.crm.records("deals")
    [note] = env.crm.records("notes")
    assert contact["properties"]["email"] == "ada@example.com"
    props = deal["properties"]
    assert (props["hub_order_key"], props["dealstage"]) == ("woo:114", "decisionmakerboughtin")
    assert deal["properties"]["amount"] == "40.00"
    assert [a["toObjectId"] for a in env.crm.associations("deals", deal["id"], "contacts")] == [int(contact["id"])]
    assert "Order 114 placed on woo: 40.00 USD, 3 item(s)" == note["properties"]["hs_note_body"]
    [erp_row], [deal_row] = env.rows(erp_orders), env.rows(crm_deals)
    assert (erp_row.status, erp_row.state, erp_row.name, erp_row.ref, erp_row.error) == ("ok", "draft", so["name"],
                                                                                         "woo:114", None)
    assert (deal_row.status, deal_row.deal_id, deal_row.contact_id) == ("ok", deal["id"], contact["id"])
    assert env.erp.stats["creates"].get("sale.order") == 1
    assert env.hub.queues.queue_names()[-3:] == ["erp", "crm", "replay"]


@pytest.mark.parametrize("status, method, confirmed", [
    ("on-hold", "bacs", False),  # waiting for a bank transfer: never confirmed
    ("pending", "stripe", False),
    ("processing", "stripe", True),  # paid
    ("on-hold", "cod", True),  # cash on delivery is configured as pay-later
])
def test_only_a_paid_or_pay_later_order_is_confirmed(env, status, method, confirmed):
    env.deliver(woo_order(status, method))
    env.run()
    [so] = env.sale_orders()
    assert so["state"] == ("sale" if confirmed else "draft")
    assert env.rows(erp_orders)[0].state == ("confirmed" if confirmed else "draft")


def test_payment_later_confirms_and_notes_the_crm(env):
    env.deliver(woo_order())
    env.run()
    assert env.sale_orders()[0]["state"] == "draft"
    env.deliver(woo_order("processing", "bacs", modified="2026-11-22T08:00:00"), topic="order.updated")
    env.run()
    [so] = env.sale_orders()
    [deal] = env.crm.records("deals")
    assert so["state"] == "sale" and deal["properties"]["dealstage"] == "closedwon"
    bodies = [n["properties"]["hs_note_body"] for n in env.crm.records("notes")]
    assert bodies == ["Order 114 placed on woo: 40.00 USD, 3 item(s)", "Order 114 paid: 40.00 USD (bacs)"]
    assert [n.key for n in env.rows(crm_notes)] == [f"{env.rows(erp_orders)[0].order_id}:{k}:114"
                                                    for k in ("placed", "paid")]


def test_a_cancelled_order_cancels_the_sale_order_and_notes_the_crm(env):
    env.deliver(woo_order())
    env.run()
    env.deliver(woo_order("cancelled", modified="2026-11-22T09:00:00"), topic="order.updated")
    env.run()
    [so] = env.sale_orders()
    [deal] = env.crm.records("deals")
    assert so["state"] == "cancel" and env.rows(erp_orders)[0].state == "cancelled"
    assert deal["properties"]["dealstage"] == "closedlost"
    assert [n["properties"]["hs_note_body"] for n in env.crm.records("notes")][-1] == "Order 114 cancelled"


def test_throttling_and_timeouts_are_retried_and_end_right(env):
    env.crm.configure(ten_second_limit=2, interval_ms=300)  # a tiny ten-second window: 429s on the way
    env.erp.configure(fail_next=[{"model": "sale.order", "method": "create", "error": "timeout"}])
    env.deliver(woo_order("processing", "stripe"))
    env.run()
    [so] = env.sale_orders()  # the timed-out create was made; the retry found it instead of making another
    assert so["state"] == "sale" and env.erp.stats["injected"] == {"timeout": 1}
    [row] = env.rows(erp_orders)
    assert (row.status, row.attempts, row.error) == ("ok", 2, None)
    assert env.crm.stats["rate_limited"] > 0
    assert len(env.crm.records("deals")) == 1 and len(env.crm.records("notes")) == 2
    assert env.rows(crm_deals)[0].status == "ok"


def test_a_sku_unknown_to_the_erp_fails_with_a_readable_reason(env):
    env.deliver(woo_order(skus=("PW-000", "GHOST-9")))
    env.run()
    assert env.sale_orders() == []
    [row] = env.rows(erp_orders)
    assert row.status == "failed" and row.sale_order_id is None
    assert row.error == "SKU GHOST-9 is not a product in Odoo (default_code)"
    failed = FailedJobRegistry("erp", connection=env.hub.redis.client)
    assert failed.get_job_ids() == [f"erp-order-{row.order_id}"]
    assert env.rows(crm_deals)[0].status == "ok"  # the CRM does not wait for the ERP


def test_notes_from_elsewhere_are_sent_once(env):
    from jobs.crm import crm_note

    env.deliver(woo_order())
    env.run()
    order_id = env.rows(crm_deals)[0].order_id
    for _ in range(3):
        crm_note(env.hub, order_id, "shipped", "1Z999", "Shipped with UPS: 1Z999")
    env.run()
    bodies = [n["properties"]["hs_note_body"] for n in env.crm.records("notes")]
    assert bodies.count("Shipped with UPS: 1Z999") == 1 and len(bodies) == 2


def test_without_erp_or_crm_nothing_is_exported(make_app):
    app = make_app()
    assert "erp" not in app.extensions["hub"].queues.queue_names()
    env = Env(app, None, None)  # type: ignore[arg-type]
    env.deliver(woo_order())
    env.run()
    assert env.rows(erp_orders) == [] and env.rows(crm_deals) == []


def test_one_waiting_job_per_order_and_target(env):
    from rq.job import Job, JobStatus

    from jobs.queueing import worker_alive_key

    hub, redis = env.hub, env.hub.redis.client
    assert hub.queues.enqueue_crm(7) is True
    assert hub.queues.enqueue_crm(7) is False  # still queued: it reads the order when it runs, this change included
    Job.fetch("crm-order-7", connection=redis).set_status(JobStatus.STARTED)
    # as a live worker starts it: its name on the job, its alive key refreshed while it runs
    redis.hset("rq:job:crm-order-7", "worker_name", "w1")
    redis.set(worker_alive_key("w1"), 1, ex=60)
    assert hub.queues.enqueue_crm(7) is True  # it may have read the order already: one more, after it
    again = Job.fetch("crm-order-7-again", connection=redis)
    assert again.get_status() == JobStatus.DEFERRED and again.dependency_ids == ["crm-order-7"]
    assert hub.queues.enqueue_crm(7) is False
    again.set_status(JobStatus.READY_TO_ENQUEUE)  # rq 3: its dependency done, on its way to the queue
    assert hub.queues.enqueue_crm(7) is False  # still waiting: not replaced, not doubled
    again.set_status(JobStatus.DEFERRED)
    env.run()  # the first runs, then the one queued after it
    assert [Job.fetch(j, connection=redis).get_status() for j in ("crm-order-7", "crm-order-7-again")] == \
        [JobStatus.FINISHED, JobStatus.FINISHED]
    assert hub.queues.enqueue_crm(7) is True  # both done: a change queues the first id afresh


def test_a_reused_order_number_gets_a_sale_order_of_its_own(env):
    """A shop that numbers two orders alike (a sequential-numbers plugin reset): the second's reference
    takes its id, so neither order is exported onto the other's sale order."""
    env.deliver(woo_order())
    second = woo_order(modified="2026-11-22T08:00:00") | {"id": 115}  # number stays 114
    env.deliver(second)
    env.run()
    refs = sorted((so["client_order_ref"], so["state"]) for so in env.sale_orders())
    assert refs == [("woo:114", "draft"), ("woo:114/115", "draft")]
    assert sorted(r.ref for r in env.rows(erp_orders)) == ["woo:114", "woo:114/115"]


def test_shopifys_cash_on_delivery_gateway_is_pay_later(env):
    """Shopify names the gateway, not the method: "Cash on Delivery (COD)" is ``cod`` in pay_later_methods."""

    body = shopify_order("2026-11-20T10:00:00Z", "pending", payment_gateway_names=["Cash on Delivery (COD)"])
    for line in body["line_items"]:
        line["sku"] = "PW-000"
    raw = json.dumps(body).encode()
    with env.app.test_client() as client:
        assert post(client, "shop-eu", signing.shopify(SECRETS["shop-eu"][0], raw, "orders/create")).status_code == 200
    env.run()
    [so] = env.sale_orders()
    assert (so["client_order_ref"], so["state"]) == ("shop-eu:#1001", "sale")
