"""The HTTP side of Wasl (Starlette under uvicorn): webhooks, /healthz, the dashboard."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

import httpx
import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import dashboard
from bot.app import App, build_whatsapp
from bot.channels.telegram import (
    TelegramApplication,
    TelegramChannel,
    build_application,
    feed_update,
    running,
    start_polling,
    stop_polling,
)
from bot.channels.whatsapp import WhatsAppWebhook
from bot.core.messages import ChannelName
from bot.core.ports import Channel
from bot.runtime import Runtime

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
SIGNATURE_HEADER = "X-Hub-Signature-256"
HEALTH_TIMEOUT = 3.0  # seconds; a database slower than this counts as down
# The dashboard's token travels in its URL: never cached, never sent on as a referrer.
PRIVATE_PAGE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def build_web(
    app: App,
    telegram: TelegramApplication | None,
    *,
    register: bool = False,
    whatsapp: WhatsAppWebhook | None = None,
    runtime: Runtime | None = None,
    poll: bool = False,
) -> Starlette:
    """The Starlette app; `telegram` is started and stopped with it (None: not configured).

    `register` also sets the Telegram webhook (to TELEGRAM_WEBHOOK_URL) at start-up; `poll`
    long-polls Telegram instead (when WhatsApp needs the web server but Telegram has no
    webhook). `runtime` (delivery worker and scheduler) runs while the app does.
    """
    secret = app.settings.telegram.webhook_secret
    expected = secret.get_secret_value().encode() if secret is not None else None

    async def healthz(_: Request) -> Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT), app.store.engine.connect() as db:
                await db.execute(text("SELECT 1"))
        except Exception as error:  # any failure means "not healthy", whatever the driver
            log.warning("event=health_failed error=%s", type(error).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def telegram_webhook(request: Request) -> Response:
        if telegram is None:
            return Response(status_code=404)
        given = request.headers.get(SECRET_HEADER)
        if expected is None or given is None or not hmac.compare_digest(given.encode(), expected):
            log.warning("event=webhook_refused channel=telegram reason=secret")
            return Response(status_code=401)
        try:
            data = json.loads(await request.body())
        except ValueError:  # also UnicodeDecodeError
            data = None
        if not isinstance(data, dict):
            log.warning("event=webhook_refused channel=telegram reason=invalid_body")
            return Response(status_code=400)
        # Queued, answered at once: Telegram waits for nobody, and retries any non-2xx.
        await feed_update(telegram, data)
        return Response(status_code=200)

    async def whatsapp_verify(request: Request) -> Response:
        if whatsapp is None:
            return Response(status_code=404)
        params = request.query_params
        challenge = whatsapp.verify(
            params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
        )
        if challenge is None:
            return Response(status_code=403)
        return PlainTextResponse(challenge)

    async def whatsapp_webhook(request: Request) -> Response:
        if whatsapp is None:
            return Response(status_code=404)
        # The signature covers the raw bytes: checked before anything is parsed.
        status = whatsapp.receive(await request.body(), request.headers.get(SIGNATURE_HEADER))
        return Response(status_code=status)

    refused_page = dashboard.refused(app)  # the same for everyone: made once

    def refused() -> Response:
        return HTMLResponse(refused_page, status_code=403, headers=PRIVATE_PAGE)

    async def dashboard_overview(request: Request) -> Response:
        who = await dashboard.viewer(app, request.query_params.get("t"))
        if who is None:
            return refused()
        params = request.query_params
        shown = await dashboard.overview(app, who, params.get("period"), params.get("at"))
        return HTMLResponse(shown, headers=PRIVATE_PAGE)

    async def dashboard_survey(request: Request) -> Response:
        params = request.query_params
        who = await dashboard.viewer(app, params.get("t"))
        if who is None:
            return refused()
        status, shown = await dashboard.survey_page(
            app, who, request.path_params["slug"], params.get("by"), params.get("format")
        )
        if isinstance(shown, dashboard.Download):
            disposition = f'attachment; filename="{shown.filename}"'
            headers = {**PRIVATE_PAGE, "Content-Disposition": disposition}
            return Response(shown.content, media_type=shown.media_type, headers=headers)
        return HTMLResponse(shown, status_code=status, headers=PRIVATE_PAGE)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/dashboard", dashboard_overview, methods=["GET"]),
        Route("/dashboard/survey/{slug}", dashboard_survey, methods=["GET"]),
        Route("/webhook/telegram", telegram_webhook, methods=["POST"]),
        Route("/webhook/whatsapp", whatsapp_verify, methods=["GET"]),
        Route("/webhook/whatsapp", whatsapp_webhook, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if telegram is not None:
                if expected is None:
                    log.warning("event=webhook_secret_missing effect=telegram_webhooks_refused")
                url = app.settings.telegram.webhook_url if register else None
                token = expected.decode() if expected is not None else None
                await stack.enter_async_context(running(telegram, webhook_url=url, secret=token))
                if poll:
                    await start_polling(telegram)
                    stack.push_async_callback(stop_polling, telegram)
            if runtime is not None:
                await runtime.start()
                stack.push_async_callback(runtime.stop)
            if whatsapp is not None:
                stack.push_async_callback(whatsapp.drain)
            log.info(
                "event=web_started telegram=%s whatsapp=%s",
                telegram is not None,
                whatsapp is not None,
            )
            yield
        log.info("event=web_stopped")

    return Starlette(routes=routes, lifespan=lifespan)


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
    telegram = build_application(app) if settings.telegram.enabled else None
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0)) as client:
        whatsapp_channel, whatsapp = (
            build_whatsapp(app, client) if settings.whatsapp.enabled else (None, None)
        )
        channels: dict[ChannelName, Channel] = {}
        if telegram is not None:
            channels[ChannelName.TELEGRAM] = TelegramChannel(telegram.bot)
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
        await _Server(config).serve()


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
