"""Widths and link previews for the photos stored before they were made at upload.

Idempotent: a photo with a `photos` row is done, so a rerun (or one interrupted half way) only
does what is left, and it can run while the API serves. Photos this storage does not serve (the
earlier backend's absolute S3 URLs) cannot be reached and are counted, not touched.
"""

import logging
from dataclasses import dataclass, fields

import anyio.to_thread
from sqlalchemy import ColumnElement, exists, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.products import IMAGE_SLOTS
from app.images import stored
from app.images.codec import derive
from app.images.errors import ImageRejectedError
from app.images.rules import ImageRules
from app.models import Photo, Product, User
from app.storage import Storage

logger = logging.getLogger("app.images.backfill")

_PRODUCT_URLS = [getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1)]
# Every photo URL a row points at, each once.
_PHOTO_URLS = union(
    *(select(column.label("url")).where(column.is_not(None)) for column in _PRODUCT_URLS),
    select(User.banner_url.label("url")).where(User.banner_url.is_not(None)),
)


def _used(url: str) -> ColumnElement[bool]:
    return or_(
        exists().where(or_(*(column == url for column in _PRODUCT_URLS))),
        exists().where(User.banner_url == url),
    )


@dataclass
class BackfillCounts:
    made: int = 0  # photos given their widths and preview now
    done_before: int = 0  # photos that had them already
    unreachable: int = 0  # URLs this storage does not serve: the earlier backend's
    missing: int = 0  # this storage's URL, but no file under it
    failed: int = 0  # a file that could not be read as an image
    removed_meanwhile: int = 0  # photos removed while theirs were made (those removed again)

    def summary(self) -> str:
        return ", ".join(f"{field.name}={getattr(self, field.name)}" for field in fields(self))


async def backfill_photo(
    factory: async_sessionmaker[AsyncSession],
    storage: Storage,
    rules: ImageRules,
    *,
    url: str,
    key: str,
    counts: BackfillCounts,
) -> None:
    """Make, store and record the sizes of the photo at `url` (stored under `key`)."""
    data = await storage.load(key)
    if data is None:
        counts.missing += 1
        logger.warning("photo backfill: no file at %s", key)
        return
    try:
        photo = await anyio.to_thread.run_sync(derive, data, rules)
    except ImageRejectedError as exc:
        counts.failed += 1
        logger.warning("photo backfill: %s could not be read: %s", key, exc.message)
        return
    folder = key.rsplit("/", 1)[0]
    saved = await stored.save(storage, folder=folder, photo=photo, original_stored=True)
    async with factory() as session:
        dialect = session.get_bind().dialect.name
        await session.execute(stored.insert_rows(dialect, [saved.row]))
        await session.commit()
        # The vendor may have replaced or deleted the photo meanwhile; their request removed the
        # files it knew of, so the ones made here go too.
        if not await session.scalar(select(_used(url))):
            await stored.remove(session, storage, [url])
            counts.removed_meanwhile += 1
            return
    counts.made += 1


async def backfill(
    factory: async_sessionmaker[AsyncSession], storage: Storage, rules: ImageRules
) -> BackfillCounts:
    """Make and record the sizes of every stored photo without a `photos` row, one at a time.

    Raises StorageError or a database error when either is unavailable; what was done is kept.
    """
    counts = BackfillCounts()
    async with factory() as session:
        urls = sorted(set(await session.scalars(_PHOTO_URLS)))
        recorded = set(await session.scalars(select(Photo.url)))
    logger.info("photo backfill: %d photos to check", len(urls))
    for url in urls:
        key = storage.key_for(url)
        if url in recorded:
            counts.done_before += 1
        elif key is None:
            counts.unreachable += 1
        else:
            await backfill_photo(factory, storage, rules, url=url, key=key, counts=counts)
    return counts
