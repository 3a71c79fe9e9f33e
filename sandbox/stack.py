"""The platform sandboxes a config asks for (its ``sandbox:`` section), served together in one process by
``hub sandboxes``, which ``hub run`` starts as one more child, so the hub's outbound side and ``hub demo``
work on one machine with no network.

The config stays the single truth: a Shopify or WooCommerce channel whose API URL (``api_url`` /
``url``), ``erp.url`` or ``crm.url`` is an http URL on this machine is simulated on that URL's port,
with the credentials and webhook secret written there, and sends its webhooks to the hub's
``/webhooks/<channel>``. Shopify locations are created with the ids the channel's ``locations`` name.
The HubSpot portal starts as a new one does and is then given the deal property the hub upserts by
(``hub_order_key``) through HubSpot's properties API, as ``hub doctor --fix`` gives it to a real one.
Stripe, PayPal and the carriers get the webhook emitters (``sandbox/emitters/``) on
``sandbox.emitter_port``, which also serve Stripe's and PayPal's event APIs to those channels' API keys (a
Stripe or PayPal ``api_url`` on this machine must name that port); PayPal's signing certificate is served
over https on ``sandbox.paypal_cert_port`` and its test CA written to the PayPal channel's
``cert_ca_bundle``, which is why that channel needs ``localhost`` in ``cert_hosts``. Production configs
have no ``sandbox:`` section.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from werkzeug.serving import BaseWSGIServer, make_server

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.consts import CUSTOM_DEAL_PROPERTIES
from hub.config import Config, ConfigError
from sandbox.base import STOP_POLL_S
from sandbox.corpus import missing, missing_message
from sandbox.emitters import EmitterService, Target
from sandbox.emitters.payment_events import PaymentEvents
from sandbox.emitters.paypal import PayPalCertServer
from sandbox.hubspot import HubSpotSandbox
from sandbox.odoo import OdooSandbox
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooSandbox

logger = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SANDBOX_CA_NAME = "Hub Sandbox Root CA"  # the PayPal sandbox's CA: the only bundle the runner overwrites
EMITTER_KINDS = ("stripe", "paypal", "easypost", "shippo", "aftership")
PAYMENT_KINDS = ("stripe", "paypal")  # their event APIs are served by the emitters too


@dataclass(frozen=True)
class Simulated:
    """One simulated system: what it stands for (``key``: a channel id, ``erp``, ``crm``, ``emitter``,
    ``paypal-certs``), the platform, and where it listens."""

    key: str
    system: str  # shopify | woocommerce | odoo | hubspot | emitter | paypal-certs
    host: str
    port: int
    locations: dict[str, str] = field(default_factory=dict)  # shopify: location id -> location name

    @property
    def url(self) -> str:
        scheme = "https" if self.system == "paypal-certs" else "http"
        return f"{scheme}://{'localhost' if self.system == 'paypal-certs' else self.host}:{self.port}"


def _local(url: str | None, key: str) -> tuple[str, int] | None:
    """(host, port) when ``url`` is an http URL on this machine, else None (a real platform)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "http" or (parts.hostname or "") not in LOCAL_HOSTS:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"{key}: not a valid URL: {url!r}") from None
    return ("127.0.0.1" if parts.hostname == "localhost" else parts.hostname or "127.0.0.1"), port


def location_name(warehouse: str, location_id: str, taken: set[str]) -> str:
    """The sandbox shop's name for a location: its warehouse, capitalised (``main`` -> ``Main``)."""
    name = warehouse[:1].upper() + warehouse[1:]
    return name if name not in taken else f"{name} {location_id}"


def plan(cfg: Config) -> list[Simulated]:
    """What ``hub sandboxes`` serves for ``cfg`` (empty without a ``sandbox:`` section); ConfigError names
    the key when two systems would share a port."""
    if cfg.sandbox is None:
        return []
    out: list[Simulated] = []
    for ch in cfg.channels.values():
        key = "api_url" if ch.kind == "shopify" else "url"
        if ch.kind not in ("shopify", "woocommerce") or not ch.calls_api:
            continue
        where = _local(ch.extra.get(key), f"channels.{ch.id}.{key}")
        if where is None:
            continue
        locations: dict[str, str] = {}
        if ch.kind == "shopify":
            for loc_id, warehouse in ch.locations.items():
                if not loc_id.isdigit():
                    raise ConfigError(f"channels.{ch.id}.locations: the Shopify sandbox's location ids are "
                                      f"numbers, not {loc_id!r}")
                locations[loc_id] = location_name(warehouse, loc_id, set(locations.values()))
        out.append(Simulated(ch.id, ch.kind, *where, locations=locations))
    if cfg.erp and (where := _local(cfg.erp.url, "erp.url")):
        out.append(Simulated("erp", "odoo", *where))
    if cfg.crm and (where := _local(cfg.crm.url, "crm.url")):
        out.append(Simulated("crm", "hubspot", *where))
    for ch in cfg.channels.values():
        where = _local(ch.extra.get("api_url"), f"channels.{ch.id}.api_url") if ch.kind in PAYMENT_KINDS else None
        if where is not None and where[1] != cfg.sandbox.emitter_port:
            raise ConfigError(f"channels.{ch.id}.api_url: the {ch.kind} sandbox's API is served by the emitters, on "
                              f"sandbox.emitter_port ({cfg.sandbox.emitter_port}), not on port {where[1]}")
    out.append(Simulated("emitter", "emitter", "127.0.0.1", cfg.sandbox.emitter_port))
    if paypal_channel(cfg) is not None:
        out.append(Simulated("paypal-certs", "paypal-certs", "127.0.0.1", cfg.sandbox.paypal_cert_port))
    seen: dict[int, str] = {}
    for s in out:
        if s.port and s.port in seen:
            raise ConfigError(f"sandbox: {s.key} and {seen[s.port]} would both listen on port {s.port}")
        seen[s.port] = s.key
    return out


def paypal_channel(cfg: Config) -> Any:
    """The first PayPal channel the sandbox can sign for: it fetches certificates from localhost and names
    the CA bundle the sandbox writes."""
    return next((c for c in cfg.channels.values()
                 if c.kind == "paypal" and "localhost" in c.cert_hosts and c.cert_ca_bundle), None)


def first_channel(cfg: Config, kind: str) -> Any:
    return next((c for c in cfg.channels.values() if c.kind == kind), None)


class SandboxStack:
    """Every sandbox of ``plan(cfg)``, built and (by ``start``) served on threads of this process."""

    def __init__(self, cfg: Config, hub_url: str, var_dir: str | None = None) -> None:

        assert cfg.sandbox is not None
        self.cfg, self.hub_url = cfg, hub_url.rstrip("/")
        self.plan = plan(cfg)
        check_ports(self.plan)  # a taken port fails now, before the slow part (schema, keys); start() binds for real
        latency = cfg.sandbox.latency_s
        self.apps: dict[str, Any] = {}  # key -> sandbox object
        self._servers: list[tuple[Simulated, BaseWSGIServer]] = []
        self._threads: list[threading.Thread] = []
        self.paypal_certs: PayPalCertServer | None = None
        for s in self.plan:
            if s.system == "shopify":
                _need_shopify_schema()
                ch = cfg.channels[s.key]
                shop = ShopifySandbox(shop=ch.extra["shop"], access_token=ch.extra["access_token"], latency=latency,
                                      webhook_url=self._hook(ch.id), webhook_secret=ch.webhook_secrets[0])
                shop.seed(locations=[{"id": int(i), "name": n} for i, n in s.locations.items()])
                self.apps[s.key] = shop
            elif s.system == "woocommerce":
                ch = cfg.channels[s.key]
                self.apps[s.key] = WooSandbox(consumer_key=ch.extra["consumer_key"],
                                              consumer_secret=ch.extra["consumer_secret"], latency=latency,
                                              webhook_url=self._hook(ch.id), webhook_secret=ch.webhook_secrets[0],
                                              base_url=ch.extra["url"].rstrip("/"))
            elif s.system == "odoo":
                erp = cfg.erp
                assert erp is not None
                self.apps[s.key] = OdooSandbox(db=erp.db, login=erp.login, api_key=erp.api_key, latency=latency)
            elif s.system == "hubspot":
                assert cfg.crm is not None
                self.apps[s.key] = HubSpotSandbox(token=cfg.crm.token, latency=latency)
        if (pp := paypal_channel(cfg)) is not None:
            self.paypal_certs = PayPalCertServer(Path(var_dir or cfg.var_dir, "sandbox", "paypal"))
            _install_ca(self.paypal_certs.ca_bundle, Path(pp.cert_ca_bundle))
        targets = {kind: Target(c.id, c.webhook_secrets[0]) for kind in EMITTER_KINDS
                   if kind != "paypal" and (c := first_channel(cfg, kind)) is not None and c.webhook_secrets}
        st = first_channel(cfg, "stripe")
        keys = {**({"stripe_api_key": st.extra["api_key"]} if st is not None and st.calls_api else {}),
                **({"paypal_client_id": pp.extra["client_id"], "paypal_client_secret": pp.extra["client_secret"]}
                   if pp is not None and pp.calls_api else {})}
        self.emitter = EmitterService(self.hub_url, stripe=targets.pop("stripe", None),
                                      paypal=Target(pp.id, pp.webhook_id or "") if pp else None,
                                      paypal_certs=self.paypal_certs, carriers=targets, events=PaymentEvents(**keys))
        self.apps["emitter"] = self.emitter

    def _hook(self, channel: str) -> str:
        return f"{self.hub_url}/webhooks/{channel}"

    def start(self) -> None:
        """Listen on every planned port (OSError naming the system when one is taken), then serve."""
        for s in self.plan:
            try:
                if s.system == "paypal-certs":
                    assert self.paypal_certs is not None
                    self.paypal_certs.start(port=s.port)
                else:
                    # bound here: werkzeug's own bind prints and exits on a taken port, without naming the sandbox
                    with socket.create_server((s.host, s.port)) as sock:
                        server = make_server(s.host, s.port, self.apps[s.key].app, threaded=True, fd=sock.fileno())
                    self._servers.append((s, server))
            except OSError as exc:
                self.stop()
                raise OSError(_cannot_listen(s, exc)) from exc

        for _, server in self._servers:
            t = threading.Thread(target=server.serve_forever, args=(STOP_POLL_S,), name="sandbox-server", daemon=True)
            t.start()
            self._threads.append(t)
        self._set_up_portal()

    def _set_up_portal(self) -> None:
        """The HubSpot sandbox starts as a new portal does, without the deal property the hub upserts by:
        create it through the properties API, the call `hub doctor --fix` makes on a real portal."""
        for s, _ in self._servers:
            if s.system == "hubspot":
                assert self.cfg.crm is not None
                client = HubSpotClient(s.url, self.cfg.crm.token)
                for prop in CUSTOM_DEAL_PROPERTIES:
                    client.create_property("deals", prop)

    def stop(self) -> None:
        if self._threads:  # shutdown() waits for serve_forever, which never ran before start() finished
            # each server notices within its poll interval: ask them all at once, not one after the other
            stopping = [threading.Thread(target=server.shutdown) for _, server in self._servers]
            for t in stopping:
                t.start()
            for t in stopping:
                t.join()
        for _, server in self._servers:
            server.server_close()
        self._servers.clear()
        if self.paypal_certs is not None:
            self.paypal_certs.stop()
        for app in self.apps.values():
            if hasattr(app, "close"):
                app.close()


def check_ports(simulated: list[Simulated]) -> None:
    """OSError naming the first sandbox whose port is taken (what ``hub run`` checks before it starts anything)."""
    for s in simulated:
        try:
            socket.create_server((s.host, s.port)).close()
        except OSError as exc:
            raise OSError(_cannot_listen(s, exc)) from exc


def _cannot_listen(s: Simulated, exc: OSError) -> str:
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"sandbox {s.key} ({s.system}): cannot listen on {s.host}:{s.port}: {why}"


def _install_ca(source: Path, target: Path) -> None:
    """Write the sandbox's CA where the PayPal channel reads its bundle, never over a bundle of real CAs."""
    if target.resolve() == source.resolve():
        return
    if target.exists() and SANDBOX_CA_NAME not in _subjects(target):
        raise ConfigError(f"channels.<paypal>.cert_ca_bundle: {target} is not the PayPal sandbox's CA; "
                          "the sandbox will not overwrite it (point cert_ca_bundle at a file of its own)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def _subjects(bundle: Path) -> str:

    try:
        certs = x509.load_pem_x509_certificates(bundle.read_bytes())
    except ValueError:
        return ""
    return " ".join(c.subject.rfc4514_string() for c in certs)


def _need_shopify_schema() -> None:
    """The Shopify sandbox executes on Shopify's official schema from the shared corpus: missing, it could
    only answer 500s, so say where it was looked for before anything starts."""
    if paths := missing():
        raise ConfigError(f"sandbox: {missing_message(paths)}")


def check_needs(simulated: list[Simulated]) -> None:
    """ConfigError (one line, with the command that fixes it) when a planned sandbox lacks a corpus file:
    what ``hub run`` checks before it starts anything."""
    if any(s.system == "shopify" for s in simulated):
        _need_shopify_schema()
