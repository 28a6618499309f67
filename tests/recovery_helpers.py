"""Helpers for the account-recovery tests."""

import asyncio
import time

from fastapi import FastAPI
from sqlalchemy import func, select

from app.delivery.worker import DeliveryWorker
from app.models import DeliveryJob, JobStatus


async def deliver_queued(app: FastAPI, within: float = 60.0) -> None:
    """What the in-process worker does (ASGI tests run no lifespan): try the queued emails, and
    the ones a try put off (a slow moment on a busy machine), until none is left to send."""
    worker: DeliveryWorker = app.state.delivery_worker
    deadline = time.monotonic() + within
    while True:
        await worker.run_once()
        async with app.state.engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count())
                .select_from(DeliveryJob)
                .where(DeliveryJob.status == JobStatus.PENDING)
            )
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending} emails still queued after {within}s")
        await asyncio.sleep(0.1)
