"""Placing a shopper's order: the one path every order takes, whether it came as JSON from the
cart (`POST /api/store/{identifier}/orders`) or as a product page's form without JavaScript
(`POST /s/{identifier}/p/{product_id}/order`). Each counts the order in analytics once."""

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import analytics_for
from app.api.forms import field_error
from app.api.limits import guard_order
from app.domain.phones import normalise_whatsapp
from app.models import User
from app.ratelimit.limiter import RateLimiter
from app.schemas.order import OrderCreate
from app.services import orders as orders_service
from app.settings import Settings

KEY_REUSED = (
    "This Idempotency-Key was already used for a different order in this store; "
    "send a new key for a new order"
)


def customer_of(data: OrderCreate, settings: Settings) -> orders_service.Customer:
    """The customer's details, the phone as wa.me digits (as a vendor's number is read)."""
    phone = None
    if data.customer_phone is not None:
        try:
            phone = normalise_whatsapp(data.customer_phone, settings.DEFAULT_COUNTRY_CODE)
        except ValueError as exc:
            raise field_error("customer_phone", f"Value error, {exc}") from None
    return orders_service.Customer(
        name=data.customer_name,
        phone=phone,
        note=data.note,
        delivery_area=data.delivery_area,
    )


async def place_for_shopper(
    request: Request,
    session: AsyncSession,
    limiter: RateLimiter,
    settings: Settings,
    *,
    vendor: User,
    data: OrderCreate,
    idempotency_key: str | None = None,
) -> orders_service.PlacedOrder:
    """Answer a replayed Idempotency-Key with its first order (409 for the key with another
    body); else count the attempt against the order limits (429), place the order (422 for
    items that cannot be ordered) and count it in the vendor's analytics. A replay spends no
    limit: a shopper's retries of one order never lock them out of it."""
    try:
        if idempotency_key is not None:
            earlier = await orders_service.earlier_order(
                session, vendor_id=vendor.id, key=idempotency_key, data=data
            )
            if earlier is not None:
                return orders_service.PlacedOrder(earlier, replayed=True)
        await guard_order(request, limiter, settings, vendor_id=vendor.id)
        customer = customer_of(data, settings)
        placed = await orders_service.place_order(
            session, vendor=vendor, data=data, customer=customer, idempotency_key=idempotency_key
        )
    except orders_service.OrderRejectedError as exc:
        raise RequestValidationError(exc.errors) from None
    except orders_service.IdempotencyConflictError:
        raise HTTPException(status.HTTP_409_CONFLICT, KEY_REUSED) from None
    if not placed.replayed:
        order = placed.order
        analytics_for(request).order(
            vendor.id, order.total, (line.product_id for line in order.lines)
        )
    return placed
