"""The composition root: builds every layer and wires them together (bot/bootstrap.py runs it)."""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass

import httpx

from bot import logs
from bot.channels.whatsapp import (
    OUTSIDE_WINDOW,
    StatusUpdate,
    WhatsAppChannel,
    WhatsAppWebhook,
)
from bot.config import Settings
from bot.core import keys
from bot.core.clock import Clock, SystemClock
from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.invites import InviteLinks
from bot.core.messages import ChannelName
from bot.core.ports import Channel
from bot.core.router import Core
from bot.metrics import Metered
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


log = logging.getLogger(__name__)


def secret_key(settings: Settings) -> bytes:
    """WASL_SECRET_KEY's bytes or, when it is not set, a key for this process only (with a
    warning): public-survey dedupe and dashboard links then last until the process stops."""
    key = settings.wasl.master_key()
    if key is None:
        log.warning("event=secret_key_missing variable=WASL_SECRET_KEY effect=ephemeral_key")
        return keys.ephemeral()
    return key


def core_config(settings: Settings, key: bytes | None = None) -> CoreConfig:
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
        secret_key=key if key is not None else secret_key(settings),
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


def build_whatsapp(app: App, client: httpx.AsyncClient) -> tuple[Channel, WhatsAppWebhook]:
    """The WhatsApp channel and its webhook logic, wired to the core and the outbox."""
    settings = app.settings.whatsapp
    assert settings.access_token is not None and settings.phone_number_id
    channel = Metered(
        WhatsAppChannel(
            client,
            settings.api_base,
            settings.phone_number_id,
            settings.access_token.get_secret_value(),
        )
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


def setup_logging(level: str = "INFO", settings: Settings | None = None) -> None:
    """Log to stderr through the redacting filter (bot.logs), which also masks every secret
    in `settings`: key=value lines at a terminal, one JSON object per line elsewhere (a
    container, a service: what a log collector reads), or as WASL_LOG_FORMAT says."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    chosen = settings.wasl.log_format if settings is not None else "auto"
    if chosen == "json" or (chosen == "auto" and not sys.stderr.isatty()):
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logs.JsonFormatter())
    logs.install(_secrets(settings) if settings is not None else ())
    # SQL statements and their parameters: never wanted, even at DEBUG.
    for name in ("sqlalchemy", "aiosqlite", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if level.upper() != "DEBUG":  # a line per request or job run otherwise (redacted at DEBUG)
        for name in ("httpx", "httpcore", "alembic", "apscheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _secrets(settings: Settings) -> list[str]:
    """Every configured secret's text, for the log filter to mask wherever it appears."""
    values = [
        settings.telegram.bot_token,
        settings.telegram.webhook_secret,
        settings.whatsapp.access_token,
        settings.whatsapp.app_secret,
        settings.whatsapp.verify_token,
        settings.wasl.secret_key,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    if settings.wasl.secret_key_file is not None:
        with contextlib.suppress(OSError):  # the command refuses to start, saying why
            found.append(settings.wasl.secret_key_file.read_text("utf-8").strip())
    return found
