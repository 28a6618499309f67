"""What the app does once per worker at startup and undoes at shutdown."""

import asyncio
import gc

import pytest
from fastapi import FastAPI

from app.main import YOUNG_COLLECTION_THRESHOLD


async def test_startup_objects_are_frozen_out_of_garbage_collection(app: FastAPI) -> None:
    # Full collections would otherwise walk every route, model and compiled statement, a
    # pause of tens of milliseconds for the requests in flight.
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > before + 10_000
        await asyncio.sleep(0)  # lets the maintenance task start, as it does in a server
    assert gc.get_freeze_count() == 0


async def test_young_collections_wait_for_more_objects_than_requests_in_flight_hold(
    app: FastAPI,
) -> None:
    # At Python's default of 700, a collection ran every ~120 storefront requests with Sentry
    # on and found nothing to free; the default comes back at shutdown.
    default = gc.get_threshold()
    assert default[0] != YOUNG_COLLECTION_THRESHOLD
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *default[1:])
    assert gc.get_threshold() == default


async def test_collections_and_the_freeze_come_back_when_the_app_s_run_ends_in_an_error(
    app: FastAPI,
) -> None:
    default = gc.get_threshold()
    with pytest.raises(RuntimeError, match="serving failed"):
        async with app.router.lifespan_context(app):
            assert gc.get_freeze_count() > 10_000
            raise RuntimeError("serving failed")
    assert gc.get_threshold() == default
    assert gc.get_freeze_count() == 0
