"""Photos in a folder the API serves itself: one instance, or several sharing a disk."""

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread

from app.storage.base import Storage, StorageError


class LocalStorage(Storage):
    def __init__(self, root: Path, public_base: str) -> None:
        super().__init__(public_base)
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        return self.root / key

    async def _put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await anyio.to_thread.run_sync(self._write, self.path_for(key), data)
        except OSError as exc:  # a full or read-only disk: the client may retry later (503)
            raise StorageError(f"local write failed: {type(exc).__name__}") from exc

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():  # same name, same content
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a reader never sees half a file.
        partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
        try:
            partial.write_bytes(data)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    async def load(self, key: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._read, self.path_for(key))

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    async def delete(self, keys: Sequence[str]) -> None:
        paths = [self.path_for(key) for key in keys]
        try:
            await anyio.to_thread.run_sync(self._unlink, paths)
        except OSError as exc:
            raise StorageError(f"local delete failed: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """A folder holds no connections."""

    @staticmethod
    def _unlink(paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
