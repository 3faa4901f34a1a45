"""/tips: browsing by sphere in three languages, paging in place, rating, drafts and publishing."""

from __future__ import annotations

from bot.core.messages import ChannelName
from bot.core.models import Role
from bot.core.tips import Ratings, TipDefinition, TipText
from bot.services.tips import draft_from_update, draft_title
from handlers import build_router
from handlers.tips import TipDraft, TipPage, TipPublish, TipRate, TipSpheres
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads, visible

DIALOGUE = TipDefinition(
    slug="safe-dialogue",
    default_locale="en",
    spheres=("youth", "pluralism"),
    texts={
        "en": TipText("Safe dialogue with mothers", "Meet in a place the mothers choose."),
        "ar": TipText("حوار آمن مع الأمهات", "التقي في مكان تختاره الأمهات."),
        "fr": TipText(
            "Un dialogue sûr avec les mères", "Se réunir dans un lieu choisi par elles."
        ),
    },
    source="Alliance field manual",
)
RECRUITER = TipDefinition(
    slug="recruiter-narrative",
    default_locale="en",
    spheres=("youth", "religion"),
    texts={
        "en": TipText("Answer the recruiter's story", "Use texts on nonviolence."),
        "ar": TipText("الرد على رواية المجنِّد", "استخدمي نصوص اللاعنف."),
    },
)
DOCUMENTING = TipDefinition(
    slug="documenting-vaw",
    default_locale="ar",
    spheres=("vaw",),
    texts={"ar": TipText("التوثيق الآمن", "اطلبي الموافقة أولاً.")},
)
HIDDEN = TipDefinition(
    slug="not-yet",
    default_locale="en",
    spheres=("youth",),
    texts={"en": TipText("Hidden", "Not published.")},
    published=False,
)


async def seed(h: Harness, *tips: TipDefinition) -> list[int]:
    async with h.store.transaction() as tx:
        return [(await tx.tips.upsert(t, h.clock.now()))[0] for t in tips]


async def member(h: Harness, user_id: str, locale: str = "en", role: Role = Role.MEMBER) -> Person:
    person = h.person(user_id, locale)
    await join(person, await make_invite(h, f"code-{user_id}", role=role), locale=locale)
    return person


async def test_browse_a_sphere_and_page_in_place(harness: Harness) -> None:
    dialogue, recruiter, _, _ = await seed(harness, DIALOGUE, RECRUITER, DOCUMENTING, HIDDEN)
    amina = await member(harness, "1")
    [menu] = await amina.say("/tips")
    assert "Choose a sphere" in menu.text
    assert menu.columns == 2
    assert amina.labels() == [
        "Youth deradicalisation",
        "Peace and pluralism",
        "Religious texts",
        "Women's rights",
        "Violence against women",
        "Rights narratives",
        "Women in media",
        "Advocacy",
        "All spheres",
    ]
    assert payloads(menu) == [
        *(
            TipPage(code, 0).pack()
            for code in (
                "youth",
                "pluralism",
                "religion",
                "rights",
                "vaw",
                "narratives",
                "media",
                "advocacy",
            )
        ),
        TipPage("all", 0).pack(),
    ]
    menu_id = amina.last_sent().message_id

    [first] = await amina.tap("Youth deradicalisation")
    assert first.replace and amina.last_sent().edited and amina.last_sent().message_id == menu_id
    assert first.text.startswith(
        "Safe dialogue with mothers\n\nMeet in a place the mothers choose."
    )
    assert "Source: Alliance field manual" in first.text
    assert "1 / 2 · Youth deradicalisation" in first.text
    assert "translated" not in first.text
    assert payloads(first) == [
        TipPage("youth", 1).pack(),
        TipPage("youth", 1).pack(),
        TipRate(dialogue, True).pack(),
        TipRate(dialogue, False).pack(),
        TipSpheres().pack(),
    ]
    assert [b.label for b in first.buttons] == [
        "◀ Previous",
        "Next ▶",
        "👍 Helpful",
        "👎 Not helpful",
        "Spheres",
    ]
    assert all(len(p.encode()) <= 64 and p.isascii() for p in payloads(first))

    [second] = await amina.tap("Next ▶")
    assert second.replace and amina.last_sent().message_id == menu_id
    assert second.text.startswith("Answer the recruiter's story")
    assert "2 / 2" in second.text and "Source" not in second.text
    assert TipRate(recruiter, True).pack() in payloads(second)
    [wrapped] = await amina.tap("Next ▶")  # wraps around
    assert wrapped.text.startswith("Safe dialogue with mothers")
    [back] = await amina.tap("◀ Previous")  # wraps around the other way
    assert back.text.startswith("Answer the recruiter's story")

    [back] = await amina.tap("Spheres")
    assert back.replace and "Choose a sphere" in back.text
    await amina.tap("All spheres")
    await amina.tap("◀ Previous")
    every = amina.last
    assert "3 / 3 · All spheres" in every.text  # the draft is not among them


async def test_arabic_member_reads_arabic(harness: Harness) -> None:
    await seed(harness, DIALOGUE, RECRUITER)
    huda = await member(harness, "2", "ar")
    [menu] = await huda.say("/tips")
    arabic = harness.catalogs.get("ar")
    intro = "Good practices from practitioners across the alliance. Choose a sphere:"
    assert menu.text == arabic(intro) != intro
    assert menu.buttons[-1].label == arabic("All spheres") != "All spheres"
    [first] = await huda.tap(arabic("Religious texts"))
    assert first.text.startswith("الرد على رواية المجنِّد\n\nاستخدمي نصوص اللاعنف.")
    assert "1 / 1 · " in visible(first.text) and "translat" not in first.text
    labels = ["👍 Helpful", "👎 Not helpful", "Spheres"]
    assert [b.label for b in first.buttons] == [arabic(label) for label in labels] != labels
    assert "◀" not in "".join(b.label for b in first.buttons)  # one tip: no paging


async def test_missing_translation_falls_back_and_says_so(harness: Harness) -> None:
    await seed(harness, DIALOGUE, RECRUITER, DOCUMENTING)
    claire = await member(harness, "3", "fr")
    [first] = await claire.say("/tips youth")
    assert first.text.startswith("Un dialogue sûr avec les mères")
    assert "anglais" not in first.text
    [second] = await claire.tap(harness.catalogs.get("fr")("Next ▶"))
    assert second.text.startswith("Answer the recruiter's story")  # no French: English
    assert "\n\nPas encore en français — affiché en anglais.\n" in second.text
    await claire.say("/tips")
    [arabic_only] = await claire.tap(harness.catalogs.get("fr")("Violence against women"))
    assert arabic_only.text.startswith("التوثيق الآمن")  # the tip's own default language
    assert "arabe" in arabic_only.text

    english = await member(harness, "4", "en")
    await english.say("/tips")
    [shown] = await english.tap("Violence against women")
    assert "Not yet in English — shown in Arabic." in shown.text


async def test_a_missing_translation_falls_back_to_her_second_language_first(
    harness: Harness,
) -> None:
    """French first, Arabic second: a tip with no French is shown in Arabic (not in its
    English default), and says so; a tip in French stays French; one in neither falls back
    to its default, and says so."""
    await seed(harness, DIALOGUE, RECRUITER)
    fr = harness.catalogs.get("fr")
    claire = harness.person("5", "fr")
    await join(claire, await make_invite(harness, "code-5"), locale="fr", second="ar")
    async with harness.store.transaction() as tx:
        her = await tx.members.get(ChannelName.TELEGRAM, "5")
    assert her is not None and (her.locale, her.second_locale) == ("fr", "ar")
    [first] = await claire.say("/tips youth")
    assert first.text.startswith("Un dialogue sûr avec les mères")
    assert "Pas encore" not in first.text
    [second] = await claire.tap(fr("Next ▶"))
    assert second.text.startswith("الرد على رواية المجنِّد"), "her second language, not English"
    assert "Pas encore en français — affiché en arabe." in second.text

    async with harness.store.transaction() as tx:
        await tx.tips.upsert(
            TipDefinition(
                slug="english-only",
                default_locale="en",
                spheres=("media",),
                texts={"en": TipText("Radio slots", "Ask for a weekly slot.")},
            ),
            harness.clock.now(),
        )
    await claire.say("/tips media")
    assert claire.last.text.startswith("Radio slots"), "in neither: the tip's own default"
    assert "Pas encore en français — affiché en anglais." in claire.last.text


async def test_rating_once_and_changing_the_vote(harness: Harness) -> None:
    [dialogue] = await seed(harness, DIALOGUE)
    amina = await member(harness, "1")
    await amina.say("/tips pluralism")
    tip_message = amina.last_sent()

    [thanks] = await amina.tap("👍 Helpful")
    assert thanks.text == "Thank you. Glad it helps." and not thanks.replace
    # The tip stays on screen, the thanks comes below it.
    assert not amina.last_sent().edited and amina.last_sent().message_id != tip_message.message_id
    [again] = await amina.tap("👍 Helpful")  # on the tip, above the thanks
    assert "already counted" in again.text
    [changed] = await amina.tap("👎 Not helpful")
    assert "changed" in changed.text

    layla = await member(harness, "5")
    await layla.say("/tips pluralism")
    [thanks] = await layla.tap("👎 Not helpful")
    assert thanks.text == "Thank you. This helps us choose better tips."
    async with harness.store.transaction() as tx:
        assert await tx.tips.ratings() == {dialogue: Ratings(helpful=0, not_helpful=2)}


async def test_stale_and_forged_buttons_get_a_short_answer(harness: Harness) -> None:
    dialogue, hidden = await seed(harness, DIALOGUE, HIDDEN)
    amina = await member(harness, "1")
    await amina.say("/tips")
    # A list that has changed since the message (tips unpublished, a sphere renamed).
    [stale] = await amina.press(TipPage("youth", 7).pack())
    assert "This list has changed" in stale.text and TipPage("youth", 0).pack() in payloads(stale)
    [bad_sphere] = await amina.press(TipPage("weather", 0).pack())
    assert "This list has changed" in bad_sphere.text
    for forged in (TipRate(hidden, True).pack(), TipRate(9999, True).pack()):
        [answer] = await amina.press(forged)
        assert answer.text == "That tip is no longer available."
    for nonsense in (
        "tip:2:youth",
        "tip:2:youth:x",
        "tip:2:youth:٣",
        "tip:2:youth:-1",
        f"tipr:1:{dialogue}:2",
        "tipr:1:99999999999999999999:1",
        "tipr:1:9999999999:1",
        "tipp:1:-1",
        "tips:1:extra",
        "tip:zzz",
        "tip:",
        # buttons of the release before typed payloads
        "tip:p:youth:0",
        f"tip:r:{dialogue}:1",
        "tip:s",
    ):
        [answer] = await amina.press(nonsense)
        assert "no longer works" in answer.text, nonsense
    [unknown] = await amina.say("/tips weather")
    assert "I don't know that sphere" in unknown.text
    async with harness.store.transaction() as tx:
        assert await tx.tips.ratings() == {}


async def test_a_sphere_without_tips_says_so(harness: Harness) -> None:
    amina = await member(harness, "1")
    await amina.say("/tips")
    [empty] = await amina.tap("All spheres")
    assert "There are no tips yet" in empty.text
    await seed(harness, DIALOGUE)
    [media] = await amina.tap("Women in media")
    assert "There are no tips for Women in media yet" in media.text
    assert media.replace and len(media.buttons) == 9  # the spheres again


async def test_someone_who_has_not_joined_is_told_how_to_join(harness: Harness) -> None:
    await seed(harness, DIALOGUE)
    stranger = harness.person("77")
    [answer] = await stranger.press(TipPage("youth", 0).pack(), message_id="1")
    assert "Safe dialogue" not in answer.text
    [answer] = await stranger.say("/tips")
    assert "Safe dialogue" not in answer.text and not answer.buttons


async def test_the_bare_word_works_on_whatsapp(db: SqlStore) -> None:
    h = Harness(db, build_router(), channel=ChannelName.WHATSAPP)
    await seed(h, DIALOGUE)
    amina = await member(h, "1")
    [menu] = await amina.say("tips")
    assert "Choose a sphere" in menu.text


async def test_drafts_need_a_coordinator_and_publishing_an_admin(harness: Harness) -> None:
    dialogue, hidden = await seed(harness, DIALOGUE, HIDDEN)
    amina = await member(harness, "1")
    coordinator = await member(harness, "2", role=Role.COORDINATOR)
    admin = await member(harness, "3", role=Role.ADMIN)

    [refused] = await amina.say("/tips drafts")
    assert refused.text == "This command is not available to you."
    [refused] = await amina.press(TipPublish(hidden).pack())  # forged: she never saw one
    assert "Only an administrator" in refused.text
    [refused] = await amina.press(TipDraft(0).pack())
    assert "Hidden" not in refused.text and "no longer available to you" in refused.text

    shown = (await coordinator.say("/tips drafts"))[0]
    assert "Draft 1 / 1" in shown.text and "Hidden\n\nNot published." in shown.text
    assert coordinator.labels() == [], "no Publish button for a coordinator"
    [refused] = await coordinator.press(TipPublish(hidden).pack())
    assert "Only an administrator" in refused.text

    shown = (await admin.say("/tips drafts"))[0]
    assert admin.labels() == ["Publish"]
    assert payloads(shown) == [TipPublish(hidden).pack()]
    [published] = await admin.tap("Publish")
    assert published.replace and published.text.startswith("Published: “Hidden”.")
    [again] = await admin.press(TipPublish(hidden).pack())  # the same button, pressed again
    assert again.text == "This tip is already published."
    [unknown] = await admin.press(TipPublish(9999).pack())
    assert unknown.text == "That tip is no longer available."
    [none_left] = await admin.say("/tips drafts")
    assert none_left.text == "There are no tip drafts."

    async with harness.store.transaction() as tx:
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "tip.published"]
        assert await tx.tips.published_ids("youth") == [dialogue, hidden]
    assert len(entries) == 1
    assert entries[0]["details"] == {"tip_id": hidden, "slug": "not-yet"}
    assert entries[0]["actor_member_id"] is not None

    await amina.say("/tips youth")
    [second] = await amina.tap("Next ▶")
    assert second.text.startswith("Hidden")


async def test_a_field_update_becomes_a_draft(harness: Harness) -> None:
    coordinator = await member(harness, "2", role=Role.COORDINATOR)
    text = (
        "We brought mothers of returnees together in the mosque courtyard every Friday, "
        "with an imam and a psychologist.\nIt worked because the mothers chose the place."
    )
    async with harness.store.transaction() as tx:
        update_id = await tx.updates.submit(
            author_id=1,
            country="IQ",
            locale="en",
            urgent=False,
            text=text,
            media_kind=None,
            media_ref=None,
            keep_if_shared=True,
            spheres=["youth"],
            now=harness.clock.now(),
        )
        draft = await draft_from_update(
            tx, update_id, text, ["youth", "unknown"], "en", harness.clock.now()
        )
        assert draft == await draft_from_update(
            tx, update_id, text, ["youth"], "en", harness.clock.now()
        )
        [definition] = await tx.tips.export()
    assert definition.slug == f"update-{update_id}" and definition.from_update_id == update_id
    assert definition.spheres == ("youth",) and not definition.published
    assert definition.texts["en"].body == text
    title = definition.texts["en"].title
    assert title.endswith("…") and len(title) <= 60 and title.startswith("We brought mothers")
    [shown] = await coordinator.say("/tips drafts")
    assert "from a field update" in shown.text and title in shown.text


def test_draft_titles_are_short_and_cut_at_a_word() -> None:
    assert draft_title("Short first line.\nMore") == "Short first line."
    long = "word " * 30
    assert draft_title(long).endswith("word…") and len(draft_title(long)) <= 60
    assert draft_title("x" * 100) == "x" * 59 + "…"


async def test_help_tells_coordinators_about_drafts(harness: Harness) -> None:
    amina = await member(harness, "1")
    coordinator = await member(harness, "2", role=Role.COORDINATOR)
    admin = await member(harness, "3", role=Role.ADMIN)
    assert "/tips drafts" not in (await amina.say("/help"))[0].text
    for reviewer in (coordinator, admin):
        help_text = (await reviewer.say("/help"))[0].text
        assert "/tips drafts — Tip drafts waiting to be published" in help_text
        assert "/tips — " in help_text
    # The line names a command that works as written.
    assert "There are no tip drafts." in (await coordinator.say("/tips drafts"))[0].text
