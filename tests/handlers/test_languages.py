"""Choosing a language (at /start, with /language, before a public survey) among thirteen, and
the command words typed without a slash in each of them."""

from __future__ import annotations

import io
from datetime import timedelta

from bot.channels.console import ConsoleChannel
from bot.core.context import CoreConfig
from bot.core.i18n import SUPPORTED_LOCALES, Catalogs, native_language_name
from bot.core.messages import ChannelName
from bot.core.models import MemberStatus
from bot.core.surveys import parse_definition
from handlers import build_router
from handlers.common import LANGUAGES_SHOWN
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person
from tests.support.surveys import pulse
from tests.unit.test_languages import THIRTEEN

CATALOGS = Catalogs()


def more(lang: str) -> str:
    """The "More languages" button, in the language the menu is shown in."""
    return CATALOGS.get(lang)("More languages")


def names(*codes: str) -> list[str]:
    return [native_language_name(code) for code in codes]


def thirteen(db: SqlStore, channel: ChannelName = ChannelName.TELEGRAM) -> Harness:
    """A bot speaking the thirteen languages."""
    assert set(SUPPORTED_LOCALES) == set(THIRTEEN)
    return Harness(db, build_router(), config=CoreConfig(open_join=True), channel=channel)


async def stored_locale(h: Harness, she: Person) -> str | None:
    async with h.store.transaction() as tx:
        member = await tx.members.get(h.channel.name, she.user_id)
    return member.locale if member else None


async def test_an_afghan_phone_sees_dari_and_pashto_first_then_more(db: SqlStore) -> None:
    h = thirteen(db)
    she = h.person("af1", "fa-AF")
    await she.say("/start")
    assert she.labels() == [*names("fa", "ps", "en", "ar", "fr"), more("fa")]
    rest = await she.tap(more("fa"))
    assert rest[0].replace, "the menu is edited in place where the channel can"
    assert she.labels() == names("ur", "ckb", "id", "sw", "so", "ha", "bn", "es")
    await she.tap("Español")
    spanish = h.catalogs.get("es")
    assert she.labels()[-3:] == [spanish("Skip"), more("es"), spanish("◀ Back")], "a second one?"
    await she.tap(spanish("Skip"))
    assert she.labels()[0] == spanish("I accept"), "Spanish from her choice on"
    await she.tap(spanish("I accept"))
    await she.tap(spanish("Another country"))
    await she.say(spanish.country_name("AF"))
    await she.tap(spanish.country_name("AF"))
    await she.tap(spanish("Youth deradicalisation"))
    await she.tap(spanish("Done"))
    assert await stored_locale(h, she) == "es"


async def test_kurdish_and_the_country_of_her_invitation_come_first(db: SqlStore) -> None:
    h = thirteen(db)
    code = await make_invite(h, "erbil", country="IQ")
    she = h.person("iq1", "ku")
    await she.say(f"/start {code}")
    assert she.labels() == [*names("ckb", "ar", "en", "fa", "fr"), more("ckb")]


async def test_an_unknown_language_shows_the_default_first(db: SqlStore) -> None:
    h = thirteen(db)
    she = h.person("br1", "pt-BR")
    await she.say("/start")
    # Portuguese is not spoken here: the default, then what else Brazil speaks (CLDR).
    assert she.labels() == [*names("en", "es", "ar", "fr", "ur"), more("en")]
    # A language that is not shown can be typed by its name all the same.
    await she.say("\u200fবাংলা")
    bengali = CATALOGS.get("bn")
    await she.tap(bengali("Skip"))  # no second language
    assert she.labels()[0] == bengali("I accept")
    async with h.store.transaction() as tx:
        state = await tx.conversations.load(h.channel.name, she.user_id)
    assert state.data["locale"] == "bn"


async def test_more_languages_typed_or_picked_from_a_whatsapp_list(db: SqlStore) -> None:
    h = thirteen(db, ChannelName.WHATSAPP)
    she = h.person("9230000001", None)  # WhatsApp tells no language
    await she.say("start")
    first = she.last
    assert len(first.buttons) == LANGUAGES_SHOWN + 1, "one short list, not a numbered menu"
    assert [b.label for b in first.buttons] == [*names("en", "ar", "fr", "ur", "fa"), more("en")]
    await she.say("more LANGUAGES")
    assert she.labels() == names("ps", "ckb", "id", "sw", "so", "ha", "bn", "es")
    await she.tap("پښتو")
    pashto = CATALOGS.get("ps")
    await she.tap(pashto("Skip"))  # no second language
    assert she.labels()[0] == pashto("I accept")


async def test_language_menu_of_a_member_puts_her_phone_and_her_country_first(
    db: SqlStore,
) -> None:
    h = thirteen(db)
    code = await make_invite(h, "kabul", country="AF")
    she = h.person("af2", "en")
    await join(she, code, locale="en", country="AF")
    she.language = "ur-PK"  # her phone now speaks Urdu
    await she.say("/language")
    assert she.labels() == [*names("ur", "en", "fa", "ps"), "Add a second language", more("en")]
    await she.tap(more("en"))
    done = await she.tap("Soomaali")
    assert "Soomaali" in done[0].text
    assert await stored_locale(h, she) == "so"


async def test_the_public_survey_offers_the_likeliest_languages(db: SqlStore) -> None:
    h = thirteen(db)
    definition = parse_definition(pulse("voices-so", mode="public"), SUPPORTED_LOCALES)
    async with h.store.transaction() as tx:
        now = h.clock.now()
        await tx.surveys.upsert(definition, now, now + timedelta(days=7), now)
    she = h.person("so1", "so-SO")
    await she.say("/start s_voices-so")
    assert she.labels()[:3] == names("so", "ar", "sw")
    assert she.labels()[-1] == more("so")


async def test_three_languages_need_no_more_button(db: SqlStore) -> None:
    harness = Harness(db, build_router(), catalogs=Catalogs(supported=("en", "ar", "fr")))
    she = harness.person("x1", "ar-IQ")
    code = await make_invite(harness, "three")
    await she.say(f"/start {code}")
    assert she.labels() == names("ar", "en", "fr")


# -- command words ---------------------------------------------------------------------------


async def member(h: Harness, user_id: str, locale: str, phone: str | None) -> Person:
    code = await make_invite(h, f"code-{user_id}")
    she = h.person(user_id, locale)
    await join(she, code, locale=locale)
    she.language = phone
    return she


async def status(h: Harness, she: Person) -> MemberStatus | None:
    async with h.store.transaction() as tx:
        found = await tx.members.get(h.channel.name, she.user_id)
    return found.status if found else None


async def test_words_of_her_language_her_phone_and_english(harness: Harness) -> None:
    arabic = harness.catalogs.get("ar")
    help_title = arabic("Here is what you can do:")
    she = await member(harness, "w1", "ar", "fr")
    assert (await she.say("aide"))[0].text.startswith(help_title), "her phone's French"
    assert (await she.say("مساعدة"))[0].text.startswith(help_title), "her Arabic"
    assert (await she.say("HELP"))[0].text.startswith(help_title), "English, always"
    other = await member(harness, "w2", "ar", "en")
    refused = await other.say("aide")
    assert not refused[0].text.startswith(help_title), "French is neither hers nor her phone's"


async def test_stop_words_work_in_every_language(harness: Harness) -> None:
    she = await member(harness, "s1", "ar", "ar")
    for word in ("arrêt", "DÉSABONNER", "unsubscribe", "stop", "توقف", "أوقف"):
        await she.say("/resume")
        assert await status(harness, she) is MemberStatus.ACTIVE
        await she.say(word)
        assert await status(harness, she) is MemberStatus.PAUSED, word


async def test_start_code_in_her_language_on_whatsapp(db: SqlStore) -> None:
    h = Harness(db, build_router(), channel=ChannelName.WHATSAPP)
    code = await make_invite(h, "wa-code")
    she = h.person("33600000001", None)
    await she.say(f"commencer {code}")
    french = h.catalogs.get("fr")
    assert she.last.text == french(
        "Welcome to Wasl, the alliance's link. Which language do you prefer?"
    ), "the word was French: she is asked in French"
    assert she.labels()[0] == "Français"
    await she.tap("Français")
    await she.tap(french("Skip"))  # no second language
    assert she.labels()[0] == french("I accept")
    arabic = h.person("9647700000009", None)
    await arabic.say(f"بدء {code}")
    assert arabic.labels()[0] == "العربية"


async def test_the_terminal_numbers_the_short_menu_and_its_rest(db: SqlStore) -> None:
    h = thirteen(db, ChannelName.CONSOLE)
    out = io.StringIO()
    console = ConsoleChannel(out, language="so")

    async def typed(line: str) -> str:
        start = len(out.getvalue())
        await h.core.handle(console.to_inbound(line), console)
        return out.getvalue()[start:]

    screen = await typed("/start")
    assert "  1. Soomaali\n" in screen and f"  6. {more('so')}\n" in screen
    assert "Español" not in screen
    rest = await typed("6")
    assert "  1. English" not in rest and "Español" in rest
    number = rest.split("Español")[0].rsplit("\n", 1)[-1].strip().rstrip(".")
    spanish = CATALOGS.get("es")
    second = await typed(number)
    assert f"  5. {spanish('Skip')}\n" in second, "short: four, then Skip"
    values = await typed(spanish("Skip"))
    assert spanish("I accept") in values
    async with h.store.transaction() as tx:
        state = await tx.conversations.load(ChannelName.CONSOLE, console.to_inbound("x").chat_id)
    assert state.data["locale"] == "es"
