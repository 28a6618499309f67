"""The one small interface both storage backends implement."""

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

# File names are content hashes, so a stored file never changes and may be cached for a year.
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
# Keys are relative paths; no segment may start with a dot, so ".." can never appear.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


class StorageError(Exception):
    """A storage backend could not complete an operation."""


class Storage(ABC):
    """Stores files under keys like `products/<user id>/<sha256>.webp` and serves them publicly."""

    def __init__(self, public_base: str) -> None:
        self.public_base = public_base.rstrip("/")

    def url_for(self, key: str) -> str:
        return f"{self.public_base}/{key}"

    def key_for(self, url: str) -> str | None:
        """The key of a URL this storage serves; None for anything else (legacy, foreign)."""
        prefix = f"{self.public_base}/"
        if not url.startswith(prefix):
            return None
        key = url.removeprefix(prefix)
        return key if _KEY.fullmatch(key) else None

    async def save(self, key: str, data: bytes, content_type: str) -> str:
        """Store the bytes under the key and return their public URL."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid storage key: {key!r}")
        await self._put(key, data, content_type)
        return self.url_for(key)

    @abstractmethod
    async def _put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    async def load(self, key: str) -> bytes | None:
        """The stored bytes; None when nothing is stored under the key."""

    @abstractmethod
    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the keys; a key that is already gone is not an error."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""
