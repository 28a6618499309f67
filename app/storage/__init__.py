"""Where photo files live: a local folder or an S3-compatible bucket, chosen by settings."""

from app.settings import Settings
from app.storage.base import IMMUTABLE_CACHE, Storage, StorageError
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage

__all__ = [
    "IMMUTABLE_CACHE",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageError",
    "create_storage",
]


def create_storage(settings: Settings) -> Storage:
    if settings.STORAGE_BACKEND == "s3":
        return S3Storage(settings)
    return LocalStorage(
        settings.MEDIA_ROOT, public_base=settings.public_base_url + settings.MEDIA_URL_PATH
    )
