"""Counting a shopper's tap on a product's WhatsApp link: the one place every tap goes through,
whether it came as `POST /api/products/{id}/track-click` or through a store page's order link
(`GET /s/{identifier}/p/{product_id}/whatsapp`)."""

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import analytics_for
from app.api.limits import counted_click
from app.ratelimit.limiter import RateLimiter
from app.services import products as products_service
from app.settings import Settings


async def count_click(
    request: Request,
    session: AsyncSession,
    limiter: RateLimiter,
    settings: Settings,
    *,
    product_id: str,
) -> bool:
    """Count the tap once per client and product within CLICK_DEDUP_WINDOW_SECONDS (in
    `click_count` and the vendor's analytics); True when this one was counted."""
    async with counted_click(request, limiter, settings, product_id=product_id) as first:
        if first:
            vendor_id = await products_service.track_click(session, product_id=product_id)
            if vendor_id is not None:
                analytics_for(request).tap(vendor_id, product_id)
                return True
    return False
