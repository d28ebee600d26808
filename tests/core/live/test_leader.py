"""One derivation leader among processes: an advisory lock, taken over when the leader dies."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg

from core.live.leader import LOCK_KEY, Leadership
from tests.support.databases import TestDb


async def until(check: Callable[[], bool], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


class Worker:
    """Records which candidate worked and whether its work was stopped."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []

    def work(self, name: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            self.started.append(name)
            try:
                await asyncio.Event().wait()
            finally:
                self.stopped.append(name)

        return run


async def test_one_leader_and_takeover_when_it_stops(db: TestDb) -> None:
    log = Worker()
    a = Leadership(db.conninfo, log.work("a"), retry_s=0.1)
    b = Leadership(db.conninfo, log.work("b"), retry_s=0.1)
    task_a = asyncio.create_task(a.run())
    task_b: asyncio.Task[None] | None = None
    try:
        await until(lambda: a.is_leader, "a leads")
        task_b = asyncio.create_task(b.run())
        await until(lambda: b.attempts >= 5, "b keeps trying")
        assert (a.is_leader, b.is_leader, log.started) == (True, False, ["a"])
        task_a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        # b's work starts just after it takes the lock: wait for the work, not the flag
        await until(lambda: log.started == ["a", "b"], "b takes over")
        assert b.is_leader and log.stopped == ["a"]
    finally:  # a failed check must not leave a contender retrying against a dropped database
        for task in (task_a, task_b):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert log.stopped == ["a", "b"]


async def test_a_leader_whose_session_dies_stops_working(db: TestDb) -> None:
    log = Worker()
    a = Leadership(db.conninfo, log.work("a"), retry_s=0.1)
    b = Leadership(db.conninfo, log.work("b"), retry_s=0.1)
    tasks = [asyncio.create_task(a.run())]
    await until(lambda: a.is_leader, "a leads")
    tasks.append(asyncio.create_task(b.run()))
    await until(lambda: b.attempts >= 3, "b tries")
    async with await psycopg.AsyncConnection.connect(db.conninfo, autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND objid = %s AND granted",
            (LOCK_KEY,),
        )
    await until(lambda: log.stopped == ["a"], "a's work is stopped")
    await until(lambda: a.is_leader != b.is_leader, "a single new leader")
    assert len(log.started) == 2  # whoever leads now started afresh
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
