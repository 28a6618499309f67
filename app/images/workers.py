"""How many photos one worker process decodes at once, and how long an upload waits for a turn.

Each decode may use its budget of memory (app/images/decode.py); the slots bound how many
budgets a worker spends at once. The work runs in a thread, never on the event loop; a slot is
given back only when its thread has finished, even if the request that asked was cancelled.
"""

import asyncio
import ctypes
import ctypes.util
import math
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio.to_thread

from app.images.errors import ImagesBusyError

P = ParamSpec("P")
T = TypeVar("T")


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one (Linux with glibc: the Docker image, Render)."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return trim if callable(trim) else None


# A decode's buffers are freed to malloc's arenas, which keep them: after four large photos a
# worker stayed 116 MB above idle. Trimming after each decode gives them back to the system.
_TRIM = _malloc_trim()


def _then_trim(work: Callable[[], T]) -> T:
    try:
        return work()
    finally:
        if _TRIM is not None:
            _TRIM(0)


class ImageWorkers:
    def __init__(self, *, concurrency: int, wait_seconds: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._wait = wait_seconds
        # The client is told to come back after about one more wait.
        self.retry_after = max(1, math.ceil(wait_seconds))

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args)` in a thread once a slot is free; ImagesBusyError after the wait."""
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError:
            raise ImagesBusyError(self.retry_after) from None
        try:
            return await anyio.to_thread.run_sync(_then_trim, lambda: work(*args, **kwargs))
        finally:
            self._slots.release()
