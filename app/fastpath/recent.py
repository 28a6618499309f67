"""Public reads answered from what was read moments ago, forgotten the moment a store changes.

A shared store link is opened by many shoppers at once, and each view read the same rows and
built the same body: most of the storefront's time (bench/cpu.py). `RecentReads` keeps a read's
answer for at most `seconds` (at most one: STORE_CACHE_SECONDS), counted from before the read
began, so an answer is never older than that whatever else fails. A change committed by this
process (app/fastpath/changes.py) or announced by another one over PostgreSQL's NOTIFY forgets
every answer at once, so a vendor's edit shows on the next view.

Concurrent misses of one key share one read, so a popular store's expiry is one statement, not
one per shopper waiting. Nothing is kept for a read that found nothing (a new store shows at
once), nor for a read that a change overtook. Only public reads use it: nothing read for a
signed-in vendor is ever kept.
"""

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from time import monotonic
from typing import Any, Generic, TypeVar

V = TypeVar("V")


def _retrieved(task: "asyncio.Task[object]") -> None:
    # Every waiter may have left (their requests cancelled): the failure is theirs, not news.
    if not task.cancelled():
        task.exception()


class RecentReads(Generic[V]):
    def __init__(self, *, seconds: float, max_entries: int) -> None:
        self.seconds = seconds
        self._max_entries = max_entries
        # Key -> (read started, answer), oldest first: insertion order is expiry order.
        self._answers: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._reading: dict[Hashable, asyncio.Task[V | None]] = {}
        # Bumped by every change: a read that began before one is not kept.
        self._generation = 0
        # False while a change could go unannounced (the listener is down): nothing is kept.
        self.trusted = True

    async def get(self, key: Hashable, read: Callable[[], Awaitable[V | None]]) -> V | None:
        """The answer `read()` gave for `key` at most `seconds` ago, else a fresh one."""
        if self.seconds <= 0 or not self.trusted:
            return await read()
        kept = self._answers.get(key)
        if kept is not None:
            if monotonic() - kept[0] < self.seconds:
                return kept[1]
            del self._answers[key]
        task = self._reading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(key, read))
            task.add_done_callback(_retrieved)
            self._reading[key] = task
        # Shielded: a shopper who leaves does not cancel the read the others wait for.
        return await asyncio.shield(task)

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[V | None]]) -> V | None:
        started, generation = monotonic(), self._generation
        try:
            answer = await read()
        finally:
            if self._reading.get(key) is asyncio.current_task():
                del self._reading[key]
        if answer is not None and generation == self._generation and self.trusted:
            self._keep(key, started, answer)
        return answer

    def _keep(self, key: Hashable, started: float, answer: V) -> None:
        self._answers.pop(key, None)
        self._answers[key] = (started, answer)
        expired_before = monotonic() - self.seconds
        while self._answers:
            oldest_key, (oldest_started, _) = next(iter(self._answers.items()))
            if len(self._answers) <= self._max_entries and oldest_started > expired_before:
                break
            del self._answers[oldest_key]

    def forget_all(self) -> None:
        """A store changed: nothing read before now is served again, nor kept when it lands."""
        self._generation += 1
        self._answers.clear()
        # Reads under way may have begun before the change: the next request starts its own.
        self._reading.clear()

    def __len__(self) -> int:
        return len(self._answers)


class StoreReads:
    """The recent reads of the public store routes, forgotten and trusted together."""

    def __init__(self, *, seconds: float, max_entries: int, trusted: bool) -> None:
        # The JSON storefront's bodies and the store pages' rows (their own types, hence two).
        self.storefront: RecentReads[Any] = RecentReads(seconds=seconds, max_entries=max_entries)
        self.pages: RecentReads[Any] = RecentReads(seconds=seconds, max_entries=max_entries)
        self.trust(trusted)

    def forget_all(self) -> None:
        self.storefront.forget_all()
        self.pages.forget_all()

    def trust(self, trusted: bool) -> None:
        for reads in (self.storefront, self.pages):
            reads.trusted = trusted
            if not trusted:
                reads.forget_all()
