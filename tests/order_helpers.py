"""Shared by the order tests: a store with products, and placing orders as a shopper would."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import create_product, vendor


@dataclass
class Shop:
    headers: dict[str, str]
    slug: str
    vendor_id: str
    products: list[dict[str, Any]]


async def open_shop(
    client: httpx.AsyncClient, email: str = "ada@example.com", *products: dict[str, Any]
) -> Shop:
    headers = await vendor(client, email)
    me = (await client.get("/api/users/me", headers=headers)).json()
    made = [await create_product(client, headers, **fields) for fields in products]
    return Shop(headers=headers, slug=me["store_slug"], vendor_id=me["id"], products=made)


async def place(
    client: httpx.AsyncClient,
    slug: str,
    items: list[tuple[str, int]],
    key: str | None = None,
    **fields: Any,
) -> httpx.Response:
    body = {"items": [{"product_id": pid, "quantity": qty} for pid, qty in items], **fields}
    headers = {"Idempotency-Key": key} if key is not None else None
    return await client.post(f"/api/store/{slug}/orders", json=body, headers=headers)
