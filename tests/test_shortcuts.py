"""The hot GET routes' shortcut serves the plain case; everything else gets FastAPI's answer."""

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response

from app.fastpath.shortcuts import ShortcutError, ShortcutRoute, fast_get, install_shortcuts
from app.main import create_app
from app.settings import Settings
from tests.conftest import create_product, vendor


def shortcut(app: FastAPI, path: str) -> ShortcutRoute:
    return next(r for r in app.router.routes if isinstance(r, ShortcutRoute) and r.path == path)


@pytest.mark.parametrize(
    ("query", "page"),
    [
        (b"", {"limit": 200, "offset": 0}),
        (b"limit=5&offset=10", {"limit": 5, "offset": 10}),
        (b"utm_source=whatsapp&limit=3", {"limit": 3, "offset": 0}),
        (b"%6Cimit=4", {"limit": 4, "offset": 0}),
        (b"limit=500&offset=10000000", {"limit": 500, "offset": 10_000_000}),
        (b"limit=0", None),
        (b"limit=501", None),
        (b"offset=10000001", None),
        (b"limit=-1", None),
        (b"limit=+5", None),
        (b"limit=5&limit=6", None),
        (b"limit=", None),
        (b"limit=%D9%A1", None),  # an Arabic-Indic digit: FastAPI decides
        (b"offset=99999999999999999999", None),
    ],
)
def test_plain_page(settings: Settings, query: bytes, page: dict[str, int] | None) -> None:
    # Read from the storefront route's own Limit and Offset declarations.
    store = shortcut(create_app(settings), "/api/store/{identifier}")
    assert store.plain_query(query) == page


async def test_what_the_shortcut_declines_gets_fastapis_answer(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    await create_product(client, headers)
    for path in ("/api/store/ada", "/api/products"):
        for query in ("limit=0", "limit=abc", "offset=-1", "limit=501"):
            response = await client.get(f"{path}?{query}", headers=headers)
            assert response.status_code == 422, (path, query, response.text)
            body = response.json()
            assert body["detail"].startswith(query.split("=")[0]) and body["errors"]
        assert (await client.get(f"{path}?limit=007", headers=headers)).status_code == 200
        assert (await client.get(f"{path}?limit=1&limit=2", headers=headers)).status_code == 200
        assert (await client.post(path, headers=headers, json={})).status_code != 200
        # HEAD reaches the routes as a GET (app/http/head.py): the same answer, without the body.
        head = await client.head(path, headers=headers)
        assert (head.status_code, head.content) == (200, b"")
    long_name = "a" * 201
    too_long = await client.get(f"/api/store/{long_name}")
    assert too_long.status_code == 422 and "identifier" in too_long.json()["detail"]
    assert (await client.get(f"/api/store/{'a' * 200}")).status_code == 404
    product = (await client.get("/api/products", headers=headers)).json()[0]["id"]
    too_long_id = await client.get(f"/api/store/ada/products/{product}{'x' * 100}")
    assert too_long_id.status_code == 422 and "product_id" in too_long_id.json()["detail"]


async def test_the_plain_case_is_served_with_the_usual_headers(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    await create_product(client, headers)
    store = await client.get("/api/store/ada?utm_source=whatsapp", headers={"Origin": "x"})
    assert store.status_code == 200 and len(store.json()["products"]) == 1
    for name in ("ETag", "X-Request-ID", "X-Content-Type-Options", "X-Total-Count"):
        assert store.headers[name], name
    assert store.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    again = await client.get("/api/store/ada", headers={"If-None-Match": store.headers["ETag"]})
    assert again.status_code == 304
    own = await client.get("/api/products", headers=headers)
    assert own.headers["Cache-Control"] == "private, no-store"
    assert (await client.get("/api/products")).status_code == 401


def test_every_hot_route_has_its_shortcut(settings: Settings) -> None:
    app = create_app(settings)
    installed = {r.path for r in app.router.routes if isinstance(r, ShortcutRoute)}
    assert installed == {
        "/api/store/{identifier}",
        "/api/store/{identifier}/products/{product_id}",
        "/api/products",
        "/s/{identifier}",
        "/s/{identifier}/p/{product_id}",
    }


async def _lookup() -> str:
    return "x"


def _app_with(endpoint_router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(endpoint_router)
    install_shortcuts(app)
    return app


async def with_dependency(request: Request, value: Annotated[str, Depends(_lookup)]) -> Response:
    return Response(value)


async def with_header(request: Request, value: Annotated[str | None, Header()] = None) -> Response:
    return Response(value)


async def with_pattern(value: Annotated[str, Path(pattern="^[a-z]+$")]) -> Response:
    return Response(value)


async def with_text_query(value: Annotated[str, Query()] = "") -> Response:
    return Response(value)


async def with_unbounded_int(value: Annotated[int, Query()] = 0) -> Response:
    return Response(str(value))


@pytest.mark.parametrize(
    "endpoint",
    [with_dependency, with_header, with_pattern, with_text_query, with_unbounded_int],
)
def test_a_shortcut_refuses_what_it_cannot_honour_at_startup(endpoint: object) -> None:
    """A new dependency, a header, a path pattern or a query rule it does not know is refused
    when the app starts, rather than skipped on the fast path."""
    router = APIRouter()
    fast_get(router, "/x/{value}" if endpoint is with_pattern else "/x")(endpoint)  # type: ignore[arg-type]
    with pytest.raises(ShortcutError):
        _app_with(router)


def test_a_shortcut_refuses_an_endpoint_that_returns_a_model() -> None:
    router = APIRouter()

    @fast_get(router, "/x")
    async def endpoint(request: Request) -> dict[str, str]:  # type: ignore[type-var]
        return {}

    with pytest.raises(ShortcutError, match="must return a Response"):
        _app_with(router)


async def test_a_plain_fast_route_serves_through_its_shortcut() -> None:
    router = APIRouter()

    @fast_get(router, "/items/{name}")
    async def item(
        name: Annotated[str, Path(max_length=5)],
        request: Request,
        size: Annotated[int, Query(ge=1, le=9)] = 3,
    ) -> Response:
        via = "shortcut" if isinstance(request.scope["route"], ShortcutRoute) else "fastapi"
        return Response(f"{name} {size} {via}")

    app = _app_with(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/items/abc")).text == "abc 3 shortcut"
        assert (await c.get("/items/abc?size=9")).text == "abc 9 shortcut"
        assert (await c.get("/items/abcdef")).status_code == 422
        assert (await c.get("/items/abc?size=10")).status_code == 422
        assert (await c.get("/items/abc?size=1&size=2")).text == "abc 2 fastapi"
