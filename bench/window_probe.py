"""A timing probe run inside `baseten-bot serve` by bench/window.py: `python bench/window_probe.py serve`.

It wraps, for timing only (the bot does exactly what it would without it), the places a
notice's record passes through between Slack's ok and its commit, and writes what it saw
to the JSON file named by WINDOW_PROBE_OUT when the process exits:

- `Outbox.mark_sent` (bot/store/outbox.py): each call's start and end (the bot's own
  baseten_bot_notice_record_seconds times the same span, from just before the call);
- SQLite's write turns (bot/app/db.py `_Turns.turn`): every turn taken by any task, who took
  it (the first bot.store function up the stack), when it was asked for, got and given back;
  inside a mark_sent, how long it waited for its turn;
- the pool's checkout wait (bot.app.metrics.PoolMetrics.waited), inside a mark_sent;
- each aiosqlite operation inside a mark_sent (bot's connection thread): from queueing it to
  the worker thread starting it, the SQLite call itself, and from its end to the awaiting
  coroutine resuming on the event loop;
- the event loop's lag: a task asking to sleep 5 ms, and how late it woke, all run long.

Times are time.perf_counter(), which on Linux is the monotonic clock every process shares,
so bench/window.py can keep only what fell inside its measuring window.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import functools
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

marks: list[dict[str, Any]] = []  # one per mark_sent
turns: list[tuple[str, float, float, float]] = []  # (who, asked, got, gave back), every write turn
lags: list[tuple[float, float]] = []  # (when, seconds late) of a 5 ms sleep
_active: dict[int, dict[str, Any]] = {}  # id(task) -> the mark_sent record it is running
# the same, for the tasks it starts: SQLAlchemy commits and closes a session in a task of its own
# (shielded from cancellation), which inherits this
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("window_mark", default=None)


def _who() -> str:
    """The bot.store (or other bot) function that opened this write transaction."""
    frame = sys._getframe(2)
    fallback = "?"
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("bot.") and module not in ("bot.app.db", "bot.db"):
            name = f"{module.removeprefix('bot.')}.{frame.f_code.co_name}"
            if module.startswith("bot.store."):
                return name
            if fallback == "?":
                fallback = name
        frame = frame.f_back  # type: ignore[assignment]
    return fallback


def _record() -> dict[str, Any] | None:
    rec = _current.get()
    if rec is not None:
        return rec
    task = asyncio.current_task()  # inside SQLAlchemy's greenlet (the pool), whose context is its own
    return _active.get(id(task)) if task is not None else None


def install() -> None:
    import importlib

    import aiosqlite.core

    import bot
    import bot.store.outbox as outbox

    # the tree of the old cycle (bench/window.py --soak-old) has no bot/app/ (and the editable
    # install would hand out this tree's bot.app.db for the name: so look, don't try)
    app = "bot.app." if os.path.isdir(os.path.join(bot.__path__[0], "app")) else "bot."
    db = importlib.import_module(app + "db")
    metrics = importlib.import_module(app + "metrics")

    turn = db._Turns.turn

    @contextlib.asynccontextmanager
    async def timed_turn(self: Any) -> AsyncIterator[None]:
        who = _who()
        asked = time.perf_counter()
        async with turn(self):
            got = time.perf_counter()
            rec = _record()
            if rec is not None:
                rec["turn_got"] = got
            try:
                yield
            finally:
                turns.append((who, asked, got, time.perf_counter()))

    db._Turns.turn = timed_turn  # type: ignore[method-assign]

    waited = metrics.PoolMetrics.waited

    def timed_waited(self: Any, seconds: float) -> None:
        rec = _record()
        if rec is not None:
            rec["pool"] += seconds
        waited(self, seconds)

    metrics.PoolMetrics.waited = timed_waited  # type: ignore[method-assign]

    execute = aiosqlite.core.Connection._execute

    async def timed_execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        rec = _record()
        if rec is None:
            return await execute(self, fn, *args, **kwargs)
        seen: dict[str, float] = {}
        call = functools.partial(fn, *args, **kwargs)

        def timed() -> Any:
            seen["start"] = time.perf_counter()
            try:
                return call()
            finally:
                seen["end"] = time.perf_counter()

        queued = time.perf_counter()
        try:
            return await execute(self, timed)
        finally:
            resumed = time.perf_counter()
            name = getattr(fn, "__name__", type(fn).__name__)
            start, end = seen.get("start", resumed), seen.get("end", resumed)
            rec["ops"].append((name, start - queued, end - start, resumed - end))

    aiosqlite.core.Connection._execute = timed_execute  # type: ignore[method-assign]

    mark_sent = outbox.Outbox.mark_sent

    async def timed_mark_sent(self: Any, *args: Any, **kwargs: Any) -> None:
        task = asyncio.current_task()
        rec: dict[str, Any] = {"start": time.perf_counter(), "pool": 0.0, "ops": []}
        if task is not None:
            _active[id(task)] = rec
        token = _current.set(rec)
        try:
            await mark_sent(self, *args, **kwargs)
        finally:
            rec["end"] = time.perf_counter()
            _current.reset(token)
            if task is not None:
                _active.pop(id(task), None)
            marks.append(rec)

    outbox.Outbox.mark_sent = timed_mark_sent  # type: ignore[method-assign]

    # the event loop's lag, from inside it: started with the first mark_sent-free moment the loop runs
    run = asyncio.run

    def run_with_lag(main: Any, **kwargs: Any) -> Any:
        async def with_lag() -> Any:
            watcher = asyncio.create_task(_lag())
            try:
                return await main
            finally:
                watcher.cancel()

        return run(with_lag(), **kwargs)

    asyncio.run = run_with_lag  # type: ignore[assignment]
    atexit.register(_dump)


async def _lag() -> None:
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(0.005)
        woke = time.perf_counter()
        lags.append((woke, woke - asked - 0.005))


def _dump() -> None:
    out = os.environ.get("WINDOW_PROBE_OUT")
    if out and os.path.isdir(out):  # a directory: one file per process (bench/window_site)
        out = os.path.join(out, f"probe-{os.getpid()}.json")
    if out:
        Path(out).write_text(json.dumps({"marks": marks, "turns": turns, "lags": lags}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    install()
    from bot.app.cli import main

    sys.argv = ["baseten-bot", *sys.argv[1:]]
    sys.exit(main())
