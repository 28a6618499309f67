"""The bare reference: Starlette + asyncpg serving the storefront JSON with one query.

Run by bench/speed.py next to the real server, on the same data, as the yardstick for
QuickVendor's hot paths. BASELINE_DSN names the database (a plain postgresql:// URL).
"""

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

QUERY = """
SELECT u.store_name, u.email, u.whatsapp_number, u.banner_url, u.store_slug,
       p.id, p.name, p.price, p.image_url_1, p.image_url_2, p.image_url_3, p.image_url_4,
       p.image_url_5, p.description, p.is_available
FROM users u
LEFT JOIN products p ON p.user_id = u.id AND p.is_available
WHERE u.store_slug = $1
ORDER BY p.created_at DESC, p.id DESC
LIMIT 200
"""
NON_SLUG = re.compile(r"[^a-z0-9]+")
# The storefront's share_url: <SHARE_BASE_URL>/s/<slug>, the same base as the real server's.
SHARE_BASE_URL = os.environ.get("SHARE_BASE_URL", "https://bench.example")


def money(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def vendor_name(row: asyncpg.Record) -> str:
    if row["store_name"]:
        return str(row["store_name"])
    local = row["email"].split("@", 1)[0]
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


async def storefront(request: Request) -> JSONResponse:
    slug = NON_SLUG.sub("-", request.path_params["identifier"].lower()).strip("-")
    rows = await request.app.state.pool.fetch(QUERY, slug)
    if not rows:
        return JSONResponse({"detail": "Store not found"}, status_code=404)
    first = rows[0]
    products: list[dict[str, Any]] = [
        {
            "id": row["id"],
            "name": row["name"],
            "price": money(row["price"]),
            "image_urls": [row[f"image_url_{n}"] for n in range(1, 6) if row[f"image_url_{n}"]],
            "images": [
                {"slot": n, "url": row[f"image_url_{n}"]}
                for n in range(1, 6)
                if row[f"image_url_{n}"]
            ],
            "description": row["description"],
            "is_available": row["is_available"],
        }
        for row in rows
        if row["id"] is not None
    ]
    body = {
        "vendor_name": vendor_name(first),
        "store_name": first["store_name"],
        "whatsapp_number": first["whatsapp_number"],
        "banner_url": first["banner_url"],
        "store_slug": first["store_slug"],
        "share_url": f"{SHARE_BASE_URL}/s/{first['store_slug']}",
        "products": products,
    }
    return JSONResponse(body)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=5, max_size=10)
    yield
    await app.state.pool.close()


app = Starlette(routes=[Route("/api/store/{identifier}", storefront)], lifespan=lifespan)
