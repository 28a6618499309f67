"""The public storefront: a vendor's store and their available products."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Product, User
from app.services.slugs import SLUG_MAX_LENGTH, normalise_slug


@dataclass(frozen=True, slots=True)
class StorePage:
    vendor: User
    products: Sequence[Product]
    total: int


def vendor_name(user: User) -> str:
    """The store name, else the email's local part as the earlier backend showed it."""
    if user.store_name:
        return user.store_name
    local = user.email_local_part
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


async def find_vendor(session: AsyncSession, *, identifier: str) -> User | None:
    """The vendor behind a store link, normalised like slugs (`Ada.Fabrics` -> `ada-fabrics`)."""
    slug = normalise_slug(identifier[: SLUG_MAX_LENGTH * 4])
    if not slug:
        return None
    return await session.scalar(select(User).where(User.store_slug == slug))


async def store_page(
    session: AsyncSession, *, identifier: str, limit: int, offset: int
) -> StorePage | None:
    """The store and one page of its available products: two statements whatever the size."""
    vendor = await find_vendor(session, identifier=identifier)
    if vendor is None:
        return None
    rows = (
        await session.execute(
            select(Product, func.count().over().label("total"))
            .where(Product.user_id == vendor.id, Product.is_available.is_(True))
            .order_by(Product.created_at.desc(), Product.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    else:
        # Past the last page the window count has no row to ride on: count separately.
        total = (
            (
                await session.scalar(
                    select(func.count())
                    .select_from(Product)
                    .where(Product.user_id == vendor.id, Product.is_available.is_(True))
                )
                or 0
            )
            if offset
            else 0
        )
    return StorePage(vendor=vendor, products=[row.Product for row in rows], total=total)


async def store_product(
    session: AsyncSession, *, identifier: str, product_id: str
) -> Product | None:
    """One available product of the store behind `identifier`, in one statement."""
    slug = normalise_slug(identifier[: SLUG_MAX_LENGTH * 4])
    return await session.scalar(
        select(Product)
        .join(User, User.id == Product.user_id)
        .where(User.store_slug == slug, Product.id == product_id, Product.is_available.is_(True))
    )
