"""/dashboard: a private, short-lived link to the secretariat's read-only web dashboard.

No password to remember or to leak: the bot, which already knows who she is, gives her a link
that works for 30 minutes. Only a hash of its token is stored; opening it is audited.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot.core import keys
from bot.core.context import Context
from bot.core.i18n import N_
from bot.core.models import Role
from bot.core.router import Router
from handlers.common import command_text

LINK_LIFETIME = timedelta(minutes=30)
DASHBOARD_PATH = "/dashboard"


def token_hash(secret_key: bytes, token: str) -> str:
    """What is stored of a dashboard token: an HMAC under a key derived from WASL_SECRET_KEY,
    so a copy of the database opens nothing and cannot even test a guessed token."""
    return keys.keyed_hash(keys.derive(secret_key, "dashboard-link"), token)


def register(router: Router) -> None:
    @router.command("dashboard", N_("Open the web dashboard"), role=Role.SECRETARIAT)
    async def cmd_dashboard(ctx: Context, arg: str) -> None:
        assert ctx.member is not None
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
        token = secrets.token_urlsafe(32)
        expires_at = ctx.now + LINK_LIFETIME
        await ctx.tx.dashboard_links.create(
            ctx.member.id, token_hash(ctx.config.secret_key, token), expires_at, ctx.now
        )
        await ctx.tx.audit_log.append(
            actor=f"member:{ctx.member.id}",
            action="dashboard.link",
            now=ctx.now,
            actor_member_id=ctx.member.id,
        )
        ctx.say(
            ctx._(
                "Your dashboard link, valid for 30 minutes and for you only (do not forward "
                "it):\n{link}",
                link=f"{base.rstrip('/')}{DASHBOARD_PATH}?t={token}",
            )
        )
