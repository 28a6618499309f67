"""The store pages over real HTTP (ASGI) on the test database: what shoppers and link-preview
crawlers get, paging, 404 pages, hostile vendor text, caching, the order link and its count, the
share link and robots.txt."""

import io
import logging
import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.web.rendered import Rendered, RenderedPages
from tests.conftest import client_for, create_product, make_settings, postgres_only, vendor
from tests.test_hot_path_queries import add_bulk_stores, add_products, recorded_statements
from tests.test_photos import public_read_policy, s3_client, s3_endpoint  # noqa: F401 - fixture

BASE = "http://testserver"
SHARE = "https://shop.example"
CRAWLERS = (
    "WhatsApp/2.23.20.0 A",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "TelegramBot (like TwitterBot)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
)
BROWSER = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


class Page(HTMLParser):
    """What a crawler reads from a page: its meta and link tags, images, links and scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.anchors: list[dict[str, str]] = []
        self.scripts: list[dict[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append(tag)
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key:
                self.meta[key] = values.get("content", "")
        elif tag == "link":
            self.links[values.get("rel", "")] = values.get("href", "")
        elif tag == "img":
            self.images.append(values)
        elif tag == "a":
            self.anchors.append(values)
        elif tag == "script":
            self.scripts.append(values)
        elif tag == "form":
            self.forms.append(values)
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def hrefs(self) -> list[str]:
        return [anchor.get("href", "") for anchor in self.anchors]


def jpeg(size: tuple[int, int], color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 7):  # some detail, so the encodings are not trivially small
        image.putpixel((x, x % size[1]), (x % 256, 90, 40))
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
async def app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    settings = make_settings(database_url, PUBLIC_BASE_URL=BASE, SHARE_BASE_URL=SHARE)
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


def store_page(response: httpx.Response, status: int = 200) -> Page:
    """A store page: HTML with its policy, no script but this service's cart script (no inline
    one), no asset from another origin."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "unsafe-eval" not in policy and "unsafe-inline" not in policy
    assert "nonce" not in policy
    page = Page(response.text)
    assert [script["src"].split("?v=")[0] for script in page.scripts] == ["/s-assets/cart.js"]
    assert re.findall(r"<script[^>]*>(.*?)</script>", response.text, re.S) == [""]
    assert not page.links.get("stylesheet")
    return page


def error_page(response: httpx.Response, status: int = 404) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta name="robots" content="noindex' in response.text
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert response.headers["X-Request-ID"] in response.text
    return response.text


async def photo_product(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    *photos: bytes,
    price: str = "100",
) -> dict[str, Any]:
    response = await client.post(
        "/api/products",
        headers=headers,
        data={"name": name, "price": price},
        files={f"image_{n}": (f"{n}.jpg", data, "image/jpeg") for n, data in enumerate(photos, 1)},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_store_page_lists_available_products_newest_first(
    client: httpx.AsyncClient,
) -> None:
    ada = await vendor(client, "ada.fabrics@example.com")
    old = await create_product(client, ada, name="Old wrapper", price="100")
    await create_product(client, ada, name="Hidden hat", is_available=False)
    new = await create_product(
        client, ada, name="Silk scarf", price="12500.5", description="Soft\nand light"
    )
    response = await client.get("/s/ada-fabrics", headers={"User-Agent": BROWSER})
    page = store_page(response)
    body = response.text
    assert "Ada Fabrics" in page.title
    assert body.index("Silk scarf") < body.index("Old wrapper")
    assert "Hidden hat" not in body
    assert "₦12,500.50" in body and "₦100.00" in body
    assert "Soft and light" in body  # a card's summary is one line; the product page keeps them
    assert "Soft\nand light" in (await client.get(f"/s/ada-fabrics/p/{new['id']}")).text
    orders = [href for href in page.hrefs() if href.endswith("/whatsapp")]
    assert orders == [
        f"/s/ada-fabrics/p/{new['id']}/whatsapp",
        f"/s/ada-fabrics/p/{old['id']}/whatsapp",
    ]
    assert f"/s/ada-fabrics/p/{new['id']}" in page.hrefs()
    assert body.count("Order on WhatsApp") == 2
    assert "ada.fabrics@example.com" not in body and "2348012345678" not in body


async def test_every_spelling_and_old_link_answers_with_the_current_slug(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await vendor(client, "Ada.Fabrics_NG@example.com")
    async with engine.begin() as conn:
        user_id = await conn.scalar(text("SELECT id FROM users"))
        await conn.execute(
            text("INSERT INTO store_aliases (alias, user_id) VALUES ('old.ada_link', :id)"),
            {"id": user_id},
        )
    bodies = set()
    for identifier in ("ada-fabrics-ng", "Ada.Fabrics_NG", "ADA-FABRICS-NG", "old.ada_link"):
        response = await client.get(f"/s/{identifier}")
        page = store_page(response)
        assert page.links["canonical"] == f"{SHARE}/s/ada-fabrics-ng", identifier
        assert page.meta["og:url"] == f"{SHARE}/s/ada-fabrics-ng"
        bodies.add(response.text)
    assert len(bodies) == 1  # no redirect, one page


async def test_previews_for_crawlers_without_photos_use_the_default_image(
    client: httpx.AsyncClient,
) -> None:
    ada = await vendor(client, "ada@example.com")
    product = await create_product(client, ada, name="Ankara dress", price="15000")
    browser = await client.get("/s/ada", headers={"User-Agent": BROWSER})
    for agent in CRAWLERS:
        response = await client.get("/s/ada", headers={"User-Agent": agent})
        assert response.content == browser.content, agent
        assert response.headers["ETag"] == browser.headers["ETag"]
        head = await client.head("/s/ada", headers={"User-Agent": agent})
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["ETag"] == browser.headers["ETag"]
    page = store_page(browser)
    head = browser.content[: 32 * 1024].decode(errors="ignore")
    assert "</head>" in head
    meta = Page(head).meta
    for tag in ("og:title", "og:description", "og:url", "og:type", "og:site_name", "og:image"):
        assert meta.get(tag), tag
    assert meta["og:title"] == "Ada"
    assert meta["og:description"] == "1 product on Ada: Ankara dress"
    assert meta["description"] == meta["og:description"]
    assert meta["og:type"] == "website" and meta["og:site_name"] == "QuickVendor"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["og:image"] == f"{BASE}/store-preview.jpg"
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert meta["og:image:type"] == "image/jpeg"
    image = await client.get(meta["og:image"], headers={"User-Agent": CRAWLERS[0]})
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert len(image.content) < 300_000
    assert Image.open(io.BytesIO(image.content)).size == (1200, 630)
    assert page.links["canonical"] == f"{SHARE}/s/ada"

    product_response = await client.get(
        f"/s/ada/p/{product['id']}", headers={"User-Agent": CRAWLERS[1]}
    )
    product_meta = store_page(product_response).meta
    assert product_meta["og:title"] == "Ankara dress · ₦15,000.00"
    assert product_meta["og:description"] == "₦15,000.00"
    assert product_meta["og:url"] == f"{SHARE}/s/ada/p/{product['id']}"
    assert product_meta["og:type"] == "product"
    assert product_meta["og:image"] == f"{BASE}/store-preview.jpg"


async def test_previews_use_each_photos_jpeg_and_pages_offer_its_widths(
    client: httpx.AsyncClient,
) -> None:
    ada = await vendor(client, "ada@example.com")
    small = await photo_product(client, ada, "Small photo", jpeg((300, 200)))
    big = await photo_product(
        client, ada, "Big photos", jpeg((300, 200)), jpeg((1600, 1000)), price="2500"
    )
    listing = store_page(await client.get("/s/ada"))
    # The newest product's first photo is too small for a preview: the default image.
    assert listing.meta["og:image"] == f"{BASE}/store-preview.jpg"
    product = store_page(await client.get(f"/s/ada/p/{big['id']}"))
    meta = product.meta
    # Its first photo has no preview either: its second photo's.
    assert meta["og:image"].startswith(f"{BASE}/media/") and meta["og:image"].endswith(".jpg")
    image = await client.get(meta["og:image"])
    assert image.headers["content-type"] == "image/jpeg" and len(image.content) < 300_000
    width, height = Image.open(io.BytesIO(image.content)).size
    assert width >= 600 and (str(width), str(height)) == (
        meta["og:image:width"],
        meta["og:image:height"],
    )
    first, second = product.images
    assert first["srcset"] == f"{first['src']} 300w"  # narrower than any stored width
    assert (first["width"], first["height"]) == ("300", "200")
    assert "loading" not in first and second["loading"] == "lazy"
    widths = [int(item.split()[-1].removesuffix("w")) for item in second["srcset"].split(", ")]
    assert widths == [320, 640, 1280, 1600]
    assert (second["width"], second["height"]) == ("1600", "1000")
    assert second["sizes"]
    for url in [first["src"], *(item.split()[0] for item in second["srcset"].split(", "))]:
        assert (await client.get(url)).status_code == 200, url
    card = next(img for img in listing.images if img["alt"] == "Small photo")
    assert card["src"] == small["image_urls"][0]

    # A banner with a preview is the store's preview.
    banner = await client.post(
        "/api/users/me/banner",
        headers=ada,
        files={"banner": ("b.jpg", jpeg((1400, 500)), "image/jpeg")},
    )
    assert banner.status_code == 200, banner.text
    listing = store_page(await client.get("/s/ada"))
    assert (
        listing.meta["og:image"].endswith(".jpg") and "/media/banners/" in listing.meta["og:image"]
    )
    assert listing.images[0]["alt"] == "" and "srcset" in listing.images[0]


async def test_only_the_first_row_loads_eagerly_and_old_photo_urls_still_show(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    ada = await vendor(client, "ada@example.com")
    photo = jpeg((800, 800))
    for n in range(4):
        await photo_product(client, ada, f"p{n}", photo)
    legacy = "https://old-bucket.s3.amazonaws.com/uploads/dress.jpg"
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE products SET image_url_1 = :url WHERE name = 'p3'"), {"url": legacy}
        )
    page = store_page(await client.get("/s/ada"))
    loading = [img.get("loading") for img in page.images]
    assert loading == [None, None, "lazy", "lazy"]
    old = page.images[0]
    assert old["src"] == legacy and "srcset" not in old and "width" not in old
    assert all(img.get("width") == "800" for img in page.images[1:])
    assert page.meta["og:image"] == f"{BASE}/store-preview.jpg"


async def test_pages_of_24_and_404_for_any_other_page_number(client: httpx.AsyncClient) -> None:
    ada = await vendor(client, "ada@example.com")
    for n in range(30):
        await create_product(client, ada, name=f"item-{n:02d}")
    first = store_page(await client.get("/s/ada"))
    names = [a["href"] for a in first.anchors if a["href"].endswith("/whatsapp")]
    assert len(names) == 24
    assert "/s/ada?page=2" in first.hrefs()
    assert first.title == "Ada"
    second_response = await client.get("/s/ada?page=2")
    second = store_page(second_response)
    assert len([h for h in second.hrefs() if h.endswith("/whatsapp")]) == 6
    assert "item-00" in second_response.text and "item-29" not in second_response.text
    assert "/s/ada" in second.hrefs() and "/s/ada?page=3" not in second.hrefs()
    assert second.links["canonical"] == f"{SHARE}/s/ada?page=2"
    for query in ("page=3", "page=0", "page=-1", "page=abc", "page=1.5", "page=", "page=%201"):
        error_page(await client.get(f"/s/ada?{query}"))
    error_page(await client.get("/s/ada?page=99999999999999999999"))

    await vendor(client, "empty@example.com")
    empty_response = await client.get("/s/empty")
    empty = store_page(empty_response)
    assert "no products on show yet" in empty_response.text
    assert empty.meta["og:description"] == "0 products"
    error_page(await client.get("/s/empty?page=2"))


async def test_product_page_sold_out_and_404s(client: httpx.AsyncClient) -> None:
    ada = await vendor(client, "ada@example.com")
    bola = await vendor(client, "bola@example.com")
    shown = await photo_product(client, ada, "Two photos", jpeg((700, 500)), jpeg((640, 640)))
    sold = await create_product(client, ada, name="Gone hat", is_available=False)
    foreign = await create_product(client, bola, name="Bola's")
    page = store_page(await client.get(f"/s/ada/p/{shown['id']}"))
    assert len(page.images) == 2
    assert f"/s/ada/p/{shown['id']}/whatsapp" in page.hrefs()
    assert "/s/ada" in page.hrefs()
    sold_response = await client.get(f"/s/ADA/p/{sold['id']}")
    sold_page = store_page(sold_response)
    assert "Sold out" in sold_response.text
    assert not [h for h in sold_page.hrefs() if h.endswith("/whatsapp")]
    assert sold_page.links["canonical"] == f"{SHARE}/s/ada/p/{sold['id']}"
    for path in (
        f"/s/ada/p/{foreign['id']}",
        "/s/ada/p/product_missing",
        f"/s/nobody/p/{shown['id']}",
        "/s/nobody",
        "/s/",
        "/s",
        "/s/%20",
        "/s/" + "a" * 300,
        "/s/ada/p/" + "x" * 300,
    ):
        text_ = error_page(await client.get(path))
        assert "not found" in text_.lower(), path
    head = await client.head("/s/nobody")
    assert head.status_code == 404 and head.content == b""


async def test_hostile_vendor_text_is_shown_as_text(client: httpx.AsyncClient) -> None:
    ada = await vendor(client, "ada@example.com")
    hostile = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
    store = await client.put(
        "/api/users/me/store", headers=ada, json={"store_name": "</title><script>alert(2)</script>"}
    )
    assert store.status_code == 200, store.text
    product = await create_product(
        client, ada, name=hostile, description="'\"><svg onload=alert(3)>{{ 7*7 }}"
    )
    for path in ("/s/ada", f"/s/ada/p/{product['id']}"):
        response = await client.get(path)
        page = store_page(response)
        # The cart script's tag is the one there is.
        assert response.text.count("<script") == 1 and "<svg" not in response.text
        assert "onerror=alert(1)>" not in response.text.replace("&gt;", "")
        assert all(img.get("src") != "x" for img in page.images)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
        assert "{{ 7*7 }}" in response.text
        assert page.meta["og:title"].startswith(("</title><script>", hostile))
    response = await client.get(f"/s/ada/p/{product['id']}/whatsapp")
    message = parse_qs(urlsplit(response.headers["location"]).query)["text"][0]
    assert hostile in message


async def test_strong_etag_and_revalidation(client: httpx.AsyncClient) -> None:
    ada = await vendor(client, "ada@example.com")
    product = await create_product(client, ada, name="Bag")
    for path in ("/s/ada", f"/s/ada/p/{product['id']}"):
        response = await client.get(path)
        etag = response.headers["ETag"]
        assert etag.startswith('"') and not etag.startswith("W/")
        assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
        again = await client.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        assert again.headers["ETag"] == etag
        weak = await client.get(path, headers={"If-None-Match": f"W/{etag}"})
        assert weak.status_code == 304
    before = (await client.get("/s/ada")).headers["ETag"]
    changed = await client.put(f"/api/products/{product['id']}", headers=ada, json={"price": "7"})
    assert changed.status_code == 200
    after = await client.get("/s/ada", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert "₦7.00" in after.text


async def test_a_50_product_page_is_small(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    ada = await vendor(client, "ada@example.com")
    photo = await photo_product(client, ada, "x" * 200, jpeg((1600, 1200)))
    url = photo["image_urls"][0]
    for n in range(49):
        await create_product(client, ada, name=f"{n:02d}" + "n" * 198, description="d" * 2000)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE products SET image_url_1 = :u, image_url_2 = :u, image_url_3 = :u, "
                "image_url_4 = :u, image_url_5 = :u, description = :d"
            ),
            {"u": url, "d": "<" * 2000},
        )
    for path in ("/s/ada", "/s/ada?page=2", "/s/ada?page=3", f"/s/ada/p/{photo['id']}"):
        response = await client.get(path)
        store_page(response)
        assert len(response.content) < 100_000, (path, len(response.content))
    assert (await client.get("/s/ada?page=3")).text.count("Order on WhatsApp") == 2


async def test_order_link_counts_the_tap_once_per_client_and_opens_whatsapp(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = make_settings(
        database_url,
        PUBLIC_BASE_URL=BASE,
        SHARE_BASE_URL=SHARE,
        RATE_LIMIT_ENABLED=True,
        TRUSTED_PROXIES=["127.0.0.1"],
    )
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            ada = await vendor(client, "ada@example.com")
            bola = await vendor(client, "bola@example.com")
            product = await create_product(client, ada, name="Ankara dress", price="15000")
            sold = await create_product(client, ada, name="Gone", is_available=False)
            foreign = await create_product(client, bola, name="Other")
            path = f"/s/Ada/p/{product['id']}/whatsapp"
            shopper = {"X-Forwarded-For": "203.0.113.1"}
            for _ in range(3):
                response = await client.get(path, headers=shopper)
                assert response.status_code == 302
                assert response.headers["Cache-Control"] == "no-store"
            location = urlsplit(response.headers["location"])
            assert (location.scheme, location.netloc, location.path) == (
                "https",
                "wa.me",
                "/2348012345678",
            )
            message = unquote(location.query.removeprefix("text="))
            assert "Ankara dress" in message and "₦15,000.00" in message
            assert message.endswith(f"{SHARE}/s/ada/p/{product['id']}")
            # A HEAD is no tap; another client's tap is.
            assert (
                await client.head(path, headers={"X-Forwarded-For": "203.0.113.9"})
            ).status_code == 302
            assert (
                await client.get(path, headers={"X-Forwarded-For": "203.0.113.2"})
            ).status_code == 302
            # The same counter as track-click: a tap there after one here is not counted again.
            again = await client.post(f"/api/products/{product['id']}/track-click", headers=shopper)
            assert again.status_code == 200
            gone = await client.get(f"/s/ada/p/{sold['id']}/whatsapp", headers=shopper)
            assert gone.status_code == 303
            assert gone.headers["location"] == f"/s/ada/p/{sold['id']}"
            for missing in (
                f"/s/ada/p/{foreign['id']}/whatsapp",
                "/s/ada/p/product_missing/whatsapp",
                f"/s/nobody/p/{product['id']}/whatsapp",
            ):
                error_page(await client.get(missing, headers=shopper))
    finally:
        await application.state.engine.dispose()
    async with engine.connect() as conn:
        counts = dict((await conn.execute(text("SELECT name, click_count FROM products"))).all())
    assert counts == {"Ankara dress": 2, "Gone": 0, "Other": 0}


async def test_share_url_in_the_profile_and_the_storefront(
    client: httpx.AsyncClient, database_url: str, engine: AsyncEngine
) -> None:
    ada = await vendor(client, "ada@example.com")
    me = (await client.get("/api/users/me", headers=ada)).json()
    assert me["share_url"] == f"{SHARE}/s/ada"
    assert me["store_url"] == "http://localhost:3000/store/ada"
    store = (await client.get("/api/store/ada")).json()
    assert store["share_url"] == f"{SHARE}/s/ada"
    renamed = await client.put("/api/users/me/store", headers=ada, json={"store_slug": "ada-wax"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["share_url"] == f"{SHARE}/s/ada-wax"
    # Without SHARE_BASE_URL, links are the API's own origin.
    application = create_app(make_settings(database_url, PUBLIC_BASE_URL="https://api.example"))
    try:
        async with client_for(application) as other:
            assert (await other.get("/api/store/ada-wax")).json()["share_url"] == (
                "https://api.example/s/ada-wax"
            )
            page = store_page(await other.get("/s/ada-wax"))
            assert page.links["canonical"] == "https://api.example/s/ada-wax"
            assert page.meta["og:image"] == "https://api.example/store-preview.jpg"
    finally:
        await application.state.engine.dispose()


async def test_robots_txt(client: httpx.AsyncClient) -> None:
    response = await client.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for line in ("User-agent: *", "Allow: /s/", "Allow: /media/", "Disallow: /api/"):
        assert line in lines
    assert "Disallow: /account/" in lines
    assert (await client.head("/robots.txt")).status_code == 200


async def test_a_page_view_is_the_storefront_event(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await vendor(client, "ada@example.com")
    await create_product(client, ada)
    with caplog.at_level(logging.INFO):
        await client.get("/api/store/ada")
        await client.get("/s/ada")
    views = [r for r in caplog.records if getattr(r, "event", None) == "storefront.viewed"]
    # One line per view: the event rides on the request's access line.
    assert [(r.name, r.route, r.products) for r in views] == [  # type: ignore[attr-defined]
        ("app.access", "/api/store/{identifier}", 1),
        ("app.access", "/s/{identifier}", 1),
    ]
    assert all(r.getMessage().endswith(" storefront.viewed") for r in views)
    assert not [r for r in caplog.records if r.name == "app.events" and "viewed" in r.getMessage()]
    assert views[0].vendor_id == views[1].vendor_id  # type: ignore[attr-defined]
    assert re.fullmatch(r"user_\w+", views[1].vendor_id)  # type: ignore[attr-defined]


async def test_one_statement_a_page_whatever_the_store_size(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client, "ada@example.com")
    me = (await client.get("/api/users/me", headers=headers)).json()
    ids = await add_products(engine, me["id"], 60)
    # The reads themselves are counted here; a read reused is tests/test_store_reads.py's.
    app.state.store_reads.trust(False)
    for path in ("/s/ada", "/s/ada?page=2", f"/s/ada/p/{ids[0]}", "/s/nobody", "/s/ada?page=9"):
        for _ in range(2):  # rendered, then served again: the rows are still read each time
            async with recorded_statements(app) as statements:
                response = await client.get(path)
            assert response.status_code in (200, 404), path
            assert len(statements) == 1, (path, statements)
    async with recorded_statements(app) as statements:
        assert (await client.get("/s/ada?page=0")).status_code == 404
        assert (await client.get("/s/ada/p/" + "x" * 101)).status_code == 404
    assert statements == []


@postgres_only
async def test_store_page_statements_use_indexes_on_a_large_table(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await vendor(client, "ada@example.com")
    product_id = await add_bulk_stores(engine)
    async with recorded_statements(app) as statements:
        assert (await client.get("/s/bulk-7")).status_code == 200
        assert (await client.get("/s/bulk-7?page=3")).status_code == 200
        assert (await client.get(f"/s/bulk-7/p/{product_id}")).status_code == 200
        assert (await client.get(f"/s/bulk-7/p/{product_id}/whatsapp")).status_code == 302
    reads = [(sql, params) for sql, params in statements if "FROM users" in sql]
    assert len(reads) == 4
    async with engine.connect() as conn:
        for sql, params in reads:
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql(f"EXPLAIN {sql}", params))
            assert "Seq Scan on products" not in plan, plan


def test_rendered_pages_stay_within_their_budget() -> None:
    pages = RenderedPages(budget_bytes=100)
    for n in range(5):
        pages.put(n, "rows", Rendered(b"x" * 30, f'"{n}"'))
    assert [pages.get(n, "rows") is not None for n in range(5)] == [False, False, True, True, True]
    pages.get(2, "rows")  # used: kept ahead of 3
    pages.put(5, "rows", Rendered(b"y" * 30, '"5"'))
    assert pages.get(3, "rows") is None and pages.get(2, "rows") is not None
    too_big = Rendered(b"z" * 101, '"big"')
    assert pages.put(6, "rows", too_big) is too_big and pages.get(6, "rows") is None


def test_a_page_keeps_only_its_latest_version() -> None:
    """A page rendered again from changed rows replaces its old version (edits do not pile up
    old versions), and is served only for the rows it was rendered from."""
    pages = RenderedPages(budget_bytes=1000)
    for version in range(50):
        pages.put("store-1", ("rows", version), Rendered(b"x" * 30, f'"{version}"'))
    assert len(pages) == 1
    assert pages.get("store-1", ("rows", 48)) is None
    kept = pages.get("store-1", ("rows", 49))
    assert kept is not None and kept.etag == '"49"'
    # A version too big to keep drops the old one rather than leave it to be served.
    pages.put("store-1", ("rows", 50), Rendered(b"z" * 1001, '"50"'))
    assert len(pages) == 0


async def test_photos_in_a_bucket_preview_from_its_public_address(
    database_url: str,
    engine: AsyncEngine,
    s3_endpoint: str,  # noqa: F811 - the fixture imported above
) -> None:
    bucket = f"qv-{uuid.uuid4().hex[:16]}"
    s3 = s3_client(s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    public = f"{s3_endpoint}/{bucket}"
    settings = make_settings(
        database_url,
        PUBLIC_BASE_URL="https://api.example",
        STORAGE_BACKEND="s3",
        S3_BUCKET=bucket,
        S3_REGION="us-east-1",
        S3_ENDPOINT_URL=s3_endpoint,
        S3_PUBLIC_BASE_URL=public,
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing",
    )
    application = create_app(settings)
    try:
        async with client_for(application) as client, httpx.AsyncClient(timeout=10) as internet:
            ada = await vendor(client, "ada@example.com")
            product = await photo_product(client, ada, "Bucket dress", jpeg((1300, 900)))
            for path in ("/s/ada", f"/s/ada/p/{product['id']}"):
                response = await client.get(path, headers={"User-Agent": CRAWLERS[0]})
                page = store_page(response)
                assert s3_endpoint in response.headers["Content-Security-Policy"]
                image = page.meta["og:image"]
                assert image.startswith(f"{public}/products/") and image.endswith(".jpg")
                fetched = await internet.get(image)
                assert fetched.headers["content-type"] == "image/jpeg"
                assert len(fetched.content) < 300_000
                size = Image.open(io.BytesIO(fetched.content)).size
                assert size[0] >= 600
                assert size == (int(page.meta["og:image:width"]), int(page.meta["og:image:height"]))
                [photo] = page.images
                for candidate in photo["srcset"].split(", "):
                    url = candidate.split()[0]
                    assert url.startswith(public)
                    assert (await internet.get(url)).status_code == 200
    finally:
        await application.state.storage.close()
        await application.state.engine.dispose()
