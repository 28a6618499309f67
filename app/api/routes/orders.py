"""Orders: shoppers place them in a store (public), vendors follow them through their statuses."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status

from app.api.authentication import CurrentUser
from app.api.deps import (
    DEFAULT_LIMIT,
    Limit,
    LimiterDep,
    Offset,
    SessionDep,
    SettingsDep,
)
from app.api.ordering import place_for_shopper
from app.api.responses import errors
from app.api.routes.store import Identifier
from app.domain.orders import OrderStatus, normalise_code
from app.schemas.order import OrderCreate, OrderOut, OrderPlaced, OrderStatusChange
from app.services import orders as orders_service
from app.services import store as store_service
from app.services.bodies import ORDER, PLACED_ORDER, order_body

router = APIRouter(tags=["orders"])

STORE_NOT_FOUND = "Store not found"
ORDER_NOT_FOUND = "Order not found"
OrderId = Annotated[str, Path(max_length=100)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a request safely: the same key and body within 24 h answer the "
        "first order again",
    ),
]


@router.post(
    "/api/store/{identifier}/orders",
    response_model=OrderPlaced,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404, 409, 413, 422, 429),
)
async def place_order(
    identifier: Identifier,
    data: OrderCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Order several products of a store; answers the order and its WhatsApp link (public)."""
    vendor = await store_service.find_vendor(session, identifier=identifier)
    if vendor is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, STORE_NOT_FOUND)
    placed = await place_for_shopper(
        request,
        session,
        limiter,
        settings,
        vendor=vendor,
        data=data,
        idempotency_key=idempotency_key,
    )
    return order_body(placed.order, PLACED_ORDER)


@router.get("/api/orders", response_model=list[OrderOut], responses=errors(401, 422))
async def list_orders(
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    order_status: Annotated[OrderStatus | None, Query(alias="status")] = None,
    code: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The vendor's orders, newest first, with their lines; total in X-Total-Count."""
    page = await orders_service.list_orders(
        session,
        vendor_id=user.id,
        status=order_status,
        code=normalise_code(code) if code is not None else None,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(page.total)
    return [order_body(order, ORDER) for order in page.items]


@router.get("/api/orders/{order_id}", response_model=OrderOut, responses=errors(401, 404, 422))
async def read_order(order_id: OrderId, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """One of the vendor's orders."""
    order = await orders_service.get_order(session, vendor_id=user.id, order_id=order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, ORDER_NOT_FOUND)
    return order_body(order, ORDER)


@router.patch(
    "/api/orders/{order_id}",
    response_model=OrderOut,
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def change_order_status(
    order_id: OrderId, change: OrderStatusChange, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Move an order on: new -> confirmed -> paid -> fulfilled, or cancelled before fulfilled."""
    try:
        order = await orders_service.change_status(
            session, vendor_id=user.id, order_id=order_id, status=change.status
        )
    except orders_service.StatusChangeRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.detail) from None
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, ORDER_NOT_FOUND)
    return order_body(order, ORDER)
