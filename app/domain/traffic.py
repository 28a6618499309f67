"""Where a storefront view came from, whether a robot made it, and which day it counts for."""

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

DIRECT = "direct"
OTHER = "other"
SOURCE_MAX_LENGTH = 32
_SOURCE = re.compile(r"[a-z0-9_-]{1,32}")

# Referer hosts grouped into the names a vendor recognises; matched on the host or a subdomain.
_REFERER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("whatsapp", ("whatsapp.com", "whatsapp.net", "wa.me")),
    ("instagram", ("instagram.com", "cdninstagram.com")),
    ("facebook", ("facebook.com", "fb.com", "fb.me", "messenger.com")),
    ("google", ("google.com", "google.com.ng", "google.co.uk", "googleusercontent.com")),
    ("tiktok", ("tiktok.com",)),
    ("x", ("x.com", "twitter.com", "t.co")),
)

# Link previews and crawlers: WhatsApp's and Facebook's fetchers name themselves, the rest end
# a name in "bot" (Googlebot/2.1, Slackbot-LinkExpanding, PetalBot;, TwitterBot)), say crawler or
# spider, or give a contact URL (+http...); none of them is a person opening the link. "bot"
# alone is no sign: phones are named CUBOT P50 or CUBOT_X19. Scripts and command-line clients
# are not guessed at: a person's own tools count as a visit.
_ROBOT = re.compile(
    r"(?<!cu)bot(?:[/\-_;)]|$)|crawl|spider|\+https?://|slurp|facebookexternalhit|"
    r"facebookcatalog|whatsapp|embedly|preview|scrapy|feedfetcher|mediapartners|ia_archiver",
    re.IGNORECASE,
)


def clean_source(value: str) -> str:
    """A `ref`/`utm_source` value as counted: lower-cased, else `other` when it is not at most
    32 characters of `[a-z0-9_-]`."""
    lowered = value.strip().lower()
    return lowered if _SOURCE.fullmatch(lowered) else OTHER


def referer_source(referer: str | None, own_hosts: frozenset[str] = frozenset()) -> str:
    """The group of a Referer's host; `direct` for none, for this service's own pages and for
    `own_hosts` (the frontend's), `other` for any other site."""
    if not referer:
        return DIRECT
    try:
        host = (urlsplit(referer).hostname or "").lower().rstrip(".")
    except ValueError:
        return OTHER
    if not host:
        return OTHER
    if host in own_hosts:
        return DIRECT
    for name, domains in _REFERER_GROUPS:
        for domain in domains:
            if host == domain or host.endswith("." + domain):
                return name
    return OTHER


def view_source(
    ref: str | None,
    referer: str | None,
    *,
    referer_counts: bool = True,
    own_hosts: frozenset[str] = frozenset(),
) -> str:
    """The source of a view: `ref` (or `utm_source`) when given and not blank, else the
    Referer's group when the Referer counts (not for the JSON storefront, fetched by the
    frontend's own script), else `direct`."""
    if ref is not None and ref.strip():
        return clean_source(ref)
    if not referer_counts:
        return DIRECT
    return referer_source(referer, own_hosts)


def is_robot(user_agent: str | None) -> bool:
    """A crawler or link-preview fetcher (WhatsApp, facebookexternalhit, Twitterbot, Googlebot,
    bingbot, TelegramBot, Slackbot, Discordbot, LinkedInBot, ...)."""
    if not user_agent:
        return False
    return _ROBOT.search(user_agent) is not None


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar day `instant` (time-zone aware) falls on in `zone`."""
    return instant.astimezone(zone).date()


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone)


def next_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of the day after `day` in `zone`."""
    return day_start(day + timedelta(days=1), zone)


DEFAULT_REPORT_DAYS = 30
MAX_REPORT_DAYS = 366


class ReportRangeError(ValueError):
    """Dates a report cannot cover; `field` names the one at fault (`from` or `to`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def report_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The days a report covers: `YYYY-MM-DD` bounds, both included, by default the last 30
    days to `today`; reversed or longer than 366 days is refused."""
    last = _iso_day("to", end) if end else today
    if start:
        first = _iso_day("from", start)
    elif last.toordinal() >= DEFAULT_REPORT_DAYS:
        first = last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    else:
        # The default 30 days would start before year 1, which no date can hold.
        raise ReportRangeError("to", f"`to` leaves no {DEFAULT_REPORT_DAYS} days before it")
    if first > last:
        raise ReportRangeError("from", "`from` is after `to`")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ReportRangeError("to", f"a report covers at most {MAX_REPORT_DAYS} days")
    return first, last


def _iso_day(field: str, text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ReportRangeError(field, f"`{field}` must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportRangeError(field, f"`{field}` is not a day of the calendar") from None


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
