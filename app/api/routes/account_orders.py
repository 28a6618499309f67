"""The vendor's orders page in the `/account/` area: the orders newest first, filtered by status,
with a plain form button for each move an order can make."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse

from app.api.account_area import account_page, form_text, message_page, safe_next, see_other
from app.api.authentication import PageVendor, check_form_origin
from app.api.deps import SessionDep, SettingsDep
from app.api.forms import read_fields
from app.domain.money import format_naira
from app.domain.orders import OrderStatus, next_statuses
from app.models import Order
from app.services import orders as orders_service

router = APIRouter(prefix="/account", tags=["vendor area"], include_in_schema=False)

ORDERS = "/account/orders"
PAGE_SIZE = 25
MAX_PAGE = 100_000
ACTIONS = {
    OrderStatus.CONFIRMED: "Confirm",
    OrderStatus.PAID: "Mark paid",
    OrderStatus.FULFILLED: "Mark fulfilled",
    OrderStatus.CANCELLED: "Cancel",
}


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


def order_view(order: Order) -> dict[str, Any]:
    """What the page shows of one order: amounts in naira, the moves it can make."""
    return {
        "id": order.id,
        "code": order.code,
        "status": order.status,
        "placed": _when(order.created_at),
        "total": format_naira(order.total),
        "lines": [
            {
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": format_naira(line.unit_price),
                "line_total": format_naira(line.line_total),
            }
            for line in order.lines
        ],
        "customer_name": order.customer_name,
        "customer_phone": order.customer_phone,
        "note": order.note,
        "delivery_area": order.delivery_area,
        "actions": [
            (status.value, ACTIONS[status]) for status in next_statuses(OrderStatus(order.status))
        ],
    }


def _page_url(status: OrderStatus | None, page: int) -> str:
    query: dict[str, str | int] = {}
    if status is not None:
        query["status"] = status.value
    if page > 1:
        query["page"] = page
    return f"{ORDERS}?{urlencode(query)}" if query else ORDERS


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(
    request: Request,
    vendor: PageVendor,
    session: SessionDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    """The vendor's orders, newest first, with their lines, customers and status buttons."""
    found = await orders_service.list_orders(
        session,
        vendor_id=vendor.id,
        status=status,
        code=None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    last_page = max(1, -(-found.total // PAGE_SIZE))
    return account_page(
        request,
        "orders.html",
        active="orders",
        orders=[order_view(order) for order in found.items],
        total=found.total,
        current=status.value if status else None,
        filters=[(None, "All", ORDERS)]
        + [(s.value, s.value.title(), _page_url(s, 1)) for s in OrderStatus],
        back=_page_url(status, page),
        previous_url=_page_url(status, page - 1) if page > 1 else None,
        next_url=_page_url(status, page + 1) if page < last_page else None,
    )


@router.post("/orders/{order_id}/status", response_class=HTMLResponse, response_model=None)
async def change_status(
    request: Request,
    order_id: Annotated[str, Path(max_length=100)],
    vendor: PageVendor,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse | RedirectResponse:
    """A status button: move the order on, then back to the list it was pressed in."""
    check_form_origin(request, settings)
    fields, _ = await read_fields(request)
    back = safe_next(fields.get("back"))
    try:
        target = OrderStatus(form_text(fields, "status", 20))
    except ValueError:
        return message_page(
            request,
            title="Orders",
            message="That is not a status an order can have.",
            status_code=400,
            link_url=back,
            link_text="Back to your orders",
        )
    try:
        order = await orders_service.change_status(
            session, vendor_id=vendor.id, order_id=order_id, status=target
        )
    except orders_service.StatusChangeRefusedError as exc:
        return message_page(
            request,
            title="Orders",
            message=exc.detail,
            status_code=409,
            link_url=back,
            link_text="Back to your orders",
        )
    if order is None:
        return message_page(
            request,
            title="Orders",
            message="Order not found.",
            status_code=404,
            link_url=ORDERS,
            link_text="Back to your orders",
        )
    return see_other(back)
