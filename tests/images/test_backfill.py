"""`python -m app.images backfill` (issue 15, item 3): the sizes of photos stored before they were
made at upload, on both storage backends; idempotent, counts logged, the earlier backend's URLs
skipped and counted."""

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import create_session_factory
from app.images.backfill import BackfillCounts, backfill_photo
from app.images.codec import reencode
from app.images.rules import ImageRules
from app.settings import Settings
from tests.conftest import vendor
from tests.images.samples import jpeg_photo
from tests.images.test_variants import photo_rows
from tests.servers import ROOT, server_env
from tests.test_photos import BASE, LEGACY_URL, key, product_with_photos

MISSING_NAME = "0" * 64 + ".webp"


def command_env(settings: Settings) -> dict[str, str]:
    """The environment a deployment gives the command: the API's own settings."""
    if settings.STORAGE_BACKEND == "local":
        storage = {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "PUBLIC_BASE_URL": BASE}
    else:
        storage = {
            "STORAGE_BACKEND": "s3",
            "S3_BUCKET": str(settings.S3_BUCKET),
            "S3_REGION": str(settings.S3_REGION),
            "S3_ENDPOINT_URL": str(settings.S3_ENDPOINT_URL),
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing",
        }
    return server_env(settings.DATABASE_URL, LOG_LEVEL="INFO", **storage)


async def run_backfill(settings: Settings) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.images",
        "backfill",
        cwd=ROOT,
        env=command_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode is not None
    return process.returncode, output.decode()


def shape(row: dict[str, Any]) -> tuple[object, ...]:
    """A row's photo and sizes, without the names of the files made from it."""
    return (
        row["url"],
        row["width"],
        row["height"],
        [(variant["width"], variant["height"]) for variant in row["variants"]],
        row["preview_width"],
        row["preview_height"],
    )


async def test_backfill_makes_what_uploads_make_now_and_is_idempotent(
    client: httpx.AsyncClient,
    app: FastAPI,
    engine: AsyncEngine,
    settings: Settings,
    keys: Callable[[], set[str]],
) -> None:
    headers = await vendor(client)
    product = await product_with_photos(
        client, headers, "Tray", image_1=jpeg_photo((1400, 1000)), image_2=jpeg_photo((500, 400))
    )
    banner = await client.post(
        "/api/users/me/banner",
        headers=headers,
        files={"banner": ("b.jpg", jpeg_photo((2000, 700)))},
    )
    assert banner.status_code == 200, banner.text
    made_at_upload, files_at_upload = await photo_rows(engine), keys()
    assert len(made_at_upload) == 3

    # As before this change: the originals alone, no rows; and a product that also shows the
    # earlier backend's photo and one of ours whose file is gone.
    originals = {key(settings, row["url"]) for row in made_at_upload}
    await app.state.storage.delete(sorted(files_at_upload - originals))
    storage = app.state.storage
    missing = storage.url_for(f"products/{product['user_id']}/{MISSING_NAME}")
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM photos"))
        await conn.execute(
            text("UPDATE products SET image_url_4 = :old, image_url_5 = :missing WHERE id = :id"),
            {"old": LEGACY_URL, "missing": missing, "id": product["id"]},
        )
    assert keys() == originals

    status, output = await run_backfill(settings)
    assert status == 0, output
    assert (
        "photo backfill finished: made=3, done_before=0, unreachable=1, missing=1, failed=0, "
        "removed_meanwhile=0" in output
    ), output
    assert MISSING_NAME in output  # the missing file is named in its own line
    # The widths and previews an upload makes now (from the stored original, so their bytes,
    # and the hashes in their names, differ), each named after its original.
    backfilled = await photo_rows(engine)
    assert [shape(row) for row in backfilled] == [shape(row) for row in made_at_upload]
    derived = set()
    for row in backfilled:
        stem = key(settings, row["url"]).removesuffix(".webp")
        urls = [variant["url"] for variant in row["variants"] if variant["url"] != row["url"]]
        names = {key(settings, url) for url in [*urls, row["preview_url"]] if url}
        assert all(name.startswith(f"{stem}-") for name in names), names
        derived |= names
    files = keys()
    assert files == originals | derived
    assert len(files) == len(files_at_upload)

    status, output = await run_backfill(settings)
    assert status == 0, output
    assert "made=0, done_before=3, unreachable=1, missing=1, failed=0" in output, output
    assert keys() == files
    assert await photo_rows(engine) == backfilled


async def test_a_photo_removed_while_its_sizes_were_made_loses_them_again(
    app: FastAPI,
    engine: AsyncEngine,
    settings: Settings,
    keys: Callable[[], set[str]],
) -> None:
    """The vendor replaced the photo after the backfill listed it: no row points at it now."""
    storage = app.state.storage
    rules = ImageRules.from_settings(settings)
    original = reencode(jpeg_photo((1300, 900)), rules).original
    url = await storage.save(f"products/gone/{original.file_name}", original.data, "image/webp")
    counts = BackfillCounts()
    factory = create_session_factory(engine)
    await backfill_photo(factory, storage, rules, url=url, key=key(settings, url), counts=counts)
    assert counts == BackfillCounts(removed_meanwhile=1)
    assert keys() == set()
    assert await photo_rows(engine) == []
