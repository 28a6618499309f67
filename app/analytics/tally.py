"""What a worker counted since its last flush, kept in memory until the flusher writes it.

Counts are plain integers keyed by (vendor, day[, product | source]); adding them to the rows
already stored is the whole write, so workers and instances add up. A visit keeps the client's
address and user agent only here, in memory, until the flusher turns them into a keyed hash.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# Positions in a day's counts, a product's counts and a source's counts.
VIEWS, VISITORS, PRODUCT_VIEWS, TAPS, ORDERS = range(5)
P_VIEWS, P_TAPS, P_ORDERS = range(3)
S_VIEWS, S_VISITORS = range(2)
# A worker flooded with distinct clients while the database is away keeps counting views but
# stops telling visitors apart past this many (each holds an address and a user agent).
MAX_VISITS = 200_000

DayKey = tuple[str, date]
ProductKey = tuple[str, date, str]
SourceKey = tuple[str, date, str]
VisitKey = tuple[str, date, str, str]  # vendor, day, client address, user agent
Mark = tuple[date, str]


@dataclass(slots=True)
class Visit:
    """One client's views of one vendor's store on one day, in this batch."""

    sources: set[str] = field(default_factory=set)
    # A view answered in full (200) was counted in this batch.
    counted: bool = False
    # What those views were, as (product id or "", source): another worker may have counted
    # their revalidations first, not knowing the visitor yet (recorder.py takes those back).
    viewed: set[tuple[str, str]] = field(default_factory=set)
    # Revalidations (304) as (product id or "", source): counted only for a visitor not seen
    # before that day, since the others revalidate a view already counted.
    revalidated: set[tuple[str, str]] = field(default_factory=set)


@dataclass(slots=True)
class Counts:
    """Additions to the stored rows."""

    days: dict[DayKey, list[int]] = field(default_factory=dict)
    order_totals: dict[DayKey, Decimal] = field(default_factory=dict)
    products: dict[ProductKey, list[int]] = field(default_factory=dict)
    sources: dict[SourceKey, list[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.days or self.products or self.sources)

    def day(self, key: DayKey) -> list[int]:
        counts = self.days.get(key)
        if counts is None:
            counts = self.days[key] = [0, 0, 0, 0, 0]
        return counts

    def product(self, key: ProductKey) -> list[int]:
        counts = self.products.get(key)
        if counts is None:
            counts = self.products[key] = [0, 0, 0]
        return counts

    def source(self, key: SourceKey) -> list[int]:
        counts = self.sources.get(key)
        if counts is None:
            counts = self.sources[key] = [0, 0]
        return counts

    def view(
        self, vendor_id: str, day: date, product_id: str | None, source: str, by: int = 1
    ) -> None:
        if product_id is None:
            self.day((vendor_id, day))[VIEWS] += by
        else:
            self.day((vendor_id, day))[PRODUCT_VIEWS] += by
            self.product((vendor_id, day, product_id))[P_VIEWS] += by
        self.source((vendor_id, day, source))[S_VIEWS] += by

    def merge(self, other: "Counts") -> None:
        """Add `other` in (a batch whose write failed goes back for the next flush)."""
        for key, counts in other.days.items():
            _add(self.day(key), counts)
        for key, total in other.order_totals.items():
            self.order_totals[key] = self.order_totals.get(key, Decimal(0)) + total
        for pkey, counts in other.products.items():
            _add(self.product(pkey), counts)
        for skey, counts in other.sources.items():
            _add(self.source(skey), counts)


def _add(into: list[int], counts: list[int]) -> None:
    for position, count in enumerate(counts):
        into[position] += count


@dataclass(slots=True)
class Tally:
    """The live buffer: counts so far and the visits whose uniqueness the flusher decides."""

    counts: Counts = field(default_factory=Counts)
    visits: dict[VisitKey, Visit] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts or self.visits)

    def visit(
        self,
        key: VisitKey,
        product_id: str | None,
        source: str,
        *,
        revalidation: bool,
    ) -> None:
        visit = self.visits.get(key)
        if visit is None:
            if len(self.visits) >= MAX_VISITS:
                if not revalidation:
                    self.counts.view(key[0], key[1], product_id, source)
                return
            visit = self.visits[key] = Visit()
        if revalidation:
            visit.revalidated.add((product_id or "", source))
            return
        visit.counted = True
        visit.sources.add(source)
        visit.viewed.add((product_id or "", source))
        self.counts.view(key[0], key[1], product_id, source)

    def absorb(self, other: "Tally") -> None:
        """Take `other` back in whole (a flush that failed before telling visitors apart)."""
        self.counts.merge(other.counts)
        for key, visit in other.visits.items():
            mine = self.visits.get(key)
            if mine is None:
                self.visits[key] = visit
                continue
            mine.sources |= visit.sources
            mine.counted = mine.counted or visit.counted
            mine.revalidated |= visit.revalidated
            mine.viewed |= visit.viewed

    def tap(self, vendor_id: str, day: date, product_id: str) -> None:
        self.counts.day((vendor_id, day))[TAPS] += 1
        self.counts.product((vendor_id, day, product_id))[P_TAPS] += 1

    def order(self, vendor_id: str, day: date, total: Decimal, product_ids: set[str]) -> None:
        key = (vendor_id, day)
        self.counts.day(key)[ORDERS] += 1
        self.counts.order_totals[key] = self.counts.order_totals.get(key, Decimal(0)) + total
        for product_id in product_ids:
            self.counts.product((vendor_id, day, product_id))[P_ORDERS] += 1
