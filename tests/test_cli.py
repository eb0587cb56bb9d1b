"""The `baseten-bot` command line: help, configuration errors, `status` in a terminal, `migrate`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.app.cli import main
from tests.conftest import DEV, MODEL, MODEL_NAME, PROD, any_database
from tests.fakes import API_KEY, Canned, FakeBaseten

pytestmark = any_database


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BASETEN_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "BASETEN_API_KEY"),
        ({"BASETEN_API_KEY": "k", "POLL_INTERVAL_SECONDS": "0.5"}, "POLL_INTERVAL_SECONDS"),
        ({"BASETEN_API_KEY": "k", "POLL_INTERVAL_SECONDS": "soon"}, "POLL_INTERVAL_SECONDS"),
        ({"BASETEN_API_KEY": "k", "HOT_POLL_SECONDS": "0.5"}, "HOT_POLL_SECONDS"),
        ({"BASETEN_API_KEY": "k", "HOT_POLL_SECONDS": "often"}, "HOT_POLL_SECONDS"),
        ({"BASETEN_API_KEY": "k", "PORT": "http"}, "PORT"),
        ({"BASETEN_API_KEY": "k", "BASETEN_MAX_RPS": "0"}, "BASETEN_MAX_RPS"),
        ({"BASETEN_API_KEY": "k", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BASETEN_API_KEY": "k", "BASETEN_API_URL": "ftp://x"}, "BASETEN_API_URL"),
        ({"BASETEN_API_KEY": "k", "ADMIN_USER_IDS": "U0BOSS,@alice"}, "ADMIN_USER_IDS"),
        ({"BASETEN_API_KEY": "k", "OPERATOR_USER_IDS": "U0OPS,#oncall"}, "OPERATOR_USER_IDS"),
        ({"BASETEN_API_KEY": "k", "ACK_OPERATORS_ONLY": "maybe"}, "ACK_OPERATORS_ONLY"),
        ({"BASETEN_API_KEY": "k", "GROUP_OVER": "0"}, "GROUP_OVER"),
        ({"BASETEN_API_KEY": "k", "GROUP_WAIT_SECONDS": "3600"}, "GROUP_WAIT_SECONDS"),
        ({"BASETEN_API_KEY": "k", "GROUP_WAIT_SECONDS": "-1"}, "GROUP_WAIT_SECONDS"),
        ({"BASETEN_API_KEY": "k", "APPROVAL_REQUIRED": "promote:production,launch:*"}, "APPROVAL_REQUIRED"),
        ({"BASETEN_API_KEY": "k", "APPROVAL_REQUIRED": "promote"}, "APPROVAL_REQUIRED"),
        ({"BASETEN_API_KEY": "k", "APPROVAL_REQUIRED": "promote:prod/uction"}, "APPROVAL_REQUIRED"),
        ({"BASETEN_API_KEY": "k"}, "SLACK_BOT_TOKEN"),
        ({"BASETEN_API_KEY": "k", "SLACK_BOT_TOKEN": "not-a-bot-token"}, "SLACK_BOT_TOKEN"),
        ({"BASETEN_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (
            {"BASETEN_API_KEY": "k", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"},
            "SLACK_APP_TOKEN",
        ),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable(
    env: dict[str, str], names: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in list(os.environ):
        if key.startswith(("SLACK_", "BASETEN_", "DATABASE_", "POLL_", "HOT_POLL_", "PORT", "HOST", "LOG_LEVEL")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["serve"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert names in lines[0]


def test_a_configuration_error_is_one_line_from_the_real_process(tmp_path: Path) -> None:
    result = run("serve", env={"BASETEN_API_KEY": "k", "POLL_INTERVAL_SECONDS": "0"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "baseten-bot: configuration error: POLL_INTERVAL_SECONDS: Input should be greater than or equal to 1"
    ]


def test_bad_database_url_is_named(tmp_path: Path) -> None:
    result = run("migrate", env={"BASETEN_API_KEY": "k", "DATABASE_URL": "not a url"})
    assert result.returncode == 2 and "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_status_prints_the_card(baseten: FakeBaseten) -> None:
    result = run("status", MODEL_NAME, PROD, env={"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url})
    assert result.returncode == 0, result.stderr
    assert "Status:" in result.stdout and "ACTIVE" in result.stdout
    assert "https://app.baseten.co/models/mdl1abcd/logs/dep1prod" in result.stdout


def test_status_of_a_model_prints_an_overview(baseten: FakeBaseten) -> None:
    result = run("status", MODEL, env={"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url})
    assert result.returncode == 0
    assert "3 deployments" in result.stdout
    assert result.stdout.index("dep1prod") < result.stdout.index("dep3old")


def test_status_of_an_environment_prints_it(baseten: FakeBaseten) -> None:
    env = {"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url}
    baseten.start_promotion(MODEL, "production", DEV, "RAMPING_UP", 40)
    result = run("status", MODEL, "env:production", env=env)
    assert result.returncode == 0, result.stderr
    assert "Promotion:          RAMPING_UP" in result.stdout and "▰▰▰▰▱▱▱▱▱▱ 40%" in result.stdout
    assert "Current deployment: v3 (dep1prod) ACTIVE" in result.stdout
    unknown = run("status", MODEL, "env:qa", env=env)
    assert unknown.returncode == 1 and "Its environments: 'production'." in unknown.stderr


def test_status_exit_codes(baseten: FakeBaseten) -> None:
    env = {"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url}
    assert run("status", "nosuch", env=env).returncode == 1
    assert run("status", MODEL, "nosuch", env=env).returncode == 1
    assert run("status", "bad/id", env=env).returncode == 2
    assert run("status", env=env).returncode == 2
    assert run("status", "a", "b", "c", env=env).returncode == 2
    baseten.script("/v1/", Canned(401, {"error": "no"}))
    failed = run("status", MODEL, env=env)
    assert failed.returncode == 1 and "BASETEN_API_KEY" in failed.stderr and API_KEY not in failed.stderr


def test_status_needs_only_the_api_key(baseten: FakeBaseten) -> None:
    result = run(
        "status",
        MODEL,
        PROD,
        env={"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url, "PORT": "not-checked-by-status-either"},
    )
    # status reads every variable, so a malformed one is still named rather than ignored
    assert result.returncode == 2 and "PORT" in result.stderr
    ok = run("status", MODEL, PROD, env={"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": baseten.url})
    assert ok.returncode == 0


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    result = run("migrate", env={"BASETEN_API_KEY": "k", "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    tables = set(sa.inspect(sa.create_engine(url)).get_table_names())
    assert {"subscriptions", "snapshots", "transitions", "deliveries", "alembic_version"} <= tables


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    for url in (f"sqlite:///{tmp_path}/no/such/dir/bot.db", "postgresql://bot:hunter2secret@127.0.0.1:9/db"):
        result = run("migrate", env={"BASETEN_API_KEY": "k", "DATABASE_URL": url})
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "Traceback" not in result.stderr
        assert "hunter2secret" not in result.stderr


def test_help_says_what_each_command_does_with_examples() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "composition root" not in result.stdout and "`baseten-bot`:" not in result.stdout
    for line in (
        "serve     run the bot",
        "status    show a model",
        "poll      run one poll-and-deliver cycle",
        "migrate   create or upgrade the database",
        "examples:",
        "baseten-bot status my-model production",
        "exit status:",
    ):
        assert line in result.stdout, line


@pytest.mark.parametrize("command", ["serve", "status", "poll", "migrate"])
def test_each_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: baseten-bot {command}" in out
    example = out.split("example:\n", 1)[1]
    assert f"baseten-bot {command}" in example
