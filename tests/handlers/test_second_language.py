"""A second language: chosen (or skipped) at onboarding, changed with /language, shown in
/mydata; tips and surveys missing in her language fall back to it, then to the content's
default, and say so; never a breakdown of survey answers; erased with her by /forget."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.cli_content import load_file
from bot.core.conversation import step_payload
from bot.core.i18n import Catalogs
from bot.core.messages import ChannelName, MediaKind
from bot.core.models import Member, NewMember, Role
from bot.core.reports import Breakdown
from bot.core.router import Core
from bot.core.surveys import parse_definition
from bot.services.surveys import send_reminders
from handlers import build_router
from handlers.onboarding import ONBOARDING
from storage.store import SqlStore
from storage.tables import member_t
from tests.handlers.conftest import join, make_invite
from tests.handlers.test_surveys import counted, mix
from tests.support.erasure import rows_naming
from tests.support.harness import Harness, Person, visible
from tests.support.surveys import deliver, pulse

SECOND_QUESTION = (
    "Do you read another language too? Tips and surveys not yet in English will be shown in it."
)


async def her(h: Harness, user_id: str) -> Member | None:
    async with h.store.transaction() as tx:
        return await tx.members.get(ChannelName.TELEGRAM, user_id)


async def member(h: Harness, user_id: str, locale: str, second: str | None = None) -> Person:
    she = h.person(user_id, locale)
    await join(she, await make_invite(h, f"code-{user_id}"), locale=locale, second=second)
    return she


async def test_onboarding_asks_for_a_second_language_once_and_keeps_it(
    three_languages: Harness,
) -> None:
    harness = three_languages
    she = harness.person("1", "en")
    await she.say(f"/start {await make_invite(harness)}")
    [asked] = await she.tap("English")
    assert asked.text == SECOND_QUESTION
    assert sorted(she.labels()[:2]) == ["Français", "العربية"], "every other language"
    assert she.labels()[2:] == ["Skip", "◀ Back"]
    assert asked.columns == 2, "short: two columns"
    [values] = await she.tap("Français")
    assert "Do you accept the values" in values.text, "one step, then on with joining"
    assert "your languages" in values.text, "the data notice says both are kept"
    await she.tap("I accept")
    await she.tap("Iraq")
    await she.tap("Youth deradicalisation")
    await she.tap("Done")
    found = await her(harness, "1")
    assert found is not None and (found.locale, found.second_locale) == ("en", "fr")
    [mydata] = await she.say("/mydata")
    assert "• Language: English (second language: Français)" in mydata.text


async def test_skipping_the_second_language_keeps_none(
    three_languages: Harness,
) -> None:
    harness = three_languages
    she = await member(harness, "2", "ar")  # `join` taps Skip, in Arabic
    found = await her(harness, "2")
    assert found is not None and (found.locale, found.second_locale) == ("ar", None)
    [mydata] = await she.say("/mydata")
    assert "اللغة الثانية" not in mydata.text


async def test_wrong_input_at_the_second_language_step_asks_again(
    three_languages: Harness,
) -> None:
    harness = three_languages
    she = harness.person("3", "fr")
    await she.say(f"/start {await make_invite(harness)}")
    await she.tap("Français")
    asked = she.last.text
    for wrong in (she.say("klingon"), she.send_media(MediaKind.STICKER), she.say("")):
        replies = await wrong
        assert replies[-1].text == asked, "the same question again"
        assert "Passer" in she.labels()
        assert len(replies) == 2 and len(replies[0].text) < 80, "one short line first"
    first, _again = await she.say("klingon")
    assert first.text == "Merci de choisir l’un des boutons.", "in her language"
    # her own language, never offered as a second one: a forged button
    forged = step_payload(ONBOARDING.name, ONBOARDING.version, "second", "fr")
    assert "message précédent" in (await she.press(forged))[0].text
    await she.say("\u200fالعربية")  # a label typed, with a right-to-left mark, is the button
    assert "J’accepte" in she.labels(), "on to the values"
    await she.tap("◀ Retour")  # back to the second language: a different choice
    await she.tap("Passer")
    await she.tap("J’accepte")
    await she.tap("Irak")
    await she.tap(harness.catalogs.get("fr")("Youth deradicalisation"))
    await she.tap("Terminé")
    found = await her(harness, "3")
    assert found is not None and (found.locale, found.second_locale) == ("fr", None)


async def test_language_changes_the_second_language_too(
    three_languages: Harness,
) -> None:
    harness = three_languages
    she = await member(harness, "4", "en", second="ar")
    await she.say("/language")
    assert visible(she.labels()[-1]) == "Second language: العربية"
    [asked] = await she.tap("Second language: العربية")
    assert asked.text == SECOND_QUESTION
    assert sorted(she.labels()[:2]) == ["Français", "العربية"]
    assert she.labels()[2:] == ["No second language", "◀ Back"]
    [done] = await she.tap("Français")
    assert visible(done.text) == (
        "Done. Tips and surveys not yet in English will be shown in French."
    )
    found = await her(harness, "4")
    assert found is not None and found.second_locale == "fr"

    await she.say("/language")
    await she.tap("Second language: Français")
    [done] = await she.tap("No second language")
    assert done.text == "Done. You have no second language."
    found = await her(harness, "4")
    assert found is not None and (found.locale, found.second_locale) == ("en", None)

    await she.say("/language")
    await she.tap("Add a second language")
    await she.tap("Français")
    await she.say("/language")
    await she.tap("Français")  # her second language becomes her first: no second any more
    found = await her(harness, "4")
    assert found is not None and (found.locale, found.second_locale) == ("fr", None)
    await she.say("/language")
    assert she.labels()[-1] == "Ajouter une deuxième langue"


def three_languages_but_french() -> dict[str, object]:
    """`pulse` in English (its default) and Arabic only."""
    data = pulse()
    data["text"] = {k: v for k, v in data["text"].items() if k != "fr"}  # type: ignore[attr-defined]
    for question in data["questions"]:  # type: ignore[attr-defined]
        question["text"] = {k: v for k, v in question["text"].items() if k != "fr"}
    return data


async def load_survey(h: Harness, data: dict[str, object], days: int = 7) -> int:
    definition = parse_definition(data, ("en", "ar", "fr"))
    async with h.store.transaction() as tx:
        survey_id, _ = await tx.surveys.upsert(
            definition, h.clock.now(), h.clock.now() + timedelta(days=days), h.clock.now()
        )
    return survey_id


async def test_a_survey_missing_in_her_language_is_shown_in_her_second_and_says_so(
    harness: Harness,
) -> None:
    sid = await load_survey(harness, three_languages_but_french())
    claire = await member(harness, "5", "fr", second="ar")
    lina = await member(harness, "6", "fr")  # no second language
    [listing] = await claire.say("/survey")
    assert listing.text == "Sondages en cours\u00a0:"
    assert claire.labels() == ["نبض: الأمان"], "titled in her second language"
    opened = await claire.tap("نبض: الأمان")
    assert opened[0].text.startswith("نبض: الأمان\n\nأربعة أسئلة قصيرة.")
    assert opened[0].text.endswith("Pas encore en français — affiché en arabe.")
    assert "ما مدى شعورك بالأمان" in opened[-1].text, "the questions too"
    assert opened[-1].text.startswith("Question 1 sur 5"), "the interface stays hers"
    await claire.tap("3")
    await claire.tap("Non")
    [note] = await claire.say("4")
    assert "هل من شيء آخر؟" in note.text and "Passer" in claire.labels()
    await claire.tap("Passer")

    opened = await lina.say("/survey pulse-test")
    assert "Pas encore en français — affiché en anglais." in opened[0].text
    assert "How safe did you feel" in opened[-1].text, "her content's default"
    await lina.tap("3")
    await lina.tap("Non")
    await lina.say("2")
    await lina.tap("Passer")

    # Counted under her own language only: the second one is no breakdown of anything.
    await mix(harness)
    groups = {group for _q, _o, group, _n in await counted(harness, sid, Breakdown.LANGUAGE)}
    assert groups == {"fr"}


async def test_a_reminder_names_the_survey_in_her_second_language(
    three_languages: Harness,
) -> None:
    harness = three_languages
    data = three_languages_but_french()
    data["reminders"] = 1
    await load_survey(harness, data, days=4)
    claire = await member(harness, "5", "fr", second="ar")
    lina = await member(harness, "6", "fr")
    harness.clock.advance(timedelta(days=3))  # past half-way, 09:00 UTC: not quiet in Iraq
    assert await send_reminders(harness.store, harness.catalogs, harness.clock.now()) == 2
    received = await deliver(harness)
    [to_claire] = map(visible, received[claire.user_id])
    [to_lina] = map(visible, received[lina.user_id])
    assert to_claire.startswith("Rappel") and "«\u00a0نبض: الأمان\u00a0»" in to_claire
    assert "«\u00a0Pulse: safety\u00a0»" in to_lina, "no second language: its default"


async def test_a_survey_in_her_language_says_nothing(
    three_languages: Harness,
) -> None:
    harness = three_languages
    await load_survey(harness, pulse())
    amina = await member(harness, "7", "ar", second="en")
    opened = await amina.say("/survey pulse-test")
    assert opened[0].text == "نبض: الأمان\n\nأربعة أسئلة قصيرة."


async def test_forget_erases_her_second_language(
    three_languages: Harness,
) -> None:
    harness = three_languages
    other = await member(harness, "8", "en", second="fr")
    she = await member(harness, "96400009", "ar", second="en")
    found = await her(harness, "96400009")
    assert found is not None and found.second_locale == "en"

    async def with_second() -> int:
        async with harness.store.transaction() as tx:
            statement = select(func.count()).where(member_t.c.second_locale.is_not(None))
            return int((await tx.conn.execute(statement)).scalar_one())

    assert await with_second() == 2
    await she.say("/forget")
    await she.tap("نعم، احذف كل شيء")
    assert await her(harness, "96400009") is None
    assert await with_second() == 1, "hers went with her row; the other member's stays"
    assert await rows_naming(harness.store, member_id=found.id, identifiers=("96400009",)) == []
    kept = await her(harness, other.user_id)
    assert kept is not None and kept.second_locale == "fr"


THIRTEEN = ("en", "ar", "fr", "ur", "fa", "ps", "ckb", "id", "sw", "so", "ha", "bn", "es")
ROOT = Path(__file__).resolve().parents[2]


async def test_translated_tips_reach_members_of_thirteen_languages(
    db: SqlStore, tmp_path: Path
) -> None:
    """With thirteen languages (passed in, as the lead extends SUPPORTED_LOCALES at merge):
    the starter tips loaded with a translation file; an Urdu reader gets Urdu, a Persian reader
    who also reads Urdu gets Urdu and a note, a Pashto reader gets the English default."""
    h = Harness(db, build_router())
    h.catalogs = Catalogs(supported=THIRTEEN)
    h.core = Core(db, build_router(), h.catalogs, h.clock, h.config)
    (tmp_path / "translations").mkdir()
    shutil.copy(ROOT / "content" / "tips.yaml", tmp_path / "tips.yaml")
    shutil.copy(
        ROOT / "tests" / "fixtures" / "translations" / "ur.yaml", tmp_path / "translations"
    )
    assert await load_file(db, tmp_path / "tips.yaml", h.clock.now(), supported=THIRTEEN) == 0

    async def reader(user_id: str, locale: str, second: str | None) -> Person:
        async with db.transaction() as tx:
            await tx.members.create(
                NewMember(
                    channel=ChannelName.TELEGRAM,
                    platform_id=user_id,
                    chat_id=user_id,
                    locale=locale,
                    country="PK",
                    spheres=["pluralism"],
                    role=Role.MEMBER,
                    consent_version="1",
                    consented_at=h.clock.now(),
                    second_locale=second,
                ),
                h.clock.now(),
            )
        return h.person(user_id, locale)

    urdu = await reader("10", "ur", None)
    [shown] = await urdu.say("/tips pluralism")
    assert shown.text.startswith("«ur» Safe dialogue circles\n\n«ur» Meet in a private")
    assert "Not yet" not in shown.text

    persian = await reader("11", "fa", "ur")
    [shown] = await persian.say("/tips pluralism")
    fa = h.catalogs.get("fa")
    assert fa.locale == "fa" and fa.language_name("ur") == "اردو"
    assert shown.text.startswith("«ur» Safe dialogue circles")
    notice = fa("Not yet in {language} — shown in {shown}.", language="فارسی", shown="اردو")
    assert visible(notice) in visible(shown.text), "said in her language"

    pashto = await reader("12", "ps", None)
    [shown] = await pashto.say("/tips pluralism")
    assert shown.text.startswith("Safe dialogue circles with mothers of returnees")
    pashto_ = h.catalogs.get("ps")
    notice = pashto_("Not yet in {language} — shown in {shown}.", language="پښتو", shown="*")
    english = pashto_.language_name("en")
    assert visible(notice).replace("*", english) in visible(shown.text)
