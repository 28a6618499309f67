"""Ordering from the store pages: the one-product form that works without JavaScript, and the
cart script that gathers several products into one order (`app/web/static/cart.js`)."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from app.api.deps import LimiterDep, SessionDep, SettingsDep
from app.api.forms import read_fields
from app.api.ordering import place_for_shopper
from app.api.routes.store import Identifier
from app.api.routes.store_pages import PRODUCT_NOT_FOUND, order_link_or_404
from app.http.caching import etag_matches
from app.schemas.order import OrderCreate
from app.services import store as store_service
from app.web.assets import ASSET_CACHE_CONTROL, CART_SCRIPT

router = APIRouter(tags=["store pages"])

CUSTOMER_FIELDS = ("customer_name", "customer_phone", "delivery_area", "note")
# The form has one product: its errors name the form's fields, not the JSON body's items.
_ITEM_FIELDS = {"quantity": "quantity", "product_id": "product"}


def _form_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """("body", "items", 0, "quantity") as the form knows it: ("body", "quantity")."""
    inner = tuple(part for part in loc if part != "body")
    if inner[:1] == ("items",):
        field = next((part for part in inner[1:] if isinstance(part, str)), "product_id")
        return ("body", _ITEM_FIELDS.get(field, "product"))
    return ("body", *inner)


def _form_error(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(
        [{**error, "loc": _form_loc(tuple(error["loc"]))} for error in errors]
    )


def _order_of(product_id: str, fields: dict[str, Any]) -> OrderCreate:
    """The form's fields as an order of one product (quantity 1 when the form sends none)."""
    body: dict[str, Any] = {
        "items": [{"product_id": product_id, "quantity": fields.get("quantity", "1")}],
        **{name: fields[name] for name in CUSTOMER_FIELDS if name in fields},
    }
    try:
        return OrderCreate.model_validate(body)
    except ValidationError as exc:
        raise _form_error(
            [
                {"loc": ("body", *err["loc"]), "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False)
            ]
        ) from None


@router.post("/s/{identifier}/p/{product_id}/order", include_in_schema=False)
async def order_one(
    identifier: Identifier,
    product_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Response:
    """Order one product from its form (no JavaScript needed) and go on to WhatsApp with it."""
    await order_link_or_404(request, identifier=identifier, product_id=product_id)
    fields, _ = await read_fields(request)
    data = _order_of(product_id, fields)
    vendor = await store_service.find_vendor(session, identifier=identifier)
    if vendor is None:  # deleted since the line above
        raise HTTPException(status.HTTP_404_NOT_FOUND, PRODUCT_NOT_FOUND)
    try:
        placed = await place_for_shopper(
            request, session, limiter, settings, vendor=vendor, data=data
        )
    except RequestValidationError as exc:
        raise _form_error(list(exc.errors())) from None
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
    return RedirectResponse(placed.order.whatsapp_url, status.HTTP_303_SEE_OTHER, headers=headers)


@router.get(CART_SCRIPT.path, response_class=Response, include_in_schema=False)
async def cart_script(request: Request) -> Response:
    """The store pages' cart script; its URL names its content, so it is kept for a year."""
    headers = {"Cache-Control": ASSET_CACHE_CONTROL, "ETag": CART_SCRIPT.etag}
    if etag_matches(request.headers.get("if-none-match"), CART_SCRIPT.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(CART_SCRIPT.body, media_type=CART_SCRIPT.media_type, headers=headers)
