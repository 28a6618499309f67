"""The pure traffic rules: a view's source, robots, and the day in the vendors' time zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.traffic import (
    clean_source,
    is_robot,
    local_day,
    next_day_start,
    referer_source,
    view_source,
)

LAGOS = ZoneInfo("Africa/Lagos")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("instagram", "instagram"),
        ("Instagram", "instagram"),
        (" WhatsApp_Status-2 ", "whatsapp_status-2"),
        ("a" * 32, "a" * 32),
        ("a" * 33, "other"),
        ("insta gram", "other"),
        ("<script>", "other"),
        ("", "other"),
        ("ínstagram", "other"),
    ],
)
def test_ref_values_are_lower_cased_or_other(value: str, expected: str) -> None:
    assert clean_source(value) == expected


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        (None, "direct"),
        ("", "direct"),
        ("https://web.whatsapp.com/", "whatsapp"),
        ("https://wa.me/2348012345678", "whatsapp"),
        ("https://l.instagram.com/?u=x", "instagram"),
        ("https://lm.facebook.com/l.php?u=x", "facebook"),
        ("https://m.facebook.com/", "facebook"),
        ("https://www.google.com/", "google"),
        ("https://www.google.com.ng/search?q=ankara", "google"),
        ("https://www.tiktok.com/@ada", "tiktok"),
        ("https://t.co/abc", "x"),
        ("https://x.com/ada", "x"),
        ("https://twitter.com/ada", "x"),
        ("https://notfacebook.com/", "other"),
        ("https://example.org/page", "other"),
        ("not a url", "other"),
        ("http://[::1", "other"),
        ("https://shop.example.com/s/ada", "direct"),
    ],
)
def test_referer_hosts_are_grouped(referer: str | None, expected: str) -> None:
    assert referer_source(referer, frozenset({"shop.example.com"})) == expected


def test_ref_wins_and_the_json_storefront_ignores_the_referer() -> None:
    facebook = "https://m.facebook.com/"
    assert view_source("IG", facebook) == "ig"
    assert view_source(None, facebook) == "facebook"
    assert view_source(None, facebook, referer_counts=False) == "direct"
    assert view_source("status", facebook, referer_counts=False) == "status"
    assert view_source(None, None) == "direct"
    # An empty `ref=` is no source: the Referer still tells.
    assert view_source("", facebook) == "facebook"
    assert view_source("  ", facebook) == "facebook"
    assert view_source("", None) == "direct"


@pytest.mark.parametrize(
    "agent",
    [
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "TelegramBot (like TwitterBot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "DuckDuckBot-Https/1.1; (+https://duckduckgo.com/duckduckbot)",
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/"
        "537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "facebookcatalog/1.0",
        "WhatsApp/2.23.20.0 i",
        "some-crawler/1.0",
        "Baiduspider",
        "Mozilla/5.0 (compatible; Bytespider; spider-feedback@bytedance.com)",
        "Mozilla/5.0 (compatible; SomeNewFetcher/1.0; +https://fetcher.example/about)",
        "examplebot",
    ],
)
def test_crawlers_and_previews_are_robots(agent: str) -> None:
    assert is_robot(agent)


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (Linux; Android 10; TECNO KE5) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Mobile/15E148 Instagram 307.0.0.34.111",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) [FBAN/FBIOS;FBAV/440.0]",
        "Mozilla/5.0 (Linux; Android 11; CUBOT P50) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/96.0.4664.104 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/87.0.4280.101 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 10; CUBOT KINGKONG 5 Pro) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/114.0.5735.196 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 12; TECNO CK7n) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.144 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 12; Infinix X6816C) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.6045.163 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 10; itel L6005) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/116.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
        "Opera/9.80 (Android; Opera Mini/7.6.40234/191.303; U; en) Presto/2.12.423 Version/12.16",
        "Mozilla/5.0 (Linux; U; Android 10; en-US; itel A571W Build/QP1A.190711.020) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 "
        "OPR/Mini/72.0.2254.71128 Mobile Safari/537.36",
        "python-httpx/0.28.1",
        "",
        None,
    ],
)
def test_people_and_their_tools_are_not_robots(agent: str | None) -> None:
    assert not is_robot(agent)


def test_the_day_turns_at_midnight_in_lagos_not_utc() -> None:
    # Lagos is UTC+1 all year (no daylight saving): 23:00 UTC is already the next day there.
    assert local_day(datetime(2026, 3, 1, 22, 59, 59, tzinfo=UTC), LAGOS) == date(2026, 3, 1)
    assert local_day(datetime(2026, 3, 1, 23, 0, 0, tzinfo=UTC), LAGOS) == date(2026, 3, 2)
    for month in range(1, 13):
        start = next_day_start(date(2026, month, 14), LAGOS)
        assert start.utcoffset() == timedelta(hours=1)
        assert start.astimezone(UTC) == datetime(2026, month, 14, 23, tzinfo=UTC)


def test_a_zone_with_daylight_saving_has_a_short_day() -> None:
    london = ZoneInfo("Europe/London")
    # Compared in UTC: Python subtracts two times of one zone by their wall clocks.
    start = next_day_start(date(2026, 3, 28), london).astimezone(UTC)
    end = next_day_start(date(2026, 3, 29), london).astimezone(UTC)
    assert end - start == timedelta(hours=23)
