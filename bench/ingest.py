"""Ingest benchmark: signed Shopify deliveries driven by wrk at the hub served by gunicorn.

Runs two servers with the same gunicorn settings: the hub (`hub web`) on PostgreSQL + Redis
(or the embedded defaults with --embedded), and a bare Flask endpoint that only returns 200
(the stack's ceiling). wrk posts the corpus orders/create payload with a valid HMAC and a
unique X-Shopify-Event-Id per request, so every request is a new delivery that is verified,
stored and queued. Prints req/s, p50, p99 and errors for both, and their ratio.

    .venv/bin/python bench/ingest.py [--duration 20] [--connections 12] [--workers 4] [--embedded]

Needs wrk (Debian: apt-get install wrk). No relay or RQ worker runs during the measurement: the
announced ids are left in Redis, as they would be for consumers on other machines.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, backends, free_port, hub_env, start, stop, wait_ready  # noqa: E402

CORPUS = Path(os.environ.get("HUB_CORPUS") or ROOT.parent / "shared" / "corpus")
PAYLOAD = CORPUS / "shopify" / "webhook-examples-2026-07" / "orders.create.json"
SECRET = "bench-shopify-secret"
TOKEN = "bench-admin-token"

BARE_APP = '''
from flask import Flask, request
app = Flask(__name__)

@app.post("/webhooks/<channel>")
def ok(channel):
    request.get_data()
    return {"status": "accepted", "event_id": 1}
'''

LUA = '''
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", RUN_ID .. "-" .. threads)
end
request = function()
  counter = counter + 1
  wrk.headers["X-Shopify-Event-Id"] = prefix .. "-" .. counter
  return wrk.format("POST", nil, nil, nil)
end
'''


def parse_wrk(out: str) -> dict[str, float]:
    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    if not (p50 and p99 and rps and total):
        raise SystemExit("could not read wrk's output:\n" + out)
    return {"rps": float(rps.group(1)), "p50_ms": ms(*p50.groups()), "p99_ms": ms(*p99.groups()),
            "requests": int(total.group(1)), "errors": errors}


def run_wrk(url: str, body: Path, headers: dict[str, str], args: argparse.Namespace, script: Path) -> dict:
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "--latency",
           "-s", str(script), url]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    # wrk reads the body from the script; pass it through an env-free way: a tiny wrapper script
    wrapper = script.with_name(f"run-{uuid.uuid4().hex[:6]}.lua")
    wrapper.write_text(f'wrk.method = "POST"\nwrk.body = io.open("{body}", "rb"):read("*a")\n'
                       f'RUN_ID = "{uuid.uuid4().hex}"\n' + script.read_text())
    cmd[cmd.index(str(script))] = str(wrapper)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=20, help="seconds per run")
    ap.add_argument("--connections", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers (both servers)")
    ap.add_argument("--gthreads", type=int, default=1, help="threads per gunicorn worker (1 = sync worker)")
    ap.add_argument("--embedded", action="store_true", help="SQLite + embedded Redis instead of the servers")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    body = work / "body.json"
    body.write_bytes(PAYLOAD.read_bytes())
    sig = base64.b64encode(hmac.new(SECRET.encode(), body.read_bytes(), hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
               "X-Shopify-Hmac-Sha256": sig, "X-Shopify-Shop-Domain": "bench.myshopify.com",
               "X-Shopify-Triggered-At": "2026-11-22T10:00:00.000000000Z"}
    script = work / "shopify.lua"
    script.write_text(LUA)
    (work / "bare.py").write_text(BARE_APP)
    db_url, redis_url, cleanup = backends(args.embedded, work)
    (work / "hub.yaml").write_text(
        f"database_url: '{db_url}'\nredis_url: '{redis_url}'\nadmin_token: {TOKEN}\nlog_level: WARNING\n"
        f"var_dir: {work}/var\nchannels:\n  shop: {{kind: shopify, webhook_secrets: [{SECRET}]}}\n")
    env = hub_env(work / "hub.yaml")
    hub_bin = [sys.executable, "-m", "hub.cli"]
    subprocess.run(hub_bin + ["db", "upgrade"], env=env, check=True, capture_output=True)

    results = {}
    try:
        gargs = ["--workers", str(args.workers), "--threads", str(args.gthreads)]
        for name in ("bare", "hub"):
            port = free_port()
            if name == "hub":
                proc = start(hub_bin + ["web", "--bind", f"127.0.0.1:{port}"] + gargs, env, ROOT)
            else:
                proc = start([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                              str(args.workers), "--threads", str(args.gthreads), "--log-level", "warning",
                              "bare:app"], env, work)
            try:
                wait_ready(f"http://127.0.0.1:{port}/healthz")
                url = f"http://127.0.0.1:{port}/webhooks/shop"
                run_wrk(url, body, headers, argparse.Namespace(**{**vars(args), "duration": 3}), script)  # warm up
                results[name] = run_wrk(url, body, headers, args, script)
                if name == "hub":
                    results[name]["stored"] = count_rows(port)
            finally:
                stop(proc)
    finally:
        cleanup()
        shutil.rmtree(work, ignore_errors=True)
    report(results, args)


def count_rows(port: int) -> int:
    """Deliveries stored (warm-up included), read from the hub's own /metrics."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return sum(int(float(v)) for v in re.findall(r'^hub_events\{[^}]*\} ([\d.e+]+)$', text, re.M))


def report(results: dict, args: argparse.Namespace) -> None:
    backend = "SQLite + embedded Redis" if args.embedded else "PostgreSQL + Redis"
    print(f"\ningest benchmark: {backend}; gunicorn {args.workers} workers x {args.gthreads} threads; "
          f"wrk {args.threads} threads, {args.connections} connections, {args.duration}s; "
          f"{os.cpu_count()} cores shared by everything")
    print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>10}{'requests':>11}")
    for name, label in (("hub", "hub POST /webhooks/shop"), ("bare", "bare Flask (ceiling)")):
        r = results[name]
        print(f"{label:<28}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}{r['errors']:>10}"
              f"{r['requests']:>11}")
    print(f"hub / bare throughput: {results['hub']['rps'] / results['bare']['rps']:.0%}")
    print(f"deliveries stored by the hub (warm-up included): {results['hub']['stored']}")


if __name__ == "__main__":
    main()
