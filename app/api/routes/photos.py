"""One product photo at a time, and the store banner."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from app.api.authentication import CurrentUser
from app.api.deps import SessionDep, SettingsDep, StorageDep
from app.api.forms import parse_as
from app.api.responses import errors
from app.api.routes.products import OwnedProduct
from app.api.uploads import read_single_photo, storage_errors
from app.schemas.product import PhotoSlot, PhotoSlotNumber, ProductOut
from app.schemas.user import BannerUploaded
from app.services import products as products_service
from app.services import users as users_service
from app.services.bodies import PRODUCT

router = APIRouter(prefix="/api", tags=["photos"])

BANNER_FIELDS = ("banner", "image")


def _multipart(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


FILE = {"type": "string", "format": "binary"}


@router.post(
    "/products/{product_id}/images/upload",
    response_model=ProductOut,
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_multipart(
        {"image": FILE, "image_slot": {"type": "integer", "minimum": 1, "maximum": 5}},
        ["image", "image_slot"],
    ),
)
async def upload_product_photo(
    request: Request,
    product: OwnedProduct,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> dict[str, Any]:
    """Put one photo in a slot (1 to 5), replacing the photo that was there."""
    fields, image = await read_single_photo(
        request, settings, names=("image",), max_bytes=settings.PHOTO_MAX_BYTES, what="Photo"
    )
    slot = parse_as(PhotoSlot, fields).image_slot
    with storage_errors():
        product = await products_service.update_product(
            session, storage, product=product, images={slot: image}
        )
    return PRODUCT.body_of(product)


@router.delete(
    "/products/{product_id}/images/{slot}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
async def delete_product_photo(
    product: OwnedProduct,
    slot: PhotoSlotNumber,
    session: SessionDep,
    storage: StorageDep,
) -> None:
    """Remove the photo in one slot, and its stored file."""
    if not await products_service.remove_photo(session, storage, product=product, slot=slot):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No photo in slot {slot}")


@router.post(
    "/users/me/banner",
    response_model=BannerUploaded,
    responses=errors(400, 401, 403, 413, 415, 422),
    openapi_extra=_multipart({"banner": FILE, "image": FILE}, []),
)
async def upload_banner(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> BannerUploaded:
    """Set the store's banner (file field `banner`, or `image`), replacing the old one."""
    _fields, image = await read_single_photo(
        request, settings, names=BANNER_FIELDS, max_bytes=settings.BANNER_MAX_BYTES, what="Banner"
    )
    with storage_errors():
        banner_url = await users_service.set_banner(session, storage, user=user, image=image)
    return BannerUploaded(message="Banner uploaded successfully", banner_url=banner_url)


@router.delete(
    "/users/me/banner", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404)
)
async def delete_banner(user: CurrentUser, session: SessionDep, storage: StorageDep) -> None:
    """Remove the store's banner, and its stored file."""
    if not await users_service.remove_banner(session, storage, user=user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No banner to remove")
