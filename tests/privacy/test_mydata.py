"""/mydata lists everything kept about her: her updates (dated, with their status, never their
words), the surveys she was asked or took part in, tips she rated, invitations she created,
dashboard links and messages waiting for her; in her language."""

from __future__ import annotations

from datetime import timedelta

from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, NewCampaign
from bot.core.models import Role
from bot.core.schedule import ONCE
from bot.core.surveys import parse_definition
from bot.core.tips import TipDefinition, TipText
from handlers import build_router
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person
from tests.support.surveys import pulse

WORDS = "The women's centre in Basra reopened after the floods"


async def person(
    h: Harness, user_id: str, *, role: Role = Role.MEMBER, locale: str = "en"
) -> Person:
    code = await make_invite(h, f"code-{user_id}", role=role)
    someone = h.person(user_id, locale)
    await join(someone, code, locale=locale, spheres=("youth",))
    return someone


async def share(she: Person, text: str, *, urgent: bool = False) -> None:
    await she.say("/update")
    await she.say(text)
    await she.tap("Done")
    await she.tap("Urgent" if urgent else "Routine")
    await she.tap("No")
    await she.tap("No")  # not quoted in briefs
    await she.tap("Send")


async def test_mydata_lists_updates_surveys_and_the_rest(store: SqlStore) -> None:
    h = Harness(store, build_router())
    coordinator = await person(h, "2001", role=Role.COORDINATOR)
    she = await person(h, "2002")
    nothing_yet = (await she.say("/mydata"))[0].text
    assert "• Field updates you sent: none" in nothing_yet
    assert "• Surveys you were asked or took part in: none" in nothing_yet
    await share(she, WORDS)
    await coordinator.say("/moderate")
    await coordinator.tap("Approve for sharing")
    h.clock.advance(timedelta(days=3))
    await share(she, "Two girls were stopped at the checkpoint this morning", urgent=True)
    definition = parse_definition(pulse(), ("en", "ar", "fr"))
    async with store.transaction() as tx:
        now = h.clock.now()
        await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
        await tx.tips.upsert(
            TipDefinition(
                slug="listen-first",
                default_locale="en",
                spheres=("youth",),
                texts={"en": TipText(title="Listen first", body="Ask before you advise.")},
                published=True,
            ),
            now,
        )
    await she.say("/survey pulse-test")
    await she.tap("4")  # started, not finished
    await she.say("/tips youth")
    await she.tap("👍 Helpful")
    async with store.transaction() as tx:
        workshop = await tx.campaigns.create(
            NewCampaign(
                kind=CampaignKind.CAMPAIGN,
                status=CampaignStatus.SCHEDULED,
                title="Workshop",
                texts={"en": "Workshop on Saturday"},
                default_locale="en",
                audience=Audience(roles=(Role.MEMBER.value,)),
                schedule="now",
            ),
            h.clock.now(),
        )
        await tx.campaigns.fire(workshop, ONCE, h.clock.now())
    text = (await she.say("/mydata"))[0].text
    assert "What Wasl keeps about you" in text, "her profile, as before"
    assert "2 field updates you sent" in text
    assert "approved for sharing, without your name" in text
    assert "waiting for a coordinator" in text
    assert h.catalogs.get("en").date(h.clock.now()) in text, "each dated"
    assert WORDS not in text and "checkpoint" not in text, "her words are not repeated"
    assert "Pulse: safety (started, not finished)" in text
    assert "• Tips you rated: 1" in text
    assert "• Invitations you created: 0" in text
    assert "• Dashboard links still valid: 0" in text
    assert "• Messages waiting to be sent to you: 1" in text
    # In her language.
    await she.say("/language")
    await she.say("Français")  # typed: not among the likeliest languages for Iraq
    french = (await she.say("/mydata"))[0].text
    assert "2 nouvelles du terrain envoyées" in french
    assert "Pouls : sécurité (commencé, pas terminé)" in french
    assert "• Bonnes pratiques que vous avez notées\u00a0: 1" in french
