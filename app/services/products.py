"""A vendor's products: list, create, update, delete, and the public click counter."""

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Product
from app.models.base import utcnow
from app.schemas.product import ProductCreate, ProductUpdate


async def list_products(
    session: AsyncSession, *, user_id: str, limit: int, offset: int
) -> tuple[Sequence[Product], int]:
    """One page of the vendor's products, newest first, and how many they have in all."""
    total = await session.scalar(
        select(func.count()).select_from(Product).where(Product.user_id == user_id)
    )
    items = await session.scalars(
        select(Product)
        .where(Product.user_id == user_id)
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return items.all(), total or 0


async def get_owned_product(
    session: AsyncSession, *, user_id: str, product_id: str
) -> Product | None:
    """The product if this vendor owns it; another vendor's product is simply not found."""
    return await session.scalar(
        select(Product).where(Product.id == product_id, Product.user_id == user_id)
    )


async def create_product(session: AsyncSession, *, user_id: str, data: ProductCreate) -> Product:
    product = Product(
        user_id=user_id,
        name=data.name,
        description=data.description or None,
        price=data.price,
        is_available=data.is_available,
        click_count=0,
        created_at=utcnow(),
    )
    session.add(product)
    await session.commit()
    return product


def apply_update(product: Product, data: ProductUpdate) -> None:
    """Copy the fields the client sent; an empty or null description clears it."""
    sent = data.model_fields_set
    if data.name is not None:
        product.name = data.name
    if "description" in sent:
        product.description = data.description or None
    if data.price is not None:
        product.price = data.price
    if data.is_available is not None:
        product.is_available = data.is_available
    product.updated_at = utcnow()


async def update_product(
    session: AsyncSession, *, product: Product, data: ProductUpdate
) -> Product:
    apply_update(product, data)
    await session.commit()
    return product


async def delete_product(session: AsyncSession, *, product: Product) -> None:
    await session.execute(delete(Product).where(Product.id == product.id))
    await session.commit()


async def track_click(session: AsyncSession, *, product_id: str) -> bool:
    """Count a shopper's click on an available product; False when there is no such product."""
    result = await session.execute(
        update(Product)
        .where(Product.id == product_id, Product.is_available.is_(True))
        .values(click_count=Product.click_count + 1)
    )
    await session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def is_clickable(session: AsyncSession, *, product_id: str) -> bool:
    """Whether a click on this product would count: it exists and is available."""
    found = await session.scalar(
        select(Product.id).where(Product.id == product_id, Product.is_available.is_(True))
    )
    return found is not None
