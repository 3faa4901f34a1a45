"""The peers service on SQLite and PostgreSQL: handles, a coordinator's suggestion (both must
accept), the weekly limit, expiry and clean-up, who may see the country × sphere table and
that its figures are the all-time membership report's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.actors import Actor, NotAllowed
from bot.core.clock import FixedClock
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName
from bot.core.models import Member, NewMember, Role
from bot.core.peers import IntroStatus
from bot.core.reports import Breakdown, CalendarPeriod
from bot.services import peers
from bot.services.peers import PeerRefused, Refusal
from bot.services.reports import membership_report
from storage.store import SqlStore, SqlTransaction

CATALOGS = Catalogs(supported=("en", "ar", "fr"))
SECRET = b"k" * 32


async def _member(
    tx: SqlTransaction,
    clock: FixedClock,
    platform_id: str,
    *,
    country: str = "IQ",
    role: Role = Role.MEMBER,
    spheres: tuple[str, ...] = ("vaw",),
) -> Member:
    return await tx.members.create(
        NewMember(
            channel=ChannelName.TELEGRAM,
            platform_id=platform_id,
            chat_id=platform_id,
            locale="en",
            country=country,
            spheres=list(spheres),
            role=role,
            consent_version="2026-11",
            consented_at=clock.now(),
        ),
        clock.now(),
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("@amina_iq", "@amina_iq"),
        ("amina_iq", "@amina_iq"),
        ("https://t.me/amina_iq", "@amina_iq"),
        ("wa.me/9647701234567", "https://wa.me/9647701234567"),
        ("+964 770-123-4567", "https://wa.me/9647701234567"),
        ("my name is amina", None),
        ("@abc", None),  # Telegram usernames have at least five characters
        ("wa.me/12", None),
        ("https://evil.example/amina", None),
        ("", None),
    ],
)
def test_handles_are_a_username_or_a_whatsapp_link(typed: str, stored: str | None) -> None:
    assert peers.parse_handle(typed) == stored


def test_a_line_is_one_line_of_at_most_120_characters() -> None:
    assert peers.check_line("  two\n lines ") == "two lines"
    assert len(peers.check_line("x" * 120)) == 120
    for bad in ("x" * 121, "   ", ""):
        with pytest.raises(PeerRefused):
            peers.check_line(bad)
    for contact in (
        "write to @amina_iq",
        "call +964 770 123 4567",
        "واتساب ٠٧٧٠١٢٣٤٥٦٧",
        "see wa.me/9647701234567",
        "https://example.org/me",
    ):
        with pytest.raises(PeerRefused) as refused:
            peers.check_line(contact)
        assert refused.value.reason is Refusal.CONTACT_IN_LINE, contact
    assert peers.check_line("Dialogue in 2 districts since 2019, 40 mothers")


async def test_a_coordinators_suggestion_needs_both(store: SqlStore, clock: FixedClock) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        coordinator = await _member(tx, clock, "1", role=Role.COORDINATOR)
        a = await _member(tx, clock, "2")
        b = await _member(tx, clock, "3", country="NG")
        c = await _member(tx, clock, "4", country="LB")
        for m, line in ((a, "shelters"), (b, "legal aid")):
            await peers.save_line(tx, Actor.of(m), "vaw", line, True, now)
        await peers.save_line(tx, Actor.of(c), "vaw", "not open", False, now)
    async with store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await peers.suggest(tx, Actor.of(a), CATALOGS, a.id, b.id, "vaw", now)
        with pytest.raises(PeerRefused) as closed:
            await peers.suggest(tx, Actor.of(coordinator), CATALOGS, a.id, c.id, "vaw", now)
        assert closed.value.reason is Refusal.GONE, "she is not open to introductions"
        with pytest.raises(PeerRefused):
            await peers.suggest(tx, Actor.of(coordinator), CATALOGS, a.id, a.id, "vaw", now)
        intro = await peers.suggest(tx, Actor.of(coordinator), CATALOGS, a.id, b.id, "vaw", now)
    async with store.transaction() as tx:
        first = await peers.accept(tx, Actor.of(a), CATALOGS, intro.id, "@amina_iq", now)
        assert not first.introduced
        with pytest.raises(PeerRefused) as twice:
            await peers.accept(tx, Actor.of(a), CATALOGS, intro.id, "@amina_iq", now)
        assert twice.value.reason is Refusal.ANSWERED
        with pytest.raises(PeerRefused) as outsider:
            await peers.accept(tx, Actor.of(c), CATALOGS, intro.id, "@hana_lb", now)
        assert outsider.value.reason is Refusal.GONE
        done = await peers.accept(tx, Actor.of(b), CATALOGS, intro.id, "+2348012345678", now)
    assert done.introduced and done.other_handle == "@amina_iq"
    async with store.transaction() as tx:
        stored = await tx.peers.get(intro.id)
        entries = await tx.audit_log.entries(limit=50)
    assert stored is not None and stored.status is IntroStatus.INTRODUCED
    assert stored.requester_handle is None and stored.peer_handle is None
    actions = [e["action"] for e in entries]
    assert "introduction.suggested" in actions and "introduction.made" in actions
    assert "amina" not in repr(entries) and "2348012345678" not in repr(entries)


async def test_limits_expiry_and_clean_up(store: SqlStore, clock: FixedClock) -> None:
    now = clock.now()
    async with store.transaction() as tx:
        she = await _member(tx, clock, "1")
        others = [await _member(tx, clock, str(10 + i), country="NG") for i in range(7)]
        for m in [she, *others]:
            await peers.save_line(tx, Actor.of(m), "vaw", f"line {m.id}", True, now)
    me = Actor.of(she)
    tokens = [peers.peer_token(SECRET, she.id, o.id) for o in others]
    made = []
    async with store.transaction() as tx:
        for token in tokens[:3]:
            made.append(
                await peers.request(tx, me, CATALOGS, "vaw", token, "@amina_iq", SECRET, now)
            )
        with pytest.raises(PeerRefused) as full:
            await peers.request(tx, me, CATALOGS, "vaw", tokens[3], "@amina_iq", SECRET, now)
        assert full.value.reason is Refusal.TOO_MANY_OPEN
        for intro in made[:2]:
            await peers.withdraw(tx, me, intro.id, now)
        for token in tokens[3:5]:
            made.append(
                await peers.request(tx, me, CATALOGS, "vaw", token, "@amina_iq", SECRET, now)
            )
        await peers.withdraw(tx, me, made[3].id, now)  # two waiting, but five this week
        with pytest.raises(PeerRefused) as week:
            await peers.request(tx, me, CATALOGS, "vaw", tokens[5], "@amina_iq", SECRET, now)
        assert week.value.reason is Refusal.TOO_MANY_THIS_WEEK
    later = now + peers.EXPIRY + timedelta(seconds=1)
    async with store.transaction() as tx:
        assert await peers.pending(tx, me, later) == [], "expired requests wait no more"
        with pytest.raises(PeerRefused) as expired:
            await peers.accept(tx, Actor.of(others[2]), CATALOGS, made[2].id, "@grace", later)
        assert expired.value.reason is Refusal.ENDED
        # A week on, she may ask again, the expired peer too.
        await peers.request(tx, me, CATALOGS, "vaw", tokens[2], "@amina_iq", SECRET, later)
    async with store.transaction() as tx:
        assert await tx.peers.forget_ended(now, later) == 0, "nothing ended a month ago"
        expired = await tx.peers.get(made[2].id)
        assert expired is not None and expired.requester_handle is None, "blanked at expiry"
        gone = await tx.peers.forget_ended(later + timedelta(days=31), later + timedelta(days=31))
    assert gone == 6


async def test_the_table_is_the_membership_reports_figures(
    store: SqlStore, clock: FixedClock
) -> None:
    async with store.transaction() as tx:
        she = await _member(tx, clock, "1")
        coordinator = await _member(tx, clock, "2", role=Role.COORDINATOR)
        secretariat = await _member(tx, clock, "3", role=Role.SECRETARIAT)
        for i in range(12):
            await _member(tx, clock, str(10 + i), spheres=("vaw", "media"))
    now = clock.now() + timedelta(days=8)
    _ = CATALOGS.get("en")
    async with store.transaction() as tx:
        with pytest.raises(NotAllowed):
            await peers.who_works_where(tx, Actor.of(she), _, now, 5)
        for actor in (Actor.of(coordinator), Actor.of(secretariat)):
            table = await peers.who_works_where(tx, actor, _, now, 5)
        period = CalendarPeriod.all_time(now.date())
        membership = await membership_report(tx, Breakdown.COUNTRY, period, 5, _, now)
        column = await peers.countries_in_sphere(tx, Actor.of(she), "vaw", now, 5)
        with pytest.raises(PeerRefused):
            await peers.countries_in_sphere(tx, Actor.of(she), "media", now, 5)
        entries = await tx.audit_log.entries(limit=10)
    assert table.sections[0].table.cells == membership.sections[0].table.cells
    iq = table.sections[0].table.rows.index("IQ")
    vaw = table.sections[0].table.columns.index("vaw")
    assert table.sections[0].table.cells[iq][vaw] is not None, "13 women work on it in Iraq"
    shown = table.sections[0].table
    assert [(c.country, c.figure) for c in column] == [
        (country, shown.cells[r][vaw]) for r, country in enumerate(shown.rows)
    ], "her sphere's column is the table's, figure for figure"
    assert all(c.figure is None for c in column if c.country != "IQ"), "nobody: shown <k"
    assert [e["action"] for e in entries].count("peers.map") == 2
