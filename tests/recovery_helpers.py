"""Helpers for the account-recovery tests."""

from fastapi import FastAPI

from app.delivery.worker import DeliveryWorker


async def deliver_queued(app: FastAPI) -> None:
    """What the in-process worker does when woken (ASGI tests run no lifespan): send the due
    emails until none is left."""
    worker: DeliveryWorker = app.state.delivery_worker
    while await worker.run_once():
        pass
