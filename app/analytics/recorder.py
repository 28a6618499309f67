"""What the storefront's routes call to count, and the flusher that writes the counts.

On the request path counting is a few dictionary updates: no statement, no await, no lock. A
background task (started in the app's lifespan) swaps the tally out every
ANALYTICS_FLUSH_SECONDS, stores the visitor marks (those not held yet are new visitors), then
adds every count to the stored rows in one transaction; the lifespan's end flushes what is left.
A failed flush keeps its counts for the next one.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from app.analytics.tally import S_VISITORS, VISITORS, Counts, Mark, Tally
from app.analytics.visitors import (
    GRACE,
    DatabaseVisitors,
    RedisVisitors,
    VisitorStore,
    revalidation_mark,
    source_mark,
    visitor_mark,
)
from app.analytics.writer import existing_vendors, without_vendors, write_counts
from app.domain.traffic import is_robot, local_day, next_day_start, view_source
from app.http.head import REQUESTED_METHOD
from app.observability.sentry import capture_custom_error
from app.security.tokens import InvalidTokenError, decode_access_token
from app.settings import Settings

logger = logging.getLogger("app.analytics")

COUNTED_STATUSES = frozenset({200, 304})


@lru_cache(maxsize=4096)
def _robot(user_agent: str) -> bool:
    # The same few browsers' agents come again and again: the pattern runs once for each.
    return is_robot(user_agent)


def _hosts(*urls: str | None) -> frozenset[str]:
    return frozenset(
        host for url in urls if url for host in [urlsplit(url).hostname] if host is not None
    )


class Analytics:
    """A worker's counter of storefront views, product views, taps and orders."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.enabled = settings.ANALYTICS_ENABLED
        self.zone = settings.analytics_zone
        self._settings = settings
        self._engine = engine
        self._interval = settings.ANALYTICS_FLUSH_SECONDS
        self._own_hosts = _hosts(settings.FRONTEND_URL, settings.public_base_url)
        self._visitors: VisitorStore = (
            RedisVisitors(settings.REDIS_URL, settings.REDIS_TIMEOUT, self.zone)
            if settings.REDIS_URL
            else DatabaseVisitors(engine)
        )
        self._tally = Tally()
        self._day = date.min
        self._day_ends = 0.0
        self._purged_before = date.min
        self._failing = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- counting (the request path) -------------------------------------------------------

    def today(self) -> date:
        """The day in ANALYTICS_TIMEZONE, worked out again only when a day ends."""
        now = time.time()
        if now >= self._day_ends:
            self._day = local_day(datetime.fromtimestamp(now, UTC), self.zone)
            self._day_ends = next_day_start(self._day, self.zone).timestamp()
        return self._day

    def store_view(
        self, request: Request, vendor_id: str, *, status_code: int, referer_counts: bool = True
    ) -> None:
        """Count a view of the store (`referer_counts=False` for the JSON storefront, whose
        Referer is the frontend's own page)."""
        self._view(request, vendor_id, None, status_code, referer_counts)

    def product_view(
        self,
        request: Request,
        vendor_id: str,
        product_id: str,
        *,
        status_code: int,
        referer_counts: bool = True,
    ) -> None:
        """Count a view of one of the store's products."""
        self._view(request, vendor_id, product_id, status_code, referer_counts)

    def tap(self, vendor_id: str, product_id: str) -> None:
        """Count a tap on a product's WhatsApp link: call it wherever click_count goes up."""
        if self.enabled:
            self._tally.tap(vendor_id, self.today(), product_id)

    def order(self, vendor_id: str, total: Decimal, product_ids: Iterable[str]) -> None:
        """Count an order created, its total, and each product it contains."""
        if self.enabled:
            self._tally.order(vendor_id, self.today(), total, set(product_ids))

    def _view(
        self,
        request: Request,
        vendor_id: str,
        product_id: str | None,
        status_code: int,
        referer_counts: bool,
    ) -> None:
        if not self.enabled or status_code not in COUNTED_STATUSES:
            return
        scope = request.scope
        if scope.get(REQUESTED_METHOD) == "HEAD":
            return
        headers = request.headers
        agent = headers.get("user-agent", "")
        if _robot(agent) or self._own_view(request, vendor_id):
            return
        referer = headers.get("referer") if referer_counts else None
        own_hosts = self._own_hosts
        if referer:
            # This service's own pages, under whatever name the request reached it.
            own_hosts = own_hosts | {request.url.hostname or ""}
        source = view_source(
            self._ref(scope["query_string"]),
            referer,
            referer_counts=bool(referer),
            own_hosts=own_hosts,
        )
        address = request.client.host if request.client else ""
        self._tally.visit(
            (vendor_id, self.today(), address, agent),
            product_id,
            source,
            revalidation=status_code == 304,
        )

    @staticmethod
    def _ref(query_string: bytes) -> str | None:
        if b"ref=" not in query_string and b"utm_source=" not in query_string:
            return None
        values = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        # An empty `ref=` is no source: `utm_source` or the Referer still tell.
        return values.get("ref", "").strip() or values.get("utm_source", "").strip() or None

    def _own_view(self, request: Request, vendor_id: str) -> bool:
        """The vendor looking at their own store: a token of theirs whose signature verifies
        (no session lookup: an expired session still knows its store)."""
        tokens = []
        authorization = request.headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            tokens.append(value.strip())
        if "cookie" in request.headers:
            cookie = request.cookies.get(self._settings.COOKIE_NAME)
            if cookie:
                tokens.append(cookie)
        for token in tokens:
            try:
                if decode_access_token(self._settings, token).user_id == vendor_id:
                    return True
            except InvalidTokenError:
                continue
        return False

    # -- flushing (the background task) ----------------------------------------------------

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="analytics-flusher")

    async def stop(self) -> None:
        """Flush what is left and stop (the server has finished its requests)."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        await self._visitors.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
            await self.flush()

    async def flush(self) -> bool:
        """Write what was counted since the last flush; False when it must wait for the next."""
        tally, self._tally = self._tally, Tally()
        counts: Counts | None = None
        try:
            counts = await self._with_visitors(tally) if tally.visits else tally.counts
            if counts:
                await self._write(counts)
        except Exception as exc:  # the database or Redis away: keep the counts, try again
            if counts is None:
                self._tally.absorb(tally)
            else:
                # Visitors were told apart (their marks stored): only the counts are left.
                self._tally.counts.merge(counts)
            self._failed(exc)
            return False
        if self._failing:
            logger.warning("analytics: counts written again")
            self._failing = False
        try:
            await self._purge()
        except Exception as exc:  # tried again at the next flush
            self._failed(exc)
            return False
        return True

    async def _with_visitors(self, tally: Tally) -> Counts:
        """The tally's counts plus its new visitors (and the views of the revalidations of
        visitors not seen before that day)."""
        keys = {day: await self._visitors.day_key(day) for day in {k[1] for k in tally.visits}}
        counts = Counts()
        counts.merge(tally.counts)
        marks = {visit: visitor_mark(keys[visit[1]], visit) for visit in tally.visits}
        async with self._engine.begin() as connection:
            new = await self._visitors.add(connection, {(k[1], m) for k, m in marks.items()})
            by_source: dict[Mark, tuple[str, date, str]] = {}
            # Revalidations counted here as views, and this batch's views that another worker
            # may have counted that way first (their visitor being new to it, not yet to us).
            revalidations: set[Mark] = set()
            viewed: dict[Mark, tuple[str, date, str, str]] = {}
            for visit_key, visit in tally.visits.items():
                vendor_id, day, mark = visit_key[0], visit_key[1], marks[visit_key]
                first = (day, mark) in new
                if first:
                    counts.day((vendor_id, day))[VISITORS] += 1
                    if not visit.counted:
                        for product_id, source in visit.revalidated:
                            counts.view(vendor_id, day, product_id or None, source)
                            visit.sources.add(source)
                            revalidations.add((day, revalidation_mark(mark, product_id, source)))
                else:
                    for product_id, source in visit.viewed:
                        again = (day, revalidation_mark(mark, product_id, source))
                        viewed[again] = (vendor_id, day, product_id, source)
                for source in visit.sources:
                    by_source[(day, source_mark(mark, source))] = (vendor_id, day, source)
            for source_key in await self._visitors.add(connection, by_source):
                counts.source(by_source[source_key])[S_VISITORS] += 1
            await self._visitors.add(connection, revalidations)
            # That revalidation and this view are one view: the view counted here gives way.
            for taken in await self._visitors.take(connection, viewed):
                vendor_id, day, product_id, source = viewed[taken]
                counts.view(vendor_id, day, product_id or None, source, by=-1)
        return counts

    async def _write(self, counts: Counts) -> None:
        try:
            async with self._engine.begin() as connection:
                await write_counts(connection, counts)
        except IntegrityError:
            # A vendor deleted since their views were counted: their counts go with them.
            async with self._engine.begin() as connection:
                vendors = {key[0] for key in counts.days} | {key[0] for key in counts.sources}
                gone = vendors - await existing_vendors(connection, vendors)
                await write_counts(connection, without_vendors(counts, gone))

    async def _purge(self) -> None:
        """Once a day: the keys and marks of the days that are over (an hour late, so the last
        views of a day flushed after midnight still find them)."""
        before = local_day(datetime.now(UTC) - GRACE, self.zone)
        if before > self._purged_before:
            await self._visitors.purge(before)
            self._purged_before = before

    def _failed(self, exc: Exception) -> None:
        if self._failing:
            return
        self._failing = True
        logger.warning(
            "analytics: counts not written (%s); kept for the next flush", type(exc).__name__
        )
        capture_custom_error(exc, {"component": "analytics flush"})
