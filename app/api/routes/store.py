"""The public storefront a vendor shares."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from app.api.deps import DEFAULT_LIMIT, Limit, Offset, analytics_for, events_for, reader_for
from app.api.responses import errors
from app.fastpath.mapping import encode
from app.fastpath.shortcuts import fast_get
from app.http.caching import revalidated_json
from app.observability.events import BusinessEvent
from app.schemas.product import Storefront, StoreProduct
from app.services import store as store_service
from app.settings import Settings

router = APIRouter(prefix="/api/store", tags=["store"])

Identifier = Annotated[str, Path(max_length=200)]
CACHED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"ETag": {"description": "Strong validator of the body"}}},
    304: {"description": "Not modified: the If-None-Match ETag is current"},
}


@fast_get(
    router, "/{identifier}", response_model=Storefront, responses={**errors(404, 422), **CACHED}
)
async def read_store(
    identifier: Identifier, request: Request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Response:
    """A store and its available products, newest first; total in X-Total-Count."""
    settings: Settings = request.app.state.settings
    async with reader_for(request).connect() as db:
        result = await store_service.store_page(
            db,
            identifier=identifier,
            limit=limit,
            offset=offset,
            share_base=settings.share_base_url,
        )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Store not found")
    events_for(request).record(
        BusinessEvent.STOREFRONT_VIEWED, vendor_id=result.vendor_id, products=result.total
    )
    response = revalidated_json(
        request.headers.get("if-none-match"),
        encode(result.body),
        {"X-Total-Count": str(result.total)},
    )
    if offset == 0:
        # A later page is the same visit scrolling on. The frontend's script fetches this, so
        # only a `ref` on the call names where it came from.
        analytics_for(request).store_view(
            request, result.vendor_id, status_code=response.status_code, referer_counts=False
        )
    return response


@fast_get(
    router,
    "/{identifier}/products/{product_id}",
    response_model=StoreProduct,
    responses={**errors(404, 422), **CACHED},
)
async def read_store_product(
    identifier: Identifier,
    product_id: Annotated[str, Path(max_length=100)],
    request: Request,
) -> Response:
    """One available product of a store."""
    async with reader_for(request).connect() as db:
        product = await store_service.store_product(
            db, identifier=identifier, product_id=product_id
        )
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Product not found")
    response = revalidated_json(request.headers.get("if-none-match"), encode(product.body))
    analytics_for(request).product_view(
        request,
        product.vendor_id,
        product_id,
        status_code=response.status_code,
        referer_counts=False,
    )
    return response
