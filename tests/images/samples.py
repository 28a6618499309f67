"""Images made with Pillow for the image tests and benchmarks: bombs, a phone photo, profiles."""

import io
import struct
import zlib
from functools import cache

from PIL import Image, ImageChops, ImageCms

BOMB_SIDE = 7071  # 50 megapixels
PHONE_SIZE = (8160, 6120)  # a 50-megapixel phone sensor


def palette_bomb(side: int = BOMB_SIDE) -> bytes:
    """About 6 KB: a 1-bit palette PNG of 7071 x 7071 with a transparency entry."""
    image = Image.new("P", (side, side), 0)
    image.putpalette([255, 255, 255, 0, 0, 0])
    out = io.BytesIO()
    image.save(out, "PNG", bits=1, transparency=0, optimize=True)
    return out.getvalue()


def rgba_bomb() -> bytes:
    """About 194 KB: a transparent RGBA PNG of 7071 x 7071."""
    out = io.BytesIO()
    Image.new("RGBA", (BOMB_SIDE, BOMB_SIDE), (0, 0, 0, 0)).save(out, "PNG", compress_level=9)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims to be width x height and holds no pixels: refused on its header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def photo_like(size: tuple[int, int], *, noise: float = 6, seed_side: int = 1024) -> Image.Image:
    """Gradients under sensor-like noise: compresses about as a camera photo does."""
    width, height = size
    grain = Image.effect_noise((seed_side, seed_side), noise)
    tiled = Image.new("L", size)
    for top in range(0, height, seed_side):
        for left in range(0, width, seed_side):
            tiled.paste(grain, (left, top))
    bands = [
        Image.linear_gradient("L").resize(size),
        Image.radial_gradient("L").resize(size),
        Image.linear_gradient("L").rotate(90).resize(size),
    ]
    return Image.merge("RGB", [ImageChops.add(band, tiled, offset=-128) for band in bands])


def jpeg_photo(size: tuple[int, int] = (800, 600), *, noise: float = 6) -> bytes:
    out = io.BytesIO()
    photo_like(size, noise=noise).save(out, "JPEG", quality=90)
    return out.getvalue()


@cache
def phone_jpeg() -> bytes:
    """A 50-megapixel baseline JPEG of about 9 MB with camera EXIF, held upright (orientation 6)."""
    image = photo_like(PHONE_SIZE)
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def large_png(size: tuple[int, int] = (4000, 4000)) -> bytes:
    """An RGBA PNG at the default pixel limit for images decoded at full size (16 MP), a few MB:
    a screenshot or a design export rather than a photo."""
    out = io.BytesIO()
    photo_like(size, noise=0).convert("RGBA").save(out, "PNG", compress_level=1)
    return out.getvalue()


def many_scans_jpeg(scans: int, side: int = 2000) -> bytes:
    """A progressive JPEG of `scans` scans, its last one repeated: libjpeg only warns, and walks
    every coefficient again for each copy (2000 scans of a 16 MP image: about 20 s of CPU)."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 60, 30)).save(out, "JPEG", quality=90, progressive=True)
    data = out.getvalue()
    last_scan = data[data.rfind(b"\xff\xda") : -2]  # up to the end-of-image marker
    repeats = scans - data.count(b"\xff\xda")
    return data[:-2] + last_scan * repeats + b"\xff\xd9"


def swapped_primaries_profile(padding: int = 0) -> bytes:
    """An RGB ICC profile whose red and green primaries are sRGB's green and red, so a pure red
    pixel means green; `padding` zero bytes make it as large as asked."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = bytearray(profile)
    count = struct.unpack(">I", data[128:132])[0]
    entries = {}
    for index in range(count):
        start = 132 + 12 * index
        entries[bytes(data[start : start + 4])] = start
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    data[red + 4 : red + 12], data[green + 4 : green + 12] = (
        data[green + 4 : green + 12],
        data[red + 4 : red + 12],
    )
    data += bytes(padding)
    data[0:4] = struct.pack(">I", len(data))
    return bytes(data)


def jpeg_with_profile(
    size: tuple[int, int], colour: tuple[int, int, int], profile: bytes, quality: int = 95
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=quality, icc_profile=profile)
    return out.getvalue()
