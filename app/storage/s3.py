"""Photos in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO): shared by every instance."""

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.settings import Settings
from app.storage.base import IMMUTABLE_CACHE, Storage, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class S3Storage(Storage):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.s3_public_base_url)
        if not settings.S3_BUCKET:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        self.bucket = settings.S3_BUCKET
        secret = settings.S3_SECRET_ACCESS_KEY
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            # Non-AWS stores (R2, MinIO) reject some of the checksums boto3 adds by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path" if settings.S3_ENDPOINT_URL else "auto"},
        )
        # Without explicit keys boto3 uses its usual chain (AWS_* variables, instance role).
        self.client: S3Client = boto3.session.Session().client(
            "s3",
            region_name=settings.S3_REGION,
            endpoint_url=settings.S3_ENDPOINT_URL,
            aws_access_key_id=settings.S3_ACCESS_KEY_ID,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=config,
        )

    async def _put(self, key: str, data: bytes, content_type: str) -> None:
        upload = partial(
            self.client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl=IMMUTABLE_CACHE,
        )
        try:
            await anyio.to_thread.run_sync(upload)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 upload failed: {type(exc).__name__}") from exc

    async def load(self, key: str) -> bytes | None:
        try:
            return await anyio.to_thread.run_sync(self._get, key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 download failed: {type(exc).__name__}") from exc

    def _get(self, key: str) -> bytes | None:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return found["Body"].read()

    async def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": key} for key in keys[start : start + DELETE_BATCH]
            ]
            remove = partial(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            try:
                result = await anyio.to_thread.run_sync(remove)
            except (BotoCoreError, ClientError) as exc:
                raise StorageError(f"S3 delete failed: {type(exc).__name__}") from exc
            if failed := result.get("Errors"):
                raise StorageError(f"S3 could not delete {len(failed)} object(s)")

    async def close(self) -> None:
        self.client.close()
