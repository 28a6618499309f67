"""Decoding an untrusted upload within a fixed memory budget, down to the size it is stored at.

The budget, per decode: what the pixel limits admit at full size, plus a few megabytes. Nothing
else is ever the full size: a JPEG is decoded in draft mode at 1/2 to 1/8 scale near the target;
any other image is converted and box-reduced a strip of rows at a time into an image at most
twice the target; the colour conversion and the EXIF orientation are applied to that small image
(never exif_transpose and convert on the full one).
"""

import io
import math

from PIL import Image, UnidentifiedImageError

from app.images.colour import ColourProfile, read_profile, to_srgb
from app.images.errors import ImageRejectedError, ImageTooComplexError, ImageTooLargeError
from app.images.jpeg import read_structure
from app.images.rules import ImageRules

# The type is whatever the bytes decode as; only these decoders are ever tried.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
ACCEPTED_TEXT = "JPEG, PNG, WebP or GIF"
_JPEG_FORMATS = ("JPEG", "MPO")
_FORMAT_NAMES = {"WEBP": "WebP"}  # MPO: a phone's JPEG with a second image appended
# Cameras and encoders write 1 to 12 scans; each scan walks every coefficient of the image.
MAX_JPEG_SCANS = 32
# libwebp's decoder holds the canvas twice and Pillow copies it twice more: 16 bytes a pixel
# where the other decoders hold at most 4 (a palette or grey image 1), so WebP gets a quarter.
WEBP_SHARE = 4
# Rows converted at a time: about 4 MB of RGBA.
STRIP_PIXELS = 1 << 20
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N")


def fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_size(source: Image.Image, data: bytes, rules: ImageRules) -> None:
    """Refuse, before anything is decoded, what would cost more memory or CPU than allowed."""
    width, height = source.size
    kind, limit = (
        f"a {_FORMAT_NAMES.get(source.format or '', source.format)} image",
        rules.max_pixels,
    )
    if source.format == "WEBP":
        limit = rules.max_pixels // WEBP_SHARE
    elif source.format in _JPEG_FORMATS:
        structure = read_structure(data, stop_after_scans=MAX_JPEG_SCANS)
        if structure.scans > MAX_JPEG_SCANS:
            raise ImageTooComplexError(
                f"JPEG has too many scans (more than {MAX_JPEG_SCANS}): "
                "save it again as an ordinary JPEG"
            )
        if structure.buffered:
            kind = "a progressive JPEG"
        else:
            kind, limit = "a JPEG", rules.max_jpeg_pixels
    if width * height > limit:
        raise ImageTooLargeError(
            f"Image is too large: {width}x{height} pixels ({kind} may have at most "
            f"{limit:,} pixels)"
        )


def _working_mode(source: Image.Image, profile: ColourProfile | None) -> str:
    """The mode the image is shrunk in: the profile's colour space where it applies, plus alpha."""
    alpha = source.mode in _ALPHA_MODES or "transparency" in source.info
    if profile is not None and profile.mode == "CMYK" and source.mode == "CMYK":
        return "CMYK"
    if profile is not None and profile.mode == "L" and source.mode in _GREY_MODES:
        return "LA" if alpha else "L"
    return "RGBA" if alpha else "RGB"


def _converted(strip: Image.Image, mode: str) -> Image.Image:
    if strip.mode.startswith("I"):
        # 16-bit grey (PNG): Pillow's conversion would clip 0..65535 to 0..255, all white.
        strip = strip.convert("I").point(lambda value: value / 256).convert("L")
    return strip if strip.mode == mode else strip.convert(mode)


def _shrink(source: Image.Image, target: tuple[int, int], mode: str) -> Image.Image:
    """`source` in `mode` at `target` size, converted and box-reduced a strip at a time."""
    width, height = source.size
    factor_x, factor_y = max(1, width // target[0]), max(1, height // target[1])
    if source.mode == mode and (factor_x, factor_y) == (1, 1):
        reduced: Image.Image = source
    else:
        reduced = Image.new(mode, (math.ceil(width / factor_x), math.ceil(height / factor_y)))
        rows = factor_y * max(1, STRIP_PIXELS // (width * factor_y))
        for top in range(0, height, rows):
            strip = _converted(source.crop((0, top, width, min(height, top + rows))), mode)
            if (factor_x, factor_y) != (1, 1):
                strip = strip.reduce((factor_x, factor_y))
            reduced.paste(strip, (0, top // factor_y))
    if reduced.size == target:
        return reduced
    return reduced.resize(target, Image.Resampling.LANCZOS)


def _decode(data: bytes, rules: ImageRules, max_side: int | None) -> Image.Image:
    with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
        _check_size(source, data, rules)
        target = fit(source.size, max_side) if max_side else source.size
        if source.format in _JPEG_FORMATS:
            # libjpeg scales by 1/2, 1/4 or 1/8 while decoding, staying at or above the target.
            source.draft(None, target)
        source.load()
        # Read after loading: a PNG may carry its EXIF after the pixels.
        orientation = source.getexif().get(_ORIENTATION)
        profile = read_profile(source.info.get("icc_profile"))
        small = _shrink(source, target, _working_mode(source, profile))
    image = to_srgb(small, profile)
    transpose = _TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(transpose) if transpose is not None else image


def decode(data: bytes, rules: ImageRules, *, max_side: int | None) -> Image.Image:
    """The image upright, in sRGB, RGB or RGBA, its long side at most `max_side` (None: its own
    size). Only the first frame of an animation. CPU-bound: call it in a worker thread.

    Raises ImageRejectedError (or a subclass) saying why the bytes are not an acceptable image.
    """
    try:
        return _decode(data, rules, max_side)
    except ImageRejectedError:
        raise
    except UnidentifiedImageError:
        raise ImageRejectedError(
            f"File is not a supported image: send a {ACCEPTED_TEXT} photo"
        ) from None
    except Image.DecompressionBombError:
        # Pillow's own limit, met when opening something far beyond ours.
        raise ImageTooLargeError(
            f"Image is too large (a JPEG may have at most {rules.max_jpeg_pixels:,} pixels, "
            f"another image {rules.max_pixels:,})"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data as any of these.
        raise ImageRejectedError(
            f"Image could not be read (damaged or incomplete file): {type(exc).__name__}"
        ) from None
