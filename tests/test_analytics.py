"""Storefront analytics over the ASGI app: what is counted and what is not (the JSON storefront,
the store pages and their order link, orders), sources, visitors, taps, the report and its CSV,
Redis mode; the flush is the flusher's own, called at once."""

import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.models import AnalyticsDay, AnalyticsDayKey, AnalyticsVisitor
from tests.conftest import (
    FRONTEND,
    PASSWORD,
    create_product,
    login,
    make_settings,
    register,
    vendor,
)
from tests.order_helpers import open_shop, place

PHONE = "Mozilla/5.0 (Linux; Android 10; TECNO KE5) AppleWebKit/537.36 Chrome/119.0 Mobile"
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
LAGOS = ZoneInfo("Africa/Lagos")

ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def shoppers(app: FastAPI) -> AsyncIterator[ClientFactory]:
    """Shoppers, each with its own address (what uvicorn would report) and phone."""
    opened: list[httpx.AsyncClient] = []

    def shopper(
        address: str = "203.0.113.10", agent: str = PHONE, application: FastAPI = app
    ) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application, client=(address, 40000)),
            base_url="http://testserver",
            headers={"User-Agent": agent},
        )
        opened.append(client)
        return client

    yield shopper
    for client in opened:
        await client.aclose()


@pytest.fixture
async def make_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[Callable[..., FastAPI]]:
    """More apps on the test database (other settings, other instances), closed afterwards."""
    made: list[FastAPI] = []

    def factory(**overrides: Any) -> FastAPI:
        made.append(create_app(make_settings(database_url, **overrides)))
        return made[-1]

    yield factory
    for application in made:
        await application.state.analytics.stop()
        await application.state.engine.dispose()


async def flushed(app: FastAPI) -> None:
    assert await app.state.analytics.flush()


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    response = await client.get("/api/analytics", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def store(client: httpx.AsyncClient) -> tuple[dict[str, str], str, dict[str, Any]]:
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    product = await create_product(client, headers)
    return headers, me["store_slug"], product


def lagos_today() -> date:
    return datetime.now(UTC).astimezone(LAGOS).date()


async def test_views_sources_products_and_taps_are_counted(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, product = await store(client)
    other = await create_product(client, headers, name="Aso oke")
    ada = shoppers("203.0.113.1")
    bola = shoppers("203.0.113.2")
    chidi = shoppers("2001:db8::1")
    assert (await ada.get(f"/api/store/{slug}?ref=Instagram")).status_code == 200
    assert (await ada.get(f"/api/store/{slug}", params={"ref": "instagram"})).status_code == 200
    # The frontend's own page as Referer, or any other: the JSON storefront counts only `ref`.
    facebook = {"Referer": "https://m.facebook.com/", "Origin": FRONTEND}
    assert (await bola.get(f"/api/store/{slug}", headers=facebook)).status_code == 200
    assert (await bola.get(f"/api/store/{slug}?utm_source=WhatsApp")).status_code == 200
    assert (await chidi.get(f"/api/store/{slug}?ref=<script>&limit=5")).status_code == 200
    assert (await chidi.get(f"/api/store/{slug}?ref=ig&limit=999")).status_code == 422
    # A later page is the same visit scrolling on.
    assert (await chidi.get(f"/api/store/{slug}?ref=ig&offset=5")).status_code == 200
    for client_ in (ada, bola, chidi):
        response = await client_.get(f"/api/store/{slug}/products/{other['id']}")
        assert response.status_code == 200
    assert (await ada.get(f"/api/store/{slug}/products/{product['id']}")).status_code == 200
    for client_ in (ada, bola):
        response = await client_.post(f"/api/products/{product['id']}/track-click")
        assert response.status_code == 200
    await flushed(app)

    body = await report(client, headers)
    today = lagos_today()
    assert body["timezone"] == "Africa/Lagos"
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert body["totals"] == {
        "views": 5,
        "visitors": 3,
        "product_views": 4,
        "taps": 2,
        "orders": 0,
        "order_total": 0,
    }
    assert len(body["days"]) == 30
    assert body["days"][-1] == {"date": today.isoformat(), **body["totals"]}
    assert all(day["views"] == 0 for day in body["days"][:-1])
    assert body["products"] == [
        {"id": other["id"], "name": "Aso oke", "views": 3, "taps": 0, "orders": 0},
        {"id": product["id"], "name": "Ankara dress", "views": 1, "taps": 2, "orders": 0},
    ]
    # Product views carry their sources too (direct here): views of both kinds, visitors once.
    assert body["sources"] == [
        {"source": "direct", "views": 5, "visitors": 3},
        {"source": "instagram", "views": 2, "visitors": 1},
        {"source": "other", "views": 1, "visitors": 1},
        {"source": "whatsapp", "views": 1, "visitors": 1},
    ]
    listed = (await client.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert listed["click_count"] == body["totals"]["taps"]


async def test_robots_head_errors_and_the_vendors_own_views_are_not_counted(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, product = await store(client)
    for agent in (
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "TelegramBot (like TwitterBot)",
    ):
        robot = shoppers("198.51.100.9", agent)
        assert (await robot.get(f"/api/store/{slug}")).status_code == 200
        assert (await robot.get(f"/api/store/{slug}/products/{product['id']}")).status_code == 200
    shopper = shoppers()
    assert (await shopper.head(f"/api/store/{slug}")).status_code == 200
    assert (await shopper.get("/api/store/nobody-here")).status_code == 404
    response = await shopper.get(f"/api/store/{slug}/products/product_{'0' * 32}")
    assert response.status_code == 404
    # The vendor, by Bearer token or by cookie: the signature is enough.
    assert (await shopper.get(f"/api/store/{slug}", headers=headers)).status_code == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    own = shoppers("203.0.113.50")
    own.cookies.set("access_token", token)
    assert (await own.get(f"/api/store/{slug}/products/{product['id']}")).status_code == 200
    # Another vendor looking is a visitor like any other; a forged token changes nothing.
    await register(client, "bola@example.com")
    other_token = await login(client, "bola@example.com")
    client.cookies.clear()
    other = {"Authorization": f"Bearer {other_token}"}
    assert (await shopper.get(f"/api/store/{slug}", headers=other)).status_code == 200
    forged = {"Authorization": f"Bearer {token[:-4]}AAAA"}
    assert (await shopper.get(f"/api/store/{slug}", headers=forged)).status_code == 200
    await flushed(app)
    totals = (await report(client, headers))["totals"]
    assert (totals["views"], totals["visitors"], totals["product_views"]) == (2, 1, 0)


async def test_revalidations_count_only_for_a_visitor_not_seen_that_day(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, product = await store(client)
    ada = shoppers("203.0.113.1")
    first = await ada.get(f"/api/store/{slug}")
    etag = {"If-None-Match": first.headers["ETag"]}
    assert (await ada.get(f"/api/store/{slug}", headers=etag)).status_code == 304
    await flushed(app)
    assert (await ada.get(f"/api/store/{slug}", headers=etag)).status_code == 304
    # A browser that cached the store on another day (another visitor today) revalidates: a view.
    bola = shoppers("203.0.113.2")
    assert (await bola.get(f"/api/store/{slug}", headers=etag)).status_code == 304
    assert (await bola.get(f"/api/store/{slug}", headers=etag)).status_code == 304
    product_url = f"/api/store/{slug}/products/{product['id']}"
    product_etag = {"If-None-Match": (await ada.get(product_url)).headers["ETag"]}
    assert (await shoppers("203.0.113.3").get(product_url, headers=product_etag)).status_code == 304
    await flushed(app)
    totals = (await report(client, headers))["totals"]
    assert (totals["views"], totals["visitors"], totals["product_views"]) == (2, 3, 2)


@pytest.mark.parametrize("a_first", [True, False], ids=["A-flushed-first", "B-flushed-first"])
@pytest.mark.parametrize("mode", ["database", "redis"])
async def test_a_revalidation_on_another_worker_is_the_same_view(
    make_app: Callable[..., FastAPI], shoppers: ClientFactory, a_first: bool, mode: str
) -> None:
    """200 on worker A, then 304s on worker B before A flushed: B has not seen the visitor, but
    the visit is A's view; one view and one visitor, whichever worker flushes first."""
    redis = {"REDIS_URL": REDIS_TEST_URL} if mode == "redis" else {}
    a, b = make_app(**redis), make_app(**redis)
    owner = shoppers("192.0.2.1", application=a)
    headers, slug, product = await store(owner)
    for path in (f"/s/{slug}", f"/api/store/{slug}/products/{product['id']}"):
        first = await shoppers("203.0.113.1", application=a).get(f"{path}?ref=status")
        assert first.status_code == 200
        etag = {"If-None-Match": first.headers["ETag"]}
        again = shoppers("203.0.113.1", application=b)
        for _ in range(2):
            assert (await again.get(f"{path}?ref=status", headers=etag)).status_code == 304
    for application in (a, b) if a_first else (b, a):
        await flushed(application)
    body = await report(owner, headers)
    totals = body["totals"]
    assert (totals["views"], totals["visitors"], totals["product_views"]) == (1, 1, 1)
    assert body["sources"] == [{"source": "status", "views": 2, "visitors": 1}]
    assert [p["views"] for p in body["products"]] == [1]


@pytest.mark.parametrize("limits", [True, False], ids=["limits-on", "limits-off"])
async def test_taps_follow_click_count_and_its_dedupe(
    make_app: Callable[..., FastAPI], shoppers: ClientFactory, limits: bool
) -> None:
    """Taps through track-click and through a store page's order link: one counter, one
    dedupe per client, which is no rate limit and holds with RATE_LIMIT_ENABLED=false."""
    application = make_app(RATE_LIMIT_ENABLED=limits)
    owner = shoppers("192.0.2.1", application=application)
    headers, slug, product = await store(owner)
    hidden = await create_product(owner, headers, is_available=False)
    ada, bola, chidi = (shoppers(f"203.0.113.{n}", application=application) for n in (1, 2, 3))
    whatsapp = shoppers("198.51.100.7", "WhatsApp/2.23.20.0", application=application)
    googlebot = shoppers(
        "198.51.100.8",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        application=application,
    )
    click = f"/api/products/{product['id']}/track-click"
    link = f"/s/{slug}/p/{product['id']}/whatsapp"
    taps = [
        (ada, "POST", click, 200),
        (ada, "GET", link, 302),
        (bola, "GET", link, 302),
        (bola, "POST", click, 200),
        (ada, "GET", link, 302),
        # A HEAD is no tap, nor a crawler's or a preview's GET, nor a hidden product's tap.
        (chidi, "HEAD", link, 302),
        (whatsapp, "GET", link, 302),
        (googlebot, "GET", link, 302),
        (chidi, "POST", f"/api/products/{hidden['id']}/track-click", 404),
        (chidi, "GET", f"/s/{slug}/p/{hidden['id']}/whatsapp", 303),
    ]
    for client_, method, path, expected in taps:
        assert (await client_.request(method, path)).status_code == expected, (method, path)
    await flushed(application)
    body = await report(owner, headers)
    assert body["totals"]["taps"] == 2
    assert body["products"] == [
        {"id": product["id"], "name": "Ankara dress", "views": 0, "taps": 2, "orders": 0}
    ]
    listed = (await owner.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert listed["click_count"] == 2


async def test_visitors_are_counted_per_day_and_summed(
    make_app: Callable[..., FastAPI], shoppers: ClientFactory
) -> None:
    """UTC+14 and UTC-11 are always on different dates: the same shopper on two days."""
    east = make_app(ANALYTICS_TIMEZONE="Pacific/Kiritimati")
    west = make_app(ANALYTICS_TIMEZONE="Pacific/Pago_Pago")
    owner = shoppers("192.0.2.1", application=east)
    headers, slug, _ = await store(owner)
    for application in (east, west, east):
        shopper = shoppers("203.0.113.1", application=application)
        assert (await shopper.get(f"/api/store/{slug}")).status_code == 200
        await flushed(application)
    east_day = east.state.analytics.today()
    west_day = west.state.analytics.today()
    assert east_day - west_day in (timedelta(days=1), timedelta(days=2))
    body = await report(
        owner, headers, **{"from": west_day.isoformat(), "to": east_day.isoformat()}
    )
    assert body["timezone"] == "Pacific/Kiritimati"
    assert body["totals"]["views"] == 3
    assert body["totals"]["visitors"] == 2
    by_day = {day["date"]: (day["views"], day["visitors"]) for day in body["days"]}
    assert by_day[east_day.isoformat()] == (2, 1)
    assert by_day[west_day.isoformat()] == (1, 1)
    assert body["sources"] == [{"source": "direct", "views": 3, "visitors": 2}]


async def test_nothing_personal_is_stored_and_old_days_are_purged(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine, shoppers: ClientFactory
) -> None:
    _, slug, _ = await store(client)
    address, agent = "203.0.113.77", "Mozilla/5.0 UniqueAgent-7781"
    assert (await shoppers(address, agent).get(f"/api/store/{slug}")).status_code == 200
    long_ago = date(2020, 1, 1)
    async with engine.begin() as conn:
        await conn.execute(AnalyticsDayKey.__table__.insert().values(day=long_ago, key="ab" * 32))
        await conn.execute(AnalyticsVisitor.__table__.insert().values(day=long_ago, mark="f" * 32))
    await flushed(app)
    async with engine.connect() as conn:
        for table in ("analytics_days", "analytics_source_days", "analytics_visitors"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
            assert rows
            assert address not in repr(rows) and "UniqueAgent" not in repr(rows)
        days = set((await conn.execute(select(AnalyticsVisitor.day))).scalars())
        assert days == {lagos_today()}
        keys = set((await conn.execute(select(AnalyticsDayKey.day))).scalars())
        assert keys == {lagos_today()}


async def test_counting_off_counts_nothing(
    make_app: Callable[..., FastAPI], engine: AsyncEngine, shoppers: ClientFactory
) -> None:
    application = make_app(ANALYTICS_ENABLED=False)
    owner = shoppers("192.0.2.1", application=application)
    headers, slug, product = await store(owner)
    shopper = shoppers(application=application)
    assert (await shopper.get(f"/api/store/{slug}")).status_code == 200
    assert (await shopper.post(f"/api/products/{product['id']}/track-click")).status_code == 200
    await flushed(application)
    assert (await report(owner, headers))["totals"]["views"] == 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(AnalyticsDay)) == 0


async def test_the_report_refuses_bad_ranges_and_strangers(
    client: httpx.AsyncClient,
) -> None:
    headers = await vendor(client)
    for params in (
        {"from": "2026-13-01"},
        {"from": "yesterday"},
        {"to": "1700000000"},
        {"from": "2026-02-30", "to": "2026-03-01"},
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2025-01-01", "to": "2026-01-02"},
        {"from": "x" * 40},
        # The default 30 days before `to` would start before year 1.
        {"to": "0001-01-05"},
        {"to": "0001-01-29"},
    ):
        for path in ("/api/analytics", "/api/analytics/export.csv"):
            response = await client.get(path, headers=headers, params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["detail"]
    full_year = await report(client, headers, **{"from": "2024-01-01", "to": "2024-12-31"})
    assert len(full_year["days"]) == 366
    edges: list[tuple[str | None, str]] = [
        ("0001-01-01", "0001-01-01"),
        ("0001-01-01", "0001-01-30"),
        (None, "0001-01-30"),
        ("9999-12-01", "9999-12-31"),
    ]
    for first, last in edges:
        params = {"to": last} if first is None else {"from": first, "to": last}
        assert (await report(client, headers, **params))["days"][-1]["date"] == last
        csv = await client.get("/api/analytics/export.csv", headers=headers, params=params)
        assert csv.status_code == 200
    one_day = await report(client, headers, **{"from": "2026-03-01", "to": "2026-03-01"})
    assert [day["date"] for day in one_day["days"]] == ["2026-03-01"]
    for path in ("/api/analytics", "/api/analytics/export.csv"):
        assert (await client.get(path)).status_code == 401


async def test_the_csv_export_lists_every_day(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, _ = await store(client)
    assert (await shoppers().get(f"/api/store/{slug}")).status_code == 200
    await flushed(app)
    today = lagos_today()
    start = today - timedelta(days=2)
    response = await client.get(
        "/api/analytics/export.csv",
        headers=headers,
        params={"from": start.isoformat(), "to": today.isoformat()},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines() == [
        "date,views,visitors,product_views,taps,orders,order_total",
        f"{start.isoformat()},0,0,0,0,0,0.00",
        f"{(start + timedelta(days=1)).isoformat()},0,0,0,0,0,0.00",
        f"{today.isoformat()},1,1,0,0,0,0.00",
    ]


async def test_the_figures_go_with_the_account(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine, shoppers: ClientFactory
) -> None:
    headers, slug, _ = await store(client)
    assert (await shoppers().get(f"/api/store/{slug}")).status_code == 200
    await flushed(app)
    # A view counted after the deletion is dropped at the flush, not left behind.
    assert (await shoppers("203.0.113.9").get(f"/api/store/{slug}")).status_code == 200
    response = await client.request(
        "DELETE", "/api/users/me", headers=headers, json={"password": PASSWORD}
    )
    assert response.status_code in (200, 204), response.text
    await flushed(app)
    async with engine.connect() as conn:
        for table in ("analytics_days", "analytics_source_days", "analytics_product_days"):
            count = await conn.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
            assert count == 0, table


async def test_a_failed_flush_keeps_its_counts(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine, shoppers: ClientFactory
) -> None:
    headers, slug, _ = await store(client)
    etag = {"If-None-Match": (await shoppers().get(f"/api/store/{slug}")).headers["ETag"]}
    # A new visitor's revalidation is a view once visitors can be told apart again.
    assert (
        await shoppers("203.0.113.2").get(f"/api/store/{slug}", headers=etag)
    ).status_code == 304
    # Away before the visitors are told apart, then while the counts are written.
    for table in ("analytics_visitors", "analytics_source_days"):
        async with engine.begin() as conn:
            await conn.execute(text(f"ALTER TABLE {table} RENAME TO away"))
        try:
            assert not await app.state.analytics.flush()
        finally:
            async with engine.begin() as conn:
                await conn.execute(text(f"ALTER TABLE away RENAME TO {table}"))
    await flushed(app)
    totals = (await report(client, headers))["totals"]
    assert (totals["views"], totals["visitors"]) == (2, 2)


async def test_redis_mode_keeps_keys_and_visitors_in_redis(
    make_app: Callable[..., FastAPI], engine: AsyncEngine, shoppers: ClientFactory
) -> None:
    first, second = make_app(REDIS_URL=REDIS_TEST_URL), make_app(REDIS_URL=REDIS_TEST_URL)
    owner = shoppers("192.0.2.1", application=first)
    headers, slug, _ = await store(owner)
    # Two instances: the same shopper on each is one visitor; another shopper is another.
    for application, address in ((first, "203.0.113.1"), (second, "203.0.113.1")):
        shopper = shoppers(address, application=application)
        assert (await shopper.get(f"/api/store/{slug}?ref=ig")).status_code == 200
        await flushed(application)
    assert (
        await shoppers("203.0.113.2", application=second).get(f"/api/store/{slug}")
    ).status_code == 200
    await flushed(second)
    body = await report(owner, headers)
    assert (body["totals"]["views"], body["totals"]["visitors"]) == (3, 2)
    assert body["sources"] == [
        {"source": "ig", "views": 2, "visitors": 1},
        {"source": "direct", "views": 1, "visitors": 1},
    ]
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(AnalyticsVisitor)) == 0
        assert await conn.scalar(select(func.count()).select_from(AnalyticsDayKey)) == 0
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        day = first.state.analytics.today().isoformat()
        assert await redis.exists(f"qv:an:key:{day}")
        ttl = await redis.ttl(f"qv:an:v:{day}")
        assert 0 < ttl <= 26 * 3600
    finally:
        await redis.aclose()


async def test_the_insights_page_needs_a_session_and_shows_bad_ranges_as_a_page(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    response = await client.get("/account/insights?from=2026-01-01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/account/login?next=%2Faccount%2Finsights%3Ffrom%3D2026-01-01"
    )
    _, slug, _ = await store(client)
    await shoppers().get(f"/api/store/{slug}?ref=status")
    await flushed(app)
    login_form = {"email": "ada@example.com", "password": PASSWORD}
    response = await client.post(
        "/account/login", data=login_form, headers={"Origin": "http://testserver"}
    )
    assert response.status_code == 303
    page = await client.get("/account/insights")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count('class="bar"') == 30 and "status" in page.text
    bad = await client.get("/account/insights", params={"from": "2026-02-30"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert "`from` is not a day of the calendar" in bad.text
    assert bad.text.count('class="bar"') == 30
    too_early = await client.get("/account/insights", params={"to": "0001-01-05"})
    assert too_early.status_code == 422
    assert too_early.headers["content-type"].startswith("text/html")
    assert "`to` leaves no 30 days before it" in too_early.text


# -- the store pages (/s/...), their order link, and orders --------------------------------------


async def test_store_and_product_pages_count_views_with_their_sources(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, product = await store(client)
    other = await create_product(client, headers, name="Aso oke")
    for n in range(23):
        await create_product(client, headers, name=f"Bead {n}")  # 25 products: two pages
    page, other_page = f"/s/{slug}", f"/s/{slug}/p/{other['id']}"
    visits: list[tuple[str, str, dict[str, str]]] = [
        ("203.0.113.1", f"{page}?ref=Instagram", {}),
        ("203.0.113.2", page, {"Referer": "https://l.facebook.com/"}),
        ("203.0.113.3", page, {"Referer": "https://web.whatsapp.com/"}),
        ("203.0.113.3", f"{page}?utm_source=Status", {"Referer": "https://web.whatsapp.com/"}),
        ("203.0.113.4", page, {"Referer": "https://www.google.com.ng/search?q=ankara"}),
        ("203.0.113.5", page, {}),
        ("203.0.113.6", page, {"Referer": "https://www.tiktok.com/@ada"}),
        # The next page is the same visit going on, as the JSON storefront's later offsets.
        ("203.0.113.1", f"{page}?page=2&ref=instagram", {}),
        # From the store's own page: direct.
        ("203.0.113.1", other_page, {"Referer": f"http://testserver{page}"}),
        ("203.0.113.2", other_page, {"Referer": "https://l.instagram.com/"}),
        ("203.0.113.2", f"/s/{slug}/p/{product['id']}?ref=ig", {}),
    ]
    for address, path, extra in visits:
        response = await shoppers(address).get(path, headers=extra)
        assert response.status_code == 200, path
    for agent in (
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ):
        robot = shoppers("198.51.100.9", agent)
        for path in (page, other_page):
            assert (await robot.get(path)).status_code == 200
    looker = shoppers("203.0.113.7")
    for path in (page, other_page):
        assert (await looker.head(path)).status_code == 200
    for missing in ("/s/nobody-here", f"{page}?page=3", f"{page}?page=x", f"{page}/p/product_x"):
        assert (await looker.get(missing)).status_code == 404, missing
    # The vendor, logged in to their area, looking at their own pages: the cookie is theirs.
    own = shoppers("203.0.113.8")
    login_form = {"email": "ada@example.com", "password": PASSWORD}
    response = await own.post(
        "/account/login", data=login_form, headers={"Origin": "http://testserver"}
    )
    assert response.status_code == 303 and own.cookies.get("access_token")
    for path in (page, other_page):
        assert (await own.get(path)).status_code == 200
    await flushed(app)

    body = await report(client, headers)
    assert body["totals"] == {
        "views": 7,
        "visitors": 6,
        "product_views": 3,
        "taps": 0,
        "orders": 0,
        "order_total": 0,
    }
    assert body["products"] == [
        {"id": other["id"], "name": "Aso oke", "views": 2, "taps": 0, "orders": 0},
        {"id": product["id"], "name": "Ankara dress", "views": 1, "taps": 0, "orders": 0},
    ]
    assert body["sources"] == [
        {"source": "direct", "views": 2, "visitors": 2},
        {"source": "instagram", "views": 2, "visitors": 2},
        *(
            {"source": source, "views": 1, "visitors": 1}
            for source in ("facebook", "google", "ig", "status", "tiktok", "whatsapp")
        ),
    ]
    today = lagos_today().isoformat()
    response = await client.get(
        "/api/analytics/export.csv", headers=headers, params={"from": today, "to": today}
    )
    assert response.text.splitlines()[1:] == [f"{today},7,6,3,0,0,0.00"]


async def test_an_empty_ref_is_no_source(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, _ = await store(client)
    facebook = {"Referer": "https://l.facebook.com/"}
    visits: list[tuple[str, str, dict[str, str]]] = [
        ("203.0.113.1", f"/s/{slug}?ref=", facebook),
        ("203.0.113.2", f"/s/{slug}?utm_source=&ref=", facebook),
        ("203.0.113.3", f"/s/{slug}?ref=&utm_source=Status", facebook),
        ("203.0.113.4", f"/api/store/{slug}?ref=", facebook),
    ]
    for address, path, extra in visits:
        assert (await shoppers(address).get(path, headers=extra)).status_code == 200, path
    await flushed(app)
    sources = {row["source"]: row["views"] for row in (await report(client, headers))["sources"]}
    assert sources == {"facebook": 2, "status": 1, "direct": 1}


async def test_page_revalidations_count_only_for_a_visitor_not_seen_that_day(
    app: FastAPI, client: httpx.AsyncClient, shoppers: ClientFactory
) -> None:
    headers, slug, product = await store(client)
    page, product_page = f"/s/{slug}", f"/s/{slug}/p/{product['id']}"
    ada = shoppers("203.0.113.1")
    first = await ada.get(page)
    etag = {"If-None-Match": first.headers["ETag"]}
    assert (await ada.get(page, headers=etag)).status_code == 304
    await flushed(app)
    assert (await ada.get(page, headers=etag)).status_code == 304
    # The page rendered once is served again to the next shopper: a view like any other.
    again = await shoppers("203.0.113.2").get(page)
    assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"]
    # A browser that kept the page from another day (a new visitor today) revalidates: a view.
    chidi = shoppers("203.0.113.3")
    for _ in range(2):
        assert (await chidi.get(page, headers=etag)).status_code == 304
    product_etag = {"If-None-Match": (await ada.get(product_page)).headers["ETag"]}
    assert (await ada.get(product_page, headers=product_etag)).status_code == 304
    dayo = shoppers("203.0.113.4")
    assert (await dayo.get(product_page, headers=product_etag)).status_code == 304
    await flushed(app)
    totals = (await report(client, headers))["totals"]
    assert (totals["views"], totals["visitors"], totals["product_views"]) == (3, 4, 2)


async def test_orders_created_are_counted_with_their_total_and_products(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    shop = await open_shop(
        client,
        "ada@example.com",
        {"name": "Ankara tote", "price": "12500"},
        {"name": "Adire dress", "price": "1999.99"},
    )
    tote, dress = shop.products
    items = [(tote["id"], 2), (dress["id"], 1)]
    first = await place(client, shop.slug, items, key="cart-1")
    replay = await place(client, shop.slug, items, key="cart-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert (await place(client, shop.slug, [(tote["id"], 1)])).status_code == 201
    # Refused orders are no orders.
    assert (await place(client, shop.slug, [(dress["id"], 1)], key="cart-1")).status_code == 409
    assert (await place(client, shop.slug, [("product_x", 1)])).status_code == 422
    await flushed(app)
    body = await report(client, shop.headers)
    assert (body["totals"]["orders"], body["totals"]["order_total"]) == (2, 39499.99)
    assert body["products"] == [
        {"id": tote["id"], "name": "Ankara tote", "views": 0, "taps": 0, "orders": 2},
        {"id": dress["id"], "name": "Adire dress", "views": 0, "taps": 0, "orders": 1},
    ]
    today = lagos_today().isoformat()
    response = await client.get(
        "/api/analytics/export.csv", headers=shop.headers, params={"from": today, "to": today}
    )
    assert response.text.splitlines()[1:] == [f"{today},0,0,0,0,2,39499.99"]
