"""Pages already rendered, kept by what they were rendered from.

A store page is read from the database on every request (so it is never stale), but rendering its
24 product cards cost more CPU than everything else in the request (bench/cpu.py). The rows a
page is made of are its key: the same rows give the same bytes, so a popular store's page is
rendered once per change. Each page (a store's page N, a product's page) keeps only the version
rendered last: a change replaces it, so a vendor's edits do not pile up old versions until the
budget pushes them out (bench/load.py: a worker's memory grew through the whole run). Bounded in
bytes per worker, least recently used out first.
"""

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    etag: str


class RenderedPages:
    def __init__(self, *, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._size = 0
        # Which page -> (the rows it was rendered from, the page).
        self._pages: OrderedDict[Hashable, tuple[Hashable, Rendered]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, page_id: Hashable, key: Hashable) -> Rendered | None:
        """The page `page_id` if it was rendered from exactly `key`."""
        kept = self._pages.get(page_id)
        if kept is None or kept[0] != key:
            return None
        self._pages.move_to_end(page_id)
        return kept[1]

    def put(self, page_id: Hashable, key: Hashable, page: Rendered) -> Rendered:
        old = self._pages.pop(page_id, None)
        if old is not None:
            self._size -= len(old[1].body)
        if len(page.body) > self._budget:
            return page
        self._pages[page_id] = (key, page)
        self._size += len(page.body)
        while self._size > self._budget:
            _, (_, evicted) = self._pages.popitem(last=False)
            self._size -= len(evicted.body)
        return page
