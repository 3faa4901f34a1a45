"""The HTTP side of Wasl (Starlette): webhooks, /healthz, /readyz, /metrics, the dashboard.
bot/bootstrap.py runs it under uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import dashboard, public_results
from bot.app import App
from bot.channels.telegram import (
    TelegramApplication,
    TelegramChannel,
    inbox_item,
    polling,
    process_item,
    running,
)
from bot.channels.whatsapp import WhatsAppWebhook, inbox_items
from bot.channels.wire import JSON_CONTENT_TYPE, json_body
from bot.core.messages import ChannelName
from bot.inbox import InboxWorker, Processor
from bot.intake import (
    NewItem,
    OutOfBounds,
    TooLarge,
    Unparsable,
    parse_json,
    read_limited,
    same_secret,
)
from bot.metrics import CONTENT_TYPE as METRICS_TYPE
from bot.metrics import Metered, exposition
from bot.runtime import Runtime
from storage.engine import HEAD, current_revision
from storage.inbox import InboxStore
from storage.outbox import OutboxStore

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
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'",
}
# The dashboard's fonts: the same for everyone, and they change only with a release.
FONT_HEADERS = {"Cache-Control": "public, max-age=604800", "X-Content-Type-Options": "nosniff"}


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
    webhook). `runtime` (delivery worker and scheduler) runs while the app does. The inbox
    worker always runs: webhooks only keep updates, it processes them.
    """
    settings = app.settings
    secret = settings.telegram.webhook_secret
    expected = secret.get_secret_value().encode() if secret is not None else b""
    limit = settings.wasl.max_body
    inbox = InboxStore(app.store)
    processors: dict[str, Processor] = {}
    if telegram is not None:
        processors[ChannelName.TELEGRAM.value] = partial(
            process_item, app.core.handle, telegram.bot, Metered(TelegramChannel(telegram.bot))
        )
    if whatsapp is not None:
        processors[ChannelName.WHATSAPP.value] = whatsapp.process
    worker = InboxWorker(
        inbox,
        processors,
        app.core.clock,
        lease=settings.wasl.inbox_lease,
        stall=settings.wasl.inbox_stall,
    )

    async def healthz(_: Request) -> Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                async with app.store.engine.connect() as db:
                    await db.execute(text("SELECT 1"))
                stalled = bool(processors) and await worker.stalled()
        except Exception as error:  # any failure means "not healthy", whatever the driver
            log.warning("event=health_failed error=%s", type(error).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        if stalled:
            log.warning("event=health_failed reason=inbox_stalled")
            return JSONResponse({"status": "unavailable", "inbox": "stalled"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        """Ready to take traffic: the database answers and its schema is the code's; and
        which roles this process leads or stands by for (none: it only takes webhooks)."""
        roles = runtime.roles() if runtime is not None else {}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                revision = await current_revision(app.store.engine)
        except Exception as error:  # any failure means "not ready", whatever the driver
            log.warning("event=ready_failed error=%s", type(error).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        if revision != HEAD:
            log.warning("event=ready_failed reason=schema revision=%s", revision)
            shown = {"status": "unavailable", "schema": revision, "needs": HEAD, "roles": roles}
            return JSONResponse(shown, status_code=503)
        return JSONResponse({"status": "ok", "schema": revision, "roles": roles})

    async def metrics(_: Request) -> Response:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                outbox, waiting = await OutboxStore(app.store).depth(), await inbox.count()
        except Exception as error:  # the counters still tell what this process did
            log.warning("event=metrics_partial error=%s", type(error).__name__)
            outbox, waiting = {}, 0
        roles = runtime.roles() if runtime is not None else {}
        return Response(exposition(outbox, waiting, roles), media_type=METRICS_TYPE)

    async def body_of(request: Request, channel: str) -> bytes | Response:
        """The body within the size limit, or the answer refusing it (413)."""
        try:
            return await read_limited(
                request.stream(), request.headers.get("content-length"), limit
            )
        except TooLarge:
            log.warning("event=webhook_refused channel=%s reason=too_large", channel)
            return Response(status_code=413)
        except ClientDisconnect:
            return Response(status_code=400)

    async def keep(channel: ChannelName, items: list[NewItem]) -> Response:
        """Commit the items to the inbox before the platform hears 200; 503 makes it retry."""
        try:
            await inbox.add(channel.value, items, app.core.clock.now())
        except Exception as error:  # the database is down: the platform sends it again
            log.error(
                "event=inbox_store_failed channel=%s error=%s", channel, type(error).__name__
            )
            return Response(status_code=503)
        if items:
            worker.wake()
        answers = [item.answer for item in items if item.answer is not None]
        if len(answers) == 1:  # a call the platform makes for us (Telegram: one per update)
            return Response(json_body(answers[0]), media_type=JSON_CONTENT_TYPE)
        return Response(status_code=200)

    async def telegram_webhook(request: Request) -> Response:
        if telegram is None:
            return Response(status_code=404)
        if not same_secret(raw_header(request, SECRET_HEADER), expected):
            log.warning("event=webhook_refused channel=telegram reason=secret")
            return Response(status_code=401)
        body = await body_of(request, "telegram")
        if isinstance(body, Response):
            return body
        try:
            data = parse_json(body)
        except OutOfBounds as error:
            # It carries Telegram's secret: refusing it would only make Telegram retry it for
            # a day and hold back her later updates. Logged and dropped.
            log.warning("event=update_unparsed update_id=None error=%s", error)
            return Response(status_code=200)
        except Unparsable:
            data = None
        if not isinstance(data, dict):  # not an update at all: no platform sends this
            log.warning("event=webhook_refused channel=telegram reason=invalid_body")
            return Response(status_code=400)
        item = inbox_item(data, telegram.bot, webhook=True)
        return await keep(ChannelName.TELEGRAM, [item] if item is not None else [])

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
        body = await body_of(request, "whatsapp")
        if isinstance(body, Response):
            return body
        # The signature covers the raw bytes: checked before anything is parsed.
        if not whatsapp.authentic(body, raw_header(request, SIGNATURE_HEADER)):
            log.warning("event=webhook_refused channel=whatsapp reason=signature")
            return Response(status_code=401)
        try:
            data = parse_json(body)
        except OutOfBounds as error:  # signed by Meta: dropped, not retried for days
            log.warning("event=webhook_dropped channel=whatsapp error=%s", error)
            return Response(status_code=200)
        except Unparsable:
            log.warning("event=webhook_refused channel=whatsapp reason=invalid_body")
            return Response(status_code=400)
        return await keep(ChannelName.WHATSAPP, inbox_items(data))

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

    async def dashboard_font(request: Request) -> Response:
        data = dashboard.font(request.path_params["name"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="font/ttf", headers=FONT_HEADERS)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route(dashboard.FONTS_PATH + "/{name}", dashboard_font, methods=["GET"]),
        Route("/dashboard", dashboard_overview, methods=["GET"]),
        Route("/dashboard/survey/{slug}", dashboard_survey, methods=["GET"]),
        Route(public_results.PATH + "/{name}", public_results.endpoint(app), methods=["GET"]),
        Route("/webhook/telegram", telegram_webhook, methods=["POST"]),
        Route("/webhook/whatsapp", whatsapp_verify, methods=["GET"]),
        Route("/webhook/whatsapp", whatsapp_webhook, methods=["POST"]),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if telegram is not None:
                url = app.settings.telegram.webhook_url if register else None
                token = expected.decode() if expected else None
                await stack.enter_async_context(running(telegram, webhook_url=url, secret=token))
            if runtime is not None:
                await runtime.start()
                stack.push_async_callback(runtime.stop)
            if processors:
                await worker.start()
                stack.push_async_callback(worker.stop)
            if telegram is not None and poll:
                await stack.enter_async_context(
                    polling(telegram, inbox, app.core.clock, worker.wake)
                )
            log.info(
                "event=web_started telegram=%s whatsapp=%s",
                telegram is not None,
                whatsapp is not None,
            )
            yield
        log.info("event=web_stopped")

    web = Starlette(routes=routes, lifespan=lifespan)
    web.state.inbox_worker = worker
    return web


def raw_header(request: Request, name: str) -> bytes | None:
    """A header's value exactly as sent (bytes): secrets are compared as bytes."""
    wanted = name.lower().encode()
    for key, value in request.headers.raw:
        if key.lower() == wanted:
            return value
    return None
