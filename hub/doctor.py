"""``hub doctor``: every configured system checked as it is, one row each (what was checked, ok / warn / FAIL,
and what to do), before a shop trusts the hub with its stock.

The database (reachable, migrated) and Redis; each Shopify channel's token, API version and access scopes;
each WooCommerce key and whether it may write; Odoo's login, the modules the export needs and the user's
rights on the models it writes; HubSpot's token and the custom deal property the hub upserts by (created
with ``fix``); each channel's webhook subscriptions where the hub keeps them (``public_url``). Every call
is a read, except what ``fix`` creates; each goes through the connectors' own clients and their timeouts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from connectors import change_source
from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.consts import CUSTOM_DEAL_PROPERTIES
from connectors.odoo.client import OdooClient
from connectors.outbound import Permanent, Retryable, SyncError
from connectors.paypal.consts import DEFAULT_API_URL as PAYPAL_API_URL
from connectors.shopify.client import ShopifyClient
from connectors.shopify.consts import API_VERSION, REQUIRED_SCOPES
from connectors.stripe.consts import DEFAULT_API_URL as STRIPE_API_URL
from connectors.woocommerce.client import WooClient
from hub.config import ChannelConfig, Config
from hub.redis import EMBEDDED, connect, redacted_url
from jobs.subscriptions import delivery_url, managed, plan, subscriber, topics
from store.db import alembic_config, make_engine

OK, WARN, FAIL = "ok", "warn", "FAIL"
CHECK_TIMEOUT_S = 5.0  # per call: a system that does not answer is one failing row, not a hang
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


@dataclass(frozen=True)
class Access:
    """Where a system is and what lets the hub in, in the config's words: what a failing row says to check."""

    url: str
    url_key: str  # the config key holding ``url``
    credentials: str  # the config keys of the credentials, and where the platform makes them


def run_checks(cfg: Config, fix: bool = False) -> list[Row]:
    """Every check the config calls for, in order; never raises for a system that is down or refuses."""
    rows = [*_database(cfg), *_redis(cfg)]
    for ch in cfg.channels.values():
        if ch.calls_api and ch.kind == "shopify":
            rows += _guarded(ch.id, "API", lambda ch=ch: _shopify(ch), _channel_access(ch))
        elif ch.calls_api and ch.kind == "woocommerce":
            rows += _guarded(ch.id, "API", lambda ch=ch: _woo(ch), _channel_access(ch))
        elif ch.calls_api and ch.kind in ("stripe", "paypal"):
            rows += _guarded(ch.id, "API key", lambda ch=ch: _payments(ch), _channel_access(ch))
    if cfg.erp:
        rows += _guarded("erp", "Odoo", lambda: _odoo(cfg), Access(
            cfg.erp.url, "erp.url", "erp.db, erp.login and erp.api_key (the user's API key: Preferences > Account "
                                    "Security)"))
    if cfg.crm:
        rows += _guarded("crm", "HubSpot", lambda: _hubspot(cfg, fix), Access(
            cfg.crm.url, "crm.url", "crm.token (the private app's access token)"))
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


def _guarded(subject: str, check: str, rows: Callable[[], Iterator[Row]], access: Access) -> list[Row]:
    """The rows ``rows`` yields; a refusal or an unreachable system ends them with one failing row. Any other
    exception (an answer in a shape the connector did not expect) is a failing row too, naming it: the doctor
    reports every system and exits 1, it does not stop at the first surprise with a traceback."""
    out: list[Row] = []
    try:
        out.extend(rows())
    except SyncError as exc:
        out.append(Row(subject, check, FAIL, _failure(exc, access)))
    except Exception as exc:  # noqa: BLE001 - reported as a failing row (see the docstring)
        out.append(Row(subject, check, FAIL, f"unexpected {type(exc).__name__}: {_one_line(str(exc), 120)} (from "
                                             f"{access.url}: check {access.url_key})"))
    return out


def _failure(exc: SyncError, access: Access) -> str:
    """One line for a call that failed: which call, what the platform said (or that it did not answer), and
    which config key to look at. The platform's URL is named, never a query string (Woo signs in it)."""
    text = " ".join(str(exc).split())
    call, _, rest = text.partition(": ")
    if m := re.match(r"HTTP (\d{3}): ?(.*)", rest):
        status, said = int(m.group(1)), _said(m.group(2))
        todo = {401: f"the credentials were refused: check {access.credentials}",
                403: f"refused: {access.credentials} lacks a permission for this call",
                404: f"not found at {access.url}: check {access.url_key}"}.get(status)
        todo = todo or (f"{access.url} is failing: try again later" if status >= 500 else "")
        return f"{call}: HTTP {status} ({said})" + (f": {todo}" if todo else "")  # the platform's words cut, not this
    if rest.startswith("the answer is not JSON"):
        return (f"{call}: {access.url} answered, but not as the platform's API does ({_one_line(rest, 120)}): "
                f"check {access.url_key}")
    if isinstance(exc, Retryable) and (m := re.match(r"(\w*(?:Error|Timeout|Exception)\w*): ?(.*)", rest)):
        return (f"{call}: no answer from {access.url} ({_no_answer(m.group(1), m.group(2))}): check "
                f"{access.url_key} and that it is up")
    if call.endswith("authenticate"):
        return f"{_one_line(text)}: check {access.credentials}"
    return _one_line(text)


def _said(body: str) -> str:
    """The platform's own message from an error body (JSON, maybe cut short), else its first words."""
    found = re.search(r'"(?:message|errors|error_description)"\s*:\s*"((?:[^"\\]|\\.)*)"', body)
    return _one_line(found.group(1) if found else body, 200)


def _no_answer(name: str, text: str) -> str:
    low = f"{name} {text}".lower()
    if "timeout" in low or "timed out" in low:
        return f"nothing within {CHECK_TIMEOUT_S:g} s"
    for marks, why in ((("refused",), "connection refused"),
                       (("name or service not known", "failed to resolve", "nodename nor servname", "getaddrinfo"),
                        "host name not found"),
                       (("certificate",), "its TLS certificate is not trusted")):
        if any(m in low for m in marks):
            return why
    return name


def _channel_access(ch: ChannelConfig) -> Access:
    x, key = ch.extra, f"channels.{ch.id}"
    if ch.kind == "shopify":
        where = (x["api_url"], f"{key}.api_url") if x.get("api_url") else (f"https://{x['shop']}", f"{key}.shop")
        return Access(*where, f"{key}.access_token (the app's Admin API access token)")
    if ch.kind == "woocommerce":
        return Access(x["url"], f"{key}.url", f"{key}.consumer_key and consumer_secret, a Read/Write key "
                                              "(WooCommerce > Settings > Advanced > REST API)")
    api_url, creds = (STRIPE_API_URL, f"{key}.api_key") if ch.kind == "stripe" else (
        PAYPAL_API_URL, f"{key}.client_id and client_secret")
    return Access(x.get("api_url") or api_url, f"{key}.api_url", creds)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---- the stores --------------------------------------------------------------------------------------

def _database(cfg: Config) -> list[Row]:
    try:
        where = make_url(cfg.database_url).render_as_string(hide_password=True)
    except SQLAlchemyError:  # the URL itself is not shown: it may hold a password
        return [Row("database", "reachable", FAIL, "database_url is not a database URL (sqlite:///var/hub.db, "
                                                    "postgresql://user@host/db): check database_url / "
                                                    "HUB_DATABASE_URL")]
    try:
        engine = make_engine(cfg.database_url, cfg.db_busy_timeout_s, cfg.var_dir)
        try:
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        finally:
            engine.dispose()
    except ImportError as exc:  # a dialect whose driver the hub does not ship (mysql://)
        return [Row("database", "reachable", FAIL, f"{where}: {exc}: the hub runs on SQLite or PostgreSQL "
                                                    "(psycopg 3): check database_url / HUB_DATABASE_URL")]
    except (SQLAlchemyError, OSError) as exc:  # OSError: a SQLite file's folder that cannot be made
        why = _one_line(str(getattr(exc, "orig", None) or exc), 120)
        return [Row("database", "reachable", FAIL, f"{where}: {type(exc).__name__}: {why} (check database_url / "
                    "HUB_DATABASE_URL and that the server runs)")]
    if current != head:
        return [Row("database", "reachable", OK, where),
                Row("database", "migrations", FAIL, f"at {current or 'none'}, the code needs {head}: run "
                                                   "`hub db upgrade`")]
    return [Row("database", "reachable", OK, where), Row("database", "migrations", OK, f"at head ({head})")]


def _redis(cfg: Config) -> list[Row]:
    url = cfg.redis_url  # HUB_REDIS_URL is already in it (the config reads the environment)
    if url == EMBEDDED:
        return [Row("redis", "reachable", OK, "embedded (started by each hub process under var_dir)")]
    try:
        handle = connect(url, cfg.var_dir)
    except ValueError:  # the URL itself is not shown: it may hold a password
        return [Row("redis", "reachable", FAIL, "redis_url is not a Redis URL (redis://host:6379/0, rediss://, "
                                                "unix://, or embedded): check redis_url / HUB_REDIS_URL")]
    try:
        handle.client.ping()
        version = handle.client.info("server").get("redis_version", "?")
    except RedisError as exc:
        return [Row("redis", "reachable", FAIL, f"{redacted_url(url)}: {type(exc).__name__} (check redis_url / "
                                                "HUB_REDIS_URL and that the server runs)")]
    try:
        policy = handle.client.config_get("maxmemory-policy").get("maxmemory-policy", "?")
    except ResponseError:  # managed Redis services often refuse CONFIG: the policy is then theirs to say
        policy = "?"
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
    yield Row(ch.id, "token", OK, f"accepted by {ch.extra['shop']}")
    served = client.served_version or version
    if served != version:  # Shopify answers a version it retired with the oldest one it still serves
        yield Row(ch.id, "API version", FAIL, f"Shopify answered {version} with {served}: it no longer serves "
                  f"{version}; " + (f"set channels.{ch.id}.api_version to a supported one" if ch.extra.get(
                      "api_version") else "update the hub to a release written for a supported version"))
    elif version != API_VERSION:
        yield Row(ch.id, "API version", WARN, f"{version}; the hub is built and tested on {API_VERSION}")
    else:
        yield Row(ch.id, "API version", OK, version)
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
    except Permanent as exc:
        said = _said(str(exc).partition(": HTTP ")[2].partition(": ")[2])
        yield Row(ch.id, "write permission", FAIL, f"refused: {said} Give the key Read/Write in WooCommerce > "
                                                  "Settings > Advanced > REST API")
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
                shown = "; ".join(f"{f.topic}: {f.problem}" for f, _ in todo[:3]) + ("; ..." if len(todo) > 3 else "")
                yield Row(cid, "webhooks", FAIL, f"{len(todo)} of {len(topics(ch))} topic(s) not delivered to the hub "
                                                 f"({shown}): run `hub channels subscribe`")
            else:
                yield Row(cid, "webhooks", OK, f"{len(topics(ch))} topic(s) active, pointed at the hub")

        rows += _guarded(cid, "webhooks", check, _channel_access(ch))
    return rows


def _with_timeout(ch: ChannelConfig) -> ChannelConfig:
    return replace(ch, timeout_s=min(ch.timeout_s, CHECK_TIMEOUT_S))
