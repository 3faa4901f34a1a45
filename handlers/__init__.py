"""The conversations, one module per capability, written once for every channel."""

from __future__ import annotations

from bot.core.router import Router


def build_router() -> Router:
    """A router with every capability registered (the order is the order of the menu)."""
    from handlers import (
        account,
        brief,
        campaigns,
        common,
        dashboard,
        invites,
        moderation,
        onboarding,
        peers,
        reports,
        surveys,
        tips,
        updates,
    )

    router = Router()
    onboarding.register(router)
    updates.register(router)
    tips.register(router)
    surveys.register(router)
    peers.register(router)
    account.register(router)
    campaigns.register(router)
    invites.register(router)
    moderation.register(router)
    reports.register(router)
    brief.register(router)
    dashboard.register(router)
    router.set_words(common.COMMAND_WORDS, common.WORDS_EVERYWHERE)
    return router
