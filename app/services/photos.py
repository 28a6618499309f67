"""Photo files over their life: encoded off the event loop, stored with their widths and preview,
recorded in `photos`, and removed, all of them, once no row uses the photo."""

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sentry_sdk
from sqlalchemy import String, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import rollback_quietly
from app.domain.products import IMAGE_SLOTS
from app.fastpath.reads import ReadConnection, ReadQuery
from app.images import stored
from app.images.codec import reencode
from app.images.encode import EncodedPhoto
from app.images.rules import ImageRules
from app.images.workers import ImageWorkers
from app.models import Photo, Product, User
from app.storage import Storage

logger = logging.getLogger("app.photos")

K = TypeVar("K")
_PRODUCT_URL_COLUMNS = [getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1)]


async def encode(data: bytes, workers: ImageWorkers, rules: ImageRules) -> EncodedPhoto:
    """Check and re-encode an upload before anything is stored: in a thread, once one of the
    worker's decode slots is free.

    Raises ImageRejectedError when it is not an acceptable image, ImagesBusyError when no slot
    came free in time.
    """
    return await workers.run(reencode, data, rules)


@dataclass(frozen=True, slots=True)
class StoredPhotos(Generic[K]):
    urls: dict[K, str]  # each original's public URL, by the caller's key
    # Every file this upload stored, by its original's URL: a photo recorded before keeps its
    # widths and preview, and lists only its original here.
    files: dict[str, list[str]]


async def store(
    session: AsyncSession, storage: Storage, *, folder: str, images: Mapping[K, EncodedPhoto]
) -> StoredPhotos[K]:
    """Store each photo's files under content-hash names and add its `photos` row to the session
    (committed with the caller's rows).

    A photo already recorded (the same content uploaded again) keeps its row and its files.
    """
    urls = {key: storage.url_for(stored.original_key(folder, p)) for key, p in images.items()}
    photos = {urls[key]: photo for key, photo in images.items()}
    if not photos:
        return StoredPhotos({}, {})
    recorded = set(await session.scalars(select(Photo.url).where(Photo.url.in_(list(photos)))))
    rows = []
    files = {}
    for url, photo in photos.items():
        if url in recorded:
            files[url] = [await stored.save_original(storage, folder=folder, photo=photo)]
        else:
            saved = await stored.save(storage, folder=folder, photo=photo)
            rows.append(saved.row)
            files[url] = saved.files
    if rows:
        await session.execute(stored.insert_rows(session.get_bind().dialect.name, rows))
    return StoredPhotos(urls, files)


def product_folder(user_id: str) -> str:
    return f"products/{user_id}"


def banner_folder(user_id: str) -> str:
    return f"banners/{user_id}"


async def vendor_photo_urls(session: AsyncSession, *, user_id: str) -> list[str]:
    """Every photo URL of a vendor: all their products' photos and their banner."""
    rows = await session.execute(select(*_PRODUCT_URL_COLUMNS).where(Product.user_id == user_id))
    urls = [url for row in rows for url in row if url]
    banner = await session.scalar(select(User.banner_url).where(User.id == user_id))
    return [*urls, banner] if banner else urls


async def _still_used(session: AsyncSession, *, urls: set[str]) -> set[str]:
    """Which of the URLs any row still points at: another slot, the banner, or another vendor's
    row (the earlier backend's objects could be shared between vendors)."""
    wanted = sorted(urls)
    products = await session.execute(
        select(*_PRODUCT_URL_COLUMNS).where(
            or_(*(column.in_(wanted) for column in _PRODUCT_URL_COLUMNS))
        )
    )
    banners = await session.scalars(select(User.banner_url).where(User.banner_url.in_(wanted)))
    return {url for row in products for url in row if url in urls} | {u for u in banners if u}


async def release(
    session: AsyncSession,
    storage: Storage,
    *,
    urls: Iterable[str | None],
    made: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Remove the photos no row points at any more: their files and their `photos` rows (and,
    for an upload whose commit failed, the files in `made` it stored for them). Call after the
    commit; never raises.

    A failure leaves files behind (logged and sent to Sentry) rather than failing a request whose
    database change is already done. URLs this storage does not serve (the earlier backend's
    elsewhere) are left alone.
    """
    candidates = {url for url in urls if url and storage.key_for(url)}
    if not candidates:
        return
    try:
        unused = candidates - await _still_used(session, urls=candidates)
        if unused:
            also = [file for url in unused for file in (made or {}).get(url, ())]
            await stored.remove(session, storage, unused, also=also)
    except Exception as exc:
        logger.warning(
            "stored photos could not be removed: %s",
            type(exc).__name__,
            extra={"photo_count": len(candidates)},
            exc_info=exc,
        )
        # Reported directly: the request succeeds, so no error handler would see this.
        sentry_sdk.capture_exception(exc)


async def commit_or_release(
    session: AsyncSession, storage: Storage, *, new: StoredPhotos[Any]
) -> None:
    """Commit; if that fails, remove the files just stored for it, then re-raise the failure."""
    try:
        await session.commit()
    except Exception:
        await rollback_quietly(session)
        await release(session, storage, urls=new.files, made=new.files)
        raise


# ---- what pages read: the sizes of a set of photos ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Variant:
    width: int
    height: int
    url: str
    bytes: int | None  # known for the preview JPEG; None for the WebP widths


@dataclass(frozen=True, slots=True)
class PhotoDetails:
    width: int
    height: int
    variants: list[Variant]  # WebP widths, ascending, none wider than the original
    preview: Variant | None  # JPEG, at least 600 px wide, under 300 KB


_DETAILS_COLUMNS = (
    Photo.url,
    Photo.width,
    Photo.height,
    Photo.variants,
    Photo.preview_url,
    Photo.preview_width,
    Photo.preview_height,
    Photo.preview_bytes,
)
PHOTO_DETAILS = ReadQuery(
    select(*_DETAILS_COLUMNS).where(Photo.url.in_(bindparam("urls", expanding=True))),
    native=select(*_DETAILS_COLUMNS).where(
        Photo.url == any_(bindparam("urls", type_=ARRAY(String)))
    ),
)


def _variants(value: Any) -> list[dict[str, Any]]:
    # asyncpg hands JSON over as text; SQLAlchemy (SQLite) has decoded it already.
    decoded: list[dict[str, Any]] = json.loads(value) if isinstance(value, str) else value
    return decoded


async def photo_details(db: ReadConnection, urls: Sequence[str]) -> dict[str, PhotoDetails]:
    """The recorded sizes of the photos at these URLs, in one statement. A URL without a row (the
    earlier backend's, or a photo not backfilled yet) is absent: show the original URL."""
    wanted = list(dict.fromkeys(url for url in urls if url))
    if not wanted:
        return {}
    found = {}
    for row in await db.fetch(PHOTO_DETAILS, {"urls": wanted}):
        url, width, height, variants, p_url, p_width, p_height, p_bytes = (
            row[index] for index in range(len(_DETAILS_COLUMNS))
        )
        found[url] = PhotoDetails(
            width=width,
            height=height,
            variants=[
                Variant(item["width"], item["height"], item["url"], None)
                for item in _variants(variants)
            ],
            preview=Variant(p_width, p_height, p_url, p_bytes) if p_url else None,
        )
    return found
