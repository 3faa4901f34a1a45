"""The tip repository on SQLite and PostgreSQL (the `store` fixture runs each test on both)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.core.actors import CLI, Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.tips import RateOutcome, Ratings, TipDefinition, TipText, UpsertOutcome
from bot.services import tips as service
from storage.store import SqlStore
from storage.tables import tip_rating_t, tip_text_t


def tip(
    slug: str,
    spheres: tuple[str, ...] = ("youth",),
    *,
    locales: tuple[str, ...] = ("en", "ar", "fr"),
    default: str = "en",
    published: bool = True,
    source: str | None = None,
) -> TipDefinition:
    return TipDefinition(
        slug=slug,
        default_locale=default,
        spheres=spheres,
        texts={code: TipText(f"{slug} title {code}", f"{slug} body {code}") for code in locales},
        source=source,
        published=published,
    )


async def load(store: SqlStore, clock: FixedClock, *tips: TipDefinition) -> list[int]:
    async with store.transaction() as tx:
        return [(await tx.tips.upsert(t, clock.now()))[0] for t in tips]


async def member(store: SqlStore, clock: FixedClock, platform_id: str) -> Member:
    async with store.transaction() as tx:
        return await tx.members.create(
            NewMember(
                channel=ChannelName.TELEGRAM,
                platform_id=platform_id,
                chat_id=platform_id,
                locale="ar",
                country="IQ",
                spheres=["youth"],
                role=Role.MEMBER,
                consent_version="1",
                consented_at=clock.now(),
            ),
            clock.now(),
        )


async def test_upsert_creates_then_changes_nothing_then_replaces(
    store: SqlStore, clock: FixedClock
) -> None:
    first = tip("safe-dialogue", ("youth", "pluralism"), source="Alliance manual")
    async with store.transaction() as tx:
        tip_id, outcome = await tx.tips.upsert(first, clock.now())
        assert outcome is UpsertOutcome.CREATED
        assert await tx.tips.upsert(first, clock.now()) == (tip_id, UpsertOutcome.UNCHANGED)
        # The same content in another order is the same content.
        reordered = TipDefinition(
            slug=first.slug,
            default_locale="en",
            spheres=("pluralism", "youth", "youth"),
            texts=dict(reversed(list(first.texts.items()))),
            source="Alliance manual",
        )
        assert await tx.tips.upsert(reordered, clock.now()) == (tip_id, UpsertOutcome.UNCHANGED)
    clock.advance(timedelta(days=1))
    changed = tip("safe-dialogue", ("vaw",), locales=("en", "ar"))
    async with store.transaction() as tx:
        assert await tx.tips.upsert(changed, clock.now()) == (tip_id, UpsertOutcome.UPDATED)
        [stored] = await tx.tips.export()
        texts = await tx.conn.execute(
            select(func.count()).select_from(tip_text_t).where(tip_text_t.c.tip_id == tip_id)
        )
    assert stored.spheres == ("vaw",)
    assert set(stored.texts) == {"en", "ar"} and texts.scalar_one() == 2
    assert stored.source is None


async def test_published_ids_by_sphere_in_a_stable_order(
    store: SqlStore, clock: FixedClock
) -> None:
    a, b, c, d = await load(
        store,
        clock,
        tip("a", ("youth",)),
        tip("b", ("vaw", "youth")),
        tip("c", ("vaw",)),
        tip("d", ("youth",), published=False),
    )
    async with store.transaction() as tx:
        assert await tx.tips.published_ids("youth") == [a, b]
        assert await tx.tips.published_ids("vaw") == [b, c]
        assert await tx.tips.published_ids("media") == []
        assert await tx.tips.published_ids() == [a, b, c]
        assert await tx.tips.counts_by_sphere() == {"youth": 2, "vaw": 2}
    assert d > c


async def test_page_carries_position_and_total(store: SqlStore, clock: FixedClock) -> None:
    a, b = await load(store, clock, tip("a"), tip("b"))
    async with store.transaction() as tx:
        first = await tx.tips.page("youth", 0, "fr")
        second = await tx.tips.page(None, 1, "ar")
        assert await tx.tips.page("youth", 2, "en") is None
        assert await tx.tips.page("youth", -1, "en") is None
        assert await tx.tips.page("media", 0, "en") is None
    assert first is not None and (first.id, first.position, first.total) == (a, 1, 2)
    assert (first.title, first.body, first.locale, first.fell_back) == (
        "a title fr",
        "a body fr",
        "fr",
        False,
    )
    assert second is not None and (second.id, second.position, second.title) == (
        b,
        2,
        "b title ar",
    )


async def test_language_falls_back_to_the_tip_default_then_english(
    store: SqlStore, clock: FixedClock
) -> None:
    arabic_first = tip("ar-first", locales=("ar", "en"), default="ar")
    english_only = tip("en-only", locales=("en",))
    # A default language with no text (not loadable from a file, but the reader copes).
    broken = tip("broken", locales=("en", "ar"), default="fr")
    ids = await load(store, clock, arabic_first, english_only, broken)
    async with store.transaction() as tx:
        shown = [await tx.tips.view(i, "fr") for i in ids]
        hers = await tx.tips.view(ids[0], "en")
    assert [(v.locale, v.fell_back) for v in shown if v] == [
        ("ar", True),
        ("en", True),
        ("en", True),
    ]
    assert hers is not None and (hers.locale, hers.fell_back) == ("en", False)


async def test_her_second_language_comes_before_the_tip_default(
    store: SqlStore, clock: FixedClock
) -> None:
    both = tip("both", locales=("en", "ar"))
    english_only = tip("en-only", locales=("en",))
    ids = await load(store, clock, both, english_only)
    async with store.transaction() as tx:
        second = [await tx.tips.view(i, "fr", second="ar") for i in ids]
        paged = await tx.tips.page("youth", 0, "fr", "ar")
        hers = await tx.tips.view(ids[0], "ar", second="fr")
    assert [(v.locale, v.title, v.fell_back) for v in second if v] == [
        ("ar", "both title ar", True),
        ("en", "en-only title en", True),  # not in her second either: the tip's default
    ]
    assert paged is not None and (paged.id, paged.locale, paged.total) == (ids[0], "ar", 2)
    assert hers is not None and (hers.locale, hers.fell_back) == ("ar", False)


async def test_unpublished_tips_are_hidden_unless_asked(
    store: SqlStore, clock: FixedClock
) -> None:
    [draft] = await load(store, clock, tip("draft", published=False))
    async with store.transaction() as tx:
        assert await tx.tips.view(draft, "en") is None
        seen = await tx.tips.view(draft, "en", published_only=False)
        assert await tx.tips.view(9999, "en", published_only=False) is None
    assert seen is not None and not seen.published


async def test_one_vote_per_member_and_tip(store: SqlStore, clock: FixedClock) -> None:
    a, b = await load(store, clock, tip("a"), tip("b"))
    amina, layla = await member(store, clock, "1"), await member(store, clock, "2")
    async with store.transaction() as tx:
        assert await tx.tips.rate(a, amina.id, True, clock.now()) is RateOutcome.RECORDED
        assert await tx.tips.rate(a, amina.id, True, clock.now()) is RateOutcome.SAME
        assert await tx.tips.rate(a, amina.id, False, clock.now()) is RateOutcome.CHANGED
        assert await tx.tips.rate(a, layla.id, True, clock.now()) is RateOutcome.RECORDED
        assert await tx.tips.rate(b, layla.id, True, clock.now()) is RateOutcome.RECORDED
        assert await tx.tips.ratings() == {a: Ratings(1, 1), b: Ratings(1, 0)}
        assert await tx.tips.ratings([a]) == {a: Ratings(1, 1)}
        assert await tx.tips.ratings([]) == {}
    async with store.transaction() as tx:
        await tx.members.erase(amina)
    async with store.transaction() as tx:
        assert await tx.tips.ratings() == {a: Ratings(1, 0), b: Ratings(1, 0)}
        left = await tx.conn.execute(
            select(func.count())
            .select_from(tip_rating_t)
            .where(tip_rating_t.c.member_id == amina.id)
        )
        assert left.scalar_one() == 0


async def test_draft_from_an_update_then_publish(store: SqlStore, clock: FixedClock) -> None:
    author = await member(store, clock, "7")
    async with store.transaction() as tx:
        update_id = await tx.updates.submit(
            author_id=author.id,
            country="IQ",
            locale="ar",
            urgent=False,
            text="نجحنا في جمع الأمهات",
            media_kind=None,
            media_ref=None,
            keep_if_shared=True,
            spheres=["youth"],
            now=clock.now(),
        )
        draft = await tx.tips.create_draft(
            update_id=update_id,
            locale="ar",
            text=TipText("نجحنا", "نجحنا في جمع الأمهات"),
            spheres=["youth", "pluralism"],
            now=clock.now(),
        )
        again = await tx.tips.create_draft(
            update_id=update_id,
            locale="ar",
            text=TipText("other", "other"),
            spheres=[],
            now=clock.now(),
        )
        drafts = await tx.tips.drafts("fr")
    assert again == draft
    assert [(d.id, d.slug, d.from_update_id, d.locale, d.fell_back) for d in drafts] == [
        (draft, f"update-{update_id}", update_id, "ar", True)
    ]
    assert (drafts[0].spheres, drafts[0].position, drafts[0].total) == (
        ("pluralism", "youth"),
        1,
        1,
    )
    async with store.transaction() as tx:
        assert await tx.tips.publish(draft, clock.now())
        assert not await tx.tips.publish(draft, clock.now())
        assert not await tx.tips.publish(9999, clock.now())
        assert await tx.tips.published_ids("youth") == [draft]
        assert await tx.tips.drafts("en") == []


async def test_export_gives_back_what_was_loaded(store: SqlStore, clock: FixedClock) -> None:
    loaded = [
        tip("b-second", ("vaw", "rights"), source="UN Women"),
        tip("a-first", ("media",), locales=("ar",), default="ar", published=False),
    ]
    await load(store, clock, *loaded)
    async with store.transaction() as tx:
        exported = await tx.tips.export()
    assert exported == [t.normalised() for t in loaded]  # in load order, not by slug


async def test_the_service_checks_roles_and_audits_publishing_and_loading_once(
    store: SqlStore, clock: FixedClock
) -> None:
    now = clock.now()
    definitions = [tip("shown"), tip("draft", published=False)]
    async with store.transaction() as tx:
        counts = await service.load(tx, CLI, definitions, now)
    assert dict(counts) == {"created": 2, "updated": 0, "unchanged": 0}
    async with store.transaction() as tx:
        assert (await service.load(tx, CLI, definitions, now))["unchanged"] == 2
    her = Actor.of(await member(store, clock, "1"))
    async with store.transaction() as tx:
        for refused in (
            service.load(tx, her, definitions, now),
            service.drafts(tx, her, "en"),
            service.publish(tx, her, 2, "en", now),
            service.export(tx, her),
        ):
            with pytest.raises(NotAllowed):
                await refused
        [draft] = await service.drafts(tx, CLI, "en")
        assert await service.rate(tx, her, draft.id, True, now) is None, "not published yet"
        assert (await service.publish(tx, CLI, draft.id, "en", now)).outcome.value == "done"
        assert (await service.publish(tx, CLI, draft.id, "en", now)).outcome.value == "already"
        assert (await service.publish(tx, CLI, 9999, "en", now)).outcome.value == "gone"
        assert await service.rate(tx, her, draft.id, True, now) is RateOutcome.RECORDED
        assert await service.rate(tx, her, 9999, True, now) is None
        assert await service.page(tx, her, "weather", 0, "en") is None
        shown = await service.page(tx, her, "all", 1, "ar")
        assert shown is not None and shown.id == draft.id and shown.locale == "ar"
        actions = [e["action"] for e in await tx.audit_log.entries()]
    assert actions.count("tip.loaded") == 1, "loading what is already there is not audited"
    assert actions.count("tip.published") == 1
