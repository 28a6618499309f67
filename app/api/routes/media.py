"""Stored photos served by the API itself when they live in a local folder."""

import os

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.storage import IMMUTABLE_CACHE, LocalStorage

CONTENT_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg"}


class MediaFiles(StaticFiles):
    """Static files with the headers photos need: exact type, no sniffing, cached for good."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        suffix = os.path.splitext(full_path)[1].lower()
        # Only re-encoded WebP (and JPEG link previews) is ever stored; anything else is served
        # as opaque bytes.
        response.headers["Content-Type"] = CONTENT_TYPES.get(suffix, "application/octet-stream")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = IMMUTABLE_CACHE
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response


def mount_media(app: FastAPI) -> None:
    storage = app.state.storage
    if isinstance(storage, LocalStorage):
        path = app.state.settings.MEDIA_URL_PATH
        app.mount(path, MediaFiles(directory=storage.root), name="media")
