"""Each stored photo's widths (320, 640, 1280 px WebP) and JPEG link preview: made at upload,
recorded in `photos`, read by `photo_details`, removed with their photo (issue 15, item 3).

Both storage backends, as in tests/test_photos.py (tests/images/conftest.py).
"""

import io
import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services.photos import PhotoDetails, Variant, photo_details
from app.settings import Settings
from tests.conftest import PASSWORD, create_product, vendor
from tests.images import samples
from tests.images.samples import jpeg_photo
from tests.test_hot_path_queries import recorded_statements
from tests.test_photos import LEGACY_URL, key, product_with_photos, upload_photo

PREVIEW_MAX_BYTES = 300_000


def transparent_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    samples.photo_like(size).convert("RGBA").save(out, "PNG")
    return out.getvalue()


async def details(app: FastAPI, urls: list[str]) -> dict[str, PhotoDetails]:
    async with app.state.reader.connect() as db:
        return await photo_details(db, urls)


async def fetched(fetch: Callable[..., Any], url: str, content_type: str) -> Image.Image:
    response = await fetch(url)
    assert response.status_code == 200, url
    assert response.headers["content-type"] == content_type
    assert "immutable" in response.headers["cache-control"]
    image = Image.open(io.BytesIO(response.content))
    image.load()
    image.info["bytes"] = len(response.content)
    return image


async def photo_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT * FROM photos ORDER BY url"))
        rows = [dict(row._mapping) for row in result]
    for row in rows:
        if isinstance(row["variants"], str):
            row["variants"] = json.loads(row["variants"])
    return rows


def files_of(settings: Settings, found: PhotoDetails, url: str) -> set[str]:
    urls = {url, *(variant.url for variant in found.variants)}
    if found.preview:
        urls.add(found.preview.url)
    return {key(settings, item) for item in urls}


async def test_upload_stores_widths_and_a_preview(
    client: httpx.AsyncClient,
    app: FastAPI,
    engine: AsyncEngine,
    settings: Settings,
    keys: Callable[[], set[str]],
    fetch: Callable[..., Any],
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(
        client, headers, "Wrapper", image_1=jpeg_photo((2400, 1200))
    )
    url = product["image_urls"][0]
    assert product["images"] == [{"slot": 1, "url": url}]  # the response is unchanged
    found = (await details(app, [url]))[url]
    assert (found.width, found.height) == (1600, 800)
    assert [(item.width, item.height) for item in found.variants] == [
        (320, 160),
        (640, 320),
        (1280, 640),
    ]
    assert all(item.bytes is None for item in found.variants)
    assert found.preview is not None
    assert (found.preview.width, found.preview.height) == (1200, 600)
    assert found.preview.bytes is not None and found.preview.bytes < PREVIEW_MAX_BYTES

    # The files are what the row says, next to the original and named after it.
    assert keys() == files_of(settings, found, url)
    original_name = key(settings, url).rsplit(".", 1)[0]
    for variant in found.variants:
        assert key(settings, variant.url).startswith(f"{original_name}-{variant.width}w-")
        image = await fetched(fetch, variant.url, "image/webp")
        assert (image.format, image.size) == ("WEBP", (variant.width, variant.height))
    preview = await fetched(fetch, found.preview.url, "image/jpeg")
    assert (preview.format, preview.size, preview.mode) == ("JPEG", (1200, 600), "RGB")
    assert preview.info["bytes"] == found.preview.bytes
    assert "exif" not in preview.info and "icc_profile" not in preview.info

    # The row, as contract 3 of HELPERS.md has it.
    [row] = await photo_rows(engine)
    assert row["url"] == url
    assert (row["width"], row["height"]) == (1600, 800)
    assert row["variants"] == [
        {"width": item.width, "height": item.height, "url": item.url} for item in found.variants
    ]
    assert (row["preview_url"], row["preview_width"], row["preview_height"]) == (
        found.preview.url,
        1200,
        600,
    )
    assert row["preview_bytes"] == found.preview.bytes
    assert row["created_at"] is not None


async def test_small_photos_get_only_the_widths_they_have(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    keys: Callable[[], set[str]],
) -> None:
    headers = await vendor(client)
    sizes = {1: (300, 200), 2: (500, 400), 3: (640, 480), 4: (700, 300)}
    product = await product_with_photos(
        client,
        headers,
        "Beads",
        **{f"image_{slot}": jpeg_photo(size) for slot, size in sizes.items()},
    )
    urls = product["image_urls"]
    found = await details(app, urls)
    widths = [[item.width for item in found[url].variants] for url in urls]
    assert widths == [[], [320], [320, 640], [320, 640]]
    # A width the original already has is the original itself, not a second file.
    assert found[urls[2]].variants[1] == Variant(640, 480, urls[2], None)
    previews = [found[url].preview for url in urls]
    assert previews[:2] == [None, None]  # narrower than 600 px: no link preview
    assert [(item.width, item.height) for item in previews[2:] if item] == [(640, 480), (700, 300)]
    expected = set().union(*(files_of(settings, found[url], url) for url in urls))
    assert keys() == expected


async def test_the_preview_steps_its_quality_down_to_fit(
    client: httpx.AsyncClient, app: FastAPI, fetch: Callable[..., Any]
) -> None:
    headers = await vendor(client)
    noisy = jpeg_photo((1600, 1600), noise=40)
    product = await product_with_photos(client, headers, "Static", image_1=noisy)
    url = product["image_urls"][0]
    preview = (await details(app, [url]))[url].preview
    assert preview is not None
    assert preview.width == 1200
    assert preview.bytes is not None and preview.bytes < PREVIEW_MAX_BYTES
    # At the first quality tried, the same picture would not have fitted.
    image = await fetched(fetch, preview.url, "image/jpeg")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    assert out.tell() > PREVIEW_MAX_BYTES


async def test_a_50_megapixel_phone_photo(
    client: httpx.AsyncClient, app: FastAPI, fetch: Callable[..., Any]
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    response = await upload_photo(client, headers, product["id"], 1, samples.phone_jpeg())
    assert response.status_code == 200, response.text
    url = response.json()["image_urls"][0]
    found = (await details(app, [url]))[url]
    # Decoded at 1/4 scale in draft mode, turned upright (EXIF orientation 6), long side 1600.
    assert (found.width, found.height) == (1200, 1600)
    assert [item.width for item in found.variants] == [320, 640]
    assert found.preview is not None and (found.preview.width, found.preview.height) == (1200, 1600)
    assert found.preview.bytes is not None and found.preview.bytes < PREVIEW_MAX_BYTES
    stored = await fetched(fetch, url, "image/webp")
    assert not stored.getexif()


async def test_photo_details_reads_one_statement_and_skips_unknown_urls(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(
        client, headers, "Bag", image_1=jpeg_photo((900, 600)), image_2=jpeg_photo((1300, 1000))
    )
    first, second = product["image_urls"]
    await details(app, [first])  # a first connection runs the driver's own set-up statements
    async with recorded_statements(app) as statements:
        found = await details(app, [second, LEGACY_URL, first, second, "", f"{first}-not-stored"])
    assert len(statements) == 1
    assert set(found) == {first, second}  # the earlier backend's URL is simply absent
    assert found[first].width == 900
    assert await details(app, []) == {}


async def test_sizes_are_removed_with_their_photo(
    client: httpx.AsyncClient,
    app: FastAPI,
    engine: AsyncEngine,
    settings: Settings,
    keys: Callable[[], set[str]],
) -> None:
    headers = await vendor(client)
    first, second = jpeg_photo((1400, 1000)), jpeg_photo((1000, 1400))
    product = await product_with_photos(client, headers, "Pot", image_1=first, image_3=first)
    shared = product["image_urls"][0]
    found = await details(app, [shared])
    assert keys() == files_of(settings, found[shared], shared)

    # The same photo in two slots: one row, one set of files, kept while a slot holds it.
    assert len(await photo_rows(engine)) == 1
    await client.delete(f"/api/products/{product['id']}/images/1", headers=headers)
    assert keys() == files_of(settings, found[shared], shared)

    # Replaced: the old photo's widths, preview and row go, the new one's are there.
    response = await upload_photo(client, headers, product["id"], 3, second)
    assert response.status_code == 200, response.text
    replacement = response.json()["image_urls"][0]
    now = await details(app, [shared, replacement])
    assert set(now) == {replacement}
    assert keys() == files_of(settings, now[replacement], replacement)
    assert [row["url"] for row in await photo_rows(engine)] == [replacement]

    # Uploaded again elsewhere: still one row and one set of files.
    other = await product_with_photos(client, headers, "Pot 2", image_2=second)
    assert other["image_urls"] == [replacement]
    assert len(await photo_rows(engine)) == 1
    assert keys() == files_of(settings, now[replacement], replacement)

    await client.delete(f"/api/products/{product['id']}", headers=headers)
    assert len(await photo_rows(engine)) == 1  # the other product still shows it
    await client.delete(f"/api/products/{other['id']}/images/2", headers=headers)
    assert keys() == set()
    assert await photo_rows(engine) == []


async def test_banner_sizes_and_the_account_going(
    client: httpx.AsyncClient,
    app: FastAPI,
    engine: AsyncEngine,
    settings: Settings,
    keys: Callable[[], set[str]],
) -> None:
    headers = await vendor(client)
    other = await vendor(client, "bola@example.com")
    kept = await product_with_photos(client, other, "Kept", image_1=jpeg_photo((800, 800)))
    kept_files = keys()

    response = await client.post(
        "/api/users/me/banner",
        headers=headers,
        files={"banner": ("b.jpg", jpeg_photo((2000, 700)), "image/jpeg")},
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"message", "banner_url"}
    banner = response.json()["banner_url"]
    found = (await details(app, [banner]))[banner]
    assert [item.width for item in found.variants] == [320, 640, 1280]
    assert found.preview is not None and found.preview.width == 1200
    assert keys() == kept_files | files_of(settings, found, banner)

    response = await client.post(
        "/api/users/me/banner",
        headers=headers,
        files={"banner": ("b.png", transparent_png((900, 500)), "image/png")},
    )
    replacement = response.json()["banner_url"]
    found = (await details(app, [replacement]))[replacement]
    assert keys() == kept_files | files_of(settings, found, replacement)
    await product_with_photos(client, headers, "Mine", image_1=jpeg_photo((1500, 900)))

    response = await client.request(
        "DELETE", "/api/users/me", headers=headers, json={"password": PASSWORD}
    )
    assert response.status_code == 204, response.text
    assert keys() == kept_files
    assert [row["url"] for row in await photo_rows(engine)] == kept["image_urls"]


REFUSING_TRIGGER = {
    "postgresql": [
        "CREATE FUNCTION qv_refuse_product() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER qv_refuse BEFORE INSERT ON products FOR EACH ROW "
        "WHEN (NEW.name = 'Refused') EXECUTE FUNCTION qv_refuse_product()",
    ],
    "sqlite": [
        "CREATE TRIGGER qv_refuse BEFORE INSERT ON products WHEN NEW.name = 'Refused' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    ],
}
DROP_TRIGGER = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS qv_refuse ON products",
        "DROP FUNCTION IF EXISTS qv_refuse_product()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS qv_refuse"],
}


async def test_a_failed_commit_leaves_no_file_behind(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    keys: Callable[[], set[str]],
) -> None:
    """The database refuses the product at commit: its photo's widths and preview go too."""
    headers = await vendor(client)
    kept = await product_with_photos(client, headers, "Kept", image_1=jpeg_photo((1300, 900)))
    kept_files = keys()
    async with engine.begin() as conn:
        for statement in REFUSING_TRIGGER[engine.dialect.name]:
            await conn.execute(text(statement))
    try:
        response = await client.post(
            "/api/products",
            headers=headers,
            data={"name": "Refused", "price": "100"},
            files={
                "image_1": ("a.jpg", jpeg_photo((1400, 1000)), "image/jpeg"),
                "image_2": ("b.jpg", jpeg_photo((1300, 900)), "image/jpeg"),  # also in "Kept"
            },
        )
    finally:
        async with engine.begin() as conn:
            for statement in DROP_TRIGGER[engine.dialect.name]:
                await conn.execute(text(statement))
    assert response.status_code == 500, response.text
    assert keys() == kept_files
    assert [row["url"] for row in await photo_rows(engine)] == kept["image_urls"]
