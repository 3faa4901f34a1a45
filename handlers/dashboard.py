"""/dashboard: a private, short-lived link to the secretariat's read-only web dashboard.

No password to remember or to leak: the bot, which already knows who she is, gives her a link
that works for 30 minutes. Only a hash of its token is stored; opening it is audited (the
reports service does both).
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.models import Role
from bot.core.router import Router
from bot.services import reports
from handlers.common import command_text

DASHBOARD_PATH = "/dashboard"


def register(router: Router) -> None:
    @router.command("dashboard", N_("Open the web dashboard"), role=Role.SECRETARIAT)
    async def cmd_dashboard(ctx: Context, arg: str) -> None:
        ctx.state.clear()
        base = ctx.config.public_url
        if not base:
            ctx.say(
                ctx._(
                    "The web dashboard is not set up on this server. {report} sends the same "
                    "reports here in the chat.",
                    report=command_text(ctx, "report"),
                )
            )
            return
        token = await reports.open_dashboard(ctx.tx, ctx.actor, ctx.now, ctx.config.secret_key)
        ctx.say(
            ctx._(
                "Your dashboard link, valid for 30 minutes and for you only (do not forward "
                "it):\n{link}",
                link=f"{base.rstrip('/')}{DASHBOARD_PATH}?t={token}",
            )
        )
