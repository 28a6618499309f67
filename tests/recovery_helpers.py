"""Helpers for the account-recovery tests."""

from fastapi import FastAPI

from app.delivery import outbox
from app.delivery.registry import build_deliverers


async def deliver_queued(app: FastAPI) -> None:
    """STUB until the delivery worker lands: deliver what was queued, once."""
    deliverers = build_deliverers(app.state.settings)
    while outbox.PENDING:
        kind, payload, _ = outbox.PENDING.pop(0)
        await deliverers[kind].deliver(payload)


def forget_queued() -> None:
    """STUB: jobs of earlier tests' apps."""
    outbox.PENDING.clear()
