"""What the app does once per worker at startup and undoes at shutdown."""

import asyncio
import gc

from fastapi import FastAPI


async def test_startup_objects_are_frozen_out_of_garbage_collection(app: FastAPI) -> None:
    # Full collections would otherwise walk every route, model and compiled statement, a
    # pause of tens of milliseconds for the requests in flight.
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > before + 10_000
        await asyncio.sleep(0)  # lets the maintenance task start, as it does in a server
    assert gc.get_freeze_count() == 0
