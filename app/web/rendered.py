"""Pages already rendered, kept by what they were rendered from.

A store page is read from the database on every request (so it is never stale), but rendering its
24 product cards cost more CPU than everything else in the request (bench/cpu.py). The rows a
page is made of are its key: the same rows give the same bytes, so a popular store's page is
rendered once per change, and a change is a new key (the old entry ages out). Bounded in bytes per
worker, least recently used out first.
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
        self._pages: OrderedDict[Hashable, Rendered] = OrderedDict()

    def get(self, key: Hashable) -> Rendered | None:
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: Hashable, page: Rendered) -> Rendered:
        if len(page.body) > self._budget:
            return page
        old = self._pages.pop(key, None)
        if old is not None:
            self._size -= len(old.body)
        self._pages[key] = page
        self._size += len(page.body)
        while self._size > self._budget:
            _, evicted = self._pages.popitem(last=False)
            self._size -= len(evicted.body)
        return page
