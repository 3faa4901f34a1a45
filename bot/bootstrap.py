"""The process bootstrap: which channels run, wired to the core, the inbox and the runtime.

The adapters (bot/channels) only translate between a platform and the core's messages; the
web app (bot/web.py) only answers HTTP. Here they are put together and run until a signal:
`wasl run` and `wasl serve` (serve) and `wasl chat` (chat).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import uvicorn

from bot.app import App, build_whatsapp
from bot.channels.console import ConsoleChannel
from bot.channels.telegram import (
    ApiRequest,
    TelegramApplication,
    TelegramChannel,
    make_application,
    set_commands,
)
from bot.config import missing_secrets
from bot.core.messages import ChannelName
from bot.core.ports import Channel
from bot.metrics import Metered
from bot.runtime import Runtime
from bot.web import build_web

log = logging.getLogger(__name__)


def build_application(
    app: App,
    *,
    runtime: bool = False,
    request: ApiRequest | None = None,
    get_updates_request: ApiRequest | None = None,
) -> TelegramApplication:
    """The Telegram application for `app`: every update goes to the core.

    At start it publishes the command menu and learns the bot's username (for /invite's
    links); `runtime` also starts the delivery worker and scheduler with it and stops them
    before it shuts down. `request`s replace PTB's HTTP layer (tests).
    """
    settings = app.settings.telegram
    assert settings.bot_token is not None, "TELEGRAM_BOT_TOKEN is not set"
    services = _TelegramServices(app, runtime=runtime)
    return make_application(
        settings.bot_token.get_secret_value(),
        app.core.handle,
        api_base=settings.api_base,
        post_init=services.started,
        post_stop=services.stopping,
        request=request,
        get_updates_request=get_updates_request,
    )


class _TelegramServices:
    """What starts and stops with the Telegram application: the command menu, the bot's
    username in the core's configuration, and the runtime."""

    def __init__(self, app: App, *, runtime: bool) -> None:
        self.app = app
        self.runtime = runtime
        self._running: Runtime | None = None

    async def started(self, application: TelegramApplication) -> None:
        await set_commands(application.bot, self.app.core.router, self.app.catalogs)
        links = self.app.core.config.invite_links
        if not links.telegram_username:  # /invite's links need it: getMe told us at start
            self.app.core.config = replace(
                self.app.core.config,
                invite_links=replace(links, telegram_username=application.bot.username),
            )
        if self.runtime:
            self._running = Runtime(
                self.app, {ChannelName.TELEGRAM: Metered(TelegramChannel(application.bot))}
            )
            await self._running.start()

    async def stopping(self, _: TelegramApplication) -> None:
        if self._running is not None:
            await self._running.stop()
            self._running = None


async def serve(
    app: App,
    host: str,
    port: int,
    *,
    runtime: bool = False,
    register: bool = False,
    poll: bool = False,
) -> None:
    """Serve the web app with uvicorn until a signal; Telegram only when a token is set.

    `runtime` also runs the delivery worker and scheduler (`wasl run` with a webhook);
    `wasl serve` workers only take webhooks and answer /healthz.
    """
    settings = app.settings
    missing = missing_secrets(settings, telegram_webhook=not poll)
    if missing:
        # A channel without its secrets would take anyone's requests: it does not start.
        raise SystemExit(f"{', '.join(missing)} must be set: refusing to start without it")
    telegram = build_application(app) if settings.telegram.enabled else None
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        whatsapp_channel, whatsapp = (
            build_whatsapp(app, client) if settings.whatsapp.enabled else (None, None)
        )
        channels: dict[ChannelName, Channel] = {}
        if telegram is not None:
            channels[ChannelName.TELEGRAM] = Metered(TelegramChannel(telegram.bot))
        if whatsapp_channel is not None:
            channels[ChannelName.WHATSAPP] = whatsapp_channel
        web = build_web(
            app,
            telegram,
            register=register,
            whatsapp=whatsapp,
            runtime=Runtime(app, channels) if runtime else None,
            poll=poll,
        )
        config = uvicorn.Config(
            web, host=host, port=port, lifespan="on", access_log=False, log_config=None
        )
        log.info("event=serving host=%s port=%s", host, port)
        server = _Server(config)
        settle_memory()
        try:
            await server.serve()
        except SystemExit:
            if server.started:
                raise
            # uvicorn logged why (most often the port is taken); one line says what to do
            raise SystemExit(
                f"wasl: the web server did not start on {host}:{port} (the log above says why;"
                " a port in use: set WASL_PORT to a free one)"
            ) from None


def settle_memory() -> None:
    """Before serving: what start-up built lives as long as the process (catalogs, the bot
    library, the database engine, about 150,000 objects). Frozen, the garbage collector no
    longer walks it in every full collection, each of which took 60–80 ms, long enough to
    stall every update in flight."""
    gc.collect()
    gc.freeze()


class _Server(uvicorn.Server):
    """uvicorn that returns after SIGINT or SIGTERM instead of re-raising the signal once it
    has shut down, so the caller's clean-up runs and the exit status is 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        try:
            for sig in signals:
                loop.add_signal_handler(sig, self._stop)
        except (NotImplementedError, RuntimeError):  # no signals here (Windows, a thread)
            yield
            return
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True  # a second Ctrl-C: stop waiting for connections
        self.should_exit = True


async def chat(app: App, language: str | None) -> None:
    """The terminal bot, with the delivery worker and scheduler so broadcasts arrive too."""
    console = ConsoleChannel(language=language)
    runtime = Runtime(app, {ChannelName.CONSOLE: console})
    await runtime.start()
    try:
        await console.run(app.core)
        await runtime.settle()  # piped input ends at once: let broadcasts it started arrive
    finally:
        await runtime.stop()
