"""A vendor's own products, and the public click counter."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status

from app.api.authentication import BearerDep, CurrentUser, live_session, unauthorized
from app.api.clicks import count_click
from app.api.deps import (
    DEFAULT_LIMIT,
    EventsDep,
    Limit,
    LimiterDep,
    Offset,
    SessionDep,
    SettingsDep,
    StorageDep,
    reader_for,
)
from app.api.responses import errors, json_or_form_body
from app.api.uploads import PHOTO_FIELDS, read_product_form, storage_errors
from app.fastpath.shortcuts import fast_get
from app.http.caching import JSON
from app.models import Product
from app.observability.events import BusinessEvent
from app.observability.sentry import set_user_context
from app.schemas.common import Message
from app.schemas.product import ProductCreate, ProductOut, ProductUpdate
from app.services import products as products_service
from app.services.bodies import PRODUCT

router = APIRouter(prefix="/api/products", tags=["products"])

IMAGE_FIELDS = tuple(PHOTO_FIELDS)
NOT_FOUND = "Product not found"
ProductId = Annotated[str, Path(max_length=100)]


async def owned_product(product_id: ProductId, user: CurrentUser, session: SessionDep) -> Product:
    """The path's product if the current vendor owns it; 404 alike for missing and foreign ones."""
    product = await products_service.get_owned_product(
        session, user_id=user.id, product_id=product_id
    )
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return product


OwnedProduct = Annotated[Product, Depends(owned_product)]


@fast_get(router, "", response_model=list[ProductOut], responses=errors(401, 422))
async def list_products(
    request: Request, bearer: BearerDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Response:
    """The vendor's products, newest first, unavailable ones included; total in X-Total-Count."""
    session = live_session(request, bearer)
    async with reader_for(request).connect() as db:
        page = await products_service.own_page(db, live_session=session, limit=limit, offset=offset)
    if page is None:
        raise unauthorized()
    set_user_context(page.user_id)
    headers = {"X-Total-Count": str(page.total)}
    return Response(page.body, media_type=JSON, headers=headers)


@router.post(
    "",
    response_model=ProductOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 413, 415, 422),
    openapi_extra=json_or_form_body(ProductCreate, files=IMAGE_FIELDS),
)
async def create_product(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    events: EventsDep,
) -> dict[str, Any]:
    """Create a product from the frontend's multipart form (photos in image_1..5) or JSON."""
    data, images = await read_product_form(request, settings, ProductCreate)
    with storage_errors():
        product = await products_service.create_product(
            session, storage, user_id=user.id, data=data, images=images
        )
    events.record(BusinessEvent.PRODUCT_CREATED, user_id=user.id, product_id=product.id)
    return PRODUCT.body_of(product)


@router.get("/{product_id}", response_model=ProductOut, responses=errors(401, 404, 422))
async def read_product(product: OwnedProduct) -> dict[str, Any]:
    """One of the vendor's own products."""
    return PRODUCT.body_of(product)


@router.put(
    "/{product_id}",
    response_model=ProductOut,
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=json_or_form_body(ProductUpdate, files=IMAGE_FIELDS),
)
async def update_product(
    request: Request,
    product: OwnedProduct,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> dict[str, Any]:
    """Change any of a product's fields; only the fields sent change; a photo replaces its slot."""
    data, images = await read_product_form(request, settings, ProductUpdate)
    with storage_errors():
        product = await products_service.update_product(
            session, storage, product=product, data=data, images=images
        )
    return PRODUCT.body_of(product)


@router.delete(
    "/{product_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404, 422)
)
async def delete_product(product: OwnedProduct, session: SessionDep, storage: StorageDep) -> None:
    """Delete one of the vendor's products, and then its stored photos."""
    await products_service.delete_product(session, storage, product=product)


@router.post("/{product_id}/track-click", response_model=Message, responses=errors(404, 422))
async def track_click(
    request: Request,
    product_id: ProductId,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Message:
    """Count a shopper's tap on "Chat on WhatsApp"; repeats within the window are not counted."""
    # Existence first, so made-up product ids never create rate-limit counters.
    if not await products_service.is_clickable(session, product_id=product_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    await count_click(request, session, limiter, settings, product_id=product_id)
    return Message(message="Click tracked successfully")
