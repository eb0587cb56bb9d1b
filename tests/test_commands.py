"""The pure `/baseten` parser: every form, and bad input that must be a usage error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.parse import parse
from bot.commands.typed import Help, ListSubs, Mute, Resume, Status, Subscribe, Unmute, Unsubscribe, UsageError
from bot.domain.guard import OFF, GuardSpec
from bot.domain.ids import is_plain_id
from bot.domain.status import KNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP", Help()),
        ("list", ListSubs()),
        ("status mdl1", Status("mdl1", "*")),
        ("status mdl1 dep1", Status("mdl1", "dep1")),
        ("status my-model_2 production", Status("my-model_2", "production")),
        ("status mdl1 Development", Status("mdl1", "development")),
        ("  status   mdl1\tdep1  ", Status("mdl1", "dep1")),
        ("status https://app.baseten.co/models/mdl1/logs/dep1", Status("mdl1", "dep1")),
        ("status <https://app.baseten.co/models/mdl1/logs/dep1>", Status("mdl1", "dep1")),
        ("status <https://app.baseten.co/models/mdl1/logs/dep1|link>", Status("mdl1", "dep1")),
        ("status https://app.baseten.co/models/mdl1/overview", Status("mdl1", "*")),
        ("status app.baseten.co/models/mdl1/deployments/dep1", Status("mdl1", "dep1")),
        ("subscribe mdl1", Subscribe("mdl1", "*")),
        ("subscribe mdl1 production", Subscribe("mdl1", "production")),
        ("subscribe mdl1 dep1 --no-thread", Subscribe("mdl1", "dep1", frozenset(), False)),
        (
            "subscribe mdl1 --on failures,recoveries",
            Subscribe("mdl1", "*", frozenset({"failures", "recoveries"})),
        ),
        ("subscribe mdl1 --on=unhealthy,all", Subscribe("mdl1", "*", frozenset({"UNHEALTHY", "all"}))),
        # a list with spaces around its commas is still one list, not a deployment named `recoveries`
        (
            "subscribe mdl1 --on failures, recoveries",
            Subscribe("mdl1", "*", frozenset({"failures", "recoveries"})),
        ),
        (
            "subscribe mdl1 --on failures , recoveries ,ACTIVE dep1",
            Subscribe("mdl1", "dep1", frozenset({"failures", "recoveries", "ACTIVE"})),
        ),
        ("subscribe mdl1 --on=deploys, all", Subscribe("mdl1", "*", frozenset({"deploys", "all"}))),
        ("subscribe mdl1 --on failures, --no-thread", Subscribe("mdl1", "*", frozenset({"failures"}), False)),
        ("subscribe mdl1 --on failures dep1", Subscribe("mdl1", "dep1", frozenset({"failures"}))),
        ("subscribe mdl1 ACTIVE", Subscribe("mdl1", "ACTIVE")),  # no --on before it: a deployment
        ("subscribe mdl1 --stuck 30d", Subscribe("mdl1", stuck_after=timedelta(days=30))),
        ("unsubscribe mdl1", Unsubscribe("mdl1", "*")),
        ("unsubscribe mdl1 dep1", Unsubscribe("mdl1", "dep1")),
        ("mute mdl1 30m", Mute("mdl1", "*", timedelta(minutes=30))),
        ("mute mdl1 production 2h", Mute("mdl1", "production", timedelta(hours=2))),
        ("mute mdl1 dep1 1d", Mute("mdl1", "dep1", timedelta(days=1))),
        ("unmute mdl1", Unmute("mdl1", "*")),
        ("resume mdl1 dep1", Resume("mdl1", "dep1")),
    ],
)
def test_every_form(text: str, expected: object) -> None:
    assert parse(text, statuses=KNOWN) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "don't know the command"),
        ("status", "needs a model"),
        ("status a b c", "Too many arguments"),
        ("list extra", "takes no arguments"),
        ("status ../etc", "not a valid model"),
        ("status mdl1 ..", "not a valid deployment"),
        ("status mdl/1", "not a valid model"),
        ("status mdl1 dep/1", "not a valid deployment"),
        ("status mdl1?x=1", "not a valid model"),
        ("status mdl1 dep%2F1", "not a valid deployment"),
        ("status mdl1 dep\x00", "not a valid deployment"),
        ("status mdl1 \u202edep", "not a valid deployment"),
        ("status mdl1 dép", "not a valid deployment"),
        ("status " + "a" * 65, "not a valid model"),
        ("status " + "x" * 5000, "too long"),
        ("status https://evil.example/models/mdl1/logs/dep1", "not a Baseten dashboard link"),
        ("status http://app.baseten.co/models/mdl1/logs/dep1", "not a Baseten dashboard link"),
        ("status https://app.baseten.co/models/../logs/dep1", "not a Baseten dashboard link"),
        ("status https://app.baseten.co.evil.io/models/mdl1", "not a Baseten dashboard link"),
        ("subscribe mdl1 --on nonsense", "does not know"),
        ("subscribe mdl1 --on", "needs a value"),
        ("subscribe mdl1 --loud", "Unknown option"),
        ("mute mdl1", "not a duration"),
        ("mute mdl1 forever", "not a duration"),
        ("mute mdl1 0m", "`0m` is too short: at least 1 minute"),
        ("mute mdl1 31d", "`31d` is too long: at most 30 days"),
        ("mute mdl1 99999d", "`99999d` is too long: at most 30 days"),
        ("mute mdl1 " + "9" * 900 + "d", "is too long: at most 30 days"),
        ("subscribe mdl1 --stuck 99999d", "`99999d` is too long: at most 30 days"),
        ("subscribe mdl1 --stuck=31d", "`31d` is too long: at most 30 days"),
        ("subscribe mdl1 --stuck 0h", "`0h` is too short"),
        ("mute mdl1 1h 2h", "Too many arguments: `2h` after the duration `1h`"),
        ("mute mdl1 production 1h 2h 3d", "Too many arguments: `2h 3d` after the duration `1h`"),
        ("subscribe mdl1 --on failures recoveries", "join the kinds with commas, e.g. `--on failures,recoveries`"),
        ("subscribe mdl1 --on=failures all", "join the kinds with commas, e.g. `--on failures,all`"),
        ("unsubscribe", "needs a model"),
        ("status <!channel>", "not a valid model"),
    ],
)
def test_bad_input_is_a_usage_error(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text, statuses=KNOWN)
    assert says in str(caught.value)


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError) as caught:
        parse("subscribe mdl1 --on loud", statuses=KNOWN)
    for kind in ("failures", "recoveries", "deploys", "scaling", "all"):
        assert kind in str(caught.value)


def _ids(cmd: object) -> list[str]:
    out = []
    for attr in ("model", "target"):
        value = getattr(cmd, attr, None)
        if isinstance(value, str) and value not in ("*", "production", "development"):
            out.append(value)
    return out


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_a_command_or_a_usage_error(text: str) -> None:
    try:
        cmd = parse(text, statuses=KNOWN)
    except UsageError:
        return
    assert all(is_plain_id(i) for i in _ids(cmd))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["status", "subscribe", "unsubscribe", "mute", "resume"]),
    st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=3),
)
def test_arbitrary_arguments_never_yield_an_unsafe_id(verb: str, args: list[str]) -> None:
    try:
        cmd = parse(" ".join([verb, *args]), statuses=KNOWN)
    except UsageError:
        return
    assert all(is_plain_id(i) for i in _ids(cmd))


@pytest.mark.parametrize("dash", ["\u2014", "\u2013"])
def test_an_em_or_en_dash_before_an_option_reads_as_two_hyphens(dash: str) -> None:
    """Issue 22: macOS and Slack turn a typed `--` into a dash; `—on failures` was "Too many arguments"."""
    typed = parse(f"subscribe llama production {dash}on failures {dash}no-thread", statuses=KNOWN)
    assert typed == parse("subscribe llama production --on failures --no-thread", statuses=KNOWN)


# -- `--guard SPEC` (issue 24, the promotion guard) ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "guard", "target"),
    [
        ("subscribe mdl1 production --guard 5xx:1%", GuardSpec(max_5xx_percent=1.0), "production"),
        ("subscribe mdl1 env:staging --guard=auto-pause", GuardSpec(auto_pause=True), "env:staging"),
        ("subscribe mdl1 env:production --guard off", OFF, "production"),  # the same target as `production`
        ("subscribe mdl1 --guard OFF production", OFF, "production"),
        ("subscribe mdl1 production --guard 5xx:2%,p95:2x,min:50", None, "production"),  # the default: None
        ("subscribe mdl1 production --guard min:10, p95:3x --no-thread", GuardSpec(2.0, 3.0, 10), "production"),
        (
            "subscribe mdl1 production --guard min:10 ,auto-pause",
            GuardSpec(min_requests=10, auto_pause=True),
            "production",
        ),
        ("subscribe mdl1 production", None, "production"),
    ],
)
def test_guard_is_a_subscribe_option_on_environments_and_production(
    text: str, guard: GuardSpec | None, target: str
) -> None:
    cmd = parse(text, statuses=KNOWN)
    assert isinstance(cmd, Subscribe)
    assert (cmd.guard, cmd.target) == (guard, target)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("subscribe mdl1 --guard 5xx:1%", "use it on an environment (`env:NAME`) or `production`"),
        ("subscribe mdl1 dep1 --guard off", "use it on an environment"),
        ("subscribe mdl1 development --guard off", "use it on an environment"),
        ("subscribe https://app.baseten.co/models/mdl1/logs/dep1 --guard off", "use it on an environment"),
        ("subscribe chain:rag env:staging --guard off", "only for models"),
        ("subscribe mdl1 production --guard", "`--guard` needs a value, e.g. `--guard 5xx:2%,p95:2x,min:50`"),
        ("subscribe mdl1 production --guard=", "`--guard` needs a value"),
        ("subscribe mdl1 production --guard 5xx:2", "give the 5xx rate in percent"),
        ("subscribe mdl1 production --guard p95:0.5x", "at least 1"),
        ("subscribe mdl1 production --guard min:-5", "whole number of requests"),
        ("subscribe mdl1 production --guard off,auto-pause", "stands alone"),
        ("subscribe mdl1 production --guard 5xx:1%,5xx:2%", "twice"),
        ("subscribe mdl1 production --guard loud", "does not know `loud`"),
        ("subscribe mdl1 production --guard 5xx:1% p95:2x", "Too many arguments"),  # a list joins at commas only
        ("subscribe mdl1 production --loud", "`--guard SPEC`"),
    ],
)
def test_a_bad_guard_is_a_usage_error_with_the_usage(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text, statuses=KNOWN)
    assert says in str(caught.value), str(caught.value)
    assert caught.value.usage is not None and "--guard SPEC" in caught.value.usage
