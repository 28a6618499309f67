"""Orders: placed by shoppers from a store, followed by the vendor through their statuses.

`place_order` is the one place an order is created (the JSON call and the store pages' form
both go through it).
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.domain.orders import (
    HOLDS_STOCK,
    MAX_AMOUNT,
    MAX_LINES,
    MAX_QUANTITY,
    MessageLine,
    OrderStatus,
    can_move,
    line_total,
    new_code,
    order_link,
    order_message,
    refusal,
)
from app.domain.products import MAX_STOCK
from app.models import Order, OrderLine, Product, User
from app.models.base import utcnow
from app.schemas.order import OrderCreate
from app.services.errors import ServiceError

logger = logging.getLogger("app.orders")

# A repeated Idempotency-Key answers the first order for this long; after it, the key is free.
IDEMPOTENCY_WINDOW = timedelta(hours=24)
# Codes are drawn from 32^5 (33 million) per store; a collision is rare, several in a row
# means something else is wrong.
CODE_ATTEMPTS = 5

Issue = dict[str, Any]


class OrderRejectedError(ServiceError):
    """Items that cannot be ordered; `errors` in FastAPI's shape, one per item."""

    def __init__(self, errors: list[Issue]) -> None:
        super().__init__("order rejected")
        self.errors = errors


class IdempotencyConflictError(ServiceError):
    """The Idempotency-Key was used in this store with another body."""


class StatusChangeRefusedError(ServiceError):
    """The order cannot move to that status now; `detail` says why, for the vendor."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    # True when an earlier order with the same Idempotency-Key and body is answered again.
    replayed: bool


@dataclass(frozen=True, slots=True)
class Customer:
    name: str | None
    phone: str | None
    note: str | None
    delivery_area: str | None


def request_fingerprint(data: OrderCreate) -> str:
    """What "the same body" means for an Idempotency-Key: the validated request, canonical."""
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _issue(loc: tuple[str | int, ...], message: str, kind: str) -> Issue:
    return {"loc": ("body", *loc), "msg": message, "type": kind}


def merge_items(data: OrderCreate) -> list[tuple[int, str, int]]:
    """(first index sent, product id, quantity) per product, quantities of repeats added, in
    the order first sent; OrderRejectedError past the limits."""
    merged: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(data.items):
        first, quantity = merged.get(item.product_id, (index, 0))
        merged[item.product_id] = (first, quantity + item.quantity)
    issues = [
        _issue(
            ("items", first, "quantity"),
            f"{product_id}: at most {MAX_QUANTITY} of one product per order",
            "less_than_equal",
        )
        for product_id, (first, quantity) in merged.items()
        if quantity > MAX_QUANTITY
    ]
    if len(merged) > MAX_LINES:
        issues.append(
            _issue(("items",), f"at most {MAX_LINES} different products per order", "too_long")
        )
    if issues:
        raise OrderRejectedError(issues)
    return [(first, product_id, quantity) for product_id, (first, quantity) in merged.items()]


def _unorderable(product: Product | None, product_id: str, quantity: int) -> str | None:
    """Why this product cannot be ordered in this quantity, or None. The stock count itself is
    never told: it is the vendor's business."""
    if product is None:
        return f"{product_id}: no such product in this store"
    if not product.is_available:
        return f"{product_id} ({product.name}): not available"
    if product.stock is not None and product.stock == 0:
        return f"{product_id} ({product.name}): sold out"
    if product.stock is not None and quantity > product.stock:
        return f"{product_id} ({product.name}): not enough in stock for {quantity}"
    return None


async def _priced_lines(
    session: AsyncSession, *, vendor_id: str, items: list[tuple[int, str, int]]
) -> list[OrderLine]:
    """The order's lines with the names and prices the database holds now."""
    ids = [product_id for _, product_id, _ in items]
    found = await session.scalars(
        select(Product).where(Product.user_id == vendor_id, Product.id.in_(ids))
    )
    products = {product.id: product for product in found}
    issues = []
    lines = []
    for position, (index, product_id, quantity) in enumerate(items, start=1):
        product = products.get(product_id)
        reason = _unorderable(product, product_id, quantity)
        if reason is not None or product is None:
            issues.append(_issue(("items", index, "product_id"), str(reason), "unorderable"))
            continue
        lines.append(
            OrderLine(
                position=position,
                product_id=product.id,
                name=product.name,
                unit_price=product.price,
                quantity=quantity,
                line_total=line_total(product.price, quantity),
                stock_taken=False,
            )
        )
    if issues:
        raise OrderRejectedError(issues)
    return lines


def _message(order: Order, lines: Sequence[OrderLine]) -> str:
    return order_message(
        code=order.code,
        lines=[MessageLine(line.name, line.quantity, line.line_total) for line in lines],
        total=order.total,
        customer_name=order.customer_name,
        delivery_area=order.delivery_area,
    )


def _by_key(vendor_id: str, key: str) -> Select[Order]:
    return (
        select(Order)
        .where(Order.user_id == vendor_id, Order.idempotency_key == key)
        .options(selectinload(Order.lines))
    )


async def _earlier_answer(
    session: AsyncSession, *, vendor_id: str, key: str, fingerprint: str
) -> Order | None:
    """The order this key made within the window (IdempotencyConflictError for another body);
    a key older than the window is released for the new order."""
    earlier = await session.scalar(_by_key(vendor_id, key))
    if earlier is None:
        return None
    if earlier.created_at <= utcnow() - IDEMPOTENCY_WINDOW:
        earlier.idempotency_key = None
        await session.flush()
        return None
    if earlier.request_hash != fingerprint:
        raise IdempotencyConflictError
    return earlier


async def earlier_order(
    session: AsyncSession, *, vendor_id: str, key: str, data: OrderCreate
) -> Order | None:
    """The order this Idempotency-Key and body made in the store within the window, to answer
    again (one indexed lookup); IdempotencyConflictError for the key used with another body.
    Asked before `place_order`, and before the order limits: a replay makes no new order."""
    return await _earlier_answer(
        session, vendor_id=vendor_id, key=key, fingerprint=request_fingerprint(data)
    )


async def place_order(
    session: AsyncSession,
    *,
    vendor: User,
    data: OrderCreate,
    customer: Customer,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """Place an order in the vendor's store: prices and names from the database, kept on the
    lines; a code unique in the store. With an Idempotency-Key, `earlier_order` was asked
    first; a request racing with the same key and body answers the winner's order.

    OrderRejectedError (422) for items that cannot be ordered, IdempotencyConflictError (409)
    for a key used with another body. Nothing is written unless the order is."""
    fingerprint = request_fingerprint(data)
    items = merge_items(data)
    lines = await _priced_lines(session, vendor_id=vendor.id, items=items)
    total = sum((line.line_total for line in lines), Decimal(0))
    if total > MAX_AMOUNT:
        raise OrderRejectedError(
            [_issue(("items",), "the order's total is too large for one order", "too_large")]
        )
    for _ in range(CODE_ATTEMPTS):
        order = Order(
            user_id=vendor.id,
            code=new_code(),
            status=OrderStatus.NEW,
            total=total,
            customer_name=customer.name,
            customer_phone=customer.phone,
            note=customer.note,
            delivery_area=customer.delivery_area,
            idempotency_key=idempotency_key,
            request_hash=fingerprint if idempotency_key is not None else None,
            created_at=utcnow(),
        )
        order.whatsapp_url = order_link(vendor.whatsapp_number, _message(order, lines))
        order.lines = [_copy(line) for line in lines]
        try:
            async with session.begin_nested():
                session.add(order)
        except IntegrityError:
            # Another order took this code, or (racing with the same key) this key.
            if idempotency_key is not None:
                earlier = await _earlier_answer(
                    session, vendor_id=vendor.id, key=idempotency_key, fingerprint=fingerprint
                )
                if earlier is not None:
                    await session.commit()
                    return PlacedOrder(earlier, replayed=True)
            continue
        await session.commit()
        logger.info(
            "order placed",
            extra={"order_id": order.id, "vendor_id": vendor.id, "lines": len(lines)},
        )
        return PlacedOrder(order, replayed=False)
    raise RuntimeError(f"no free order code after {CODE_ATTEMPTS} attempts")


def _copy(line: OrderLine) -> OrderLine:
    # A fresh object per attempt: one rolled back with its savepoint is not added again.
    return OrderLine(
        position=line.position,
        product_id=line.product_id,
        name=line.name,
        unit_price=line.unit_price,
        quantity=line.quantity,
        line_total=line.line_total,
        stock_taken=False,
    )


def _owned(vendor_id: str) -> Select[Order]:
    return select(Order).where(Order.user_id == vendor_id).options(selectinload(Order.lines))


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: list[Order]
    total: int


async def list_orders(
    session: AsyncSession,
    *,
    vendor_id: str,
    status: OrderStatus | None,
    code: str | None,
    limit: int,
    offset: int,
) -> OrderPage:
    """The vendor's orders, newest first, with their lines; and how many match in all."""
    conditions = [Order.user_id == vendor_id]
    if status is not None:
        conditions.append(Order.status == status)
    if code is not None:
        conditions.append(Order.code == code)
    total = await session.scalar(select(func.count()).select_from(Order).where(*conditions))
    page = await session.scalars(
        _owned(vendor_id)
        .where(*conditions)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return OrderPage(items=list(page), total=int(total or 0))


async def get_order(session: AsyncSession, *, vendor_id: str, order_id: str) -> Order | None:
    """The order if this vendor's; another vendor's order is simply not found."""
    return await session.scalar(_owned(vendor_id).where(Order.id == order_id))


async def _take_stock(session: AsyncSession, order: Order) -> None:
    """Take each line's quantity from its product's tracked stock, in one transaction, never
    below 0: a conditional UPDATE, so two confirmations racing for the last units cannot both
    succeed (the second waits on the row, then finds too little). A product no longer there or
    not tracked is ordered as it is."""
    # Rows locked in one order (by product id): two confirmations never wait on each other.
    for line in sorted(order.lines, key=lambda line: line.product_id):
        taken = await session.execute(
            update(Product)
            .where(
                Product.id == line.product_id,
                Product.user_id == order.user_id,
                Product.stock >= line.quantity,
            )
            .values(stock=Product.stock - line.quantity)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            line.stock_taken = True
            continue
        stock = await session.scalar(
            select(Product.stock).where(
                Product.id == line.product_id, Product.user_id == order.user_id
            )
        )
        if stock is not None:
            raise StatusChangeRefusedError(
                f"Not enough {line.name} in stock to confirm this order "
                f"({line.quantity} ordered, {stock} left)"
            )


async def _give_back_stock(session: AsyncSession, order: Order) -> None:
    """Put back what confirming took (never above the stock limit)."""
    for line in sorted(order.lines, key=lambda line: line.product_id):
        if not line.stock_taken:
            continue
        restored = Product.stock + line.quantity
        await session.execute(
            update(Product)
            .where(
                Product.id == line.product_id,
                Product.user_id == order.user_id,
                Product.stock.is_not(None),
            )
            .values(stock=case((restored > MAX_STOCK, MAX_STOCK), else_=restored))
        )
        line.stock_taken = False


async def change_status(
    session: AsyncSession, *, vendor_id: str, order_id: str, status: OrderStatus
) -> Order | None:
    """Move the vendor's order to `status` (None: no such order of theirs). The same status
    again changes nothing; a move the rules do not allow, or a confirmation the stock cannot
    cover, is StatusChangeRefusedError and changes nothing."""
    # The graph of statuses has no cycle, so each lost race leaves fewer moves to race for.
    for _ in OrderStatus:
        order = await session.scalar(_owned(vendor_id).where(Order.id == order_id))
        if order is None:
            return None
        current = OrderStatus(order.status)
        if current == status:
            return order
        if not can_move(current, status):
            raise StatusChangeRefusedError(refusal(current, status))
        if await _move(session, order, current, status):
            logger.info(
                "order status changed",
                extra={"order_id": order.id, "vendor_id": vendor_id, "status": str(status)},
            )
            return order
        # Another request moved the order first: read it again and judge the move anew.
        await session.rollback()
    raise RuntimeError("order status kept changing under this request")


async def _move(
    session: AsyncSession, order: Order, current: OrderStatus, status: OrderStatus
) -> bool:
    """Move the order from `current` to `status` with its stock, in one transaction; False when
    the order was no longer `current`. The status changes by a conditional UPDATE (the row
    locks, and on SQLite the database does), so of requests racing on one order exactly one
    moves it and moves its stock: SQLite ignores SELECT ... FOR UPDATE."""
    now = utcnow()
    moved = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.user_id == order.user_id, Order.status == current)
        .values(status=status, status_changed_at=now, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    try:
        if status == OrderStatus.CONFIRMED:
            await _take_stock(session, order)
        elif status == OrderStatus.CANCELLED and current in HOLDS_STOCK:
            await _give_back_stock(session, order)
    except StatusChangeRefusedError:
        await session.rollback()
        raise
    # The UPDATE set the loaded order's attributes too (synchronize_session "auto").
    await session.commit()
    return True


async def expire_orders(session: AsyncSession, *, placed_before: datetime) -> int:
    """Orders still new that were placed before `placed_before` become expired."""
    now = utcnow()
    result = await session.execute(
        update(Order)
        .where(Order.status == OrderStatus.NEW, Order.created_at < placed_before)
        .values(status=OrderStatus.EXPIRED, status_changed_at=now, updated_at=now)
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
