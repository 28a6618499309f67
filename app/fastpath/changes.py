"""Store changes, told to every worker: what makes `RecentReads` forget.

A session of this app whose flush or statement changes what a store shows (a product, the
vendor's store fields, a store link, a photo's sizes) is marked; on PostgreSQL it also queues a
NOTIFY in the same transaction, which the database delivers to every worker's listener when,
and only if, the transaction commits. The session's own process forgets at its commit, before
the request that made the change has answered. What changes a store otherwise (a script, an
adoption, SQL by hand) shows within STORE_CACHE_SECONDS anyway.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from app.models import Photo, Product, StoreAlias, User

logger = logging.getLogger("app.store_changes")

CHANNEL = "qv_store_changed"
# Session info: the callback that forgets this process's recent reads (set by the app factory),
# and this process's name in its notifications (it forgot at its commit: no need to hear them).
ON_STORE_CHANGE = "on_store_change"
ORIGIN = "store_change_origin"
# Execution option for a statement that changes nothing a store shows (a tap's count).
NOT_SHOWN = "store_not_shown"
_PENDING = "store_change_pending"
_NOTIFY = text("SELECT pg_notify(:channel, :origin)")
# The vendor's fields a store shows; a login or a password change touches none of them.
_SHOWN_USER_FIELDS = ("email", "whatsapp_number", "store_name", "store_slug", "banner_url")
_ALWAYS_SHOWN = (Product, StoreAlias, Photo)
# How long the listener waits before connecting again after losing its connection.
RECONNECT_SECONDS = 1.0


def forget_on_store_change(forget: Callable[[], None], origin: str) -> dict[str, Any]:
    """Session `info` that calls `forget` after a commit that changed a store, and names this
    process (`origin`) in the notification the other processes hear."""
    return {ON_STORE_CHANGE: forget, ORIGIN: origin}


def _shows(instance: object, *, changed: bool) -> bool:
    if isinstance(instance, _ALWAYS_SHOWN):
        if isinstance(instance, Product) and changed:
            return _product_change_shown(instance)
        return True
    if isinstance(instance, User):
        if not changed:
            return True
        state: Any = instance
        return any(
            state._sa_instance_state.attrs[name].history.has_changes()
            for name in _SHOWN_USER_FIELDS
        )
    return False


def _product_change_shown(product: Product) -> bool:
    state: Any = product
    attrs = state._sa_instance_state.attrs
    return any(attr.history.has_changes() for attr in attrs if attr.key != "click_count")


def _mark(session: Session) -> None:
    if session.info.get(_PENDING) or ON_STORE_CHANGE not in session.info:
        return
    session.info[_PENDING] = True
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Delivered to every listener at commit, dropped with a rollback.
        connection.execute(_NOTIFY, {"channel": CHANNEL, "origin": session.info[ORIGIN]})


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    if ON_STORE_CHANGE not in session.info or session.info.get(_PENDING):
        return
    # Looked at before the flush, while each object's changes are still pending.
    if (
        any(_shows(obj, changed=False) for obj in session.new)
        or any(_shows(obj, changed=False) for obj in session.deleted)
        or any(_shows(obj, changed=True) for obj in session.dirty)
    ):
        _mark(session)


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    session = state.session
    if ON_STORE_CHANGE not in session.info or session.info.get(_PENDING):
        return
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    if state.execution_options.get(NOT_SHOWN):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, (*_ALWAYS_SHOWN, User)):
        _mark(session)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_PENDING, None):
        session.info[ON_STORE_CHANGE]()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: object) -> None:
    session.info.pop(_PENDING, None)


class ChangeListener:
    """LISTENs on its own PostgreSQL connection and forgets on each store change; while it has
    no connection (a change could pass unheard) `trust(False)` stops recent reads being used."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        origin: str,
        forget: Callable[[], None],
        trust: Callable[[bool], None],
    ) -> None:
        self._connect = connect
        self._origin = origin
        self._forget = forget
        self._trust = trust
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _heard(self, _connection: object, _pid: int, _channel: str, origin: object) -> None:
        if origin != self._origin:
            self._forget()

    def _closed(self, *_: object) -> None:
        self._lost.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            self._trust(False)
            try:
                connection: asyncpg.Connection = await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                if failures == 0:
                    logger.warning(
                        "store change listener cannot connect (%s); store reads not reused",
                        type(exc).__name__,
                    )
                failures += 1
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            try:
                self._lost.clear()
                connection.add_termination_listener(self._closed)
                await connection.add_listener(CHANNEL, self._heard)
                # Whatever changed while nobody listened is forgotten before answers are kept.
                self._forget()
                self._trust(True)
                if failures:
                    logger.info("store change listener connected again")
                failures = 0
                await self._lost.wait()
                logger.warning("store change listener lost its connection; store reads not reused")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("store change listener failed (%s)", type(exc).__name__)
            finally:
                self._trust(False)
                if not connection.is_closed():
                    await connection.close(timeout=2)
            failures += 1
            await asyncio.sleep(RECONNECT_SECONDS)
