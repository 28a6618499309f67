"""The public storefront a vendor shares."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic_core import to_json

from app.api.deps import PageDep, SessionDep
from app.api.responses import errors
from app.core.events import BusinessEvent, record_event
from app.core.http_cache import revalidated_json
from app.schemas.product import Storefront, StoreProduct
from app.services import store as store_service

router = APIRouter(prefix="/api/store", tags=["store"])

Identifier = Annotated[str, Path(max_length=200)]
CACHED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"description": "Strong validator of the body"}}},
    304: {"description": "Not modified: the If-None-Match ETag is current"},
}


@router.get("/{identifier}", response_model=Storefront, responses={**errors(404, 422), **CACHED})
async def read_store(
    identifier: Identifier, session: SessionDep, page: PageDep, request: Request
) -> Response:
    """A store and its available products, newest first; total in X-Total-Count."""
    result = await store_service.store_page(
        session, identifier=identifier, limit=page.limit, offset=page.offset
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Store not found")
    vendor = result.vendor
    record_event(BusinessEvent.STOREFRONT_VIEWED, vendor_id=vendor.id, products=result.total)
    body = {
        "vendor_name": store_service.vendor_name(vendor),
        "store_name": vendor.store_name,
        "whatsapp_number": vendor.whatsapp_number,
        "banner_url": vendor.banner_url,
        "store_slug": vendor.store_slug,
        "products": result.products,
    }
    return revalidated_json(
        request.headers.get("if-none-match"), to_json(body), {"X-Total-Count": str(result.total)}
    )


@router.get(
    "/{identifier}/products/{product_id}",
    response_model=StoreProduct,
    responses={**errors(404, 422), **CACHED},
)
async def read_store_product(
    identifier: Identifier,
    product_id: Annotated[str, Path(max_length=100)],
    session: SessionDep,
    request: Request,
) -> Response:
    """One available product of a store."""
    product = await store_service.store_product(
        session, identifier=identifier, product_id=product_id
    )
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Product not found")
    return revalidated_json(request.headers.get("if-none-match"), to_json(product))
