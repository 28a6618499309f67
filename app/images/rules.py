"""What an upload may be and how it is stored, as the image code needs it from the settings."""

from dataclasses import dataclass

from app.settings import Settings


@dataclass(frozen=True, slots=True)
class ImageRules:
    max_pixels: int  # decoded at full size: PNG, WebP, GIF, progressive JPEG
    max_jpeg_pixels: int  # baseline JPEG, decoded in draft mode
    max_side: int
    quality: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImageRules":
        return cls(
            max_pixels=settings.IMAGE_MAX_PIXELS,
            max_jpeg_pixels=settings.IMAGE_MAX_JPEG_PIXELS,
            max_side=settings.IMAGE_MAX_SIDE,
            quality=settings.IMAGE_WEBP_QUALITY,
        )
