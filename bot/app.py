"""The composition root: the only module that wires every layer together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from bot.channels.whatsapp import (
    OUTSIDE_WINDOW,
    StatusUpdate,
    WhatsAppChannel,
    WhatsAppWebhook,
)
from bot.config import Settings
from bot.core.clock import Clock, SystemClock
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.invites import InviteLinks
from bot.core.messages import ChannelName
from bot.core.router import Core
from handlers import build_router
from storage.engine import make_engine, migrate
from storage.outbox import OutboxStore
from storage.store import SqlStore


@dataclass
class App:
    """Everything a running Wasl needs, built once."""

    settings: Settings
    store: SqlStore
    catalogs: Catalogs
    core: Core

    async def migrate(self) -> None:
        await migrate(self.store.engine)

    async def close(self) -> None:
        await self.store.close()


def core_config(settings: Settings) -> CoreConfig:
    admins = frozenset((ChannelName.TELEGRAM.value, i) for i in settings.wasl.admin_telegram_ids)
    return CoreConfig(
        open_join=settings.wasl.open_join,
        admin_ids=admins,
        countries=tuple(settings.wasl.countries),
        approval_threshold=settings.wasl.approval_threshold,
        update_retention_days=settings.wasl.update_retention_days,
        min_cell=settings.wasl.min_cell,
        flood_per_minute=settings.wasl.flood_per_minute,
        public_url=settings.wasl.public_url,
        invite_links=InviteLinks(
            telegram_username=settings.telegram.bot_username,
            whatsapp_number=settings.whatsapp.phone_number,
        ),
    )


def build_app(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    """Wire storage, catalogs, handlers and the core from settings."""
    settings = settings or Settings()
    store = SqlStore(make_engine(settings.database.database_url))
    catalogs = Catalogs(default=settings.wasl.default_locale)
    core = Core(store, build_router(), catalogs, clock or SystemClock(), core_config(settings))
    return App(settings=settings, store=store, catalogs=catalogs, core=core)


def build_whatsapp(app: App, client: httpx.AsyncClient) -> tuple[WhatsAppChannel, WhatsAppWebhook]:
    """The WhatsApp channel and its webhook logic, wired to the core and the outbox."""
    settings = app.settings.whatsapp
    assert settings.access_token is not None and settings.phone_number_id
    channel = WhatsAppChannel(
        client,
        settings.api_base,
        settings.phone_number_id,
        settings.access_token.get_secret_value(),
    )
    outbox = OutboxStore(app.store)

    async def record_status(status: StatusUpdate) -> None:
        error = (
            f"whatsapp {status.error_code}: {status.error_title}" if status.error_code else None
        )
        await outbox.record_status(
            status.message_id, status.status, error, status.error_code == OUTSIDE_WINDOW
        )

    webhook = WhatsAppWebhook(
        channel,
        app.core.handle,
        record_status,
        app_secret=settings.app_secret.get_secret_value() if settings.app_secret else "",
        verify_token=settings.verify_token.get_secret_value() if settings.verify_token else "",
    )
    return channel, webhook


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # httpx logs every request URL at INFO, and Telegram URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run otherwise
