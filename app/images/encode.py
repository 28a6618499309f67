"""What is stored for a photo: the WebP original, smaller WebP widths, and a JPEG link preview."""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

WEBP = "image/webp"
JPEG = "image/jpeg"
_EXTENSIONS = {WEBP: "webp", JPEG: "jpg"}
# Widths a page picks from with srcset, for phones on slow networks; none wider than the original.
VARIANT_WIDTHS = (320, 640, 1280)
# Link previews (WhatsApp, Facebook, X): a JPEG at least 600 px wide and under 300 KB, which
# those crawlers fetch and show; 1200 px wide when the original is that wide.
PREVIEW_WIDTH = 1200
PREVIEW_MIN_WIDTH = 600
PREVIEW_MAX_BYTES = 300_000
PREVIEW_QUALITIES = (85, 75, 65, 55, 45, 35)
PREVIEW_FALLBACK_WIDTHS = (1000, 800, 600)
_BACKGROUND = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class EncodedImage:
    data: bytes
    width: int
    height: int
    content_type: str = WEBP

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def file_name(self) -> str:
        """Named by content, so a stored file never changes and may be cached for good."""
        return f"{self.digest}.{_EXTENSIONS[self.content_type]}"


@dataclass(frozen=True, slots=True)
class EncodedPhoto:
    original: EncodedImage
    variants: tuple[EncodedImage, ...]  # ascending widths; the widest may be the original itself
    preview: EncodedImage | None  # None when the original is narrower than PREVIEW_MIN_WIDTH

    def files(self) -> list[EncodedImage]:
        """Every file to store, each once."""
        files = {image.file_name: image for image in (self.original, *self.variants)}
        if self.preview is not None:
            files[self.preview.file_name] = self.preview
        return list(files.values())


def encode_webp(image: Image.Image, quality: int) -> EncodedImage:
    out = io.BytesIO()
    # Only what is passed here is written: no EXIF (GPS, camera, time), no XMP, no ICC profile
    # (the pixels are sRGB already).
    image.save(out, "WEBP", quality=quality, method=4, exif=b"", xmp=b"", icc_profile=b"")
    return EncodedImage(out.getvalue(), image.width, image.height)


def _at_width(image: Image.Image, width: int) -> Image.Image:
    if width == image.width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _variants(image: Image.Image, original: EncodedImage, quality: int) -> list[EncodedImage]:
    return [
        original if width == image.width else encode_webp(_at_width(image, width), quality)
        for width in VARIANT_WIDTHS
        if width <= image.width
    ]


def _flattened(image: Image.Image) -> Image.Image:
    """JPEG has no transparency: transparent pixels become white, as on the page behind them."""
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, _BACKGROUND)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _preview(image: Image.Image) -> EncodedImage | None:
    """The widest JPEG (1200 px down to 600) that fits the byte limit at some quality."""
    if image.width < PREVIEW_MIN_WIDTH:
        return None
    first = min(PREVIEW_WIDTH, image.width)
    flat = _flattened(image)
    for width in (first, *(width for width in PREVIEW_FALLBACK_WIDTHS if width < first)):
        scaled = _at_width(flat, width)
        for quality in PREVIEW_QUALITIES:
            out = io.BytesIO()
            scaled.save(out, "JPEG", quality=quality, optimize=True, exif=b"", icc_profile=None)
            if out.tell() < PREVIEW_MAX_BYTES:
                return EncodedImage(out.getvalue(), scaled.width, scaled.height, JPEG)
    return None


def encode_photo(
    image: Image.Image, quality: int, original: EncodedImage | None = None
) -> EncodedPhoto:
    """The original (encoded here unless given: a photo stored before variants existed), its
    widths and its preview. CPU-bound: call it in a worker thread."""
    original = original or encode_webp(image, quality)
    return EncodedPhoto(original, tuple(_variants(image, original, quality)), _preview(image))
