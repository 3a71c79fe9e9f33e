"""The sandbox: section and what it serves: which systems are simulated (where the config's URLs point),
config errors naming the key, the PayPal CA never written over a real bundle, and the webhook emitters'
control API signing exactly as the platforms do (the hub's real verifiers accept what they send)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from hub.config import ConfigError, load_config, load_config_dict
from sandbox.base import serve
from sandbox.emitters import EmitterService, Target
from sandbox.emitters.paypal import PayPalCertServer
from sandbox.stack import SandboxStack, _install_ca, plan

from ..support import PAYPAL_WEBHOOK_ID, SECRETS, event_rows, live_server
from ..support.run import example_config, free_port

ROOT = Path(__file__).resolve().parents[2]


def example() -> dict:
    return yaml.safe_load((ROOT / "hub.example.yaml").read_text())


def test_the_example_simulates_every_outbound_system_where_its_urls_point():
    cfg = load_config(ROOT / "hub.example.yaml", environ={})
    assert [(s.key, s.system, s.url) for s in plan(cfg)] == [
        ("shop-eu", "shopify", "http://127.0.0.1:8081"), ("woo", "woocommerce", "http://127.0.0.1:8091"),
        ("erp", "odoo", "http://127.0.0.1:8069"), ("crm", "hubspot", "http://127.0.0.1:8071"),
        ("emitter", "emitter", "http://127.0.0.1:8075"), ("paypal-certs", "paypal-certs", "https://localhost:8076")]
    assert plan(cfg)[0].locations == {"68640716290": "Main"}
    assert cfg.sandbox.latency_s == (0.0, 0.0)


def test_real_platforms_and_configs_without_the_section_are_left_alone():
    raw = example()
    raw["channels"]["woo"]["url"] = "https://shop.example.com"
    raw["crm"]["url"] = "https://api.hubapi.com"
    del raw["channels"]["paypal"]["cert_ca_bundle"]  # the sandbox cannot sign for it: no certificate server
    assert [s.key for s in plan(load_config_dict(raw, environ={}))] == ["shop-eu", "erp", "emitter"]
    del raw["sandbox"]
    assert plan(load_config_dict(raw, environ={})) == []


@pytest.mark.parametrize("change, message", [
    (lambda r: r["sandbox"].update(emitter_port=8081), "sandbox: emitter and shop-eu would both listen on port 8081"),
    (lambda r: r["crm"].update(url="http://localhost:8069"), "sandbox: crm and erp would both listen on port 8069"),
    (lambda r: r["channels"]["shop-eu"].update(locations={"main-loc": "main"}),
     "channels.shop-eu.locations: the Shopify sandbox's location ids are numbers"),
])
def test_plan_errors_name_the_key(change, message):
    raw = example()
    change(raw)
    with pytest.raises(ConfigError, match=message):
        plan(load_config_dict(raw, environ={}))


@pytest.mark.parametrize("sandbox, message", [
    ({"latency_s": [0.2, 0.1]}, "sandbox.latency_s: \\[low, high\\] with low <= high"),
    ({"latency_s": [0.1]}, "sandbox.latency_s: Length must be 2"),
    ({"emitter_port": 0}, "sandbox.emitter_port: Must be greater than or equal to 1"),
    ({"shopify_port": 1}, "sandbox.shopify_port: Unknown field"),
])
def test_sandbox_section_is_validated(sandbox, message):
    with pytest.raises(ConfigError, match=message):
        load_config_dict({"sandbox": sandbox}, environ={})


def test_the_paypal_ca_never_overwrites_a_bundle_of_real_cas(tmp_path):
    certs = PayPalCertServer(tmp_path / "pp")
    target = tmp_path / "bundle.pem"
    _install_ca(certs.ca_bundle, target)
    assert target.read_bytes() == certs.ca_bundle.read_bytes()
    _install_ca(PayPalCertServer(tmp_path / "pp2").ca_bundle, target)  # a restarted sandbox's CA replaces it
    target.write_text("-----BEGIN CERTIFICATE-----\nnot ours\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="is not the PayPal sandbox's CA; the sandbox will not overwrite it"):
        _install_ca(certs.ca_bundle, target)


def test_the_stack_seeds_the_configured_shopify_location(tmp_path):
    raw = yaml.safe_load(example_config(tmp_path).read_text())  # free ports
    raw["channels"]["paypal"]["cert_ca_bundle"] = str(tmp_path / "ca.pem")
    stack = SandboxStack(load_config_dict(raw, environ={}), "http://127.0.0.1:1", var_dir=str(tmp_path))
    try:
        shop = stack.apps["shop-eu"]
        ids = shop.seed(products=[{"title": "Mug", "variants": [{"sku": "MUG", "available": {"Main": 3}}]}])
        assert ids["locations"] == {"Main": "gid://shopify/Location/68640716290"}
        assert shop.levels() == {"MUG": {"Main": 3}}
        assert (tmp_path / "ca.pem").read_bytes() == stack.paypal_certs.ca_bundle.read_bytes()
    finally:
        stack.stop()


def test_the_stacks_hubspot_portal_is_given_hub_order_key_through_the_properties_api(tmp_path):
    """A new portal has no hub_order_key (HubSpotSandbox()); the stack creates it once it listens, as `hub doctor
    --fix` does on a real portal, so `hub run` and `hub demo` export deals."""
    raw = {"database_url": "sqlite:///hub.db", "channels": {}, "sandbox": {"emitter_port": free_port()},
           "crm": {"url": f"http://127.0.0.1:{free_port()}", "token": "pat-stack"}}
    stack = SandboxStack(load_config_dict(raw, environ={}), "http://127.0.0.1:1", var_dir=str(tmp_path))
    assert stack.apps["crm"].properties == {}
    stack.start()
    try:
        made = requests.get(f"{raw['crm']['url']}/crm/v3/properties/deals/hub_order_key", timeout=10,
                            headers={"Authorization": "Bearer pat-stack"})
        assert made.status_code == 200 and made.json()["hasUniqueValue"] is True
    finally:
        stack.stop()


@pytest.fixture
def emitter(make_app, tmp_path):
    certs = PayPalCertServer(tmp_path / "paypal")
    certs.start()
    channels = {"stripe": {"kind": "stripe", "webhook_secrets": SECRETS["stripe"]},
                "paypal": {"kind": "paypal", "webhook_id": PAYPAL_WEBHOOK_ID, "cert_hosts": ["localhost"],
                           "cert_ca_bundle": str(certs.ca_bundle)},
                "easypost": {"kind": "easypost", "webhook_secrets": SECRETS["easypost"]},
                "shippo": {"kind": "shippo", "webhook_secrets": SECRETS["shippo"]}}
    app = make_app(channels=channels)
    with live_server(app) as hub_url:
        service = EmitterService(hub_url, stripe=Target("stripe", SECRETS["stripe"][0]),
                                 paypal=Target("paypal", PAYPAL_WEBHOOK_ID), paypal_certs=certs,
                                 carriers={"easypost": Target("easypost", SECRETS["easypost"][0]),
                                           "shippo": Target("shippo", SECRETS["shippo"][0])})
        with serve(service.app) as url:
            yield app, url
    certs.stop()


def test_emitters_sign_as_the_platforms_do(emitter):
    app, url = emitter
    r = requests.post(f"{url}/_sandbox/stripe/payments", json={"order_ref": "114", "amount_minor": 4000,
                                                              "currency": "usd"}, timeout=10)
    assert r.status_code == 200 and r.json()["hub"]["status"] == "accepted", r.text
    assert r.json()["event"]["data"]["object"]["metadata"] == {"order_id": "114"}
    r = requests.post(f"{url}/_sandbox/paypal/captures", json={"order_ref": "1001", "amount": "15.00",
                                                              "currency": "USD"}, timeout=10)
    assert r.status_code == 200 and r.json()["hub"]["status"] == "accepted", r.text
    for kind in ("easypost", "shippo"):
        r = requests.post(f"{url}/_sandbox/carriers/{kind}", json={
            "tracking_number": "9400TEST", "carrier": "usps", "statuses": ["in_transit", "delivered"],
            "start": "2026-11-20T09:00:00Z"}, timeout=10)
        assert r.status_code == 200 and r.json()["hub"]["status"] == "accepted", r.text
    assert [(e.channel, e.topic) for e in event_rows(app)] == [
        ("stripe", "payment_intent.succeeded"), ("paypal", "PAYMENT.CAPTURE.COMPLETED"),
        ("easypost", "tracker.updated"), ("shippo", "track_updated")]
    sent = requests.get(f"{url}/_sandbox/", timeout=10).json()["sent"]
    assert sent == {"stripe payment_intent.succeeded": 1, "paypal PAYMENT.CAPTURE.COMPLETED": 1,
                    "easypost delivered": 1, "shippo delivered": 1}


@pytest.mark.parametrize("path, body, status, error", [
    ("carriers/aftership", {"tracking_number": "1Z", "carrier": "ups", "statuses": ["delivered"]}, 404,
     "no aftership channel configured"),
    ("carriers/easypost", {"tracking_number": "1Z", "carrier": "ups", "statuses": ["lost"]}, 422, "statuses:"),
    ("carriers/easypost", {"tracking_number": "1Z", "carrier": "ups", "statuses": ["delivered"],
                           "start": "2026-11-20T09:00:00"}, 422, "a time with its offset"),
    ("stripe/payments", {"order_ref": "114", "currency": "usd"}, 422, "missing field 'amount_minor'"),
    ("paypal/captures", {"order_ref": "1", "amount": "-1", "currency": "USD"}, 422, "not a positive amount"),
])
def test_emitter_refusals_say_why_and_send_nothing(emitter, path, body, status, error):
    app, url = emitter
    r = requests.post(f"{url}/_sandbox/{path}", json=body, timeout=10)
    assert r.status_code == status and error in r.json()["error"]
    assert event_rows(app) == []


def test_a_delivery_the_hub_refuses_is_a_502_with_the_hubs_answer(make_app):
    app = make_app(channels={"stripe": {"kind": "stripe", "webhook_secrets": ["whsec_right"]}})
    with live_server(app) as hub_url:
        service = EmitterService(hub_url, stripe=Target("stripe", "whsec_wrong"))
        with serve(service.app) as url:
            r = requests.post(f"{url}/_sandbox/stripe/payments", json={"order_ref": "1", "amount_minor": 100,
                                                                      "currency": "eur"}, timeout=10)
    assert r.status_code == 502 and r.json()["hub_status"] == 401
    assert event_rows(app) == []


def test_commands_say_what_is_served_and_refuse_without_the_section(tmp_path):
    from click.testing import CliRunner

    from hub.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(ROOT / "hub.example.yaml"), "check-config"], env={"HUB_CONFIG": ""})
    assert res.exit_code == 0, res.output
    assert "sandbox: shopify (shop-eu) on http://127.0.0.1:8081" in res.output
    assert "sandbox: paypal-certs (paypal-certs) on https://localhost:8076" in res.output
    bare = tmp_path / "hub.yaml"
    bare.write_text("channels:\n  s: {kind: stripe, webhook_secrets: [whsec_x]}\n")
    for args in (["run", "--sandboxes"], ["sandboxes"]):
        res = runner.invoke(cli, ["--config", str(bare), *args])
        assert res.exit_code == 1 and "has no sandbox: section (see hub.example.yaml)" in res.output, res.output
