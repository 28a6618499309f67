"""Slugs and aliases planned for the earlier backend's vendors: every old link keeps its vendor."""

from app.adoption.store_links import LegacyVendor, StoreLinks, plan_store_links
from app.domain.slugs import normalise_slug


def resolve(links: StoreLinks, link: str) -> str | None:
    """The storefront's rule: an exact (case-insensitive) alias, else the normalised slug."""
    if link.lower() in links.aliases:
        return links.aliases[link.lower()]
    owners = [uid for uid, slug in links.slugs.items() if slug == normalise_slug(link)]
    return owners[0] if owners else None


def vendor(uid: str, email: str, slug: str | None = None) -> LegacyVendor:
    return LegacyVendor(id=uid, email=email, store_slug=slug)


def test_local_parts_that_collide_once_normalised_keep_their_own_vendor() -> None:
    links = plan_store_links([vendor("first", "ada.b@x.com"), vendor("second", "ada_b@y.com")])
    assert links.slugs == {"first": "ada-b", "second": "ada-b-2"}
    assert resolve(links, "ada.b") == "first"
    assert resolve(links, "Ada.B") == "first"
    assert resolve(links, "ada_b") == "second"
    assert resolve(links, "ada-b") == "first"
    assert resolve(links, "ada-b-2") == "second"


def test_a_local_part_already_in_slug_form_keeps_its_link_whoever_registered_first() -> None:
    # `ada-b` was the second vendor's link; the first vendor's `ada.b` only normalises to it.
    links = plan_store_links([vendor("first", "ada.b@x.com"), vendor("second", "ada-b@y.com")])
    assert links.slugs["second"] == "ada-b"
    assert resolve(links, "ada-b") == "second"
    assert resolve(links, "ada.b") == "first"
    assert resolve(links, links.slugs["first"]) == "first"


def test_existing_slugs_are_kept_and_beat_local_parts() -> None:
    links = plan_store_links(
        [
            vendor("slugless", "mama-put@x.com"),
            vendor("owner", "owner@x.com", "mama-put"),
            vendor("odd", "kemi@x.com", "Kemi_Styles"),
        ]
    )
    assert links.slugs["owner"] == "mama-put"
    assert resolve(links, "mama-put") == "owner"  # the earlier backend matched slugs first
    assert links.slugs["slugless"] == "mama-put-2"
    assert links.slugs["odd"] == "kemi-styles"
    assert resolve(links, "Kemi_Styles") == "odd"


def test_short_reserved_and_shared_local_parts() -> None:
    links = plan_store_links(
        [
            vendor("short", "jo@x.com"),
            vendor("reserved", "Admin@x.com"),
            vendor("ada", "ada@x.com"),
            vendor("other-ada", "ada@y.com"),
        ]
    )
    assert resolve(links, "jo") == "short"
    assert links.slugs["short"].startswith("store-")
    assert resolve(links, "admin") == "reserved"
    assert links.slugs["reserved"] == "admin-2"
    # The same local part at two domains: the first-registered vendor keeps the link.
    assert resolve(links, "ada") == "ada"
    assert links.slugs["other-ada"] == "ada-2"


def test_no_alias_shadows_a_slug_and_every_slug_is_unique() -> None:
    vendors = [
        vendor(f"user{n}", email, slug)
        for n, (email, slug) in enumerate(
            [
                ("a.b@x.com", None),
                ("a_b@x.com", None),
                ("a-b@x.com", None),
                ("A.B@y.com", None),
                ("shop@x.com", "a-b-2"),
                ("x@x.com", "A_B"),
                ("store@x.com", None),
                ("api@x.com", None),
            ]
        )
    ]
    links = plan_store_links(vendors)
    slugs = list(links.slugs.values())
    assert len(set(slugs)) == len(vendors)
    assert not set(links.aliases) & set(slugs)
    for slug in slugs:
        assert resolve(links, slug) == next(u for u, s in links.slugs.items() if s == slug)


def test_store_url_links_and_punctuation_slugs() -> None:
    links = plan_store_links(
        [
            LegacyVendor(
                "url", "kemi@x.com", None, "https://quickvendor.example/store/Kemi.Wears/"
            ),
            LegacyVendor("dashes", "bola@x.com", "---", None),
        ]
    )
    assert resolve(links, "Kemi.Wears") == "url"
    assert resolve(links, "kemi") == "url"
    # A slug of nothing but punctuation never served a store: the local part's link counts.
    assert links.slugs["dashes"] == "bola"
    assert resolve(links, "bola") == "dashes"
