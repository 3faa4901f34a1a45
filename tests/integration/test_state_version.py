"""The conversation state's version: every save moves it on, and a save made from a state
loaded before another save is refused (StaleState) with nothing written."""

from __future__ import annotations

import pytest

from bot.core.clock import FixedClock
from bot.core.messages import ChannelName
from bot.core.models import ConversationState, StaleState
from bot.core.surveys import InProgress
from storage.store import SqlStore

TG = ChannelName.TELEGRAM
CHAT = "501"


async def load(store: SqlStore, chat: str = CHAT) -> ConversationState:
    async with store.transaction() as tx:
        return await tx.conversations.load(TG, chat)


async def save(store: SqlStore, state: ConversationState, clock: FixedClock) -> None:
    async with store.transaction() as tx:
        await tx.conversations.save(TG, CHAT, state, clock.now())


async def test_each_save_moves_the_version_on(store: SqlStore, clock: FixedClock) -> None:
    state = await load(store)
    assert state.version == 0, "no row yet"
    state.go("ob", "lang", locale="en")
    await save(store, state, clock)
    assert state.version == 1
    again = await load(store)
    assert (again.flow, again.step, again.version) == ("ob", "lang", 1)
    again.go("ob", "country")
    await save(store, again, clock)
    assert (await load(store)).version == 2


async def test_a_save_from_a_stale_state_is_refused(store: SqlStore, clock: FixedClock) -> None:
    first = await load(store)
    first.go("ob", "spheres", spheres=[])
    await save(store, first, clock)
    mine, theirs = await load(store), await load(store)  # two workers, the same moment
    theirs.data["spheres"] = ["youth"]
    await save(store, theirs, clock)
    mine.data["spheres"] = ["media"]
    with pytest.raises(StaleState):
        await save(store, mine, clock)
    kept = await load(store)
    assert kept.data["spheres"] == ["youth"], "the first save stands, nothing overwritten"
    fresh = await load(store)  # run again on the fresh state: both ticks
    fresh.data["spheres"] = [*fresh.data["spheres"], "media"]
    await save(store, fresh, clock)
    assert (await load(store)).data["spheres"] == ["youth", "media"]


async def test_two_first_saves_of_a_new_chat_do_not_both_win(
    store: SqlStore, clock: FixedClock
) -> None:
    mine, theirs = await load(store), await load(store)
    theirs.go("ob", "lang", locale="ar")
    await save(store, theirs, clock)
    mine.go("ob", "lang", locale="fr")
    with pytest.raises(StaleState):
        await save(store, mine, clock)
    assert (await load(store)).data["locale"] == "ar"


async def test_clearing_a_stale_state_is_refused_too(store: SqlStore, clock: FixedClock) -> None:
    state = await load(store)
    state.go("ob", "lang", locale="en")
    await save(store, state, clock)
    mine, theirs = await load(store), await load(store)
    theirs.go("ob", "country")
    await save(store, theirs, clock)
    mine.clear()
    with pytest.raises(StaleState):
        await save(store, mine, clock)
    assert (await load(store)).step == "country"
    current = await load(store)
    current.clear()
    await save(store, current, clock)
    assert (await load(store)) == ConversationState(), "cleared: the row is gone"


async def test_a_cleared_state_keeping_survey_answers_moves_on(
    store: SqlStore, clock: FixedClock
) -> None:
    state = await load(store)
    state.go("srv", "q1", sid=1)
    await save(store, state, clock)
    async with store.transaction() as tx:  # answers of hers waiting to be counted
        await tx.surveys.hold(TG.value, CHAT, 1, {"q1": 3}, {"none": ["all"]}, clock.now())
    mine, theirs = await load(store), await load(store)
    theirs.clear()
    await save(store, theirs, clock)  # the row stays, emptied, for the answers
    assert (await load(store)).version == 2
    mine.go("srv", "q2")
    with pytest.raises(StaleState):
        await save(store, mine, clock)


async def test_a_survey_closing_under_her_answer_makes_it_stale(
    store: SqlStore, clock: FixedClock
) -> None:
    state = await load(store)
    state.go("srv", "q1", sid=7, answers={})
    await save(store, state, clock)
    answering = await load(store)
    async with store.transaction() as tx:  # the survey closes: her unfinished answers go
        await tx.surveys.forget_in_progress([InProgress(TG.value, CHAT, {}, None, "en")])
    answering.go("srv", "q2", answers={"q1": 4})
    with pytest.raises(StaleState):
        await save(store, answering, clock)
    assert (await load(store)).flow is None, "her unfinished answers are not written back"
