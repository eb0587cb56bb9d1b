"""bench/soak.py in miniature, so the soak script cannot rot: a few rounds of random
changes, faults and restarts against the real process, and the same invariant check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import sqlite_only

ROOT = Path(__file__).resolve().parent.parent


@sqlite_only  # the soak brings its own SQLite file; once per CI run is enough
def test_a_short_soak_keeps_every_invariant() -> None:
    args = ["--rounds", "15", "--models", "4", "--per-model", "4", "--restart-chance", "0.25", "--seed", "3"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), *args, "--out", "-"],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(done.stdout[: done.stdout.index("<!-- soak:sqlite -->")])
    assert report["ok"] and report["missing"] == 0 and report["changes"] > 0
    # the duplicate window is timed by the bot itself, up to the commit that closes it
    assert report["notices timed from Slack's ok to the commit of their record"] > 0
    assert report["SIGKILLs"] + report["SIGTERMs"] > 0, "the seed should restart the bot at least once"
