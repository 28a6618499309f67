"""Turn an uploaded file into a safe stored image: decoded, checked, cleaned, resized, WebP."""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.settings import Settings

# The type is whatever the bytes decode as; only these decoders are ever tried.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
ACCEPTED_TEXT = "JPEG, PNG, WebP or GIF"
WEBP = "image/webp"


class ImageRejectedError(ValueError):
    """The upload is not an image we accept; the message says why, for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class EncodedImage:
    data: bytes
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    content_type = WEBP


@dataclass(frozen=True, slots=True)
class ImageRules:
    max_pixels: int
    max_side: int
    quality: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImageRules":
        return cls(settings.IMAGE_MAX_PIXELS, settings.IMAGE_MAX_SIDE, settings.IMAGE_WEBP_QUALITY)


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _for_webp(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the source has transparency: the two modes WebP stores."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    wanted = "RGBA" if has_alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def reencode(data: bytes, rules: ImageRules) -> EncodedImage:
    """Decode fully (so truncated or disguised files fail here), then write a clean WebP.

    CPU-bound: call it in a worker thread. Only the first frame of an animation is kept.
    """
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
            width, height = source.size
            if width * height > rules.max_pixels:
                raise ImageRejectedError(
                    f"Image is too large: {width}x{height} pixels "
                    f"(at most {rules.max_pixels:,} pixels)"
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: far less memory and time for big photos.
            source.draft("RGB", _fit(width, height, rules.max_side))
            source.load()
            icc_profile = source.info.get("icc_profile")
            image = ImageOps.exif_transpose(source)
            image = _for_webp(image)
            image.thumbnail((rules.max_side, rules.max_side), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            # Only what is passed here is written: no EXIF (GPS, camera, time), no XMP.
            image.save(
                out,
                "WEBP",
                quality=rules.quality,
                method=4,
                exif=b"",
                xmp=b"",
                icc_profile=icc_profile or b"",
            )
            return EncodedImage(out.getvalue(), image.width, image.height)
    except ImageRejectedError:
        raise
    except UnidentifiedImageError:
        raise ImageRejectedError(
            f"File is not a supported image: send a {ACCEPTED_TEXT} photo"
        ) from None
    except Image.DecompressionBombError:
        raise ImageRejectedError(
            f"Image is too large (at most {rules.max_pixels:,} pixels)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data as any of these.
        raise ImageRejectedError(
            f"Image could not be read (damaged or incomplete file): {type(exc).__name__}"
        ) from None
