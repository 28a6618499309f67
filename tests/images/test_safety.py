"""Hostile and awkward images (issue 12, items 4 and 10): refused before they cost memory or CPU,
or stored with only what a browser needs. Memory itself is measured in test_memory.py, against a
real uvicorn worker.
"""

import asyncio
import io
import threading
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import create_product, vendor
from tests.images import samples
from tests.test_photos import inspect, product_with_photos, upload_photo

SCAN_LIMIT = 32  # app/images/decode.py


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("bomb", "detail"),
    [
        (
            samples.palette_bomb,
            "Image is too large: 7071x7071 pixels (a PNG image may have at most 16,000,000 pixels)",
        ),
        (
            samples.rgba_bomb,
            "Image is too large: 7071x7071 pixels (a PNG image may have at most 16,000,000 pixels)",
        ),
        (
            lambda: encoded(Image.new("RGB", (2100, 2000)), "WEBP"),
            "Image is too large: 2100x2000 pixels (a WebP image may have at most 4,000,000 pixels)",
        ),
        (
            lambda: encoded(Image.new("RGB", (4100, 4000)), "JPEG", progressive=True),
            "Image is too large: 4100x4000 pixels "
            "(a progressive JPEG may have at most 16,000,000 pixels)",
        ),
        (
            lambda: samples.png_header_only(20_000, 20_000),
            "Image is too large (a JPEG may have at most 100,000,000 pixels, "
            "another image 16,000,000)",
        ),
    ],
    ids=["palette-png", "rgba-png", "webp", "progressive-jpeg", "beyond-pillow-s-own-limit"],
)
async def test_bombs_are_refused_before_they_are_decoded(
    client: httpx.AsyncClient,
    keys: Callable[[], set[str]],
    bomb: Callable[[], bytes],
    detail: str,
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(client, headers, "Rug", image_1=samples.jpeg_photo())
    before = keys()
    response = await upload_photo(client, headers, product["id"], 1, bomb())
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == detail
    assert response.json()["request_id"]
    after = (await client.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert after["image_urls"] == product["image_urls"]
    assert keys() == before


async def test_a_baseline_jpeg_is_decoded_in_draft_mode_beyond_the_full_decode_limit(
    client: httpx.AsyncClient, fetch: Callable[..., Any]
) -> None:
    """The same 16.4 megapixels a progressive JPEG may not have (it needs them all in memory)."""
    headers = await vendor(client)
    product = await create_product(client, headers)
    baseline = encoded(Image.new("RGB", (4100, 4000), (20, 90, 160)), "JPEG")
    response = await upload_photo(client, headers, product["id"], 1, baseline)
    assert response.status_code == 200, response.text
    stored = await inspect(fetch, response.json()["image_urls"][0])
    assert stored.size == (1600, 1561)


async def test_a_jpeg_with_too_many_scans_is_refused_unread(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    # 2000 scans of 4 megapixels would be several seconds of CPU.
    bomb = samples.many_scans_jpeg(2000)
    assert len(bomb) < 300_000
    response = await upload_photo(client, headers, product["id"], 1, bomb)
    assert response.status_code == 422, response.text
    message = f"JPEG has too many scans (more than {SCAN_LIMIT}): save it again as an ordinary JPEG"
    assert response.json()["detail"] == f"image: {message}"
    assert response.json()["errors"] == [
        {"loc": ["body", "image"], "msg": message, "type": "image_too_complex"}
    ]
    at_limit = await upload_photo(
        client, headers, product["id"], 1, samples.many_scans_jpeg(SCAN_LIMIT)
    )
    assert at_limit.status_code == 200, at_limit.text
    over = await upload_photo(
        client, headers, product["id"], 2, samples.many_scans_jpeg(SCAN_LIMIT + 1)
    )
    assert over.status_code == 422, over.text


async def test_an_icc_profile_is_converted_away(
    client: httpx.AsyncClient, fetch: Callable[..., Any]
) -> None:
    """A 16 x 16 JPEG carrying a 3 MB profile: stored in bytes, its colours as the profile meant."""
    headers = await vendor(client)
    product = await create_product(client, headers)
    profile = samples.swapped_primaries_profile(padding=3_000_000)
    # Pure red in a profile whose red primary is sRGB's green.
    photo = samples.jpeg_with_profile((16, 16), (255, 0, 0), profile)
    assert len(photo) > 3_000_000
    response = await upload_photo(client, headers, product["id"], 1, photo)
    assert response.status_code == 200, response.text
    stored_url = response.json()["image_urls"][0]
    raw = (await fetch(stored_url)).content
    assert len(raw) < 2_000  # well under 200 KB
    stored = await inspect(fetch, stored_url)
    assert "icc_profile" not in stored.info
    red, green, blue = stored.convert("RGB").getpixel((8, 8))
    assert green > 200 and red < 60 and blue < 60


@pytest.mark.parametrize("mode", ["CMYK", "L", "LA", "P", "I;16"])
async def test_other_colour_modes_are_stored_as_rgb(
    client: httpx.AsyncClient, fetch: Callable[..., Any], mode: str
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    grey = samples.photo_like((900, 700)).convert("L")
    if mode == "I;16":  # a 16-bit grey PNG: the same picture, 256 times the values
        image = grey.convert("I").point(lambda value: value * 256).convert("I;16")
    else:
        image = samples.photo_like((900, 700)).convert(mode)
    if mode == "LA":
        image.putalpha(Image.linear_gradient("L").resize(image.size))  # really transparent
    data = encoded(image, "JPEG" if mode in ("CMYK", "L") else "PNG")
    response = await upload_photo(client, headers, product["id"], 1, data)
    assert response.status_code == 200, response.text
    stored = await inspect(fetch, response.json()["image_urls"][0])
    assert stored.mode == ("RGBA" if mode == "LA" else "RGB")
    assert stored.size == (900, 700)
    if mode == "I;16":
        # Scaled down to 8 bits, not clipped to white.
        shade = stored.convert("L").getpixel((450, 350))
        assert isinstance(shade, int)
        assert abs(shade - int(grey.getpixel((450, 350)))) < 8


async def test_busy_decoders_answer_503_with_retry_after(
    settings: Settings,
    engine: AsyncEngine,
    make_client: Callable[[FastAPI], httpx.AsyncClient],
    keys: Callable[[], set[str]],
) -> None:
    busy = create_app(
        settings.model_copy(
            update={"IMAGE_DECODE_CONCURRENCY": 1, "IMAGE_DECODE_WAIT_SECONDS": 0.3}
        )
    )
    http = make_client(busy)
    headers = await vendor(http)
    product = await create_product(http, headers)
    workers = busy.state.image_workers
    started, release = threading.Event(), threading.Event()

    def hold_the_slot() -> int:
        started.set()
        release.wait(60)
        return threading.get_ident()

    holder = asyncio.create_task(workers.run(hold_the_slot))
    try:
        assert await anyio.to_thread.run_sync(started.wait, 30)
        response = await upload_photo(http, headers, product["id"], 1, samples.jpeg_photo())
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["detail"] == (
            "Too many photos are being processed right now, please retry in a few seconds"
        )
        assert keys() == set()
    finally:
        release.set()
        # The work ran in a worker thread, not on the event loop's.
        assert await holder != threading.get_ident()
    response = await upload_photo(http, headers, product["id"], 1, samples.jpeg_photo())
    assert response.status_code == 200, response.text
    await busy.state.storage.close()
    await busy.state.engine.dispose()
