"""Loading and validating the hub's YAML configuration.

The file path comes from ``HUB_CONFIG`` (default ``./hub.yaml``). ``${VAR}`` and
``${VAR:-default}`` read the environment; ``HUB_DATABASE_URL``, ``HUB_REDIS_URL`` and
``HUB_ADMIN_TOKEN`` override their keys. Validation is marshmallow; every error names the
dotted path of the bad key so a person can fix the file at once.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from limits import parse
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from connectors import KINDS, OUTBOUND_KEYS, PLATFORMS, SALES_KINDS, SECRET_KINDS
from mappings import error_fields

DEFAULT_CONFIG_PATH = "hub.yaml"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_STRIPE_TOLERANCE_S = 300
DEFAULT_PAYPAL_CERT_HOSTS = [
    "api.paypal.com",
    "api-m.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.sandbox.paypal.com",
]
ENV_OVERRIDES = {
    "HUB_DATABASE_URL": "database_url",
    "HUB_REDIS_URL": "redis_url",
    "HUB_ADMIN_TOKEN": "admin_token",
    "HUB_SECRET_KEY": "secret_key",
}
STOCK_AUTHORITIES = ("hub", "channel")
PUSH_MODES = ("live", "shadow")
DEFAULT_CALL_TIMEOUT_S = 10.0
# the ERP and the CRM the hub exports orders and customers to (both optional)
ERP_KINDS = ("odoo",)
CRM_KINDS = ("hubspot",)
ERP_KEYS = ("url", "db", "login", "api_key")  # all or none
DEFAULT_ERP_TIMEOUT_S = 30.0
DEFAULT_CRM_URL = "https://api.hubapi.com"
DEFAULT_PAY_LATER_METHODS = ["cod"]
# a stock report that differs from what the hub expects the channel to show waits this long, once, for the
# channel's own order (or cancel) that explains it: the platforms send both at once, in either order
DEFAULT_STOCK_REPORT_HOLD_S = 2.0
DEFAULT_EXPORT_RETRY_BASE_S = 2.0  # first backoff of a retryable export failure; doubles per attempt
DEFAULT_ERP_PULL_INTERVAL_S = 60  # done deliveries and stock counts pulled from the ERP this often (0: never)
# payments are matched to orders by these references unless a payment channel's ``match.keys`` says otherwise
DEFAULT_MATCH_KEYS = {"stripe": ("order_id",), "paypal": ("custom_id", "invoice_id")}
PAYPAL_MATCH_KEYS = ("custom_id", "invoice_id")
DEFAULT_CARRIER_SLA_DAYS = 5
DEFAULT_PAID_TOLERANCE = Decimal("0.01")  # in the order's currency
DEFAULT_LOGIN_RATE_LIMIT = "5/minute"  # console login attempts per client IP
MAX_TRUSTED_PROXY_HOPS = 5
DEFAULT_REPLAY_RATE_PER_S = 5.0  # actions a bulk replay runs per second at most
DEFAULT_SUBSCRIPTION_CHECK_S = 300  # how often hub scheduler checks the platforms' webhook subscriptions
DEFAULT_BACKFILL_INTERVAL_S = 300  # how often hub scheduler reads what changed on the channels (orders, payment events)
# ``sandbox:``: the simulated platforms ``hub run`` serves beside the hub (none in production)
DEFAULT_SANDBOX_EMITTER_PORT = 8075
DEFAULT_SANDBOX_PAYPAL_CERT_PORT = 8076
CHANNEL_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key at fault."""


class MatchSchema(Schema):
    """How a payment channel's payments find their order: the references tried in order
    (Stripe metadata keys; PayPal ``custom_id`` / ``invoice_id``) and the sales channel they
    refer to (None: an order of any channel with that number or id)."""

    class Meta:
        unknown = RAISE

    keys = fields.List(fields.String(validate=validate.Length(min=1)), validate=validate.Length(min=1),
                       load_default=None)
    channel = fields.String(load_default=None)


class ChannelSchema(Schema):
    """One connection. Outbound keys (API URLs, credentials) are kept as given."""

    class Meta:
        unknown = INCLUDE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    webhook_secrets = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    tolerance_s = fields.Integer(load_default=DEFAULT_STRIPE_TOLERANCE_S, validate=validate.Range(min=1))
    webhook_id = fields.String(load_default=None)
    cert_hosts = fields.List(fields.String(), load_default=lambda: list(DEFAULT_PAYPAL_CERT_HOSTS))
    cert_ca_bundle = fields.String(load_default=None)
    # stock sync (shopify, woocommerce): where the channel's locations sit in the hub's warehouses
    locations = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.Length(min=1)),
                            load_default=dict)
    stock_buffer = fields.Integer(load_default=0, validate=validate.Range(min=0))
    stock_authority = fields.String(load_default="hub", validate=validate.OneOf(STOCK_AUTHORITIES))
    # shadow: the hub reads and compares, records what it would write there, and writes nothing (onboarding)
    push = fields.String(load_default="live", validate=validate.OneOf(PUSH_MODES))
    timeout_s = fields.Float(load_default=DEFAULT_CALL_TIMEOUT_S, validate=validate.Range(min=0.1))
    match = fields.Nested(MatchSchema, load_default=None, allow_none=True)
    # the webhook topics the hub keeps subscribed on the platform (``hub channels subscribe``); None: every
    # topic the hub handles for the kind
    topics = fields.List(fields.String(validate=validate.Length(min=1)), load_default=None, allow_none=True)

    @pre_load
    def _location_ids_as_text(self, data: Any, **_: Any) -> Any:
        """YAML reads ``71234567: main`` with an int key; channel location ids are text here."""
        if isinstance(data, dict) and isinstance(data.get("locations"), dict):
            data = {**data, "locations": {str(k): v for k, v in data["locations"].items()}}
        return data

    @validates_schema
    def _per_kind(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        if kind in SECRET_KINDS and not data.get("webhook_secrets"):
            raise ValidationError("at least one secret is required", "webhook_secrets")
        if kind == "paypal" and not data.get("webhook_id"):
            raise ValidationError("required for paypal (the id PayPal shows for this webhook)", "webhook_id")
        match = data.get("match")
        if match is not None and kind not in DEFAULT_MATCH_KEYS:
            raise ValidationError("only payment channels (stripe, paypal) match payments to orders", "match")
        if match and kind == "paypal" and set(match.get("keys") or ()) - set(PAYPAL_MATCH_KEYS):
            raise ValidationError(f"paypal payments carry {' and '.join(PAYPAL_MATCH_KEYS)} only", "match.keys")
        if kind in PLATFORMS:
            allowed = set(self.fields) | set(PLATFORMS[kind].api_keys) | set(PLATFORMS[kind].options)
            for key in sorted(set(data) - allowed):
                # a misspelt stock_authority would quietly leave the hub the authority over the shop's edits
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                raise ValidationError(f"not a {kind} channel's key" + (f" (did you mean {near[0]}?)" if near else
                                      f"; known: {', '.join(sorted(allowed))}"), key)
        for key in OUTBOUND_KEYS.get(kind, ()):
            if any(data.get(k) for k in OUTBOUND_KEYS[kind]) and not data.get(key):
                raise ValidationError(f"required with the other {kind} API keys ({', '.join(OUTBOUND_KEYS[kind])})",
                                      key)


class ErpSchema(Schema):
    """``erp:``: the ERP sale orders and partners go to."""

    class Meta:
        unknown = RAISE

    kind = fields.String(load_default="odoo", validate=validate.OneOf(ERP_KINDS))
    url = fields.String(load_default=None)
    db = fields.String(load_default=None)
    login = fields.String(load_default=None)
    api_key = fields.String(load_default=None)
    timeout_s = fields.Float(load_default=DEFAULT_ERP_TIMEOUT_S, validate=validate.Range(min=0.1))
    pay_later_methods = fields.List(fields.String(validate=validate.Length(min=1)),
                                    load_default=lambda: list(DEFAULT_PAY_LATER_METHODS))
    retry_base_s = fields.Float(load_default=DEFAULT_EXPORT_RETRY_BASE_S, validate=validate.Range(min=0))
    pull_interval_s = fields.Integer(load_default=DEFAULT_ERP_PULL_INTERVAL_S, validate=validate.Range(min=0))
    # ERP stock location (complete name, its children included) -> hub warehouse; empty: all -> the default one
    locations = fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                            values=fields.String(validate=validate.Length(min=1)), load_default=dict)
    # the products sale orders put shipping, lines without a SKU and the difference to the channel's total on
    # (internal references; made in Odoo if missing)
    delivery_product = fields.String(load_default="HUB-SHIPPING", validate=validate.Length(min=1))
    fallback_product = fields.String(load_default="HUB-CUSTOM", validate=validate.Length(min=1))
    adjustment_product = fields.String(load_default="HUB-ADJUST", validate=validate.Length(min=1))
    # a rate in percent ("21", "7.5"; "21 included" when prices include it) -> the Odoo sale tax's name
    taxes = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d+(\.\d+)?( included)?$",
                                                                    error="a rate in percent: 21, 7.5 or "
                                                                          "'21 included'")),
                        values=fields.String(validate=validate.Length(min=1)), load_default=dict)
    # a currency (ISO 4217) -> the Odoo pricelist's name its orders go on
    pricelists = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="a currency: EUR")),
                             values=fields.String(validate=validate.Length(min=1)), load_default=dict)
    # a payment provider (stripe, paypal) or sales channel id, or "default" -> the Odoo journal its money goes to
    journals = fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                           values=fields.String(validate=validate.Length(min=1)), load_default=dict)

    @validates_schema
    def _all_or_none(self, data: dict[str, Any], **_: Any) -> None:
        for key in ERP_KEYS:
            if not data.get(key):
                raise ValidationError(f"required with the other {data.get('kind')} keys ({', '.join(ERP_KEYS)})", key)


class CrmSchema(Schema):
    """``crm:``: the CRM contacts, deals and notes go to."""

    class Meta:
        unknown = RAISE

    kind = fields.String(load_default="hubspot", validate=validate.OneOf(CRM_KINDS))
    url = fields.String(load_default=DEFAULT_CRM_URL, validate=validate.Length(min=1))
    token = fields.String(load_default=None)
    timeout_s = fields.Float(load_default=DEFAULT_CALL_TIMEOUT_S, validate=validate.Range(min=0.1))
    retry_base_s = fields.Float(load_default=DEFAULT_EXPORT_RETRY_BASE_S, validate=validate.Range(min=0))

    @validates_schema
    def _token(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("token"):
            raise ValidationError(f"required for {data.get('kind')} (a private app token)", "token")


def _rate_limit(value: str) -> None:

    try:
        parse(value)
    except ValueError:
        raise ValidationError("not a rate limit like '5/minute' or '20 per hour'") from None
class SandboxSchema(Schema):
    """``sandbox:``: serve the platform simulators (sandbox/) too. Each simulated system listens where the
    config's own URL for it points (a channel's ``api_url`` / ``url``, ``erp.url``, ``crm.url``) when that
    URL is on this machine; the webhook emitters and PayPal's certificate have ports of their own."""

    class Meta:
        unknown = RAISE

    emitter_port = fields.Integer(load_default=DEFAULT_SANDBOX_EMITTER_PORT, validate=validate.Range(min=1, max=65535))
    paypal_cert_port = fields.Integer(load_default=DEFAULT_SANDBOX_PAYPAL_CERT_PORT,
                                      validate=validate.Range(min=1, max=65535))
    latency_s = fields.List(fields.Float(validate=validate.Range(min=0)), validate=validate.Length(equal=2),
                            load_default=lambda: [0.0, 0.0])

    @validates_schema
    def _latency_order(self, data: dict[str, Any], **_: Any) -> None:
        low, high = data.get("latency_s") or (0.0, 0.0)
        if low > high:
            raise ValidationError("[low, high] with low <= high", "latency_s")


class ConfigSchema(Schema):
    class Meta:
        unknown = RAISE

    database_url = fields.String(load_default="sqlite:///var/hub.db")
    redis_url = fields.String(load_default="embedded")
    admin_token = fields.String(load_default="")
    # the console's session key; empty: derived from admin_token (rotating the token ends every session)
    secret_key = fields.String(load_default="")
    login_rate_limit = fields.String(load_default=DEFAULT_LOGIN_RATE_LIMIT, validate=_rate_limit)
    # proxies in front of the hub whose X-Forwarded-For / -Proto are trusted (0: none, the client is the peer)
    trusted_proxy_hops = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_TRUSTED_PROXY_HOPS))
    max_body_bytes = fields.Integer(load_default=DEFAULT_MAX_BODY_BYTES, validate=validate.Range(min=1))
    var_dir = fields.String(load_default="var")
    outbox_grace_s = fields.Integer(load_default=30, validate=validate.Range(min=0))
    outbox_interval_s = fields.Integer(load_default=30, validate=validate.Range(min=1))
    db_busy_timeout_s = fields.Float(load_default=5.0, validate=validate.Range(min=0))
    log_level = fields.String(load_default="INFO")
    stock_push_debounce_s = fields.Float(load_default=1.0, validate=validate.Range(min=0))
    stock_reconcile_interval_s = fields.Integer(load_default=3600, validate=validate.Range(min=0))
    echo_ttl_s = fields.Integer(load_default=600, validate=validate.Range(min=1))
    # a channel's stock report the hub cannot explain waits this long (once) for that channel's own orders
    stock_report_hold_s = fields.Float(load_default=DEFAULT_STOCK_REPORT_HOLD_S, validate=validate.Range(min=0, max=60))
    channels = fields.Dict(
        keys=fields.String(validate=validate.Regexp(CHANNEL_ID_RE, error="not a valid channel id")),
        values=fields.Nested(ChannelSchema),
        load_default=dict,
    )
    erp = fields.Nested(ErpSchema, load_default=None, allow_none=True)
    crm = fields.Nested(CrmSchema, load_default=None, allow_none=True)
    carrier_sla_days = fields.Dict(keys=fields.String(validate=validate.Length(min=1)),
                                   values=fields.Integer(validate=validate.Range(min=0)), load_default=dict)
    carrier_sla_default_days = fields.Integer(load_default=DEFAULT_CARRIER_SLA_DAYS, validate=validate.Range(min=0))
    # an order is paid once the money captured for it is within this of its total (a gateway's rounding)
    paid_tolerance = fields.Decimal(load_default=DEFAULT_PAID_TOLERANCE, validate=validate.Range(min=0))
    replay_rate_per_s = fields.Float(load_default=DEFAULT_REPLAY_RATE_PER_S,
                                     validate=validate.Range(min=0, min_inclusive=False, max=1000))
    sandbox = fields.Nested(SandboxSchema, load_default=None, allow_none=True)
    # how the platforms reach the hub (https://hub.example.com); set, the hub keeps its webhooks subscribed
    public_url = fields.String(load_default=None, allow_none=True,
                               validate=validate.Regexp(r"^https?://[^/\s]+(/\S*)?$", error="an http(s) URL"))
    subscription_check_s = fields.Integer(load_default=DEFAULT_SUBSCRIPTION_CHECK_S, validate=validate.Range(min=0))
    # how often hub scheduler reads each channel's changes since its watermark (0: never)
    backfill_interval_s = fields.Integer(load_default=DEFAULT_BACKFILL_INTERVAL_S, validate=validate.Range(min=0))

    @validates_schema
    def _match_channels(self, data: dict[str, Any], **_: Any) -> None:
        channels = data.get("channels") or {}
        for cid, ch in channels.items():
            target = (ch.get("match") or {}).get("channel")
            if target is not None and (channels.get(target) or {}).get("kind") not in SALES_KINDS:
                raise ValidationError(f"not a configured {' or '.join(SALES_KINDS)} channel: {target!r}",
                                      f"channels.{cid}.match.channel")


@dataclass(frozen=True)
class ChannelConfig:
    id: str
    kind: str
    webhook_secrets: tuple[str, ...] = ()
    tolerance_s: int = DEFAULT_STRIPE_TOLERANCE_S
    webhook_id: str | None = None
    cert_hosts: tuple[str, ...] = tuple(DEFAULT_PAYPAL_CERT_HOSTS)
    cert_ca_bundle: str | None = None
    locations: dict[str, str] = field(default_factory=dict)
    stock_buffer: int = 0
    stock_authority: str = "hub"
    push: str = "live"  # live | shadow (reads, compares and records what it would write; writes nothing)
    timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # API keys among them
    match_keys: tuple[str, ...] = ()  # payment channels: the order references tried, in order
    match_channel: str | None = None  # payment channels: the sales channel their references name
    topics: tuple[str, ...] | None = None  # webhook topics to keep subscribed (None: all the hub handles)

    @property
    def calls_api(self) -> bool:
        """The hub holds this channel's API keys (it can push orders' tracking there, or read what it missed)."""
        keys = OUTBOUND_KEYS.get(self.kind)
        return bool(keys and all(self.extra.get(k) for k in keys))

    @property
    def pushes_stock(self) -> bool:
        """The hub holds this channel's API keys and a location to write stock to."""
        keys = OUTBOUND_KEYS.get(self.kind)
        return bool(keys and all(self.extra.get(k) for k in keys) and self.locations)


@dataclass(frozen=True)
class ErpConfig:
    kind: str
    url: str
    db: str
    login: str
    api_key: str = field(repr=False)
    timeout_s: float = DEFAULT_ERP_TIMEOUT_S
    pay_later_methods: tuple[str, ...] = tuple(DEFAULT_PAY_LATER_METHODS)
    retry_base_s: float = DEFAULT_EXPORT_RETRY_BASE_S
    pull_interval_s: int = DEFAULT_ERP_PULL_INTERVAL_S
    locations: dict[str, str] = field(default_factory=dict)  # ERP location -> hub warehouse
    delivery_product: str = "HUB-SHIPPING"
    fallback_product: str = "HUB-CUSTOM"
    adjustment_product: str = "HUB-ADJUST"
    taxes: dict[str, str] = field(default_factory=dict)  # "21" / "21 included" -> Odoo sale tax name
    pricelists: dict[str, str] = field(default_factory=dict)  # currency -> Odoo pricelist name
    journals: dict[str, str] = field(default_factory=dict)  # provider / channel id / "default" -> Odoo journal


@dataclass(frozen=True)
class CrmConfig:
    kind: str
    token: str = field(repr=False)
    url: str = DEFAULT_CRM_URL
    timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    retry_base_s: float = DEFAULT_EXPORT_RETRY_BASE_S


@dataclass(frozen=True)
class SandboxConfig:
    emitter_port: int = DEFAULT_SANDBOX_EMITTER_PORT
    paypal_cert_port: int = DEFAULT_SANDBOX_PAYPAL_CERT_PORT
    latency_s: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str
    admin_token: str
    max_body_bytes: int
    var_dir: str
    outbox_grace_s: int
    outbox_interval_s: int
    db_busy_timeout_s: float
    log_level: str
    channels: dict[str, ChannelConfig]
    stock_push_debounce_s: float = 1.0
    stock_reconcile_interval_s: int = 3600
    echo_ttl_s: int = 600
    stock_report_hold_s: float = DEFAULT_STOCK_REPORT_HOLD_S
    erp: ErpConfig | None = None
    crm: CrmConfig | None = None
    carrier_sla_days: dict[str, int] = field(default_factory=dict)
    carrier_sla_default_days: int = DEFAULT_CARRIER_SLA_DAYS
    paid_tolerance: Decimal = DEFAULT_PAID_TOLERANCE
    secret_key: str = field(default="", repr=False)
    login_rate_limit: str = DEFAULT_LOGIN_RATE_LIMIT
    trusted_proxy_hops: int = 0
    replay_rate_per_s: float = DEFAULT_REPLAY_RATE_PER_S
    sandbox: SandboxConfig | None = None
    public_url: str | None = None
    subscription_check_s: int = DEFAULT_SUBSCRIPTION_CHECK_S
    backfill_interval_s: int = DEFAULT_BACKFILL_INTERVAL_S
    source: str = "<dict>"

    def sla_days(self, carrier: str) -> int:
        """Days from shipping to the promised delivery when the carrier gives no estimate."""
        return self.carrier_sla_days.get(carrier.lower(), self.carrier_sla_default_days)


def _expand_env(value: Any, path: str, environ: dict[str, str]) -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string of the parsed YAML."""
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else str(k), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", environ) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return _ENV_RE.sub(repl, value)


def _did_you_mean(path: str, what: Any) -> str:
    """`` (did you mean pull_interval_s?)`` for an unknown key close to one its section has, else ""."""
    if what != "Unknown field." and what != ["Unknown field."]:
        return ""
    *parents, key = path.split(".")
    schema: Schema = ConfigSchema()
    for part in parents:
        nested = schema.fields.get(part)
        if not isinstance(nested, fields.Nested) or not isinstance(nested.schema, Schema):
            return ""
        schema = nested.schema
    near = difflib.get_close_matches(key, sorted(schema.fields), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def load_config_dict(raw: dict[str, Any] | None, environ: dict[str, str] | None = None,
                     source: str = "<dict>") -> Config:
    """Validate an already-parsed config mapping (env expansion and overrides included)."""
    environ = dict(os.environ) if environ is None else environ
    raw = _expand_env(raw or {}, "", environ)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    for env_name, key in ENV_OVERRIDES.items():
        if environ.get(env_name):
            raw[key] = environ[env_name]
    try:
        data = ConfigSchema().load(raw)
    except ValidationError as exc:
        wrong = error_fields(exc.messages, dict_values=True)
        raise ConfigError(f"{source}: " + "; ".join(f"{path}: {what}{_did_you_mean(path, what)}"
                                                    for path, what in wrong)) from None
    channels = {}
    known = set(ChannelSchema().fields)
    for cid, ch in data["channels"].items():
        channels[cid] = ChannelConfig(
            id=cid,
            kind=ch["kind"],
            webhook_secrets=tuple(ch["webhook_secrets"]),
            tolerance_s=ch["tolerance_s"],
            webhook_id=ch["webhook_id"],
            cert_hosts=tuple(h.lower() for h in ch["cert_hosts"]),
            cert_ca_bundle=ch["cert_ca_bundle"],
            locations={str(k): v for k, v in ch["locations"].items()},
            stock_buffer=ch["stock_buffer"],
            stock_authority=ch["stock_authority"],
            push=ch["push"],
            timeout_s=ch["timeout_s"],
            extra={k: v for k, v in ch.items() if k not in known},
            match_keys=tuple((ch["match"] or {}).get("keys") or DEFAULT_MATCH_KEYS.get(ch["kind"], ())),
            match_channel=(ch["match"] or {}).get("channel"),
            topics=tuple(ch["topics"]) if ch["topics"] is not None else None,
        )
    data["channels"] = channels
    if data["erp"] is not None:
        erp = data["erp"]
        data["erp"] = ErpConfig(**{**erp, "pay_later_methods": tuple(m.strip().lower()
                                                                     for m in erp["pay_later_methods"]),
                                   "locations": {k.strip().rstrip("/"): v for k, v in erp["locations"].items()}})
    if data["crm"] is not None:
        data["crm"] = CrmConfig(**data["crm"])
    data["carrier_sla_days"] = {k.lower(): v for k, v in data["carrier_sla_days"].items()}
    if data["sandbox"] is not None:
        data["sandbox"] = SandboxConfig(**{**data["sandbox"], "latency_s": tuple(data["sandbox"]["latency_s"])})
    return Config(source=source, **data)


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read, expand and validate the YAML file at ``path`` (or ``$HUB_CONFIG``, or ./hub.yaml)."""
    environ = dict(os.environ) if environ is None else environ
    p = Path(path or environ.get("HUB_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found (set HUB_CONFIG or pass --config)") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return load_config_dict(raw, environ, source=str(p))
