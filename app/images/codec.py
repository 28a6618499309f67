"""Turn an uploaded file into what is stored: decoded safely, cleaned, resized, re-encoded."""

from app.images.decode import decode
from app.images.encode import EncodedImage, EncodedPhoto, encode_photo
from app.images.rules import ImageRules


def reencode(data: bytes, rules: ImageRules) -> EncodedPhoto:
    """An upload as a clean WebP (long side at most `max_side`), its widths and its preview.

    CPU-bound: call it in a worker thread (ImageWorkers). Raises ImageRejectedError.
    """
    image = decode(data, rules, max_side=rules.max_side)
    return encode_photo(image, rules.quality)


def derive(stored: bytes, rules: ImageRules) -> EncodedPhoto:
    """The widths and preview of a stored original, which is kept as it is (for the backfill)."""
    image = decode(stored, rules, max_side=None)
    return encode_photo(image, rules.quality, EncodedImage(stored, image.width, image.height))
