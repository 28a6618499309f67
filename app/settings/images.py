"""Image settings: what an uploaded photo may be, how it is stored, and how many decode at once."""

from pydantic import Field

from app.settings.common import SettingsMixin


class ImageSettings(SettingsMixin):
    # Pixels of an image decoded at full size: PNG, WebP, GIF and progressive JPEG. 16 MP is a
    # 5K screenshot; at 4 bytes a pixel it keeps one decode near 100 MB.
    IMAGE_MAX_PIXELS: int = Field(default=16_000_000, ge=1)
    # Pixels of a baseline JPEG, decoded in draft mode at 1/2 to 1/8 scale near the stored size,
    # so a 50 or 64 megapixel phone photo costs a few megabytes of memory.
    IMAGE_MAX_JPEG_PIXELS: int = Field(default=100_000_000, ge=1)
    # Decodes running at once in one worker process, and how long an upload waits for a turn
    # before it is answered 503 with Retry-After.
    IMAGE_DECODE_CONCURRENCY: int = Field(default=2, ge=1, le=64)
    IMAGE_DECODE_WAIT_SECONDS: float = Field(default=10.0, gt=0)
    IMAGE_MAX_SIDE: int = Field(default=1600, ge=16, le=16_383)
    IMAGE_WEBP_QUALITY: int = Field(default=82, ge=1, le=100)
