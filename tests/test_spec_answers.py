"""Never a stack trace: Baseten answers that match its published spec, drawn at random.

A loopback Baseten serves, for every endpoint the bot reads, a body generated from
that endpoint's schema in tests/data/management.json (Baseten's published spec).
Whatever it serves, `baseten-bot status` ends with its card (exit 0) or one line
(exit 1), Slack gets a short answer rather than "something went wrong", and a poll
cycle either records what it saw or, for an answer the bot cannot use, nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.app.cli import main
from bot.app.db import make_sync_engine
from bot.domain.ids import is_plain_id
from bot.slack.app import OOPS
from bot.store import tables as t
from tests.conftest import MODEL, OLD, PROD, any_database
from tests.fakes import API_KEY, FakeBaseten, FakeSlack, Seen, _Fake
from tests.spec import PUBLISHED
from tests.world import World

pytestmark = any_database

SPEC = json.loads(PUBLISHED.read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
UNREADABLE = "could not read"  # the words of every answer about a body the bot cannot use

# -- instances of the spec's schemas -----------------------------------------------------------

# strings: mostly plain tokens (usable as ids; a few shared, so answers name each other as real
# ones do), else anything at all (spaces, control characters, NUL) or too long for the database
_plain = st.one_of(st.sampled_from(["mdl1", "dep1", "dep2"]), st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True))
_odd = st.one_of(st.text(max_size=12), st.sampled_from(["x" * 300, "a b", "\x00"]))
_strings = st.integers(0, 9).flatmap(lambda n: _plain if n < 9 else _odd)
# integers: mostly small, else any size, the database's limits among them
_integers = st.integers(0, 9).flatmap(
    lambda n: st.integers(0, 5) if n < 8 else st.one_of(st.integers(), st.sampled_from([-1, 2**31, 2**63]))
)
# numbers: mostly small, else any finite one (JSON has no NaN), integers among them as JSON allows
_numbers = st.integers(0, 9).flatmap(
    lambda n: st.floats(0, 5) if n < 6 else st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
)
_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_date_times = st.datetimes(timezones=_offsets).map(lambda d: d.isoformat())  # RFC 3339, years 1 to 9999
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _strings,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_strings, inner, max_size=2),
    max_leaves=4,
)


def instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against `schema`, for the JSON Schema the spec's answer bodies use."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: instances(SCHEMAS[name]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([instances(s) for s in schema[key]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict):  # a map whose values the spec types (a metric's label set)
            return st.dictionaries(_strings, instances(extra), max_size=2)
        if not props:
            return st.dictionaries(_strings, _json, max_size=2) if extra else st.just({})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: instances(v) for k, v in props.items() if k in required},
            optional={k: instances(v) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(instances(schema["items"]), max_size=3)
    if kind == "string" and "pattern" in schema:  # JSON Schema's `\d` is ASCII (ECMA 262), not Python's
        return st.from_regex(re.compile(schema["pattern"], re.ASCII), fullmatch=True)
    if kind == "string":
        return _date_times if schema.get("format") == "date-time" else _strings
    if kind == "integer":
        return _integers
    if kind == "number":
        return _numbers
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise AssertionError(f"the spec uses a schema this generator does not know: {schema}")


ANSWERS = ("ModelV1", "ModelsV1", "DeploymentV1", "DeploymentsV1")
bodies = st.fixed_dictionaries({name: instances({"$ref": f"#/components/schemas/{name}"}) for name in ANSWERS})
# half the time the deployments served belong to the model asked about, as real answers' do
answers = st.tuples(bodies, st.booleans())


def test_the_generator_draws_only_what_the_spec_allows() -> None:
    """The answers below are only as good as this: each one validates against the spec."""
    check = {
        name: Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]})
        for name in ANSWERS
    }

    @settings(max_examples=40, deadline=None)
    @given(bodies)
    def drawn(answer: dict[str, Any]) -> None:
        for name, body in answer.items():
            errors = [e.message for e in check[name].iter_errors(body)]
            assert not errors, (name, errors[:3])

    drawn()


class SpecBaseten(_Fake):
    """Answers every read the bot makes with the body drawn for that endpoint's schema."""

    def __init__(self) -> None:
        self.bodies: dict[str, Any] = {}
        self.owned = False  # each deployment served names the model of the path it was asked for
        super().__init__()

    def serve(self, answer: tuple[dict[str, Any], bool]) -> None:
        with self.lock:
            self.bodies, self.owned = answer

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        segs = [s for s in seen.path.split("/") if s]
        if segs[:2] != ["v1", "models"] or len(segs) > 5:
            return 404, {"error": "Not found"}, {}, 0.0, None
        if len(segs) == 4 and segs[3] != "deployments":  # audit logs: not in this spec
            return 404, {"error": "Not found"}, {}, 0.0, None
        schema = {2: "ModelsV1", 3: "ModelV1", 4: "DeploymentsV1", 5: "DeploymentV1"}[len(segs)]
        with self.lock:
            body = json.loads(json.dumps(self.bodies[schema]))
            if self.owned and len(segs) >= 4:
                for dep in body["deployments"] if len(segs) == 4 else [body]:
                    dep["model_id"] = urllib.parse.unquote(segs[2])
            return 200, body, {}, 0.0, None


@pytest.fixture
def spec_baseten() -> Iterator[SpecBaseten]:
    fake = SpecBaseten()
    yield fake
    fake.close()


FEW = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: a pass means the same thing each time
    # one fake and one database serve every example; each example resets what it uses
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
targets = st.sampled_from([None, "production", "development", "dep1"])


# -- the terminal ------------------------------------------------------------------------------


def test_status_in_a_terminal_is_a_card_or_one_line(spec_baseten: SpecBaseten, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASETEN_API_KEY", API_KEY)
    monkeypatch.setenv("BASETEN_API_URL", spec_baseten.url)
    outcomes: set[int] = set()

    @settings(FEW, max_examples=20)  # each builds the client anew, as `baseten-bot status` does
    @given(answers, targets)
    def status(answer: tuple[dict[str, Any], bool], target: str | None) -> None:
        spec_baseten.serve(answer)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["status", "mdl1", *([target] if target else [])])
        outcomes.add(code)
        if code == 0:
            assert out.getvalue().strip() and not err.getvalue()
        else:
            assert code == 1
            assert err.getvalue().count("\n") == 1 and UNREADABLE in err.getvalue(), err.getvalue()

    status()
    assert outcomes == {0, 1}  # both kinds of answer were served


def test_an_id_with_a_space_is_one_line_from_the_real_process(spec_baseten: SpecBaseten) -> None:
    model = {
        "id": "mdl 1",
        "created_at": "2026-11-01T09:00:00Z",
        "name": "llama",
        "deployments_count": 0,
        "production_deployment_id": None,
        "development_deployment_id": None,
        "instance_type_name": "1x L4",
        "team_name": "ml",
    }
    spec_baseten.serve(({"ModelV1": model, "DeploymentsV1": {"deployments": []}}, False))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BASETEN_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "status", "llama"],
        env={**base, "BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": spec_baseten.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "baseten-bot status: Baseten sent an answer the bot could not read. Try again in a minute."
    ]


# -- Slack, and what it stores ------------------------------------------------------------------


@pytest.fixture
def clean_db(db_url: str) -> Iterator[tuple[str, sa.Engine]]:
    engine = make_sync_engine(db_url)
    yield db_url, engine
    engine.dispose()


def _empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(t.Base.metadata.sorted_tables):
            conn.execute(table.delete())


def _rows(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [dict(r._mapping) for r in conn.execute(table.select())]
            for table in t.Base.metadata.sorted_tables
        }


def _recorded_ids(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    ids = [r["model_id"] for name in ("snapshots", "model_states", "transitions") for r in rows[name]]
    ids += [r["deployment_id"] for name in ("snapshots", "transitions") for r in rows[name]]
    ids += [r[k] for r in rows["model_states"] for k in ("production_deployment_id", "development_deployment_id")]
    return [i for i in ids if i is not None]


def assert_usable(rows: dict[str, list[dict[str, Any]]], model_id: str | None) -> None:
    """What was recorded can be sent back to Baseten, belongs to the model asked about, and makes sense."""
    assert all(is_plain_id(i) for i in _recorded_ids(rows)), rows
    if model_id is not None:
        owners = {r["model_id"] for name in ("snapshots", "model_states", "transitions") for r in rows[name]}
        assert owners <= {model_id}, (owners, model_id)
    counts = [r["active_replica_count"] for r in rows["snapshots"]]
    assert all(c is None or 0 <= c < 2**31 for c in counts), counts


def test_slack_answers_are_short_and_what_is_stored_is_usable(
    spec_baseten: SpecBaseten, slack: FakeSlack, clean_db: tuple[str, sa.Engine]
) -> None:
    db_url, engine = clean_db
    outcomes: set[str] = set()

    @FEW
    @given(answers, targets, st.sampled_from(["status", "subscribe"]))
    def command(answer: tuple[dict[str, Any], bool], target: str | None, verb: str) -> None:
        _empty(engine)
        spec_baseten.serve(answer)
        message, _ = runner.run(world.command(f"{verb} mdl1 {target or ''}".strip()))
        assert OOPS not in message.text
        failed = ":warning:" in json.dumps(message.blocks[:1])  # render.error: a refusal
        rows = _rows(engine)
        if failed:
            outcomes.add("refused")
            assert UNREADABLE in message.text, message.text
            assert not any(rows.values()), rows  # nothing of an unusable answer is kept
        else:
            outcomes.add("subscribed" if rows["snapshots"] else verb)
        subscribed = rows["subscriptions"][0]["model_id"] if rows["subscriptions"] else None
        assert_usable(rows, subscribed)

    with asyncio.Runner() as runner:
        world = World(spec_baseten, slack, db_url)
        try:
            command()
        finally:
            runner.run(world.close())
    assert {"status", "subscribed", "refused"} <= outcomes  # cards, records and refusals were all seen


# -- the poller ---------------------------------------------------------------------------------


def test_a_poll_records_what_it_can_use_and_nothing_else(
    spec_baseten: SpecBaseten, slack: FakeSlack, clean_db: tuple[str, sa.Engine]
) -> None:
    db_url, engine = clean_db
    outcomes: set[str] = set()

    @FEW
    @given(answers, st.sampled_from(["*", "production", "dep1"]))
    def poll(answer: tuple[dict[str, Any], bool], target: str) -> None:
        _empty(engine)
        spec_baseten.serve(answer)
        runner.run(
            world.store.subscriptions.subscribe(
                team_id="T1",
                channel_id="C1",
                model_id="mdl1",
                model_name="llama",
                target=target,
                target_name="",
                kinds=(),
                thread=True,
                user_id="U1",
            )
        )
        report = runner.run(world.poller.cycle(deliver=False))
        rows = _rows(engine)
        recorded = {name: r for name, r in rows.items() if name != "subscriptions" and r}
        if report.failed_models:
            outcomes.add("failed")
            assert "cannot read" in report.errors[0], report.errors
            assert not recorded, recorded
        else:
            outcomes.add("recorded" if rows["snapshots"] else "nothing seen")
        assert_usable(rows, "mdl1")

    with asyncio.Runner() as runner:
        world = World(spec_baseten, slack, db_url)
        try:
            poll()
        finally:
            runner.run(world.close())
    assert {"failed", "recorded"} <= outcomes  # both kinds of answer were served


# -- answers the database cannot hold, one by one ----------------------------------------------------

UNUSABLE = {
    "a NUL in a name": {"name": "v\x003"},
    "a name longer than its column": {"name": "v" * 256},
    "a replica count beyond INTEGER": {"active_replica_count": 2**31},
    "a negative replica count": {"active_replica_count": -1},
    "a deployment of another model": {"model_id": "mdl2other"},
    "a status longer than its column": {"status": "S" * 65},
}


@pytest.mark.parametrize("odd", UNUSABLE.values(), ids=UNUSABLE.keys())
async def test_one_unusable_deployment_is_left_out_and_the_rest_of_its_model_is_heard(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, odd: dict[str, Any]
) -> None:
    """Issue 22: one odd deployment used to make its whole model's answer unreadable, so nothing of
    the model was heard. Now it is left out on its own: its snapshot stays as it was (not deleted,
    not changed), every other deployment is heard, and `status MODEL` names the one it left out."""
    world = World(baseten, slack, db_url)
    engine = make_sync_engine(db_url)
    # the spec's statuses are few; the bot keeps unknown ones, so a long one is the spec's to allow here
    newer = baseten.off_spec() if "status" in odd else contextlib.nullcontext()
    newer.__enter__()
    try:
        message, _ = await world.command(f"subscribe {MODEL}")  # recorded while all is well
        assert "subscribed this channel" in json.dumps(message.blocks)
        old_row = [r for r in _rows(engine)["snapshots"] if r["deployment_id"] == OLD]
        with baseten.lock:
            baseten.deployments[MODEL][OLD].update(odd)
        message, _ = await world.command(f"subscribe {MODEL} production", channel="C2")
        assert "subscribed this channel" in json.dumps(message.blocks) and OOPS not in message.text
        report = await world.cycle()
        assert report.failed_models == 0 and report.changes == 0  # the odd one is neither changed nor gone
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        report = await world.cycle()
        assert report.changes == 1 and report.sent == 2
        assert [p["text"] for p in slack.posts()] == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"] * 2
        assert [r for r in _rows(engine)["snapshots"] if r["deployment_id"] == OLD] == old_row
        overview, _ = await world.command(f"status {MODEL}")
        shown = json.dumps(overview.blocks)
        assert "1 more deployment not shown" in shown and "v3" in shown and UNREADABLE not in overview.text
    finally:
        newer.__exit__(None, None, None)
        await world.close()
        engine.dispose()
