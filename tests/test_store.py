"""The public storefront shoppers open from a shared link."""

import httpx

from tests.conftest import create_product, register, vendor


async def test_storefront_shows_available_products_newest_first(
    client: httpx.AsyncClient,
) -> None:
    headers = await vendor(client, "ada.fabrics@example.com")
    await create_product(client, headers, name="old", price="100")
    await create_product(client, headers, name="hidden", is_available=False)
    await create_product(client, headers, name="new", price="2500.5", description="Silk")
    response = await client.get("/api/store/ada-fabrics")
    assert response.status_code == 200
    body = response.json()
    assert body["vendor_name"] == "Ada Fabrics"
    assert body["whatsapp_number"] == "2348012345678"
    assert body["store_slug"] == "ada-fabrics"
    assert body["banner_url"] is None
    assert [p["name"] for p in body["products"]] == ["new", "old"]
    first = body["products"][0]
    assert set(first) >= {"id", "name", "price", "image_urls", "description", "is_available"}
    assert first["price"] == 2500.5
    assert first["is_available"] is True
    assert response.headers["X-Total-Count"] == "2"
    assert "ada.fabrics@example.com" not in response.text
    assert "email" not in response.text


async def test_storefront_identifier_is_normalised_like_slugs(client: httpx.AsyncClient) -> None:
    await register(client, "Ada.Fabrics_NG@example.com")
    for identifier in ("ada-fabrics-ng", "Ada.Fabrics_NG", "ADA-FABRICS-NG", "ada_fabrics.ng"):
        response = await client.get(f"/api/store/{identifier}")
        assert response.status_code == 200, identifier
        assert response.json()["vendor_name"] == "Ada Fabrics Ng"


async def test_unknown_store_is_404(client: httpx.AsyncClient) -> None:
    for identifier in ("nobody", "...", "%20"):
        response = await client.get(f"/api/store/{identifier}")
        assert response.status_code == 404
        assert response.json()["detail"] == "Store not found"


async def test_storefront_pagination(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada@example.com")
    for i in range(4):
        await create_product(client, headers, name=f"p{i}")
    page = await client.get("/api/store/ada?limit=2&offset=2")
    assert [p["name"] for p in page.json()["products"]] == ["p1", "p0"]
    assert page.headers["X-Total-Count"] == "4"
    past = await client.get("/api/store/ada?limit=2&offset=10")
    assert past.json()["products"] == []
    assert past.headers["X-Total-Count"] == "4"
    assert (await client.get("/api/store/ada?limit=501")).status_code == 422


async def test_single_store_product(client: httpx.AsyncClient) -> None:
    ada = await vendor(client, "ada@example.com")
    bola = await vendor(client, "bola@example.com")
    product = await create_product(client, ada, name="Bag", price="99.99")
    hidden = await create_product(client, ada, is_available=False)
    foreign = await create_product(client, bola)
    response = await client.get(f"/api/store/ada/products/{product['id']}")
    assert response.status_code == 200
    assert response.json()["name"] == "Bag"
    assert response.json()["price"] == 99.99
    for path in (
        f"/api/store/ada/products/{hidden['id']}",
        f"/api/store/ada/products/{foreign['id']}",
        f"/api/store/nobody/products/{product['id']}",
    ):
        assert (await client.get(path)).status_code == 404


async def test_store_name_replaces_the_default_vendor_name(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada_b-c.d@example.com")
    assert (await client.get("/api/store/ada-b-c-d")).json()["vendor_name"] == "Ada B C D"
    await client.put("/api/users/me/store", json={"store_name": "Mama Put"}, headers=headers)
    assert (await client.get("/api/store/ada-b-c-d")).json()["vendor_name"] == "Mama Put"
