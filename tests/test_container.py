"""The container and compose file, checked without a Docker engine: what they name must exist."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    text = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.upper().startswith(name + " ")]


def test_multi_stage_slim_and_non_root() -> None:
    bases = instructions("FROM")
    assert len(bases) >= 2 and all("slim" in b for b in bases)
    assert instructions("USER") and instructions("USER")[-1] not in ("root", "0")


def test_base_images_are_one_exact_tag_of_a_supported_python() -> None:
    bases = {b.split()[0] for b in instructions("FROM")}
    # one image for both stages: the venv built in the first runs on the second's interpreter
    assert len(bases) == 1, f"the stages use different base images: {sorted(bases)}"
    (base,) = bases
    found = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)", base)
    assert found, f"{base} is not pinned to a full python:X.Y.Z-slim-<debian> tag"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(".".join(found.groups()[:3])), f"{base} is outside {requires}"


def test_the_build_runs_pip_check_after_the_last_install() -> None:
    runs = instructions("RUN")
    installs = [i for i, run in enumerate(runs) if re.search(r"\bpip install\b", run)]
    checks = [i for i, run in enumerate(runs) if re.search(r"\bpip check\b", run)]
    assert installs and checks, "the build never runs pip check"
    last_install = runs[installs[-1]]
    same_run_checks_after = "pip check" in last_install.split("pip install")[-1]
    assert checks[-1] > installs[-1] or same_run_checks_after, "pip check runs before the last pip install"


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, /-separated) out of the build context.

    Docker's rules, as far as this file uses them: a pattern matches a path or any of its
    parent directories, `*` stays within one segment and `**/` spans any depth.
    """
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        for prefix in prefixes:
            candidates = {pattern}
            if pattern.startswith("**/"):
                tail = pattern[3:]
                candidates = {tail} | {"*/" * depth + tail for depth in range(1, len(parts))}
            for candidate in candidates:
                if prefix.count("/") == candidate.count("/") and fnmatch.fnmatchcase(prefix, candidate):
                    return True
    return False


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    copied = [source for copy in instructions("COPY") if not copy.startswith("--from") for source in copy.split()[:-1]]
    files = []
    for source in copied:
        top = ROOT / source
        files += [top] if top.is_file() else [f for f in top.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    assert files
    for file in files:
        relative = file.relative_to(ROOT).as_posix()
        assert not dockerignored(relative), f"{relative} is copied by the Dockerfile but .dockerignore drops it"
    for kept_out in [
        ".git/HEAD",
        ".venv/bin/python",
        "baseten-bot.db",
        "data/baseten-bot.db-wal",
        "bot/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/3.11/bot/cli.meta.json",
        ".pytest_cache/README.md",
        ".ruff_cache/CACHEDIR.TAG",
        "tests/data/baseten-openapi.yaml",
        "bench/run.py",
    ]:
        assert dockerignored(kept_out), f".dockerignore lets {kept_out} into the build context"


def test_the_command_is_the_installed_console_script() -> None:
    (cmd,) = instructions("CMD")
    assert json.loads(cmd) == ["baseten-bot", "serve"]
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("baseten-bot") == "bot.app.cli:main"
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


def test_the_package_ships_every_package_of_the_bot() -> None:
    """`pip install .` (the container, the black-box check) installs only the packages listed: one
    left out (bot.guard was) imports fine from a checkout and fails in the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "bot").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_compose_runs_postgres_and_two_replicas() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert "postgres" in services
    bots = [s for name, s in services.items() if name.startswith("bot")]
    assert len(bots) == 2
    for bot in bots:
        assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "postgres" in bot["depends_on"]
