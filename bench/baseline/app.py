"""The plain reference: Starlette + asyncpg + orjson, each hot path in one query.

Run by bench/speed.py next to the real server, on the same data, as the yardstick for
QuickVendor's hot paths: the fastest plain implementation of the same answers is the honest
limit. The storefront's body is byte for byte QuickVendor's (tests/test_bench_baseline.py); the
vendor's product list verifies the same token with PyJWT on every request and checks the session
and reads the page in one statement. BASELINE_DSN names the database (a plain postgresql://
URL), BASELINE_SECRET_KEY the key the server signs its tokens with.
"""

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STOREFRONT = """
SELECT u.id AS vendor_id, u.store_name, u.email, u.whatsapp_number, u.banner_url, u.store_slug,
       p.id, p.name, p.price, p.image_url_1, p.image_url_2, p.image_url_3, p.image_url_4,
       p.image_url_5, p.description, p.is_available, p.stock
FROM users u
LEFT JOIN products p ON p.user_id = u.id AND p.is_available
WHERE u.store_slug = $1
ORDER BY p.created_at DESC, p.id DESC
LIMIT 200
"""
OWN_PRODUCTS = """
SELECT p.id, p.name, p.description, p.price, p.image_url_1, p.image_url_2, p.image_url_3,
       p.image_url_4, p.image_url_5, p.is_available, p.stock, p.click_count, p.user_id,
       p.created_at, p.updated_at, count(p.id) OVER () AS total
FROM users u
JOIN sessions s ON s.user_id = u.id AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
LEFT JOIN products p ON p.user_id = u.id
WHERE u.id = $1
ORDER BY p.created_at DESC, p.id DESC
LIMIT 200
"""
NON_SLUG = re.compile(r"[^a-z0-9]+")
# The storefront's share_url: <SHARE_BASE_URL>/s/<slug>, the same base as the real server's.
SHARE_BASE_URL = os.environ.get("SHARE_BASE_URL", "https://bench.example")
JSON = "application/json"
UNAUTHORIZED = Response(b'{"detail":"Not authenticated"}', 401, media_type=JSON)


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def money(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def vendor_name(row: asyncpg.Record) -> str:
    if row["store_name"]:
        return str(row["store_name"])
    local = row["email"].split("@", 1)[0]
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


def photos(row: asyncpg.Record) -> dict[str, Any]:
    urls = (row["image_url_1"], row["image_url_2"], row["image_url_3"], row["image_url_4"],
            row["image_url_5"])  # fmt: skip
    return {
        "image_urls": [url for url in urls if url],
        "images": [{"slot": n, "url": url} for n, url in enumerate(urls, 1) if url],
    }


async def storefront(request: Request) -> Response:
    slug = NON_SLUG.sub("-", request.path_params["identifier"].lower()).strip("-")
    rows = await request.app.state.pool.fetch(STOREFRONT, slug)
    if not rows:
        return Response(b'{"detail":"Store not found"}', 404, media_type=JSON)
    products = [
        {
            "id": row["id"],
            "name": row["name"],
            "price": money(row["price"]),
            **photos(row),
            "description": row["description"],
            "is_available": row["is_available"],
            "sold_out": row["stock"] == 0,
        }
        for row in rows
        if row["id"] is not None
    ]
    first = rows[0]
    body = {
        "vendor_name": vendor_name(first),
        "store_name": first["store_name"],
        "whatsapp_number": first["whatsapp_number"],
        "banner_url": first["banner_url"],
        "store_slug": first["store_slug"],
        "share_url": f"{SHARE_BASE_URL}/s/{first['store_slug']}",
        "products": products,
    }
    return Response(dumps(body), media_type=JSON)


async def own_products(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return UNAUTHORIZED
    try:
        claims = jwt.decode(
            token,
            request.app.state.secret,
            algorithms=["HS256"],
            audience="quickvendor-web",
            issuer="quickvendor-api",
            options={"require": ["sub", "sid", "iat", "exp", "iss", "aud"]},
        )
    except jwt.PyJWTError:
        return UNAUTHORIZED
    rows = await request.app.state.pool.fetch(
        OWN_PRODUCTS, claims["sub"], claims["sid"], datetime.now(UTC)
    )
    if not rows:
        return UNAUTHORIZED
    items = [
        {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "price": money(row["price"]),
            **photos(row),
            "is_available": row["is_available"],
            "stock": row["stock"],
            "click_count": row["click_count"],
            "user_id": row["user_id"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        for row in rows
        if row["id"] is not None
    ]
    total = str(rows[0]["total"])
    return Response(dumps(items), media_type=JSON, headers={"X-Total-Count": total})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.secret = os.environ.get("BASELINE_SECRET_KEY", "")
    app.state.pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=5, max_size=10)
    yield
    await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/api/store/{identifier}", storefront),
        Route("/api/products", own_products),
    ],
    lifespan=lifespan,
)
