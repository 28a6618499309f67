"""Files the store pages load from this service, each under a URL that names its content, so a
browser or CDN may keep it for a year and a new version is a new URL."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
# A year: the URL changes with the content, so a kept copy is never stale.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    path: str  # where it is served
    etag: str

    @property
    def url(self) -> str:
        """The path with the content's hash: what pages link to."""
        return f"{self.path}?v={self.etag.strip(chr(34))[:16]}"


def _asset(name: str, media_type: str, path: str) -> Asset:
    body = (STATIC / name).read_bytes()
    return Asset(body, media_type, path, f'"{hashlib.sha256(body).hexdigest()}"')


# The store pages' cart (app/web/static/cart.js): the pages work without it.
CART_SCRIPT = _asset("cart.js", "text/javascript; charset=utf-8", "/s-assets/cart.js")
