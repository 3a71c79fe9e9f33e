"""``hub doctor``: every configured system checked as it is, one row each (what was checked, ok / warn / FAIL,
and what to do), before a shop trusts the hub with its stock.

The database (reachable, migrated) and Redis; each Shopify channel's token, API version and access scopes;
each WooCommerce key and whether it may write; Odoo's login, the modules the export needs and the user's
rights on the models it writes; HubSpot's token and the custom deal property the hub upserts by (created
with ``fix``); each channel's webhook subscriptions where the hub keeps them (``public_url``). Every call
is a read, except what ``fix`` creates; each goes through the connectors' own clients and their timeouts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connectors import change_source
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.consts import CUSTOM_DEAL_PROPERTIES
from connectors.odoo.client import OdooClient
from connectors.outbound import SyncError
from connectors.shopify.client import ShopifyClient
from connectors.shopify.consts import API_VERSION, REQUIRED_SCOPES
from connectors.woocommerce.client import WooClient
from hub.config import ChannelConfig, Config
from hub.redis import EMBEDDED, connect, redacted_url
from jobs.subscriptions import delivery_url, managed, plan, subscriber, topics
from store.db import alembic_config, make_engine

OK, WARN, FAIL = "ok", "warn", "FAIL"
CHECK_TIMEOUT_S = 10.0  # a system that does not answer is one failing row, not a hang
# the Odoo modules the export and the pulls use: sale orders, their deliveries, stock
ODOO_MODULES = ("sale_management", "stock", "sale_stock")
# (model, operation) the hub's Odoo user needs
ODOO_RIGHTS = (("res.partner", "create"), ("res.partner", "write"), ("sale.order", "create"),
               ("sale.order", "write"), ("product.product", "read"), ("stock.picking", "read"),
               ("stock.move", "read"), ("stock.quant", "read"))
SCOPES_QUERY = "query Scopes { currentAppInstallation { accessScopes { handle } } }"


@dataclass(frozen=True)
class Row:
    subject: str  # database, redis, a channel id, erp, crm
    check: str
    result: str  # OK | WARN | FAIL
    detail: str = ""  # what was found, and for a failure what to do


def run_checks(cfg: Config, fix: bool = False) -> list[Row]:
    """Every check the config calls for, in order; never raises for a system that is down or refuses."""
    rows = [*_database(cfg), *_redis(cfg)]
    for ch in cfg.channels.values():
        if ch.calls_api and ch.kind == "shopify":
            rows += _guarded(ch.id, "API", lambda ch=ch: _shopify(ch))
        elif ch.calls_api and ch.kind == "woocommerce":
            rows += _guarded(ch.id, "API", lambda ch=ch: _woo(ch))
        elif ch.calls_api and ch.kind in ("stripe", "paypal"):
            rows += _guarded(ch.id, "API key", lambda ch=ch: _payments(ch))
    if cfg.erp:
        rows += _guarded("erp", "Odoo", lambda: _odoo(cfg))
    if cfg.crm:
        rows += _guarded("crm", "HubSpot", lambda: _hubspot(cfg, fix))
    rows += _subscriptions(cfg)
    return rows


def failed(rows: list[Row]) -> bool:
    return any(r.result == FAIL for r in rows)


def table(rows: list[Row]) -> list[str]:
    """Plain text columns; the detail last, unpadded."""
    header = ("system", "check", "result", "detail")
    widths = [max(len(str(r[i])) for r in [header, *[(x.subject, x.check, x.result) for x in rows]])
              for i in range(3)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]  # noqa: E731
    return [line(header).rstrip(), "  ".join("-" * w for w in widths) + "  ------",
            *(line((r.subject, r.check, r.result, r.detail)).rstrip() for r in rows)]


def _guarded(subject: str, check: str, rows: Callable[[], Iterator[Row]]) -> list[Row]:
    """The rows ``rows`` yields; a refusal or an unreachable system ends them with one failing row."""
    out: list[Row] = []
    try:
        out.extend(rows())
    except SyncError as exc:
        out.append(Row(subject, check, FAIL, _one_line(str(exc))))
    return out


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---- the stores --------------------------------------------------------------------------------------

def _database(cfg: Config) -> list[Row]:
    where = make_url(cfg.database_url).render_as_string(hide_password=True)
    engine = make_engine(cfg.database_url, cfg.db_busy_timeout_s, cfg.var_dir)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    except SQLAlchemyError as exc:
        why = _one_line(str(getattr(exc, "orig", None) or exc), 120)
        return [Row("database", "reachable", FAIL, f"{where}: {type(exc).__name__}: {why} (check database_url / "
                    "HUB_DATABASE_URL and that the server runs)")]
    finally:
        engine.dispose()
    if current != head:
        return [Row("database", "reachable", OK, where),
                Row("database", "migrations", FAIL, f"at {current or 'none'}, the code needs {head}: run "
                                                   "`hub db upgrade`")]
    return [Row("database", "reachable", OK, where), Row("database", "migrations", OK, f"at head ({head})")]


def _redis(cfg: Config) -> list[Row]:
    url = os.environ.get("HUB_REDIS_URL") or cfg.redis_url
    if url == EMBEDDED:
        return [Row("redis", "reachable", OK, "embedded (started by each hub process under var_dir)")]
    try:
        handle = connect(url, cfg.var_dir)
        handle.client.ping()
        version = handle.client.info("server").get("redis_version", "?")
        policy = handle.client.config_get("maxmemory-policy").get("maxmemory-policy", "?")
    except RedisError as exc:
        return [Row("redis", "reachable", FAIL, f"{redacted_url(url)}: {type(exc).__name__} (check redis_url / "
                                                "HUB_REDIS_URL and that the server runs)")]
    rows = [Row("redis", "reachable", OK, f"{redacted_url(url)}, Redis {version}")]
    if policy not in ("noeviction", "?"):
        rows.append(Row("redis", "maxmemory-policy", WARN, f"{policy}: set noeviction, or a full Redis drops "
                                                          "queued jobs"))
    return rows


# ---- the platforms -----------------------------------------------------------------------------------

def _shopify(ch: ChannelConfig) -> Iterator[Row]:
    client = ShopifyClient(_with_timeout(ch))
    version = ch.extra.get("api_version") or API_VERSION
    data = client.execute(SCOPES_QUERY, {}, "access scopes")
    yield Row(ch.id, "token", OK, f"accepted by {ch.extra['shop']}, Admin API {version}")
    if version != API_VERSION:
        yield Row(ch.id, "API version", WARN, f"{version}; the hub is built and tested on {API_VERSION}")
    granted = {s["handle"] for s in (data.get("currentAppInstallation") or {}).get("accessScopes") or []}
    # Shopify grants read_X with write_X
    have = granted | {"read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")}
    lacking = [s for s in REQUIRED_SCOPES if s not in have]
    if lacking:
        yield Row(ch.id, "access scopes", FAIL, f"missing {', '.join(lacking)}: add them to the app's Admin API "
                                               "access scopes and install the new version on the shop")
    else:
        yield Row(ch.id, "access scopes", OK, f"all {len(REQUIRED_SCOPES)} the hub needs")


def _woo(ch: ChannelConfig) -> Iterator[Row]:
    client = WooClient(_with_timeout(ch))
    client.call("GET", "products", "read products", params={"per_page": 1})
    yield Row(ch.id, "API key", OK, f"reads {ch.extra['url']}")
    try:  # an empty batch changes nothing, and a read-only key is refused it before anything runs
        client.call("POST", "products/batch", "write check", data={})
    except SyncError as exc:
        said = re.search(r'"message":\s*"([^"]+)"', str(exc))
        yield Row(ch.id, "write permission", FAIL, f"refused: {said.group(1) if said else _one_line(str(exc), 120)} "
                                                  "Give the key Read/Write in WooCommerce > Settings > Advanced > "
                                                  "REST API")
        return
    yield Row(ch.id, "write permission", OK, "the key may write (stock, order notes)")


def _payments(ch: ChannelConfig) -> Iterator[Row]:
    source = change_source(_with_timeout(ch))  # the backfill's own reader of the events its webhooks missed
    source.probe()
    yield Row(ch.id, "API key", OK, "reads the account's events (backfill)")


def _odoo(cfg: Config) -> Iterator[Row]:
    erp = cfg.erp
    assert erp is not None
    client = OdooClient(erp.url, erp.db, erp.login, erp.api_key, min(erp.timeout_s, CHECK_TIMEOUT_S))
    uid = client.uid
    yield Row("erp", "login", OK, f"{erp.login} (uid {uid}) on {erp.url}, database {erp.db}")
    found = {m["name"]: m["state"] for m in client.search_read("ir.module.module",
                                                               [["name", "in", list(ODOO_MODULES)]], ["name", "state"])}
    lacking = [m for m in ODOO_MODULES if found.get(m) != "installed"]
    yield (Row("erp", "modules", FAIL, f"not installed: {', '.join(lacking)}: install them in Odoo's Apps")
           if lacking else Row("erp", "modules", OK, ", ".join(ODOO_MODULES)))
    denied = [f"{op} {model}" for model, op in ODOO_RIGHTS
              if not client.execute_kw(model, "has_access", [[], op])]
    yield (Row("erp", "rights", FAIL, f"{erp.login} may not {', '.join(denied)}: give the user Sales / "
                                       "Administrator and Inventory / User")
           if denied else Row("erp", "rights", OK, f"{len(ODOO_RIGHTS)} model rights the export needs"))


def _hubspot(cfg: Config, fix: bool) -> Iterator[Row]:
    crm = cfg.crm
    assert crm is not None
    client = HubSpotClient(crm.url, crm.token, min(crm.timeout_s, CHECK_TIMEOUT_S))
    client.call("GET", "/crm/v3/pipelines/deals", "deal pipelines")
    yield Row("crm", "token", OK, f"accepted by {crm.url}")
    for prop in CUSTOM_DEAL_PROPERTIES:
        name = prop["name"]
        found = client.get_property("deals", name)
        if found is None and not fix:
            yield Row("crm", f"deal property {name}", FAIL, "missing (deals are upserted by it): run "
                                                            "`hub doctor --fix` to create it")
        elif found is None:
            client.create_property("deals", prop)
            yield Row("crm", f"deal property {name}", OK, "created (unique)")
        elif prop.get("hasUniqueValue") and not found.get("hasUniqueValue"):
            yield Row("crm", f"deal property {name}", FAIL, "exists but is not unique: delete it and run "
                                                            "`hub doctor --fix`")
        else:
            yield Row("crm", f"deal property {name}", OK, "present")


def _subscriptions(cfg: Config) -> list[Row]:
    rows: list[Row] = []
    if not cfg.public_url:
        if any(ch.calls_api and subscriber(ch) is not None for ch in cfg.channels.values()):
            rows.append(Row("webhooks", "subscriptions", WARN, "public_url is not set: the hub cannot check or "
                                                               "keep the platforms' webhooks pointed at it"))
        return rows
    for cid in managed(cfg):
        ch = cfg.channels[cid]

        def check(cid: str = cid, ch: ChannelConfig = ch) -> Iterator[Row]:
            todo = plan(cid, subscriber(_with_timeout(ch)).subscriptions(), topics(ch), delivery_url(cfg, cid))
            if todo:
                yield Row(cid, "webhooks", FAIL, "; ".join(f"{f.topic}: {f.problem}" for f, _ in todo[:5])
                          + ": run `hub channels subscribe`")
            else:
                yield Row(cid, "webhooks", OK, f"{len(topics(ch))} topic(s) active, pointed at the hub")

        rows += _guarded(cid, "webhooks", check)
    return rows


def _with_timeout(ch: ChannelConfig) -> ChannelConfig:
    return replace(ch, timeout_s=min(ch.timeout_s, CHECK_TIMEOUT_S))
