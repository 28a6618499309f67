"""Password hashing: Argon2id, with the earlier backend's bcrypt hashes still verified.

Hashing is CPU-bound for tens of milliseconds, so the async helpers run it on a small pool of
low-priority threads, behind a bounded queue: past PASSWORD_HASH_QUEUE_LIMIT hashes waiting or
running, another is refused at once (`HashingBusyError`, a 503 with Retry-After), counted and
logged, rather than piling up behind them.

A failed check takes as long as the slowest scheme's check, whatever made it fail: an unknown
email (a dummy Argon2 check), a wrong Argon2 password, a wrong password on an account still on
bcrypt (several times Argon2's cost). Otherwise the time of a failed login tells an attacker
which accounts exist and which still carry the earlier backend's hash. A bcrypt hash cannot be
upgraded without its password, so the work is equalised by waiting: each failed check is padded
(asyncio.sleep, no CPU) to the going cost of the slowest scheme, measured on the hashing threads.
"""

import asyncio
import logging
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Literal, TypeVar, TypeVarTuple

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from app.observability.sentry import add_breadcrumb, capture_message_with_context
from app.settings import Settings

# bcrypt only ever looked at the first 72 bytes; passlib truncated silently, bcrypt >= 5 raises.
BCRYPT_MAX_BYTES = 72
# Low enough that the loop's thread wins the core (at weight 1024 against 70 it gets about
# 94%), high enough that logins still progress when the loop is never idle (bench/speed.py login
# storm): at nice 19 a saturating storefront load left logins timing out; at 10 the storefront
# kept 0.79x of its idle rate; at 12, 0.87x, with 6.5 logins a second answered (p99 5.4 s).
HASHING_NICE = 12

logger = logging.getLogger(__name__)

T = TypeVar("T")
Args = TypeVarTuple("Args")
Scheme = Literal["argon2", "bcrypt"]
# Weight of the newest check in a scheme's going cost: it follows the machine's load within a
# few checks without jumping with one slow one.
COST_SMOOTHING = 0.2
# A full queue is reported to Sentry at most this often per worker (with the count refused since
# the last report), so a flood does not spend the quota; every refusal is logged.
REFUSAL_REPORT_SECONDS = 60.0


class HashingBusyError(Exception):
    """The hashing queue is full: the caller should answer 503 and retry after `retry_after`."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("password hashing queue full")
        self.retry_after = retry_after


def _utf8(password: str) -> bytes:
    # surrogatepass: a lone surrogate (sendable as a JSON escape) hashes instead of raising;
    # every real password encodes exactly as before.
    return password.encode("utf-8", "surrogatepass")


def _lower_thread_priority() -> None:
    """Make the calling thread (not the process) yield the CPU to everything else."""
    # On a one-core instance the hashing threads and the event loop's thread share the core at
    # equal priority, so a login storm made every other request several times slower. At
    # HASHING_NICE the loop's thread wins the core when it has work: logins may wait, shoppers
    # must not.
    # On Linux a thread id is a valid PRIO_PROCESS target and the nice value is per thread
    # (Argon2's own threads, with parallelism > 1, inherit it); lowering it needs no privilege.
    if not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)
    except OSError as exc:
        logger.warning("could not lower the password-hashing thread's priority: %s", exc)


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=settings.ARGON2_TIME_COST,
            memory_cost=settings.ARGON2_MEMORY_COST,
            parallelism=settings.ARGON2_PARALLELISM,
        )
        self._bcrypt = BcryptHasher()
        self._context = PasswordHash((self._argon2, self._bcrypt))
        self._dummy_hash: str | None = None
        # Each Argon2 run holds ARGON2_MEMORY_COST KiB: a login flood queues in the pool (a
        # request that gives up while queued is dropped unhashed) instead of growing the
        # worker's memory without bound.
        self._concurrency = settings.PASSWORD_HASH_CONCURRENCY
        self._executor: ThreadPoolExecutor | None = None
        self._queue_limit = settings.PASSWORD_HASH_QUEUE_LIMIT
        self._queued = 0
        self.refused = 0
        self._unreported = 0
        self._reported_at: float | None = None
        # Seconds one check of each scheme takes now; bcrypt's is first measured at the cost the
        # earlier backend's hashes carry, then follows the checks of real ones.
        self._legacy_rounds = settings.PASSWORD_LEGACY_BCRYPT_ROUNDS
        self._costs: dict[Scheme, float] = {}
        self._measuring = asyncio.Lock()

    def hash_sync(self, password: str) -> str:
        return self._argon2.hash(_utf8(password))

    def _observe(self, scheme: Scheme, started: float) -> None:
        seconds = perf_counter() - started
        going = self._costs.get(scheme)
        self._costs[scheme] = (
            seconds if going is None else going + COST_SMOOTHING * (seconds - going)
        )

    def verify_and_update_sync(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Check a password; also returns a fresh Argon2 hash when the stored one is outdated."""
        started = perf_counter()
        if self._bcrypt.identify(hashed):
            try:
                ok = self._bcrypt.verify(_utf8(password)[:BCRYPT_MAX_BYTES], hashed)
            except ValueError:
                return False, None
            self._observe("bcrypt", started)
            return ok, self.hash_sync(password) if ok else None
        try:
            verified = self._context.verify_and_update(_utf8(password), hashed)
        except (UnknownHashError, ValueError):
            return False, None
        self._observe("argon2", started)
        return verified

    def dummy_verify_sync(self, password: str) -> None:
        """Spend the same time as a real check, so an unknown email is not faster to reject."""
        if self._dummy_hash is None:
            self._dummy_hash = self._argon2.hash("dummy-password-for-timing")
        started = perf_counter()
        self._argon2.verify(_utf8(password), self._dummy_hash)
        self._observe("argon2", started)

    def _measure_legacy_sync(self) -> None:
        # Making a bcrypt hash costs what checking one does (the same key setup).
        started = perf_counter()
        BcryptHasher(rounds=self._legacy_rounds).hash(b"reference-for-timing")
        self._observe("bcrypt", started)

    @staticmethod
    def _timed(func: Callable[[*Args], T], *args: *Args) -> tuple[float, T]:
        """`func(*args)` and when it started on the hashing thread (after its wait in the queue)."""
        return perf_counter(), func(*args)

    async def _pad(self, started: float) -> None:
        """Wait until a failed check that started at `started` has taken the slowest scheme's
        going cost."""
        if "bcrypt" not in self._costs:
            async with self._measuring:
                if "bcrypt" not in self._costs:
                    await self._run(self._measure_legacy_sync)
        remaining = max(self._costs.values()) - (perf_counter() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _refuse(self) -> HashingBusyError:
        """Count and log a refused hash; the error tells when a retry may find room."""
        self.refused += 1
        self._unreported += 1
        going = max(self._costs.values(), default=0.1)
        retry_after = max(1, math.ceil(self._queued * going / self._concurrency))
        logger.warning(
            "password hashing queue full: refused with 503",
            extra={"queued": self._queued, "refused_total": self.refused},
        )
        add_breadcrumb("password hashing queue full", category="auth", level="warning")
        now = perf_counter()
        if self._reported_at is None or now - self._reported_at >= REFUSAL_REPORT_SECONDS:
            self._reported_at = now
            capture_message_with_context(
                "Password hashing queue full",
                {"refused": self._unreported, "queue_limit": self._queue_limit},
                level="warning",
            )
            self._unreported = 0
        return HashingBusyError(retry_after)

    async def _run(self, func: Callable[[*Args], T], *args: *Args) -> T:
        # Only the event loop's thread gets here, so the count needs no lock.
        if self._queued >= self._queue_limit:
            raise self._refuse()
        # Created on first use (and again after close), so an app that never hashes starts no
        # threads.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._concurrency,
                thread_name_prefix="password-hash",
                initializer=_lower_thread_priority,
            )
        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
        finally:
            self._queued -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self.hash_sync, password)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Check a password (a failure padded to the slowest scheme's cost); also returns a fresh
        Argon2 hash when the stored one is outdated."""
        check = self.verify_and_update_sync
        started, (ok, new_hash) = await self._run(self._timed, check, password, hashed)
        if not ok:
            await self._pad(started)
        return ok, new_hash

    async def dummy_verify(self, password: str) -> None:
        """The failed check of an unknown email, as long as any other failed check."""
        started, _ = await self._run(self._timed, self.dummy_verify_sync, password)
        await self._pad(started)

    def close(self) -> None:
        """Drop the queued hashes and let the pool's threads end; a running hash finishes."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
