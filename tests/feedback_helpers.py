"""Shared by the feedback and delivery tests: the frontend's exact call, a stand-in Slack, log
capture, and reading what was stored."""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.observability.logging import RequestContextFilter
from tests.conftest import FRONTEND

THANK_YOU = {
    "success": True,
    "message": "Thank you for your feedback! We've received it and will review it promptly.",
}
# What a hostile report may try in Slack: ping everyone, forge a link, mention a user, break
# out with an entity.
HOSTILE = "<!channel> look <http://evil.example/|your bank> &amp; <@U024BE7LH> <!here>"
FEEDBACK_ID = re.compile(r"feedback_[0-9a-f]{32}")


def report_body(message: str, **fields: Any) -> dict[str, Any]:
    """The JSON the frontend's FeedbackModal sends."""
    body: dict[str, Any] = {
        "message": message,
        "url": "https://quickvendor.example/dashboard?tab=products",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    body.update(fields)
    return body


async def send_report(
    client: httpx.AsyncClient, message: str, *, base_url: str = "", **fields: Any
) -> httpx.Response:
    """The frontend's fetch: POST JSON with Content-Type application/json from its origin."""
    return await client.post(
        f"{base_url}/api/feedback/report",
        json=report_body(message, **fields),
        headers={"Content-Type": "application/json", "Origin": FRONTEND},
    )


def feedback_ids(texts: list[str]) -> list[str]:
    """The report id each Slack text names (one per text)."""
    return [FEEDBACK_ID.findall(text)[0] for text in texts]


async def stored(engine: AsyncEngine, table: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        return [dict(row._mapping) for row in rows]


@contextmanager
def app_log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record logged meanwhile, by the app and the libraries it uses (create_app installs
    its own root handler, replacing pytest's, so this one is added after it)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    # As the app's own handler sees them: with the request id (and redacted).
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def logged_text(records: list[logging.LogRecord]) -> str:
    """Messages and extra fields of the records, as one text to search."""
    return "\n".join(f"{record.getMessage()} {record.__dict__}" for record in records)
