"""Photo files over their life: encoded off the event loop, stored, and removed once unused."""

import logging
from collections.abc import Iterable, Mapping
from typing import TypeVar

import anyio.to_thread
import sentry_sdk
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import rollback_quietly
from app.domain.products import IMAGE_SLOTS
from app.images.codec import EncodedImage, ImageRules, reencode
from app.models import Product, User
from app.storage import Storage

logger = logging.getLogger("app.photos")

K = TypeVar("K")
_PRODUCT_URL_COLUMNS = [getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1)]


async def encode(uploads: Mapping[K, bytes], rules: ImageRules) -> dict[K, EncodedImage]:
    """Check and re-encode every upload before anything is stored; one at a time, in a thread.

    Raises ImageRejectedError for the first file that is not an acceptable image.
    """
    return {
        key: await anyio.to_thread.run_sync(reencode, data, rules) for key, data in uploads.items()
    }


async def store(storage: Storage, *, folder: str, images: Mapping[K, EncodedImage]) -> dict[K, str]:
    """Store encoded images under content-hash names; returns their public URLs."""
    urls: dict[K, str] = {}
    for key, image in images.items():
        urls[key] = await storage.save(
            f"{folder}/{image.digest}.webp", image.data, image.content_type
        )
    return urls


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


async def release(session: AsyncSession, storage: Storage, *, urls: Iterable[str | None]) -> None:
    """Remove stored files no row points at any more. Call after the commit; never raises.

    A failure leaves a file behind (logged and sent to Sentry) rather than failing a request whose
    database change is already done. URLs this storage does not serve (the earlier backend's
    elsewhere) are left alone.
    """
    candidates = {url for url in urls if url and storage.key_for(url)}
    if not candidates:
        return
    try:
        unused = candidates - await _still_used(session, urls=candidates)
        keys = sorted(key for url in unused if (key := storage.key_for(url)))
        if keys:
            await storage.delete(keys)
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
    session: AsyncSession, storage: Storage, *, new_urls: Iterable[str]
) -> None:
    """Commit; if that fails, remove the files just stored for it, then re-raise the failure."""
    try:
        await session.commit()
    except Exception:
        await rollback_quietly(session)
        await release(session, storage, urls=new_urls)
        raise
