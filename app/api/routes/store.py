"""The public storefront a vendor shares."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from app.api.deps import PageDep, SessionDep
from app.api.responses import errors
from app.core.events import BusinessEvent, record_event
from app.schemas.product import Storefront, StoreProduct
from app.services import store as store_service

router = APIRouter(prefix="/api/store", tags=["store"])

Identifier = Annotated[str, Path(max_length=200)]


@router.get("/{identifier}", response_model=Storefront, responses=errors(404, 422))
async def read_store(
    identifier: Identifier, session: SessionDep, page: PageDep, response: Response
) -> Storefront:
    """A store and its available products, newest first; total in X-Total-Count."""
    result = await store_service.store_page(
        session, identifier=identifier, limit=page.limit, offset=page.offset
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Store not found")
    response.headers["X-Total-Count"] = str(result.total)
    vendor = result.vendor
    record_event(BusinessEvent.STOREFRONT_VIEWED, vendor_id=vendor.id, products=result.total)
    return Storefront(
        vendor_name=store_service.vendor_name(vendor),
        store_name=vendor.store_name,
        whatsapp_number=vendor.whatsapp_number,
        banner_url=vendor.banner_url,
        store_slug=vendor.store_slug,
        products=[StoreProduct.model_validate(product) for product in result.products],
    )


@router.get(
    "/{identifier}/products/{product_id}",
    response_model=StoreProduct,
    responses=errors(404, 422),
)
async def read_store_product(
    identifier: Identifier,
    product_id: Annotated[str, Path(max_length=100)],
    session: SessionDep,
) -> StoreProduct:
    """One available product of a store."""
    product = await store_service.store_product(
        session, identifier=identifier, product_id=product_id
    )
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Product not found")
    return StoreProduct.model_validate(product)
