"""A member's own account: help, language, pause/resume, /mydata, /forget, /wipe, fallbacks."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from bot.core.context import CoreConfig
from bot.core.i18n import Catalogs
from bot.core.messages import (
    ChannelName,
    InboundEvent,
    MediaKind,
    Outbound,
    SendResult,
    SendStatus,
)
from bot.core.models import MemberStatus, Role
from bot.core.router import Router
from handlers import build_router
from storage.store import SqlStore
from tests.handlers.conftest import join, make_invite
from tests.support.erasure import rows_naming
from tests.support.harness import Harness, Person


async def member(h: Harness, user_id: str = "111", locale: str = "en") -> Person:
    code = await make_invite(h, f"code-{user_id}")
    she = h.person(user_id, locale)
    await join(she, code, locale=locale)
    return she


async def load(  # type: ignore[no-untyped-def]
    h: Harness, user_id: str = "111", channel: ChannelName = ChannelName.TELEGRAM
):
    async with h.store.transaction() as tx:
        return await tx.members.get(channel, user_id)


async def test_help_lists_the_commands_she_can_use(harness: Harness) -> None:
    she = await member(harness)
    text = (await she.say("/help"))[0].text
    for command in ("/language", "/pause", "/mydata", "/forget", "/wipe"):
        assert command in text
    assert "/start" not in text


async def test_bare_command_words_work_without_a_slash(harness: Harness) -> None:
    she = await member(harness)
    assert "/mydata" in (await she.say("help"))[0].text
    assert "What Wasl keeps" in (await she.say("MyData"))[0].text


async def test_menu_buttons_run_commands(harness: Harness) -> None:
    she = await member(harness)
    assert "My data" in she.labels()
    replies = await she.tap("My data")
    assert "What Wasl keeps" in replies[0].text


async def test_language_change_is_kept(harness: Harness) -> None:
    she = await member(harness)
    await she.say("/language")
    assert she.labels()[:2] == ["English", "العربية"], "hers, then her country's"
    assert "Add a second language" in she.labels()
    [done] = await she.say("Français")  # not among the likeliest five: typed
    assert done.text.startswith("C’est fait") and done.text.endswith("Français."), done.text
    assert (await load(harness)).locale == "fr"  # type: ignore[union-attr]
    wrong = await she.say("/language")
    assert wrong and she.labels()[:2] == ["English", "Français"], "her phone's, then hers"
    replies = await she.send_media(MediaKind.STICKER)
    assert len(replies) == 2 and replies[-1].text == wrong[0].text, "a sticker re-asks"
    assert "English" in [b.label for b in replies[-1].buttons]
    [english] = await she.say("\u200fenglish")  # typed, with a right-to-left mark
    assert "English" in english.text
    assert (await load(harness)).locale == "en"  # type: ignore[union-attr]


async def test_a_member_is_asked_her_language_as_a_woman(harness: Harness) -> None:
    """Members are women: Arabic asks her in the feminine, as everywhere else (a public
    survey, answered by anyone, asks without gender: see test_surveys)."""
    she = await member(harness, locale="ar")
    [asked] = await she.say("/language")
    assert asked.text == "أي لغة تفضّلين؟"


async def test_pause_and_resume(harness: Harness) -> None:
    she = await member(harness)
    await she.say("/pause")
    assert (await load(harness)).status is MemberStatus.PAUSED  # type: ignore[union-attr]
    await she.say("what?")
    assert "Resume messages" in she.labels() and "Pause messages" not in she.labels()
    await she.say("/resume")
    assert (await load(harness)).status is MemberStatus.ACTIVE  # type: ignore[union-attr]


async def test_mydata_shows_what_is_kept(harness: Harness) -> None:
    she = await member(harness)
    text = (await she.say("/mydata"))[0].text
    for expected in ("Iraq", "Youth deradicalisation", "member", "English", "2026-11"):
        assert expected in text
    assert she.user_id not in text, "her platform id is not echoed back"


async def test_forget_erases_her_and_leaves_no_row_that_names_her(harness: Harness) -> None:
    other = await member(harness, "222")
    she = await member(harness, "111")
    await she.say("/language")  # leave some state behind
    await she.tap("العربية")
    await she.say("/forget")
    assert she.labels() == ["نعم، احذف كل شيء", "لا، سأبقى عضوة"]
    await she.tap("نعم، احذف كل شيء")
    assert await load(harness, "111") is None
    assert await rows_naming(harness.store, member_id=2, identifiers=("111",)) == []
    assert harness.channel.deleted, "her recent chat messages were deleted too"
    assert await load(harness, "222") is not None, "another member is untouched"
    # the scan does find a member who is still there (so an empty result above means something)
    assert await rows_naming(harness.store, member_id=1, identifiers=("222",))
    # after forgetting she is a stranger again
    assert "invitation" in (await she.say("hello"))[0].text
    assert other.user_id == "222"


async def test_forget_can_be_cancelled_and_bad_input_re_asks(harness: Harness) -> None:
    she = await member(harness)
    await she.say("/forget")
    replies = await she.say("yes")  # typed instead of pressing: not the label, not erased
    assert "choose one of the buttons" in replies[0].text
    assert she.labels() == ["Yes, delete all", "No, keep it"]
    [kept] = await she.tap("No, keep it")
    assert "Nothing was deleted" in kept.text
    assert await load(harness) is not None


async def test_wipe_deletes_recent_messages_the_platform_still_allows(harness: Harness) -> None:
    she = await member(harness)
    await she.say("/mydata")
    old_ids = {s.message_id for s in harness.channel.sent}
    harness.clock.advance(timedelta(hours=50))  # older than Telegram allows deleting
    await she.say("/mydata")
    recent_reply = harness.channel.sent[-1].message_id
    replies = await she.say("/wipe")
    assert recent_reply in harness.channel.deleted
    assert not old_ids & set(harness.channel.deleted), "nothing too old to delete is tried"
    assert "Cleared 3 messages" in replies[0].text  # her /mydata, the reply, her /wipe


async def test_wipe_deletes_every_part_of_a_reply_sent_in_parts(harness: Harness) -> None:
    she = await member(harness)
    real_send = harness.channel.send

    async def in_two_parts(chat_id: str, message: Outbound, **kw: Any) -> SendResult:
        first = await real_send(chat_id, Outbound("part 1"), **kw)
        last = await real_send(chat_id, message, **kw)
        assert first.message_id and last.message_id
        return SendResult(
            SendStatus.SENT, last.message_id, message_ids=(first.message_id, last.message_id)
        )

    harness.channel.send = in_two_parts  # type: ignore[method-assign]
    await she.say("/mydata")
    parts = [s.message_id for s in harness.channel.sent[-2:]]
    harness.channel.send = real_send  # type: ignore[method-assign]
    await she.say("/wipe")
    assert set(parts) <= set(harness.channel.deleted)


async def test_a_numbered_menu_is_answered_by_number_after_a_restart(db: SqlStore) -> None:
    """On WhatsApp more than ten choices arrive as numbered text; "3" must mean the third,
    even when another process (or the same one, restarted) reads her answer."""
    countries = ("IQ", "SY", "LB", "JO", "YE", "LY", "NG", "PK", "SO", "ML", "NE", "TN")
    config = CoreConfig(countries=countries, open_join=True)
    first = Harness(db, build_router(), config=config, channel=ChannelName.WHATSAPP)
    she = first.person("9647700000001", "en")
    await she.say("start")
    await she.tap("English")
    await she.tap("Skip")
    await she.tap("I accept")
    # twelve countries, "another" and Back: a numbered menu
    assert len(she.last.buttons) == 14 and she.labels()[2] == "Lebanon"
    second = Harness(db, build_router(), config=config, channel=ChannelName.WHATSAPP)
    second._update_ids = itertools.count(100)  # new message ids, as the platform's
    again = second.person("9647700000001", "en")
    [spheres] = await again.say(" 3 ")
    assert "Done" in [b.label for b in spheres.buttons], spheres.text  # Lebanon: on to spheres
    replies = await again.say("9")  # spheres fit a list: 9 is not a menu number any more
    member_now = await load(second, "9647700000001", ChannelName.WHATSAPP)
    assert member_now is None and "Done" in [b.label for b in replies[-1].buttons]
    async with db.transaction() as tx:
        state = await tx.conversations.load(ChannelName.WHATSAPP, "9647700000001")
    assert state.data["country"] == "LB" and state.menu == []


async def test_unknown_command_and_unknown_text(harness: Harness) -> None:
    she = await member(harness)
    assert "/help" in (await she.say("/nonsense"))[0].text
    replies = await she.say("بماذا تستطيع أن تساعدني؟ " * 200)
    assert "didn't understand" in replies[0].text
    replies = await she.send_media(MediaKind.VOICE)
    assert "can't use" in replies[0].text
    replies = await she.edit("typo fixed")
    assert "edits" in replies[0].text


async def test_a_redelivered_update_is_handled_once(harness: Harness) -> None:
    she = await member(harness)
    inbound = she.inbound(text="/mydata", message_id="77")
    await she.deliver(inbound)
    again = await she.deliver(inbound)
    assert again == []


async def test_an_error_in_one_update_does_not_stop_the_others(harness: Harness) -> None:
    router = build_router()

    @router.command("boom", "explodes")
    async def boom(ctx, arg):  # type: ignore[no-untyped-def]
        raise RuntimeError("handler bug")

    h = Harness(harness.store, router)
    she = await member(h)
    replies = await she.say("/boom")
    assert "went wrong" in replies[0].text
    assert "What Wasl keeps" in (await she.say("/mydata"))[0].text


async def test_blocked_then_back(harness: Harness) -> None:
    she = await member(harness)
    await she.deliver(she.inbound(event=InboundEvent.BLOCKED))
    assert (await load(harness)).status is MemberStatus.UNREACHABLE  # type: ignore[union-attr]
    await she.say("/help")  # she writes again: reachable again
    assert (await load(harness)).status is MemberStatus.ACTIVE  # type: ignore[union-attr]


async def test_a_refused_reply_marks_her_unreachable(harness: Harness) -> None:
    she = await member(harness)
    harness.channel.next_status = SendStatus.UNREACHABLE
    await she.say("/help")
    assert (await load(harness)).status is MemberStatus.UNREACHABLE  # type: ignore[union-attr]


async def test_router_refuses_duplicate_registrations() -> None:
    import pytest

    router = Router()

    @router.command("x", "x")
    async def x(ctx, arg):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(ValueError, match="twice"):
        router.command("x", "x")(x)


async def test_command_words_in_her_language_with_arguments(harness: Harness) -> None:
    arabic = Catalogs().get("ar")
    she = await member(harness, "111", "ar")
    assert "/mydata" in (await she.say(f"/{arabic('help')}"))[0].text, "a slash and her word"
    assert (await she.say(arabic("help")))[0].text == (await she.say("/help"))[0].text
    await she.say("stop the violence in our town")  # a sentence, not the opt-out word
    assert (await load(harness)).status is MemberStatus.ACTIVE  # type: ignore[union-attr]
    await she.say("STOP")
    assert (await load(harness)).status is MemberStatus.PAUSED  # type: ignore[union-attr]
    code = await make_invite(harness, "word-code")
    stranger = harness.person("333", "en")
    replies = await stranger.say(f"start {code}")  # WhatsApp: no slash, an argument
    assert replies[0].buttons[0].label == "English", "the language question: she is joining"


async def test_an_old_button_after_forget_is_answered_once(harness: Harness) -> None:
    she = await member(harness)
    await she.say("/language")
    await she.say("/forget")
    await she.tap("Yes, delete all")
    for label in ("Français", "Yes, delete all", "No, keep it"):
        replies = await she.tap(label)
        assert [m.text for m in replies] == [
            "That button is from an earlier message and no longer works."
        ], label
        assert replies[0].buttons == (), "not the members' menu: she is not one any more"
    [invitation] = await she.tap("My data", on=4)  # a menu button from before
    assert "invitation" in invitation.text
    assert await load(harness) is None


async def test_invisible_marks_do_not_hide_a_command_or_a_label(harness: Harness) -> None:
    """A right-to-left keyboard puts U+200F around what she types; copy-paste brings a BOM."""
    she = await member(harness, "111", "ar")
    arabic = Catalogs().get("ar")
    help_text = (await she.say("/help"))[0].text
    assert (await she.say("\u200f/help"))[0].text == help_text
    assert (await she.say(f"\ufeff{arabic('help')}\u200f"))[0].text == help_text
    await she.say("/forget")
    [kept] = await she.say(f"\u200f{arabic('No, keep it')}\u200f")
    assert kept.text == arabic("Nothing was deleted.")
    assert await load(harness) is not None


async def test_cancel_says_what_the_flows_own_cancel_says(harness: Harness) -> None:
    code = await make_invite(harness, "admin-code", role=Role.ADMIN)
    admin = harness.person("900")
    await join(admin, code)
    await admin.say("/language")
    [cancelled] = await admin.say("/cancel")
    assert cancelled.text == "Cancelled. Nothing was sent or saved."
    await admin.say("/invite")
    [cancelled] = await admin.say("/cancel")
    assert cancelled.text == "Cancelled. No invitation was made.", "as its Cancel button says"
    [nothing] = await admin.say("/cancel")
    assert nothing.text == "There is nothing to cancel."
