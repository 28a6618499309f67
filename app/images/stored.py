"""A photo's files in storage and its row in `photos`, written together.

The original is named by the SHA-256 of its content; its widths and preview are named after it
and their own content (`<original>-640w-<hash>.webp`, `<original>-preview-<hash>.jpg`), so every
name is immutable and each derived file belongs to exactly one original: removing a photo
removes its own files and nobody else's.
"""

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.images.encode import EncodedImage, EncodedPhoto
from app.models import Photo
from app.storage import Storage

_OWN_HASH = 16  # hex digits of a derived file's own hash in its name


def original_key(folder: str, photo: EncodedPhoto) -> str:
    return f"{folder}/{photo.original.file_name}"


def _derived_name(original: EncodedImage, label: str, image: EncodedImage) -> str:
    stem = original.file_name.rsplit(".", 1)[0]
    extension = image.file_name.rsplit(".", 1)[1]
    return f"{stem}-{label}-{image.digest[:_OWN_HASH]}.{extension}"


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each file of a photo goes; a width equal to the original's is the original's file."""

    original: str
    variants: list[str]
    preview: str | None

    @classmethod
    def of(cls, folder: str, photo: EncodedPhoto) -> "_Layout":
        original = photo.original

        def key(label: str, image: EncodedImage) -> str:
            if image is original:
                return original_key(folder, photo)
            return f"{folder}/{_derived_name(original, label, image)}"

        preview = photo.preview
        return cls(
            original=original_key(folder, photo),
            variants=[key(f"{variant.width}w", variant) for variant in photo.variants],
            preview=key("preview", preview) if preview is not None else None,
        )


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    url: str  # the original's public URL
    row: dict[str, Any]  # its `photos` row

    @property
    def files(self) -> list[str]:
        """The URLs of every file of the photo: original, widths, preview."""
        return _file_urls(self.url, self.row["variants"], self.row["preview_url"])


async def _save_all(storage: Storage, files: dict[str, EncodedImage]) -> None:
    """Upload the files at once; raises StorageError after every upload has finished."""
    results = await asyncio.gather(
        *(storage.save(key, image.data, image.content_type) for key, image in files.items()),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def save_original(storage: Storage, *, folder: str, photo: EncodedPhoto) -> str:
    """Store the original alone (its sizes are stored already); returns its URL."""
    key = original_key(folder, photo)
    return await storage.save(key, photo.original.data, photo.original.content_type)


async def save(
    storage: Storage, *, folder: str, photo: EncodedPhoto, original_stored: bool = False
) -> StoredPhoto:
    """Store the original (unless `original_stored`: the backfill's), its widths and preview."""
    layout = _Layout.of(folder, photo)
    original, preview = photo.original, photo.preview
    files = dict(zip(layout.variants, photo.variants, strict=True))
    if layout.preview is not None and preview is not None:
        files[layout.preview] = preview
    if original_stored:
        files.pop(layout.original, None)
    else:
        files[layout.original] = original
    await _save_all(storage, files)
    url = storage.url_for(layout.original)
    row = {
        "url": url,
        "width": original.width,
        "height": original.height,
        "variants": [
            {"width": variant.width, "height": variant.height, "url": storage.url_for(key)}
            for key, variant in zip(layout.variants, photo.variants, strict=True)
        ],
        "preview_url": storage.url_for(layout.preview) if layout.preview else None,
        "preview_width": preview.width if preview else None,
        "preview_height": preview.height if preview else None,
        "preview_bytes": len(preview.data) if preview else None,
    }
    return StoredPhoto(url=url, row=row)


def insert_rows(dialect: str, rows: Iterable[dict[str, Any]]) -> Insert:
    """INSERT of `photos` rows that leaves a row already there alone (the same content, stored
    by a concurrent upload). Sorted by URL, so concurrent inserts lock rows in the same order."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ordered = sorted(rows, key=lambda row: str(row["url"]))
    return insert(Photo).values(ordered).on_conflict_do_nothing(index_elements=[Photo.url])


def _file_urls(url: str, variants: list[dict[str, Any]], preview_url: str | None) -> list[str]:
    urls = [url, *(str(variant["url"]) for variant in variants)]
    return [*urls, preview_url] if preview_url else urls


async def remove(
    session: AsyncSession, storage: Storage, urls: Collection[str], *, also: Iterable[str] = ()
) -> int:
    """Delete these photos' files (originals, widths, previews, and the files in `also`), then
    their rows, and commit; returns how many files. Raises StorageError, leaving the rows (which
    still name the files)."""
    records = (await session.scalars(select(Photo).where(Photo.url.in_(list(urls))))).all()
    files = [*urls, *also]
    for record in records:
        files += _file_urls(record.url, record.variants, record.preview_url)
    keys = sorted({key for url in files if (key := storage.key_for(url))})
    if keys:
        await storage.delete(keys)
    if records:
        await session.execute(delete(Photo).where(Photo.url.in_(list(urls))))
        await session.commit()
    return len(keys)
