"""/report for the secretariat, through the real core on SQLite: summary, chart, spreadsheet;
refusals logged; every kind of bad input answered; results sent to those who asked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from bot.core import keys
from bot.core.i18n import Catalogs
from bot.core.messages import Outbound
from bot.core.models import Role
from bot.core.reports import Breakdown, CalendarPeriod, PeriodKind
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from bot.services.reports import send_results, survey_report
from storage.outbox import OutboxStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person
from tests.support.reports import FREE_TEXT, seed_members, seed_survey, seed_updates, xlsx_text

PNG = b"\x89PNG\r\n\x1a\n"
SECRETARIAT_ID = "700123456"
PERIODS = ["Last full week", "Last full month", "Last full quarter", "All time"]


async def secretariat(h: Harness, user_id: str = SECRETARIAT_ID, locale: str = "en") -> Person:
    code = await make_invite(h, f"sec{user_id}", role=Role.SECRETARIAT)
    she = h.person(user_id, locale)
    await join(she, code, locale=locale)
    return she


async def member(h: Harness, user_id: str, role: Role = Role.MEMBER) -> Person:
    code = await make_invite(h, f"m{user_id}", role=role)
    she = h.person(user_id)
    await join(she, code)
    return she


async def ask_survey_report(
    she: Person, title: str = "Pulse: safety", by: str = "By country"
) -> list[Outbound]:
    await she.say("/report")
    assert she.labels()[:3] == ["Survey results", "Field updates", "Membership"]
    await she.tap("Survey results")
    assert title in she.labels(), "the closed survey is offered by its title"
    await she.tap(title)
    # Released once, for the whole survey: no period is asked, no split by time offered.
    assert she.last.text == "How should the numbers be split?"
    assert not set(PERIODS) & set(she.labels())
    assert "By country" in she.labels()
    assert "By week" not in she.labels()
    return await she.tap(by)


async def test_secretariat_gets_a_summary_a_chart_and_a_spreadsheet(harness: Harness) -> None:
    survey = await seed_survey(
        harness.store, harness.clock.now(), {"IQ": 30, "SY": 20, "LB": 12, "YE": 2}
    )
    she = await secretariat(harness)
    summary, chart, sheet = await ask_survey_report(she)

    assert "Pulse: safety" in summary.text and "changed by at most ±2" in summary.text
    shown = re.search(r"(\d+) responses", summary.text)
    assert shown is not None and abs(int(shown[1]) - 64) <= 2, "64, perturbed by at most 2"
    assert "Iraq" in summary.text and "Yemen —" not in summary.text, "Yemen's 2 are hidden"
    assert FREE_TEXT not in summary.text and "withheld" in summary.text
    assert chart.file is not None and chart.file.content.startswith(PNG)
    assert chart.file.mime_type == "image/png"
    assert sheet.file is not None and sheet.file.filename.endswith(".xlsx")
    names, text = xlsx_text(sheet.file.content)
    assert names[-1] == "notes" and len(names) == 6, "a sheet per question, then notes"
    assert "Smallest group shown (k)" in text and "<5" in text
    assert "Yemen" in text and "pulse-test" in text
    assert FREE_TEXT not in text, "free-text answers never leave the database"
    assert SECRETARIAT_ID not in text and SECRETARIAT_ID not in summary.text
    async with harness.store.transaction() as tx:
        entries = [e for e in await tx.audit_log.entries() if e["action"] == "report.sent"]
    assert entries and entries[0]["details"]["by"] == "country"
    # Its button again, on the question answered already: stale.
    assert (await she.tap("By country"))[0].text.startswith("That button")
    assert survey.id


async def test_updates_and_membership_reports(harness: Harness) -> None:
    """Counts over time are offered for whole calendar periods only, perturbed, and say so."""
    she = await secretariat(harness)
    ids = await seed_members(harness.store, harness.clock.now(), {"IQ": 12, "SY": 7})
    await seed_updates(harness.store, harness.clock.now(), ids[0], {"IQ": 30, "SY": 25, "YE": 2})
    harness.clock.advance(timedelta(weeks=1))  # this week is over: it can be reported
    await she.say("/report")
    await she.tap("Field updates")
    assert she.labels() == [*PERIODS, "◀ Back", "✖ Cancel"], "fixed calendar periods, no range"
    await she.tap("Last full week")
    summary, chart, sheet = await she.tap("By country")
    assert "Field updates" in summary.text and "Iraq" in summary.text
    assert "Yemen" not in summary.text, "Yemen's 2 updates are always under k, even +2"
    assert "changed by at most ±2" in summary.text and "<5" in summary.text
    assert chart.file is not None and sheet.file is not None
    _names, text = xlsx_text(sheet.file.content)
    assert "Figures perturbed by at most" in text and "±2" in text
    await she.say("/report")
    await she.tap("Membership")
    await she.tap("All time")
    assert "By sphere" in she.labels()
    summary, _chart, sheet = await she.tap("By sphere")
    assert "Youth deradicalisation" in summary.text
    assert "One person may count in several spheres" in summary.text or sheet.file
    assert sheet.file is not None
    _names, text = xlsx_text(sheet.file.content)
    assert "One person may count in several spheres" in text
    assert "5000000" not in text, "no platform or chat id in an export"


async def test_a_member_or_coordinator_is_refused_and_the_attempt_is_logged(
    harness: Harness,
) -> None:
    practitioner = await member(harness, "31")
    coordinator = await member(harness, "32", Role.COORDINATOR)
    for person in (practitioner, coordinator):
        [refused] = await person.say("/report")
        assert refused.text == "This command is not available to you."
    async with harness.store.transaction() as tx:
        refusals = [e for e in await tx.audit_log.entries() if e["action"] == "command.refused"]
    assert [e["details"]["command"] for e in refusals] == ["report", "report"]
    assert {e["details"]["role"] for e in refusals} == {"member", "coordinator"}


async def test_a_stale_report_button_after_losing_the_role_is_refused(harness: Harness) -> None:
    she = await secretariat(harness)
    await she.say("/report")
    async with harness.store.transaction() as tx:
        found = await tx.members.get(harness.channel.name, SECRETARIAT_ID)
        assert found is not None
        await tx.members.set_role(found.id, Role.MEMBER)
    [refused] = await she.tap("Field updates")
    assert refused.text == "This is no longer available to you."


async def test_unknown_open_and_unanswered_surveys_are_explained(harness: Harness) -> None:
    she = await secretariat(harness)
    [unknown] = await she.say("/report no-such-survey")
    assert unknown.text == "There is no survey called no-such-survey."
    await seed_survey(harness.store, harness.clock.now(), {"IQ": 8}, slug="open-one", close=False)
    [still_open] = await she.say("/report open-one")
    assert "still open" in still_open.text
    await seed_survey(harness.store, harness.clock.now(), {}, slug="nobody")
    [unanswered] = await she.say("/report nobody")
    assert "Nobody answered" in unanswered.text
    await she.say("/report")
    [none_closed] = await she.tap("Survey results")
    assert "No closed survey has answers yet" in none_closed.text


async def test_a_breakdown_too_fine_is_explained_and_no_period_is_asked(
    harness: Harness,
) -> None:
    old = harness.clock.now() - timedelta(days=200)
    # Six respondents, two per language: every cell by language is at most 2, which no noise
    # (±2) lifts to k, so that breakdown shows nothing whatever the cell keys.
    survey = await seed_survey(harness.store, old, {"IQ": 4, "SY": 1, "LB": 1}, slug="old-one")
    she = await secretariat(harness)
    [breakdowns] = await she.say("/report old-one")
    assert breakdowns.buttons[0].label == "No breakdown", "the whole survey: no period asked"
    typed = await she.say("the last month please")
    assert typed[0].text == "Please choose one of the buttons."
    forged = await she.press("rep:1:period:4w")  # no such step: forged
    assert "no longer works" in forged[0].text
    too_fine = await she.tap("By language")
    assert "groups are too small" in too_fine[0].text and "coarser" in too_fine[0].text
    assert "longer period" not in too_fine[0].text, "a survey has no period to lengthen"
    assert "No breakdown" in she.labels(), "asked for a breakdown again"
    whole = await she.tap("No breakdown")
    assert survey.slug == "old-one"
    if len(whole) == 1:
        # Six people: the noise (from a key random in each run) may put every figure under k
        # even for the whole survey. Then she is told so, and offered nothing that cannot help.
        assert "too few people" in whole[0].text and not whole[0].buttons
        assert "no breakdown" not in whole[0].text.lower()
        return
    summary, _chart, _sheet = whole
    shown = re.search(r"(\d+) responses", summary.text)  # perturbed: 6 ± 2, or "fewer than 5"
    assert (shown is not None and abs(int(shown[1]) - 6) <= 2) or "Fewer than 5" in summary.text
    assert "changed by at most ±2" in summary.text


async def test_a_public_survey_can_be_split_by_age_and_gender(harness: Harness) -> None:
    survey = await seed_survey(
        harness.store, harness.clock.now(), {"IQ": 12}, slug="public-one", mode="public"
    )
    she = await secretariat(harness)
    await she.say("/report public-one")
    assert {"By age", "By gender"} <= set(she.labels())
    assert "By sphere" not in she.labels(), "public respondents have none"
    summary, _chart, _sheet = await she.tap("By gender")
    assert "Woman" in summary.text and survey.id


async def test_results_go_to_participants_who_asked_in_their_language(harness: Harness) -> None:
    survey = await seed_survey(
        harness.store, harness.clock.now(), {"IQ": 30, "SY": 3}, close=False
    )
    asked_ar = await member(harness, "41")
    asked_sy = await member(harness, "42")
    declined = await member(harness, "43")
    async with harness.store.transaction() as tx:
        people = {}
        for person in (asked_ar, asked_sy, declined):
            found = await tx.members.get(harness.channel.name, person.user_id)
            assert found is not None
            people[person.user_id] = found
            await tx.surveys.set_participation(survey.id, found.id, "completed")
        people["41"].locale = "ar"
        people["42"].country = "SY"
        for found in people.values():
            await tx.members.save(found)
        await tx.surveys.set_results_opt_in(survey.id, people["41"].id)
        await tx.surveys.set_results_opt_in(survey.id, people["42"].id)
    catalogs = Catalogs()
    assert (
        await send_results(
            harness.store, catalogs, harness.clock.now(), secret=harness.config.secret_key
        )
        == 0
    ), "still open"
    async with harness.store.transaction() as tx:
        await tx.surveys.close(survey.id, harness.clock.now())
    assert (
        await send_results(
            harness.store, catalogs, harness.clock.now(), k=5, secret=harness.config.secret_key
        )
        == 2
    )
    assert (
        await send_results(
            harness.store, catalogs, harness.clock.now(), k=5, secret=harness.config.secret_key
        )
        == 0
    )
    async with harness.store.transaction() as tx:
        assert await tx.reports.results_due() == [], "marked as sent"
    before = len(harness.channel.sent)
    channel = harness.channel
    worker = DeliveryWorker(
        OutboxStore(harness.store),
        {channel.name: channel},
        {channel.name: RateLimiter(30)},
        harness.clock,
    )
    assert await worker.drain_once() == 2
    texts = {s.chat_id: s.message.text or "" for s in harness.channel.sent[before:]}
    assert set(texts) == {"41", "42"}, "only those who asked"
    assert "نبض" in texts["41"] and "العراق" in texts["41"]
    syria = texts["42"]
    assert "Whole alliance" in syria and "Syria: too few answers to show." in syria
    assert FREE_TEXT not in syria


async def test_from_a_real_run_to_the_secretariat_and_back_to_participants(
    harness: Harness,
) -> None:
    """Members join, share updates and answer a survey through the bot; it closes; the
    secretariat gets summary, chart and spreadsheet; those who asked get the results."""
    from bot.services.surveys import close_due_surveys
    from tests.handlers.test_surveys import load

    survey_id = await load(harness, days=3)
    people = [await member(harness, str(600 + i)) for i in range(7)]
    for i, she in enumerate(people):
        await she.say("/update")
        await she.say(f"Field note number {i} from the district.")
        await she.tap("Done")
        await she.tap("Routine")
        await she.tap("No")
        await she.tap("No")  # not quoted in briefs
        await she.tap("Send")
        await she.say("/survey pulse-test")
        await she.tap(str(1 + i % 2))
        await she.tap("No")
        await she.say(str(10 + i))
        await she.say(f"{FREE_TEXT} {i}")
        await she.tap("Yes, send results" if i < 2 else "No, thanks")
    harness.clock.advance(timedelta(days=4))
    assert await close_due_surveys(harness.store, harness.clock.now()) == [survey_id]

    she = await secretariat(harness)
    summary, chart, sheet = await ask_survey_report(she, by="No breakdown")
    # Perturbed (the same cell always by the same amount): 7 comes out as 5 to 9.
    responses = re.search(r"(\d+) responses", summary.text)
    assert responses is not None and 5 <= int(responses[1]) <= 9, "7 responses, ±2 at most"
    assert "No: 100%" in summary.text, "nobody said yes: <5 like any small count"
    texts = re.search(r"(\d+) free-text answers, withheld", summary.text)
    assert texts is not None and 5 <= int(texts[1]) <= 9, "7 free-text answers, ±2 at most"
    assert chart.file is not None and chart.file.content.startswith(PNG)
    assert sheet.file is not None
    names, text = xlsx_text(sheet.file.content)
    assert names[-1] == "notes" and FREE_TEXT not in text
    assert not any(she.user_id in text for she in people)
    harness.clock.advance(timedelta(weeks=1))  # the week of the updates is over
    await she.say("/report")
    await she.tap("Field updates")
    await she.tap("All time")
    updates = await she.tap("No breakdown")
    [line] = [x for x in updates[0].text.splitlines() if x.startswith("Routine: ")]
    assert 5 <= int(line.removeprefix("Routine: ")) <= 9, "7 routine updates, ±2 at most"
    assert "Urgent" not in line, "no urgent update: shown as <5 like any small count"

    queued = await send_results(
        harness.store, Catalogs(), harness.clock.now(), secret=harness.config.secret_key
    )
    assert queued == 2, "only the two who asked"


async def test_survey_figures_are_perturbed_the_same_every_time(harness: Harness) -> None:
    """A survey cell's noise comes from a keyed hash of its identity: asking again (another
    process with the same secret key) gives the same figures, nothing to average away; every
    figure is within ±2 of the truth, and shares are of the published figures."""
    survey = await seed_survey(harness.store, harness.clock.now(), {"IQ": 30, "SY": 20})
    secret, now = keys.ephemeral(), harness.clock.now()
    _ = Catalogs().get("en")
    async with harness.store.transaction() as tx:
        first = await survey_report(tx, survey, Breakdown.COUNTRY, 5, _, now, secret=secret)
        again = await survey_report(tx, survey, Breakdown.COUNTRY, 5, _, now, secret=secret)
        overall = await survey_report(tx, survey, Breakdown.NONE, 5, _, now, secret=secret)
        other = await survey_report(tx, survey, Breakdown.NONE, 5, _, now, secret=b"x" * 32)
        responses = await tx.reports.survey_responses(survey.id)
    assert [s.table for s in first.sections] == [s.table for s in again.sections]
    assert first.responses == overall.responses and first.responses is not None
    assert abs(first.responses - responses) <= 2 and responses == 50
    assert [s.table for s in overall.sections] != [s.table for s in other.sections], (
        "the noise depends on the secret key"
    )
    safe = overall.sections[0].table
    assert safe.noise == 2 and safe.column_totals == safe.cells[0], "one row: same cells"
    shown = [n for n in safe.cells[0] if n is not None]
    shares = [x for x in safe.shares(0) if x is not None]
    assert [round(x, 6) for x in shares] == [round(100 * n / sum(shown), 6) for n in shown]


async def test_with_no_breakdown_too_small_suggests_a_longer_period_never_no_breakdown(
    harness: Harness,
) -> None:
    """Already without a breakdown, "try no breakdown" cannot help: a longer period may; once
    she has all time too, nothing can, and she is told so instead of being asked again."""
    month = CalendarPeriod.recent(PeriodKind.MONTH, harness.clock.now().date())[0]
    assert month.first is not None
    then = datetime.combine(month.first + timedelta(days=8), time(12), UTC)
    await seed_members(harness.store, then, {"IQ": 2})
    she = await secretariat(harness)  # joined this week: in no complete period yet
    await she.say("/report")
    await she.tap("Membership")
    await she.tap("Last full month")
    [too_small, question] = await she.tap("No breakdown")
    assert "every count is under 5" in too_small.text
    assert "no breakdown" not in too_small.text.lower(), "never the choice she already made"
    assert "longer period" in too_small.text
    assert she.labels()[: len(PERIODS)] == PERIODS, "asked for the period again"
    assert question.text.startswith("For which period?")
    await she.tap("All time")
    [nothing] = await she.tap("No breakdown")
    assert "every count is under 5" in nothing.text and "too few people" in nothing.text
    assert "no breakdown" not in nothing.text.lower() and "longer period" not in nothing.text
    assert not nothing.buttons, "nothing left to choose: the flow ends"
    assert (await she.tap("No breakdown"))[0].text.startswith("That button")


async def test_a_tiny_survey_with_no_breakdown_is_explained_without_a_useless_hint(
    harness: Harness,
) -> None:
    await seed_survey(harness.store, harness.clock.now(), {"IQ": 2}, slug="tiny")
    she = await secretariat(harness)
    await she.say("/report tiny")
    [nothing] = await she.tap("No breakdown")
    assert "too few people" in nothing.text
    assert "no breakdown" not in nothing.text.lower() and "longer period" not in nothing.text
    assert not nothing.buttons


async def test_back_and_cancel(harness: Harness) -> None:
    she = await secretariat(harness)
    await she.say("/report")
    await she.tap("Field updates")
    await she.tap("Back")
    assert she.last.text == "What would you like a report on?"
    await she.say("membership")  # typing a button's label counts as pressing it
    assert she.last.text.startswith("For which period?")
    await she.tap("All time")
    [cancelled] = await she.tap("Cancel")
    assert cancelled.text == "Cancelled."
    async with harness.store.transaction() as tx:
        assert (await tx.conversations.load(harness.channel.name, she.user_id)).flow is None
