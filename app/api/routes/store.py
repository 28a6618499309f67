"""The public storefront a vendor shares."""

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status

from app.api.deps import (
    DEFAULT_LIMIT,
    Limit,
    Offset,
    analytics_for,
    events_for,
    reader_for,
    store_reads_for,
)
from app.api.responses import errors
from app.fastpath.mapping import encode
from app.fastpath.shortcuts import fast_get
from app.http.caching import PublicJson, public_json, revalidated
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


@dataclass(frozen=True, slots=True)
class StoreAnswer:
    json: PublicJson
    total: int
    vendor_id: str


async def _read_store(
    request: Request, identifier: str, limit: int, offset: int
) -> StoreAnswer | None:
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
        return None
    total = str(result.total)
    return StoreAnswer(
        public_json(encode(result.body), {"X-Total-Count": total}), result.total, result.vendor_id
    )


@fast_get(
    router, "/{identifier}", response_model=Storefront, responses={**errors(404, 422), **CACHED}
)
async def read_store(
    identifier: Identifier, request: Request, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Response:
    """A store and its available products, newest first; total in X-Total-Count."""
    result: StoreAnswer | None = await store_reads_for(request).storefront.get(
        (identifier, limit, offset), partial(_read_store, request, identifier, limit, offset)
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Store not found")
    events_for(request).record(
        BusinessEvent.STOREFRONT_VIEWED, vendor_id=result.vendor_id, products=result.total
    )
    response = revalidated(request.headers.get("if-none-match"), result.json)
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
    response = revalidated(request.headers.get("if-none-match"), public_json(encode(product.body)))
    analytics_for(request).product_view(
        request,
        product.vendor_id,
        product_id,
        status_code=response.status_code,
        referer_counts=False,
    )
    return response
