"""The store pages a vendor shares: server-rendered HTML that previews in WhatsApp and reads
before any script runs, the order link that counts the tap, and /robots.txt."""

from collections.abc import Callable
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse, RedirectResponse

from app.api.clicks import count_click
from app.api.deps import (
    LimiterDep,
    SessionDep,
    SettingsDep,
    analytics_for,
    events_for,
    reader_for,
    store_reads_for,
)
from app.domain.traffic import is_robot
from app.domain.whatsapp import wa_me_url
from app.fastpath.shortcuts import fast_get
from app.http.caching import PUBLIC_REVALIDATE, etag_matches, strong_etag
from app.http.head import REQUESTED_METHOD
from app.observability.events import BusinessEvent
from app.services import store_pages as pages_service
from app.services.bodies import share_url
from app.services.store_pages import Fetched, Preview, ProductView, StoreView
from app.settings import Settings
from app.web.pages import HTML, TEMPLATES, Pages
from app.web.rendered import Rendered

router = APIRouter(tags=["store pages"])
V = TypeVar("V")

STORE_NOT_FOUND = "Store not found"
PRODUCT_NOT_FOUND = "Product not found"
PAGE_NOT_FOUND = "There is no such page in this store"
STORE_OR_PAGE_NOT_FOUND = "Store or page not found"
PREVIEW_PATH = "/store-preview.jpg"
# The image a link previews with when neither the product nor the store has a photo fit for it.
DEFAULT_PREVIEW = (TEMPLATES.parent / "static" / "store-preview.jpg").read_bytes()
DEFAULT_PREVIEW_SIZE = (1200, 630)
DEFAULT_PREVIEW_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "ETag": strong_etag(DEFAULT_PREVIEW),
}
PAGE_HEADERS = {"Cache-Control": PUBLIC_REVALIDATE}
# Where an order form's answer leads: this service, then WhatsApp (wa.me sends on to api.).
ORDER_FORM_ACTION = "'self' https://wa.me https://api.whatsapp.com"


def _page_number(request: Request) -> int | None:
    """`?page=N`: absent is 1; anything but plain digits is no page."""
    text = request.query_params.get("page")
    if text is None:
        return 1
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return None
    return int(text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _policy(pages: Pages, settings: Settings) -> str:
    # Photos come from this service's media origin, the bucket's, or (the earlier backend's
    # absolute URLs) any https origin; nothing else is loaded from anywhere.
    media = settings.s3_public_base_url if settings.STORAGE_BACKEND == "s3" else None
    sources = {"'self'", "https:", _origin(settings.public_base_url)}
    if media:
        sources.add(_origin(media))
    # The cart script (a file of this service) posts the order here; a form's order goes on to
    # WhatsApp, and a browser holds a form's redirects to form-action too.
    return pages.csp(
        img_src=" ".join(sorted(sources)),
        script_src="'self'",
        connect_src="'self'",
        form_action=ORDER_FORM_ACTION,
    )


def _image(preview: Preview | None, settings: Settings) -> dict[str, object]:
    if preview is None:
        width, height = DEFAULT_PREVIEW_SIZE
        return {"url": settings.public_base_url + PREVIEW_PATH, "width": width, "height": height}
    return {"url": preview.url, "width": preview.width, "height": preview.height}


def _serve(
    request: Request,
    fetched: Fetched[V],
    name: str,
    context: Callable[[V, Settings], dict[str, object]],
) -> Response:
    """The page (rendered unless these very rows were rendered before) with its strong ETag, or
    a bodiless 304 when the client holds it already."""
    pages: Pages = request.app.state.pages
    settings: Settings = request.app.state.settings
    page = pages.rendered.get(fetched.page_id, fetched.key)
    if page is None:
        view = fetched.view()
        body = pages.env.get_template(name).render(context(view, settings)).encode()
        page = pages.rendered.put(fetched.page_id, fetched.key, Rendered(body, strong_etag(body)))
    headers = {
        **PAGE_HEADERS,
        "ETag": page.etag,
        "Content-Security-Policy": _policy(pages, settings),
    }
    if etag_matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(page.body, media_type=HTML, headers=headers)


def _store_context(view: StoreView, settings: Settings) -> dict[str, object]:
    store = view.store
    share = share_url(settings.share_base_url, store.slug)
    names = ", ".join(item.name for item in view.items[:3])
    count = f"{store.total} product{'' if store.total == 1 else 's'}"
    return {
        "view": view,
        "store": store,
        "base": f"/s/{store.slug}",
        "title": store.name if view.page == 1 else f"{store.name} · page {view.page}",
        "og_title": store.name,
        "og_type": "website",
        "canonical": share if view.page == 1 else f"{share}?page={view.page}",
        "description": pages_service.summary(
            f"{count} on {store.name}: {names}" if names else count
        ),
        "image": _image(view.preview, settings),
    }


def _product_context(view: ProductView, settings: Settings) -> dict[str, object]:
    item = view.item
    path = pages_service.product_path(view.store.slug, item.id)
    state = item.price if item.orderable else f"{item.price} · Sold out"
    return {
        "view": view,
        "store": view.store,
        "item": item,
        "base": f"/s/{view.store.slug}",
        "path": path,
        "title": f"{item.name} · {view.store.name}",
        "og_title": f"{item.name} · {item.price}",
        "og_type": "product",
        "canonical": settings.share_base_url + path,
        "description": pages_service.summary(
            f"{state}. {item.description}" if item.description else state
        ),
        "image": _image(view.preview, settings),
    }


async def _fetch_store(request: Request, identifier: str, page: int) -> Fetched[StoreView] | None:
    async with reader_for(request).connect() as db:
        return await pages_service.fetch_store(db, identifier=identifier, page=page)


@fast_get(router, "/s/{identifier}", response_class=Response, include_in_schema=False)
async def store_page(identifier: str, request: Request) -> Response:
    """A store's page: its available products, newest first, 24 a page (`?page=N`)."""
    page = _page_number(request)
    if page is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, PAGE_NOT_FOUND)
    fetched: Fetched[StoreView] | None = await store_reads_for(request).pages.get(
        (identifier, page), partial(_fetch_store, request, identifier, page)
    )
    if fetched is None:
        # One statement cannot tell a page past the end from a missing store.
        detail = STORE_NOT_FOUND if page == 1 else STORE_OR_PAGE_NOT_FOUND
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    events_for(request).record(
        BusinessEvent.STOREFRONT_VIEWED, vendor_id=fetched.vendor_id, products=fetched.total
    )
    response = _serve(request, fetched, "store/store.html", _store_context)
    if page == 1:  # a later page is the same visit going on (the JSON storefront's offset 0)
        analytics_for(request).store_view(
            request, fetched.vendor_id, status_code=response.status_code
        )
    return response


@fast_get(
    router, "/s/{identifier}/p/{product_id}", response_class=Response, include_in_schema=False
)
async def product_page(identifier: str, product_id: str, request: Request) -> Response:
    """One product's page with all its photos; "Sold out" when it is not available."""
    async with reader_for(request).connect() as db:
        fetched = await pages_service.fetch_product(
            db, identifier=identifier, product_id=product_id
        )
    if fetched is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, PRODUCT_NOT_FOUND)
    response = _serve(request, fetched, "store/product.html", _product_context)
    analytics_for(request).product_view(
        request, fetched.vendor_id, product_id, status_code=response.status_code
    )
    return response


async def order_link_or_404(
    request: Request, *, identifier: str, product_id: str
) -> pages_service.OrderLink:
    """Whom to message about this product of the store; 404 when the store has no such one."""
    async with reader_for(request).connect() as db:
        link = await pages_service.order_link(db, identifier=identifier, product_id=product_id)
    if link is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, PRODUCT_NOT_FOUND)
    return link


@router.get(
    "/s/{identifier}/p/{product_id}/whatsapp",
    response_class=RedirectResponse,
    status_code=status.HTTP_302_FOUND,
    include_in_schema=False,
)
async def order_on_whatsapp(
    identifier: str,
    product_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> Response:
    """Count the shopper's tap (as track-click does) and open WhatsApp with the order typed."""
    link = await order_link_or_404(request, identifier=identifier, product_id=product_id)
    path = pages_service.product_path(link.slug, product_id)
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
    if not link.available:
        # Sold out since the page was loaded: back to the page, which says so.
        return RedirectResponse(path, status.HTTP_303_SEE_OTHER, headers=headers)
    # A HEAD (a link checker) or a crawler's or preview fetcher's GET is no tap.
    if request.scope.get(REQUESTED_METHOD) != "HEAD" and not is_robot(
        request.headers.get("user-agent")
    ):
        await count_click(request, session, limiter, settings, product_id=product_id)
    text = pages_service.order_message(link, settings.share_base_url + path)
    return RedirectResponse(
        wa_me_url(link.whatsapp_number, text), status.HTTP_302_FOUND, headers=headers
    )


@router.get(PREVIEW_PATH, response_class=Response, include_in_schema=False)
async def default_preview() -> Response:
    """The image a store link previews with when it has no photo of its own."""
    return Response(DEFAULT_PREVIEW, media_type="image/jpeg", headers=DEFAULT_PREVIEW_HEADERS)


@router.get("/robots.txt", response_class=PlainTextResponse, include_in_schema=False)
async def robots(settings: SettingsDep) -> PlainTextResponse:
    """What crawlers may read: the store pages and their photos, not the API or the vendor area."""
    lines = [
        "User-agent: *",
        "Allow: /s/",
        f"Allow: {settings.MEDIA_URL_PATH}/",
        f"Allow: {PREVIEW_PATH}",
        "Disallow: /api/",
        "Disallow: /account/",
        # Each fetch of an order link would count as a shopper's tap.
        "Disallow: /s/*/whatsapp",
    ]
    return PlainTextResponse(
        "\n".join(lines) + "\n", headers={"Cache-Control": "public, max-age=3600"}
    )
