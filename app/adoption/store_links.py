"""Store slugs and link aliases for the earlier backend's vendors, so every old link still works.

The earlier backend served `/store/<store_slug>`, or `/store/<email local part>` where no slug was
set (some rows also hold a `store_url` ending in such a link). Each link is "claimed" by the
vendor it reached. Every vendor gets a slug that no other
vendor's claim can be mistaken for, and every claimed link that differs from its vendor's slug
becomes an alias, which the storefront matches exactly (case-insensitively) before the slug.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.slugs import base_slug_for, first_free_slug, normalise_slug


@dataclass(frozen=True, slots=True)
class LegacyVendor:
    id: str
    email: str
    store_slug: str | None
    store_url: str | None = None

    @property
    def old_slug(self) -> str | None:
        """The slug it had, if any (one of nothing but punctuation never served a store)."""
        return self.store_slug if self.store_slug and normalise_slug(self.store_slug) else None

    @property
    def local_part(self) -> str:
        return self.email.split("@", 1)[0]

    @property
    def url_link(self) -> str | None:
        """The last path segment of `store_url` (`https://.../store/ada.b` -> `ada.b`)."""
        if not self.store_url:
            return None
        return self.store_url.rstrip("/").rsplit("/", 1)[-1] or None


@dataclass(frozen=True, slots=True)
class StoreLinks:
    slugs: dict[str, str]  # user id -> the vendor's slug
    aliases: dict[str, str]  # old link, lower-cased -> user id


def _is_slug(text: str) -> bool:
    return bool(text) and normalise_slug(text) == text


def _claims(vendors: Sequence[LegacyVendor]) -> dict[str, str]:
    """Old links and the vendor each reached; on a tie the first-registered vendor keeps it.

    Slugs come first (the earlier backend matched them before local parts), well-formed ones
    before those that differ from another only by case; `store_url` links come last.
    """
    claims: dict[str, str] = {}
    for vendor in vendors:
        if vendor.old_slug and _is_slug(vendor.old_slug):
            claims.setdefault(vendor.old_slug, vendor.id)
    for vendor in vendors:
        if vendor.old_slug and not _is_slug(vendor.old_slug):
            claims.setdefault(vendor.old_slug.lower(), vendor.id)
    for vendor in vendors:
        if not vendor.old_slug and vendor.local_part:
            claims.setdefault(vendor.local_part.lower(), vendor.id)
    for vendor in vendors:
        if vendor.url_link:
            claims.setdefault(vendor.url_link.lower(), vendor.id)
    return claims


def plan_store_links(vendors: Sequence[LegacyVendor]) -> StoreLinks:
    """Slugs and aliases for `vendors`, given in registration order (first-registered first)."""
    claims = _claims(vendors)
    owned: dict[str, set[str]] = {}
    for link, owner in claims.items():
        owned.setdefault(owner, set()).add(link)
    # Well-formed slugs are kept as they are: they are the links vendors shared.
    slugs = {
        vendor.id: vendor.old_slug
        for vendor in vendors
        if vendor.old_slug and _is_slug(vendor.old_slug)
    }
    blocked = set(slugs.values()) | set(claims)
    for vendor in vendors:
        if vendor.id in slugs:
            continue
        # A vendor may take its own old link as its slug, never another vendor's.
        own = owned.get(vendor.id, set())
        blocked -= own
        source = vendor.old_slug or vendor.local_part
        slug = first_free_slug(base_slug_for(source), blocked)
        blocked |= own | {slug}
        slugs[vendor.id] = slug
    aliases = {link: owner for link, owner in claims.items() if slugs[owner] != link}
    return StoreLinks(slugs=slugs, aliases=aliases)
