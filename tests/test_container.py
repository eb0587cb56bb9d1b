"""The container and compose file, checked without a Docker engine: what they name must exist."""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.upper().startswith(name + " ")]


def test_multi_stage_slim_and_non_root() -> None:
    bases = instructions("FROM")
    assert len(bases) >= 2 and all("slim" in b for b in bases)
    assert instructions("USER") and instructions("USER")[-1] not in ("root", "0")


def test_the_command_is_the_installed_console_script() -> None:
    (cmd,) = instructions("CMD")
    assert json.loads(cmd) == ["baseten-bot", "serve"]
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("baseten-bot") == "bot.cli:main"
    assert shutil.which("baseten-bot", path=str(Path(sys.executable).parent))


def test_copied_paths_exist_and_the_lock_pins_everything() -> None:
    for copy in instructions("COPY"):
        if copy.startswith("--from"):
            continue
        for source in copy.split()[:-1]:
            assert (ROOT / source).exists(), source
    pinned = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and line[0] != "#"]
    assert pinned and all("==" in line for line in pinned)
    names = {re.split(r"[=<>\[]", line)[0].lower().replace("_", "-") for line in pinned}
    assert {"slack-bolt", "httpx", "apscheduler", "sqlalchemy", "alembic", "psycopg", "uvicorn"} <= names


def test_healthcheck_data_volume_and_database_path() -> None:
    (check,) = instructions("HEALTHCHECK")
    assert "/healthz" in check
    assert any("/data" in v for v in instructions("VOLUME"))
    assert "DATABASE_URL=sqlite:////data/" in DOCKERFILE


def test_the_package_ships_its_migrations() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]
    assert {"bot", "bot_migrations", "bot_migrations.versions"} <= set(packages)
    assert project["tool"]["setuptools"]["package-dir"]["bot_migrations"] == "migrations"
    assert (ROOT / "migrations" / "versions" / "0001_initial.py").exists()


def test_compose_runs_postgres_and_two_replicas() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "postgres" in services
    bots = [s for name, s in services.items() if name.startswith("bot")]
    assert len(bots) == 2
    for bot in bots:
        assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "postgres" in bot["depends_on"]
