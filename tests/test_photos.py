"""Product photos and store banners, on both storage backends: a local folder served by the API,
and S3 over real HTTP against moto's S3 server started on loopback.

Images are made here with Pillow; stored files are fetched back by their public URL and inspected.
"""

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import PASSWORD, create_product, make_settings, postgres_only, vendor

BASE = "http://testserver"
LEGACY_URL = "https://quickvendor-media.s3.amazonaws.com/products/legacy-photo.jpg"
GPS_LATITUDE = (6.0, 27.0, 3.5)  # Lagos


# ---- images made for the tests ------------------------------------------------------------------


def jpeg(
    size: tuple[int, int] = (320, 240),
    color: tuple[int, int, int] = (200, 30, 30),
    *,
    gps: bool = False,
    orientation: int | None = None,
) -> bytes:
    image = Image.new("RGB", size, color)
    image.putpixel((0, 0), (0, 0, 255))  # a marker to check the orientation was applied
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"  # camera make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1], gps_ifd[2] = "N", GPS_LATITUDE
        gps_ifd[3], gps_ifd[4] = "E", (3.0, 23.0, 1.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (200, 150), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("P", (64, 64), index) for index in range(3)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10"/></svg>'


# ---- the two backends ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server on a loopback port the kernel picks."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def public_read_policy(bucket: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, backend: str
) -> Settings:
    if backend == "local":
        return make_settings(database_url, MEDIA_ROOT=tmp_path / "media", PUBLIC_BASE_URL=BASE)
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket = f"qv-{uuid.uuid4().hex[:16]}"
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket=bucket)
    # As in production (README): the bucket lets anyone read objects, nothing else.
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    return make_settings(
        database_url,
        STORAGE_BACKEND="s3",
        S3_BUCKET=bucket,
        S3_REGION="us-east-1",
        S3_ENDPOINT_URL=endpoint,
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing",
    )


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.storage.close()
    await application.state.engine.dispose()


def stored_keys(settings: Settings) -> set[str]:
    """What the storage really holds, read around the API."""
    if settings.STORAGE_BACKEND == "s3":
        assert settings.S3_ENDPOINT_URL
        listing = s3_client(settings.S3_ENDPOINT_URL).list_objects_v2(Bucket=settings.S3_BUCKET)
        return {item["Key"] for item in listing.get("Contents", [])}
    root = settings.MEDIA_ROOT
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def keys(settings: Settings) -> Callable[[], set[str]]:
    return lambda: stored_keys(settings)


@pytest.fixture
async def fetch(client: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """GET a photo URL: the API's own media path through ASGI, the S3 server over real HTTP."""
    async with httpx.AsyncClient(timeout=10) as internet:

        async def get(url: str) -> httpx.Response:
            if url.startswith(BASE):
                return await client.get(url)
            return await internet.get(url)

        yield get


async def inspect(fetch: Callable[..., Any], url: str) -> Image.Image:
    """Fetch a stored photo and check it is a clean WebP served with the right headers."""
    response = await fetch(url)
    assert response.status_code == 200, url
    assert response.headers["content-type"] == "image/webp"
    assert "immutable" in response.headers["cache-control"]
    if url.startswith(BASE):
        assert response.headers["x-content-type-options"] == "nosniff"
    assert b"Exif" not in response.content
    assert b"PhoneMaker" not in response.content
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "WEBP"
    assert not image.getexif()
    return image


def key(settings: Settings, url: str) -> str:
    """The storage key behind one of our photo URLs."""
    if settings.STORAGE_BACKEND == "s3":
        return url.removeprefix(f"{settings.S3_ENDPOINT_URL}/{settings.S3_BUCKET}/")
    return url.removeprefix(f"{BASE}{settings.MEDIA_URL_PATH}/")


def form_file(name: str, data: bytes, content_type: str = "image/jpeg") -> tuple[str, bytes, str]:
    return (name, data, content_type)


async def product_with_photos(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, **photos: bytes
) -> dict[str, Any]:
    """Create a product with the frontend's form, photos keyed by field (image_1=...)."""
    response = await client.post(
        "/api/products",
        headers=headers,
        data={"name": name, "price": "100", "is_available": "true"},
        files={field: (f"{field}.jpg", data, "image/jpeg") for field, data in photos.items()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def upload_photo(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product_id: str,
    slot: int,
    data: bytes,
    filename: str = "photo.jpg",
) -> httpx.Response:
    return await client.post(
        f"/api/products/{product_id}/images/upload",
        headers=headers,
        data={"image_slot": str(slot)},
        files={"image": (filename, data, "image/jpeg")},
    )


# ---- uploads ------------------------------------------------------------------------------------


async def test_frontend_form_with_two_photos(
    client: httpx.AsyncClient,
    settings: Settings,
    keys: Callable[[], set[str]],
    fetch: Callable[..., Any],
) -> None:
    headers = await vendor(client)
    response = await client.post(
        "/api/products",
        headers=headers,
        data={"name": "Ankara dress", "description": "", "price": "15000", "is_available": "true"},
        files={
            "image_1": form_file("IMG_0001.jpg", jpeg(gps=True)),
            # A PNG the phone named .jpg: stored, because the content decides.
            "image_2": form_file("screenshot.jpg", png()),
        },
    )
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["price"] == 15000
    assert [image["slot"] for image in product["images"]] == [1, 2]
    assert product["image_urls"] == [image["url"] for image in product["images"]]
    assert keys() == {key(settings, url) for url in product["image_urls"]}
    first = await inspect(fetch, product["image_urls"][0])
    assert first.size == (320, 240)
    second = await inspect(fetch, product["image_urls"][1])
    assert second.mode == "RGBA"  # transparency kept
    listed = (await client.get("/api/products", headers=headers)).json()
    assert listed[0]["image_urls"] == product["image_urls"]
    slug = (await client.get("/api/users/me", headers=headers)).json()["store_slug"]
    store = (await client.get(f"/api/store/{slug}")).json()
    assert store["products"][0]["image_urls"] == product["image_urls"]
    assert store["products"][0]["images"] == product["images"]


async def test_gps_removed_orientation_applied_long_side_limited(
    client: httpx.AsyncClient, settings: Settings, fetch: Callable[..., Any]
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    photo = jpeg((2400, 1200), gps=True, orientation=6)  # a phone held upright
    assert b"GPS" in photo or Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    response = await upload_photo(client, headers, product["id"], 3, photo, "IMG_0002.JPG")
    assert response.status_code == 200, response.text
    assert [image["slot"] for image in response.json()["images"]] == [3]
    stored = await inspect(fetch, response.json()["images"][0]["url"])
    assert stored.size == (800, 1600)  # rotated upright, long side at most 1600
    assert max(stored.size) <= settings.IMAGE_MAX_SIDE


async def test_gif_and_webp_are_accepted(
    client: httpx.AsyncClient, fetch: Callable[..., Any]
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    webp = io.BytesIO()
    Image.new("RGB", (90, 60), (1, 2, 3)).save(webp, "WEBP")
    for slot, data in ((1, gif()), (2, webp.getvalue())):
        response = await upload_photo(client, headers, product["id"], slot, data, "photo.bin")
        assert response.status_code == 200, response.text
    for url in response.json()["image_urls"]:
        await inspect(fetch, url)


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "message"),
    [
        ("photo.jpg", HTML, "image/jpeg", "not a supported image"),
        ("logo.png", SVG, "image/png", "not a supported image"),
        ("photo.jpg", jpeg((400, 300))[:1500], "image/jpeg", "damaged or incomplete"),
        ("empty.jpg", b"", "image/jpeg", "not a supported image"),
    ],
    ids=["html-as-jpg", "svg-as-png", "truncated-jpeg", "empty-file"],
)
async def test_files_that_are_not_images_are_refused(
    client: httpx.AsyncClient,
    keys: Callable[[], set[str]],
    filename: str,
    data: bytes,
    content_type: str,
    message: str,
) -> None:
    headers = await vendor(client)
    response = await client.post(
        "/api/products",
        headers=headers,
        data={"name": "Shoes", "price": "2500", "is_available": "true"},
        files={"image_1": form_file("ok.jpg", jpeg()), "image_2": (filename, data, content_type)},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert message in body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    # Nothing half-done: no product, no stored file (the good photo was checked but not stored).
    assert (await client.get("/api/products", headers=headers)).json() == []
    assert keys() == set()


async def test_pixel_limit(
    client: httpx.AsyncClient, settings: Settings, make_client: Callable[[FastAPI], Any]
) -> None:
    small = create_app(settings.model_copy(update={"IMAGE_MAX_PIXELS": 1_000_000}))
    http = make_client(small)
    headers = await vendor(http)
    product = await create_product(http, headers)
    # A few KB on the wire, 1.2 megapixels once decoded: refused before it is decoded.
    response = await upload_photo(http, headers, product["id"], 1, png((1200, 1000), "L"))
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == (
        "Image is too large: 1200x1000 pixels (a PNG image may have at most 1,000,000 pixels)"
    )
    await small.state.storage.close()
    await small.state.engine.dispose()


async def test_size_limits_answer_413_without_reading_the_body(
    client: httpx.AsyncClient,
    settings: Settings,
    keys: Callable[[], set[str]],
    make_client: Callable[[FastAPI], Any],
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    upload = f"/api/products/{product['id']}/images/upload"
    # The default limit: 10 MB a photo.
    big = jpeg() + b"\0" * (10 * 1024 * 1024)
    response = await client.post(
        upload, headers=headers, data={"image_slot": "1"}, files={"image": ("big.jpg", big)}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "Photo is too large: at most 10 MB"
    assert response.json()["request_id"]

    small = create_app(settings.model_copy(update={"PHOTO_MAX_BYTES": 100_000}))
    http = make_client(small)
    # One photo over the limit inside a form that is under the whole-form limit.
    response = await http.post(
        "/api/products",
        headers=headers,
        data={"name": "Bag", "price": "900"},
        files={"image_1": ("ok.jpg", jpeg()), "image_4": ("big.jpg", jpeg() + b"\0" * 150_000)},
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "Photo image_4 is too large: at most 0.0954 MB"

    # A body with no Content-Length is cut off once it passes the limit, not read to the end.
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        boundary = b"--qvboundary\r\n"
        yield boundary + b'Content-Disposition: form-data; name="image"; filename="x.jpg"\r\n\r\n'
        for index in range(2000):
            sent.append(index)
            yield b"\xff" * 65536

    response = await http.post(
        upload,
        headers={**headers, "Content-Type": "multipart/form-data; boundary=qvboundary"},
        content=endless(),
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large")
    assert len(sent) < 20  # about 6 chunks of 64 KB, never the 125 MB offered
    assert keys() == set()
    await small.state.storage.close()
    await small.state.engine.dispose()


# ---- replacing and removing ---------------------------------------------------------------------


async def test_replacing_a_slot_removes_the_old_file(
    client: httpx.AsyncClient, settings: Settings, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(
        client, headers, "Hat", image_1=jpeg(color=(250, 0, 0)), image_2=jpeg()
    )
    red, second = product["image_urls"]

    # Through the update form: a file in slot 1 replaces slot 1 only.
    response = await client.put(
        f"/api/products/{product['id']}",
        headers=headers,
        data={"name": "Blue hat"},
        files={"image_1": ("blue.jpg", jpeg(color=(0, 0, 250)))},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Blue hat"
    blue = updated["images"][0]["url"]
    assert updated["images"] == [{"slot": 1, "url": blue}, {"slot": 2, "url": second}]
    assert blue != red
    assert keys() == {key(settings, blue), key(settings, second)}

    # Through the single-photo upload.
    response = await upload_photo(client, headers, product["id"], 2, png(mode="RGB"))
    green = response.json()["images"][1]["url"]
    assert keys() == {key(settings, blue), key(settings, green)}


@postgres_only
async def test_concurrent_replacements_leave_no_orphan(
    client: httpx.AsyncClient, settings: Settings, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(client, headers, "Mat", image_1=jpeg())
    shades = range(40, 240, 40)
    responses = await asyncio.gather(
        *(
            upload_photo(client, headers, product["id"], 1, jpeg(color=(shade, 0, 0)))
            for shade in shades
        )
    )
    assert [response.status_code for response in responses] == [200] * len(shades)
    final = (await client.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert keys() == {key(settings, final["image_urls"][0])}


async def test_same_photo_in_two_slots_survives_removing_one(
    client: httpx.AsyncClient, settings: Settings, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    photo = jpeg()
    product = await product_with_photos(client, headers, "Scarf", image_1=photo, image_3=photo)
    assert product["images"][0]["url"] == product["images"][1]["url"]  # one content, one file
    deleted = await client.delete(f"/api/products/{product['id']}/images/1", headers=headers)
    assert deleted.status_code == 204
    assert keys() == {key(settings, product["images"][1]["url"])}
    again = await client.delete(f"/api/products/{product['id']}/images/1", headers=headers)
    assert again.status_code == 404
    assert again.json()["detail"] == "No photo in slot 1"
    assert (
        await client.delete(f"/api/products/{product['id']}/images/6", headers=headers)
    ).status_code == 422
    remaining = await client.delete(f"/api/products/{product['id']}/images/3", headers=headers)
    assert remaining.status_code == 204
    assert keys() == set()


async def test_deleting_a_product_removes_its_files(
    client: httpx.AsyncClient, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    keep = await product_with_photos(client, headers, "Kept", image_1=jpeg(color=(1, 1, 1)))
    gone = await product_with_photos(client, headers, "Gone", image_1=jpeg(), image_5=png())
    assert len(keys()) == 3
    assert (await client.delete(f"/api/products/{gone['id']}", headers=headers)).status_code == 204
    assert len(keys()) == 1
    assert (await client.get(f"/api/products/{keep['id']}", headers=headers)).status_code == 200


async def test_an_object_another_vendors_row_uses_is_kept(
    client: httpx.AsyncClient, engine: AsyncEngine, keys: Callable[[], set[str]]
) -> None:
    """The earlier backend's objects could be shared between vendors: a photo is removed only
    when no row at all, whoever's, points at it."""
    ada = await vendor(client)
    bola = await vendor(client, "bola@example.com")
    shared = await product_with_photos(client, ada, "Ada's", image_1=jpeg(color=(3, 3, 3)))
    url = shared["image_urls"][0]
    banner_url = await product_with_photos(client, ada, "Ada's banner", image_1=png())
    banner = banner_url["image_urls"][0]
    bolas = await create_product(client, bola)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE products SET image_url_3 = :url WHERE id = :id"),
            {"url": url, "id": bolas["id"]},
        )
        await conn.execute(
            text("UPDATE users SET banner_url = :url WHERE email = 'bola@example.com'"),
            {"url": banner},
        )
    before = keys()
    assert len(before) == 2
    for product in (shared, banner_url):
        deleted = await client.delete(f"/api/products/{product['id']}", headers=ada)
        assert deleted.status_code == 204
    assert keys() == before
    gone = await client.request("DELETE", "/api/users/me", headers=ada, json={"password": PASSWORD})
    assert gone.status_code == 204
    assert keys() == before
    # Once the last row lets go, the object goes.
    assert (await client.delete(f"/api/products/{bolas['id']}", headers=bola)).status_code == 204
    assert (await client.delete("/api/users/me/banner", headers=bola)).status_code == 204
    assert keys() == set()


async def test_banner_upload_replace_and_delete(
    client: httpx.AsyncClient,
    settings: Settings,
    keys: Callable[[], set[str]],
    fetch: Callable[..., Any],
) -> None:
    headers = await vendor(client)
    response = await client.post(
        "/api/users/me/banner", headers=headers, files={"banner": ("b.jpg", jpeg(gps=True))}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Banner uploaded successfully"
    first = body["banner_url"]
    await inspect(fetch, first)
    me = (await client.get("/api/users/me", headers=headers)).json()
    assert me["banner_url"] == first
    store = (await client.get(f"/api/store/{me['store_slug']}")).json()
    assert store["banner_url"] == first

    response = await client.post(
        "/api/users/me/banner", headers=headers, files={"image": ("b.png", png())}
    )
    second = response.json()["banner_url"]
    assert keys() == {key(settings, second)}

    assert (await client.delete("/api/users/me/banner", headers=headers)).status_code == 204
    assert keys() == set()
    missing = await client.delete("/api/users/me/banner", headers=headers)
    assert missing.status_code == 404
    refused = await client.post(
        "/api/users/me/banner", headers=headers, files={"banner": ("b.jpg", HTML, "image/jpeg")}
    )
    assert refused.status_code == 400
    nothing = await client.post(
        "/api/users/me/banner", headers=headers, files={"other": ("b.jpg", jpeg())}
    )
    assert nothing.status_code == 422


async def test_deleting_the_account_removes_every_file(
    client: httpx.AsyncClient, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    other = await vendor(client, "bola@example.com")
    await product_with_photos(client, other, "Other's", image_1=jpeg(color=(9, 9, 9)))
    for shade in (10, 20):
        await product_with_photos(
            client, headers, f"Dress {shade}", image_1=jpeg(color=(shade, 5, 5)), image_2=png()
        )
    await client.post("/api/users/me/banner", headers=headers, files={"banner": ("b.jpg", jpeg())})
    assert len(keys()) == 5  # the shared PNG is one file per vendor
    response = await client.request(
        "DELETE", "/api/users/me", headers=headers, json={"password": PASSWORD}
    )
    assert response.status_code == 204, response.text
    assert len(keys()) == 1  # only the other vendor's photo


async def test_another_vendors_product_is_not_found(
    client: httpx.AsyncClient, keys: Callable[[], set[str]]
) -> None:
    owner = await vendor(client)
    product = await create_product(client, owner)
    intruder = await vendor(client, "eve@example.com")
    upload = await upload_photo(client, intruder, product["id"], 1, jpeg())
    assert upload.status_code == 404
    remove = await client.delete(f"/api/products/{product['id']}/images/1", headers=intruder)
    assert remove.status_code == 404
    assert keys() == set()


async def test_earlier_backend_urls_are_returned_unchanged(
    client: httpx.AsyncClient, engine: AsyncEngine, keys: Callable[[], set[str]]
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE products SET image_url_2 = :url WHERE id = :id"),
            {"url": LEGACY_URL, "id": product["id"]},
        )
    read = (await client.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert read["image_urls"] == [LEGACY_URL]
    assert read["images"] == [{"slot": 2, "url": LEGACY_URL}]
    response = await upload_photo(client, headers, product["id"], 2, jpeg())
    assert response.status_code == 200
    assert response.json()["image_urls"][0] != LEGACY_URL
    assert len(keys()) == 1


# ---- storage failures (S3 only: a missing bucket is a real failure of the real server) ---------


@pytest.mark.parametrize("backend", ["s3"])
async def test_storage_failures(
    client: httpx.AsyncClient,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(client, headers, "Lamp", image_1=jpeg())
    assert settings.S3_ENDPOINT_URL
    s3 = s3_client(settings.S3_ENDPOINT_URL)
    for item in s3.list_objects_v2(Bucket=settings.S3_BUCKET)["Contents"]:
        s3.delete_object(Bucket=settings.S3_BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=settings.S3_BUCKET)

    # Storing fails: 503, and the product is unchanged.
    response = await upload_photo(client, headers, product["id"], 2, jpeg(color=(1, 2, 3)))
    assert response.status_code == 503
    assert response.json()["detail"] == "Photo storage is temporarily unavailable, please retry"
    read = (await client.get(f"/api/products/{product['id']}", headers=headers)).json()
    assert read["image_urls"] == product["image_urls"]

    # Removing fails after the commit: the deletion still succeeds, the failure is logged.
    response = await client.delete(f"/api/products/{product['id']}", headers=headers)
    assert response.status_code == 204
    assert (await client.get(f"/api/products/{product['id']}", headers=headers)).status_code == 404
    assert any("could not be removed" in record.getMessage() for record in caplog.records)


async def test_media_path_serves_only_stored_files(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/media/products/nothing/here.webp")
    assert response.status_code == 404
    if backend == "local":
        assert response.json()["detail"] == "Not Found"
        traversal = await client.get("/media/../pyproject.toml")
        assert traversal.status_code == 404
