"""The deploy files (docs/production.md): what can be checked without a Docker engine or systemd. Every command
the compose file, the systemd units, the Procfile and the Dockerfile run is a real `hub` command with options it
takes; the files parse; and the Dockerfile's install step, run on the build context its .dockerignore leaves,
gives a hub that migrates a database."""

from __future__ import annotations

import configparser
import fnmatch
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from hub.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _parses(argv: list[str]) -> None:
    """``hub ARGV`` names a real command and its options parse (nothing runs)."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="hub")
    args = list(argv)
    while isinstance(command, click.Group):
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"hub {' '.join(argv)}: no command {name!r}"
        command, ctx = sub, click.Context(sub, info_name=name, parent=ctx)
    command.make_context(command.name, args, parent=ctx.parent)


def _dockerfile() -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in (ROOT / "Dockerfile").read_text().splitlines()
            if line and not line.startswith((" ", "#"))}


def test_compose_runs_real_hub_commands_and_one_scheduler():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "relay", "worker", "scheduler"} <= set(services)
    assert json.loads(_dockerfile()["ENTRYPOINT"]) == ["hub"]
    for name in ("migrate", "web", "relay", "worker", "scheduler"):
        _parses(services[name]["command"])
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["scheduler"].get("deploy", {}).get("replicas", 1) == 1
    assert "noeviction" in services["redis"]["command"] and "appendonly" in " ".join(services["redis"]["command"])


def test_systemd_units_and_procfile_run_real_hub_commands():
    units = sorted(DEPLOY.glob("systemd/*.service"))
    assert [u.name for u in units] == ["hub-relay.service", "hub-scheduler.service", "hub-web.service",
                                      "hub-worker@.service"]
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit)
        service = parser["Service"]
        for key in ("ExecStartPre", "ExecStart"):
            if key in service:
                exe, *argv = shlex.split(service[key])
                assert exe.endswith("/bin/hub"), unit
                _parses(argv)
        assert service["Restart"] == "always" and "Install" in parser
    for line in (ROOT / "Procfile").read_text().splitlines():
        role, command = line.split(": ", 1)
        argv = shlex.split(command)
        if argv[0] == "hub":
            _parses(argv[1:])
        else:  # web: gunicorn wsgi:app
            assert argv[0] == "gunicorn" and argv[-1] == "wsgi:app" and (ROOT / "wsgi.py").exists(), role
    _parses(json.loads(_dockerfile()["CMD"]))


def _context(dest: Path) -> Path:
    """The build context as docker sees it: the checkout less what .dockerignore names."""
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()]
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        parts = Path(rel).parts
        if any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(parts[0], pat) or
               (pat.startswith("**/") and pat[3:] in parts) for pat in ignored):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    return dest


@pytest.mark.slow
@pytest.mark.e2e
def test_the_dockerfile_install_step_gives_a_hub_that_migrates(tmp_path):
    """RUN pip install -c constraints.txt . on the context, in a fresh virtual environment (the image's
    python:3.11-slim is not here: no Docker engine on this machine)."""
    run = _dockerfile()["RUN"]
    assert run.startswith("pip install --no-cache-dir -c constraints.txt . ")
    context = _context(tmp_path / "context")
    assert not (context / "tests").exists() and (context / "store" / "migrations").is_dir()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "-c", "constraints.txt", "."], cwd=context, check=True,
                   timeout=600)
    (tmp_path / "hub.yaml").write_text(f"database_url: sqlite:///{tmp_path}/hub.db\nchannels: {{}}\n")
    res = subprocess.run([venv / "bin" / "hub", "--config", str(tmp_path / "hub.yaml"), "db", "upgrade"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "database is up to date" in res.stdout, res.stderr
