"""Uploaded files as the photo services want them: bytes, after the per-file size limit."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile

from app.api.forms import ModelT, megabytes, parse_as, read_fields
from app.domain.products import IMAGE_SLOTS
from app.images.encode import EncodedPhoto
from app.images.errors import (
    ImageRejectedError,
    ImagesBusyError,
    ImageTooComplexError,
    ImageTooLargeError,
)
from app.images.rules import ImageRules
from app.images.workers import ImageWorkers
from app.observability.sentry import capture_message_with_context
from app.services import photos
from app.settings import Settings
from app.storage import StorageError

logger = logging.getLogger("app.photos")

# Room for the text fields and multipart boundaries around the files.
FORM_OVERHEAD = 256 * 1024
PHOTO_FIELDS = {f"image_{slot}": slot for slot in range(1, IMAGE_SLOTS + 1)}


def is_blank(upload: UploadFile) -> bool:
    """An empty file input, as browsers send it: no file name, no bytes."""
    return not upload.filename and not upload.size


async def read_upload(upload: UploadFile, *, max_bytes: int, what: str) -> bytes:
    """The file's bytes; 413 when it is over max_bytes (the parser spooled it to disk, bounded)."""
    if upload.size is not None and upload.size > max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{what} is too large: at most {megabytes(max_bytes)}",
        )
    return await upload.read()


async def _read_slot_photos(files: Mapping[str, UploadFile], *, max_bytes: int) -> dict[str, bytes]:
    """The photos sent in `image_1`..`image_5`, by field; empty file inputs are ignored."""
    photos: dict[str, bytes] = {}
    for field in PHOTO_FIELDS:
        upload = files.get(field)
        if upload is not None and not is_blank(upload):
            photos[field] = await read_upload(upload, max_bytes=max_bytes, what=f"Photo {field}")
    return photos


async def encode_photos(
    request: Request, uploads: Mapping[str, bytes], settings: Settings
) -> dict[str, EncodedPhoto]:
    """Re-encoded photos by form field: 400 (not an image), 413 (too many pixels) or 422 (too
    costly to decode) naming what is wrong with the first unacceptable one; 503 with Retry-After
    when this worker's decode slots stayed busy."""
    workers: ImageWorkers = request.app.state.image_workers
    rules = ImageRules.from_settings(settings)
    encoded = {}
    try:
        for field, data in uploads.items():
            encoded[field] = await photos.encode(data, workers, rules)
    except ImageTooComplexError as exc:
        logger.info("photo refused: %s", type(exc).__name__)
        raise RequestValidationError(
            [{"loc": ("body", field), "msg": exc.message, "type": "image_too_complex"}]
        ) from None
    except ImageRejectedError as exc:
        logger.info("photo refused: %s", type(exc).__name__)
        too_large = isinstance(exc, ImageTooLargeError)
        code = status.HTTP_413_CONTENT_TOO_LARGE if too_large else status.HTTP_400_BAD_REQUEST
        raise HTTPException(code, exc.message) from None
    except ImagesBusyError as exc:
        logger.warning("photo decoding busy: upload refused with 503")
        capture_message_with_context(
            "photo decoding busy",
            {"decode_slots": settings.IMAGE_DECODE_CONCURRENCY},
            level="warning",
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Too many photos are being processed right now, please retry in a few seconds",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    return encoded


@contextmanager
def storage_errors() -> Iterator[None]:
    """A storage outage is the client's to retry, not a bug: 503 with Retry-After."""
    try:
        yield
    except StorageError as exc:
        logger.error("photo storage unavailable: %s", exc, exc_info=exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Photo storage is temporarily unavailable, please retry",
            headers={"Retry-After": "5"},
        ) from None


async def read_product_form(
    request: Request, settings: Settings, model: type[ModelT]
) -> tuple[ModelT, dict[int, EncodedPhoto]]:
    """A product create/update body: its fields, and the photos of image_1..5 re-encoded."""
    limit = settings.PHOTO_MAX_BYTES
    fields, files = await read_fields(request, max_body_size=IMAGE_SLOTS * limit + FORM_OVERHEAD)
    data = parse_as(model, fields)
    uploads = await _read_slot_photos(files, max_bytes=limit)
    images = await encode_photos(request, uploads, settings)
    return data, {PHOTO_FIELDS[field]: image for field, image in images.items()}


async def read_single_photo(
    request: Request, settings: Settings, *, names: tuple[str, ...], max_bytes: int, what: str
) -> tuple[dict[str, Any], EncodedPhoto]:
    """A form carrying one photo (in the first of `names` sent): its text fields and the photo."""
    fields, files = await read_fields(request, max_body_size=max_bytes + FORM_OVERHEAD)
    field = next((n for n in names if n in files and not is_blank(files[n])), None)
    if field is None:
        raise RequestValidationError(
            [{"loc": ("body", names[0]), "msg": "Field required (a file)", "type": "missing"}]
        )
    data = await read_upload(files[field], max_bytes=max_bytes, what=what)
    return fields, (await encode_photos(request, {field: data}, settings))[field]
