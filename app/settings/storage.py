"""Photo settings: where files are kept and how large an upload may be."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from app.settings.common import MIB, PROJECT_ROOT, strip_base_url
from app.settings.environment import EnvironmentSettings

StorageBackend = Literal["local", "s3"]


class StorageSettings(EnvironmentSettings):
    STORAGE_BACKEND: StorageBackend = "local"
    MEDIA_ROOT: Path = PROJECT_ROOT / "media"
    MEDIA_URL_PATH: str = Field(default="/media", pattern=r"^(/[A-Za-z0-9_-]+)+$")
    S3_BUCKET: str | None = None
    S3_REGION: str | None = None
    S3_ENDPOINT_URL: str | None = None
    S3_PUBLIC_BASE_URL: str | None = None
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: SecretStr | None = None
    PHOTO_MAX_BYTES: int = Field(default=10 * MIB, ge=1024)
    BANNER_MAX_BYTES: int = Field(default=5 * MIB, ge=1024)

    @field_validator("S3_PUBLIC_BASE_URL", "S3_ENDPOINT_URL")
    @classmethod
    def _strip_base_url(cls, value: str | None) -> str | None:
        return strip_base_url(value)

    @model_validator(mode="after")
    def _require_s3_bucket(self) -> Self:
        if self.STORAGE_BACKEND == "s3" and not self.S3_BUCKET:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

    @property
    def s3_public_base_url(self) -> str:
        """Where stored objects are read publicly: a CDN/custom domain, or the bucket itself."""
        if self.S3_PUBLIC_BASE_URL:
            return self.S3_PUBLIC_BASE_URL
        if self.S3_ENDPOINT_URL:
            return f"{self.S3_ENDPOINT_URL}/{self.S3_BUCKET}"
        return f"https://{self.S3_BUCKET}.s3.{self.S3_REGION or 'us-east-1'}.amazonaws.com"
