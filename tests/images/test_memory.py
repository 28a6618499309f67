"""Decompression bombs and large photos against a real uvicorn worker, its memory read from /proc
(issue 12, item 4). The bounds are the issue's targets, above the worker's idle level; the
figures themselves are printed by bench/image_memory.py."""

import logging
from pathlib import Path

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.images.memory import measure

logger = logging.getLogger(__name__)
ONE_DECODE_MIB = 300
FOUR_AT_ONCE_MIB = 600


async def test_bombs_and_a_phone_photo_stay_within_the_memory_targets(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    report = await anyio.to_thread.run_sync(measure, database_url, tmp_path)
    logger.info("memory of one uvicorn worker (server log: %s):\n%s", tmp_path, report.table())
    palette, rgba, four_palette, four_rgba, phone, admitted, four_large = report.figures
    # The bombs are refused with 413 before a pixel is decoded; the phone photo and PNGs at the
    # pixel limit are taken.
    assert [palette.statuses, rgba.statuses] == [[413], [413]], report.table()
    assert four_palette.statuses == four_rgba.statuses == [413] * 4, report.table()
    assert phone.statuses == admitted.statuses == [200], report.table()
    assert four_large.statuses == [200] * 4, report.table()
    for one in (palette, rgba, phone, admitted):
        assert one.peak_above_idle < ONE_DECODE_MIB, report.table()
    for four in (four_palette, four_rgba, four_large):
        assert four.peak_above_idle < FOUR_AT_ONCE_MIB, report.table()
    # What the decodes used is given back, not kept by the worker.
    assert four_large.after_above_idle < ONE_DECODE_MIB, report.table()
