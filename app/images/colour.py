"""Colours as a browser shows them without a profile: sRGB, the ICC profile converted away.

A profile can be megabytes (a 16 x 16 photo once carried 3 MB into its WebP); browsers assume
sRGB for an image without one, so converting to sRGB and dropping the profile keeps the colours
and none of the bytes.
"""

import io

from PIL import Image, ImageCms

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# The image mode matching each ICC colour space this code converts from.
_SPACE_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}


class ColourProfile:
    """An embedded ICC profile this code can convert from, and the image mode it describes."""

    def __init__(self, profile: ImageCms.ImageCmsProfile, mode: str) -> None:
        self.profile = profile
        self.mode = mode


def read_profile(icc: bytes | None) -> ColourProfile | None:
    """The profile, or None when there is none or it is unusable (the image is taken as sRGB)."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError, ValueError):
        return None
    mode = _SPACE_MODES.get(profile.profile.xcolor_space.strip())
    return ColourProfile(profile, mode) if mode else None


def to_srgb(image: Image.Image, profile: ColourProfile | None) -> Image.Image:
    """RGB, or RGBA where `image` has alpha, in sRGB. Call it on the small image, not the full one.

    `image` is RGB, RGBA, L, LA or CMYK; a profile for another colour space than the image's is
    ignored.
    """
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    wanted = "RGBA" if alpha else "RGB"
    colours = image.mode.removesuffix("A") if alpha else image.mode
    if profile is not None and profile.mode == colours:
        plain = image.convert(colours) if alpha else image
        try:
            converted = ImageCms.profileToProfile(plain, profile.profile, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, ValueError):
            converted = None
        if converted is not None:
            if alpha:
                converted.putalpha(alpha)
            converted.info.pop("icc_profile", None)
            return converted
    return image if image.mode == wanted else image.convert(wanted)
