"""/peers: her line, the listing of a sphere, double opt-in introductions, and wrong input in
every state (text where a button is wanted, an over-long line, a bad handle, stale buttons,
asking herself, a declined or expired request, the limits on requests)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.messages import ChannelName, Outbound
from bot.core.models import Role
from bot.core.peers import IntroAnswer, IntroWithdraw, PeerAsk, PeerLine, PeerMap, PeerSuggest
from bot.services import peers
from handlers import build_router
from storage.outbox import OutboxStore
from storage.store import SqlStore
from storage.tables import audit_t, introduction_t
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person, payloads, visible

AMINA_LINE = "I run listening circles with mothers of boys at risk in Mosul."
GRACE_LINE = "Mentoring girls who left armed groups, with their schools."


async def member(
    h: Harness,
    uid: str,
    country: str,
    spheres: tuple[str, ...] = ("youth",),
    role: Role = Role.MEMBER,
    locale: str = "en",
) -> Person:
    person = h.person(uid, locale)
    code = await make_invite(h, f"code-{uid}", role=role)
    await join(person, code, country=country, spheres=spheres, locale=locale)
    return person


async def write_line(she: Person, line: str, *, open_: bool = True) -> list[Outbound]:
    await she.say("/peers")
    await she.tap("✏️ My line")
    await she.say(line)
    return await she.tap("Yes" if open_ else "No")


async def notices(h: Harness) -> list[tuple[int | None, str, list[str]]]:
    """What the delivery worker would send now besides replies: (member, text, payloads)."""
    claimed = await OutboxStore(h.store).claim(h.clock.now(), 100)
    return [
        (i.member_id, i.text, [b["payload"] for b in i.buttons]) for i in claimed if not i.reply
    ]


def ask_payloads(message: Outbound) -> list[str]:
    return [p for p in payloads(message) if p.startswith(PeerAsk.prefix + ":")]


async def two_peers(h: Harness) -> tuple[Person, Person]:
    amina = await member(h, "1", "IQ")
    grace = await member(h, "2", "NG")
    await write_line(amina, AMINA_LINE)
    await write_line(grace, GRACE_LINE)
    return amina, grace


async def test_two_members_in_two_countries_are_introduced_after_both_accept(
    harness: Harness,
) -> None:
    amina, grace = await two_peers(harness)

    [view] = await amina.say("/peers")
    text = visible(view.text)
    assert "Nigeria — “" + GRACE_LINE in text
    assert AMINA_LINE not in text.split("Your line")[0], "she is not listed to herself"
    assert "2" not in [p.rsplit(":", 1)[-1] for p in ask_payloads(view)], "no id in a button"
    await amina.tap("🤝 1")
    [bad, *_] = await amina.say("my phone is my name")
    assert "@name" in bad.text
    await amina.say("@amina_iq")
    [button, *_] = await amina.say("yes, send it")
    assert "buttons" in button.text, "a button is wanted here"
    [sent] = await amina.tap("Send")
    assert "Request sent" in sent.text

    [(to, card, buttons)] = await notices(harness)
    assert to == 2, "to Grace (member 2)"
    assert card.count(AMINA_LINE) == 1 and "Iraq" in card
    assert "amina_iq" not in card, "her contact only once both accept"
    accept = next(p for p in buttons if IntroAnswer.unpack(p) and IntroAnswer.unpack(p).accept)  # type: ignore[union-attr]
    await grace.press(accept)
    [again] = await grace.press(IntroWithdraw(1).pack())
    assert "no longer" in again.text.lower() or "ended" in again.text.lower()
    await grace.say("wa.me/2348012345678")
    [introduced] = grace.h.channel.sent[-1:]
    assert "@amina_iq" in introduced.message.text and AMINA_LINE in introduced.message.text

    [(_to, told, _)] = await notices(harness)
    assert "https://wa.me/2348012345678" in told and "Nigeria" in told
    async with harness.store.transaction() as tx:
        row = (await tx.conn.execute(select(introduction_t))).one()
        entries = (await tx.conn.execute(select(audit_t.c.action, audit_t.c.details))).all()
    assert row.status == "introduced" and row.requester_handle is None and row.peer_handle is None
    audited = repr(entries)
    assert "introduction.made" in audited
    for secret in ("amina_iq", "2348012345678", AMINA_LINE, GRACE_LINE):
        assert secret not in audited

    # A stale Accept on the same request, and asking her again, are answered.
    [stale] = await grace.press(accept)
    assert "ended" in stale.text
    await amina.say("/peers")
    [already] = await amina.tap("🤝 1")
    assert "already" in already.text


async def test_wrong_input_at_every_step_of_her_line(harness: Harness) -> None:
    she = await member(harness, "1", "IQ", spheres=("youth", "vaw"))
    [choose] = await she.say("/peers")
    assert "Peers in which" in choose.text
    await she.tap("Youth deradicalisation")
    await she.tap("✏️ My line")
    [too_long, *_] = await she.say("x" * 121)
    assert "120" in too_long.text
    [contact, *_] = await she.say("Mothers' circles, call me on +964 770 123 4567")
    assert "leave contacts out" in contact.text
    [wrong] = await she.press(PeerAsk("youth", "0" * 12).pack())
    assert "no longer" in wrong.text.lower() or "add your own line" in wrong.text.lower()
    await she.tap("✏️ My line")
    await she.say("Dialogue with mothers.")
    [button, *_] = await she.say("maybe")
    assert "buttons" in button.text
    await she.tap("No")
    [view] = await she.say("/peers youth")
    assert "Peers cannot ask" in view.text
    await she.tap("Allow requests")
    assert "Peers may ask" in she.last.text
    # A sphere that is not hers, by a forged button.
    [forged] = await she.press(PeerLine("media").pack())
    assert "not one of your spheres" in forged.text
    await she.say("/peers youth")
    await she.tap("Remove my line")
    assert "You are not listed" in she.last.text


async def test_asking_herself_a_declined_and_an_expired_request(harness: Harness) -> None:
    amina, grace = await two_peers(harness)
    # Her own token is never listed to her: a forged one is refused as asking herself.
    own = peers.peer_token(harness.config.secret_key, 1, 1)
    [me] = await amina.press(PeerAsk("youth", own).pack())
    assert "yourself" in me.text

    await amina.say("/peers")
    await amina.tap("🤝 1")
    await amina.say("@amina_iq")
    await amina.tap("Send")
    [(_, _, buttons)] = await notices(harness)
    decline = next(p for p in buttons if p.endswith(":0"))
    [declined] = await grace.press(decline)
    assert "Declined" in declined.text
    [(_to, told, _)] = await notices(harness)
    assert "not accepted" in told and "wa.me" not in told
    await amina.say("/peers")
    [refused] = await amina.tap("🤝 1")
    assert "declined" in refused.text

    # A button from an older view, for a peer who has since left the listing.
    await amina.say("/peers")
    old = ask_payloads(amina.last)[0]
    await grace.say("/peers")
    await grace.tap("Stop requests")
    [gone] = await amina.press(old)
    assert "no longer available" in gone.text
    await grace.tap("Allow requests")

    # Grace asks Amina; two weeks later it has expired.
    await grace.say("/peers")
    await grace.tap("🤝 1")
    await grace.say("t.me/grace_ng")
    await grace.tap("Send")
    [(_, _, buttons)] = await notices(harness)
    harness.clock.advance(peers.EXPIRY + timedelta(minutes=1))
    [expired] = await amina.press(buttons[0])
    assert "expired" in expired.text


async def test_requests_are_limited_withdrawn_and_listed(harness: Harness) -> None:
    amina = await member(harness, "1", "IQ")
    await write_line(amina, AMINA_LINE)
    others = [await member(harness, str(10 + i), "NG") for i in range(4)]
    for other in others:
        await write_line(other, GRACE_LINE)
    await amina.say("/peers")
    view = amina.last
    asks = ask_payloads(view)
    assert len(asks) == 4
    for payload in asks[:3]:
        await amina.press(payload, message_id=amina.last_sent().message_id)
        await amina.say("@amina_iq")
        await amina.tap("Send")
    [limited] = await amina.press(asks[3])
    assert "3 requests waiting" in limited.text
    await amina.say("/peers")
    await amina.tap("Requests")
    assert amina.last.text.count("you asked") == 3
    await amina.tap("↩️ 1")
    assert "Withdrawn" in amina.last.text
    [again] = await amina.press(asks[3])
    assert "Which contact" in again.text
    [cancelled] = await amina.say("/cancel")
    assert cancelled.text


async def test_the_map_for_coordinators_and_counts_for_members(harness: Harness) -> None:
    for i in range(6):
        await member(harness, str(20 + i), "IQ")
    coordinator = await member(harness, "30", "IQ", role=Role.COORDINATOR)
    she = await member(harness, "31", "NG")
    [view] = await she.say("/peers")
    assert "Iraq" not in view.text, "counts come for whole weeks: none is over yet"
    harness.clock.advance(timedelta(days=8))
    [view] = await she.say("/peers")
    assert "Iraq: " in view.text and "not listed: fewer than 5, or none" in view.text
    assert PeerMap().pack() not in payloads(view)
    [refused] = await she.press(PeerMap().pack())
    assert "not available" in refused.text.lower() or "no longer" in refused.text.lower()
    await coordinator.say("/peers")
    [table] = await coordinator.tap("Who works where")
    assert "Youth deradicalisation: Iraq" in table.text
    assert "±2" in table.text


async def test_a_coordinator_suggests_a_meeting_and_both_must_accept(harness: Harness) -> None:
    coordinator = await member(harness, "40", "IQ", role=Role.COORDINATOR, spheres=("media",))
    amina = await member(harness, "41", "IQ", spheres=("vaw",))
    grace = await member(harness, "42", "NG", spheres=("vaw",))
    for she, line in ((amina, AMINA_LINE), (grace, GRACE_LINE)):
        await she.say("/peers")
        await she.tap("✏️ My line")
        await she.say(line)
        await she.tap("Yes")
    [refused] = await amina.press(PeerSuggest().pack())
    assert "not available" in refused.text or "no longer" in refused.text
    await coordinator.say("/peers")
    await coordinator.tap("Suggest a meeting")
    [media] = await coordinator.tap("Women in media")
    assert "Fewer than two peers" in media.text
    await coordinator.say("/peers")
    await coordinator.tap("Suggest a meeting")
    [listing] = await coordinator.tap("Violence against women")
    assert AMINA_LINE in listing.text and GRACE_LINE in listing.text
    [wrong, _again] = await coordinator.say("Amina please")
    assert "buttons" in wrong.text
    await coordinator.tap("1")
    [second] = coordinator.h.channel.sent[-1:]
    assert [b.label for b in second.message.buttons if b.label.isdigit()] == ["2"]
    await coordinator.tap("2")
    [done] = await coordinator.tap("Yes")
    assert "Suggested" in done.text
    cards = await notices(harness)
    assert sorted(to for to, _, _ in cards) == [2, 3]
    assert all("coordinator suggests" in text for _, text, _ in cards)
    for to, _text, buttons in cards:
        she = amina if to == 2 else grace
        accept = next(p for p in buttons if p.endswith(":1"))
        await she.press(accept)
        await she.say("@amina_iq" if she is amina else "@grace_ng")
    assert "@amina_iq" in grace.last.text or "@grace_ng" in amina.last.text
    async with harness.store.transaction() as tx:
        row = (await tx.conn.execute(select(introduction_t))).one()
    assert row.status == "introduced" and row.suggested


async def test_on_whatsapp_the_word_works_and_a_long_view_becomes_a_numbered_menu(
    db: SqlStore,
) -> None:
    h = Harness(db, build_router(), channel=ChannelName.WHATSAPP)
    amina = await member(h, "9647700000001", "IQ", locale="fr")
    others = [await member(h, f"23480000000{i}", "NG") for i in range(9)]
    for other in others:
        await write_line(other, GRACE_LINE)
    [first] = await amina.say("pairs")  # the command word in French, no slash
    assert "Nigeria — “" + GRACE_LINE in first.text
    assert len(first.buttons) == 10, "eight peers shown, her line, her requests: a list"
    await amina.tap("✏️ Ma ligne")
    await amina.say("Cercles d’écoute avec des mères.")
    await amina.tap("Oui")
    [view] = await amina.say("pairs")
    assert len(view.buttons) > 10, "and her own line's buttons: a numbered menu"
    [ask] = await amina.say("1")  # her "1" is the menu's first choice: 🤝 1
    assert "Quel contact" in ask.text
