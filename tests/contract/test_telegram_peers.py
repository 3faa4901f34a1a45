"""Who does what where and introductions through the real Telegram adapter: two members in
two countries and two languages find each other with /peers, are introduced once both
accepted (the notices go through the real delivery worker and PTB to the fake Bot API), and
/forget on one side removes the introduction."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.i18n import Catalogs
from bot.core.peers import IntroAnswer
from storage.tables import introduction_t, peer_line_t
from tests.contract.test_telegram_flows import (  # noqa: F401 (the fixtures `server`, `bot`)
    Member,
    bot,
    deliver_broadcasts,
    join,
    server,
)

AR, FR = Catalogs().get("ar"), Catalogs().get("fr")
AMINA_LINE = "حلقات استماع مع أمهات الفتيان المعرضين للتجنيد في الموصل."
CLAIRE_LINE = "Mentorat de filles sorties de groupes armés, avec leurs écoles."


def labels(call: object) -> list[str]:
    return [b["text"] for row in call.keyboard for b in row]  # type: ignore[attr-defined]


async def write_line(m: Member, _: object, line: str) -> None:
    await m.say("/peers")
    await m.tap(_("✏️ My line"))  # type: ignore[operator]
    await m.say(line)
    await m.tap(_("Yes"))  # type: ignore[operator]


async def count(app: object, table: object) -> int:
    async with app.store.transaction() as tx:  # type: ignore[attr-defined]
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar())


async def test_two_peers_find_each_other_are_introduced_and_forget_removes_it(  # type: ignore[no-untyped-def]
    bot,  # noqa: F811 (the fixture imported above)
) -> None:
    app, telegram, api = bot
    amina = await join(Member(telegram, api, 301, "ar"), "IQ", "youth")
    claire = await join(Member(telegram, api, 302, "fr"), "NG", "youth")
    await write_line(amina, AR, AMINA_LINE)
    await write_line(claire, FR, CLAIRE_LINE)

    # Amina finds Claire: country and line, never a name, a number or a username.
    [view] = await amina.say("/peers")
    assert CLAIRE_LINE in view.text and AR.country_name("NG") in view.text
    assert "302" not in view.text and all("302" not in p for p in view.payloads)
    await amina.tap("🤝 1")
    [wrong, again] = await amina.say("رقمي هو اسمي")  # not a handle: said, asked again
    assert "@name" in wrong.text and again.text == AR(
        "Which contact may she receive? Type your Telegram username (@name) or a WhatsApp "
        "link (wa.me/…). It is shared only if you both accept."
    )
    await amina.say("@amina_iq")
    [sent] = await amina.tap(AR("Send"))
    assert sent.text.startswith("أُرسل الطلب")

    # The worker delivers the request to Claire, in French, with Accept / Decline.
    await deliver_broadcasts(app, telegram)
    card = claire.last
    assert AMINA_LINE in card.text and FR.country_name("IQ") in card.text
    assert "amina_iq" not in card.text, "no contact before both accepted"
    assert labels(card) == [FR("Accept"), FR("Decline")]
    assert all(IntroAnswer.unpack(p) for p in card.payloads)
    [ask] = await claire.tap(FR("Accept"))
    assert "@name" in ask.text
    [introduced] = await claire.say("wa.me/234 801 234 5678")
    assert "@amina_iq" in introduced.text and AMINA_LINE in introduced.text

    # Amina gets Claire's contact through the outbox, in Arabic.
    await deliver_broadcasts(app, telegram)
    told = amina.last.text
    assert "https://wa.me/2348012345678" in told and CLAIRE_LINE in told
    assert await count(app, introduction_t) == 1

    # Claire leaves: the introduction and her line go; Amina no longer finds her.
    await claire.say("/forget")
    await claire.tap(FR("Yes, delete all"))
    assert await count(app, introduction_t) == 0
    assert await count(app, peer_line_t) == 1, "only Amina's own line is left"
    [alone] = await amina.say("/peers")
    assert CLAIRE_LINE not in alone.text
    assert AR("No peer in this sphere is open to introductions yet.") in alone.text
