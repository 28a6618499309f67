"""Store slugs: made from an email's local part, and the same normalisation for store lookups."""

import re
import secrets

SLUG_MAX_LENGTH = 50
SLUG_MIN_LENGTH = 3
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
# Words that would shadow a frontend or API route, or mislead a shopper.
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "admin", "api", "app", "auth", "dashboard", "docs", "help", "home",
        "login", "logout", "me", "new", "null", "quickvendor", "register", "settings", "signin",
        "signup", "static", "store", "stores", "support", "undefined", "www",
    }
)  # fmt: skip
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def normalise_slug(text: str) -> str:
    """Lower-case, every run of other characters becomes one dash, no dash at either end."""
    return _NON_SLUG.sub("-", text.lower()).strip("-")


def base_slug_for(local_part: str) -> str:
    """The slug a new store starts from; too short or reserved gets a generated one."""
    slug = normalise_slug(local_part)[:SLUG_MAX_LENGTH].rstrip("-")
    if len(slug) < SLUG_MIN_LENGTH:
        return f"store-{secrets.token_hex(4)}"
    return slug


def is_reserved(slug: str) -> bool:
    return slug in RESERVED_SLUGS


def first_free_slug(base: str, taken: set[str]) -> str:
    """`base`, else `base-2`, `base-3`, ... skipping taken and reserved ones."""
    if base not in taken and not is_reserved(base):
        return base
    counter = 2
    while True:
        suffix = f"-{counter}"
        candidate = base[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        counter += 1
