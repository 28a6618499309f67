"""A delivery that is given up reaches a real Sentry-compatible server (Bugsink) once, tagged
with the request that queued it, without the report's text or the webhook's URL."""

import asyncio
import time
from collections.abc import Iterator

import pytest

from app.delivery.worker import DeliveryWorker
from tests.feedback_helpers import send_report
from tests.observability.conftest import Observe
from tests.slack_stub import FAIL, GONE, SlackStub, running_slack_stub

PRIVATE = "Private note: call me on 08031234567 about order 88"


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    with running_slack_stub() as stub:
        yield stub


async def test_a_given_up_delivery_reaches_sentry_once_without_the_report(
    observe: Observe, slack: SlackStub
) -> None:
    obs = await observe(SLACK_WEBHOOK_URL=slack.url, DELIVERY_MAX_ATTEMPTS=2)
    # assert_no_secrets (at teardown) searches everything Sentry got for these.
    obs.secrets |= {PRIVATE, "08031234567", "Private note", "/services/T000/B000/stub"}
    worker: DeliveryWorker = obs.app.state.delivery_worker
    slack.play(FAIL, GONE)
    response = await send_report(obs.client, PRIVATE)
    assert response.status_code == 200

    assert await worker.run_once() == 1  # 500: retried later, not an error yet
    assert obs.errors() == []
    deadline = time.monotonic() + 60
    while await worker.run_once() == 0:  # the first backoff is a second at most
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert slack.answers() == [FAIL, GONE]

    [event] = obs.errors()
    assert event["level"] == "error"
    assert event["logger"] == "app.delivery"
    message = event["logentry"]["formatted"] if "logentry" in event else event["message"]
    assert "given up after 2 attempt(s): HTTP 404" in message
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    # One more round finds nothing to do and reports nothing more.
    assert await worker.run_once() == 0
    assert len(obs.errors()) == 1
