"""/moderate through the harness: the queue in order (urgent first), Skip reaching every
update, the attachment, and verdict buttons from an old message."""

from __future__ import annotations

from bot.core.messages import MediaKind
from bot.core.models import Role
from bot.core.updates import UpdateStatus
from handlers.moderation import Action, Moderate
from tests.handlers.conftest import join, make_invite
from tests.support.harness import Harness, Person


async def person(h: Harness, user_id: str, role: Role = Role.MEMBER) -> Person:
    code = await make_invite(h, f"code-{user_id}", role=role)
    she = h.person(user_id)
    await join(she, code, country="IQ")
    return she


async def submit(h: Harness, text: str, *, urgent: bool, photo: bool = False) -> int:
    async with h.store.transaction() as tx:
        return await tx.updates.submit(
            author_id=1,
            country="IQ",
            locale="en",
            urgent=urgent,
            text=text,
            media_kind=MediaKind.PHOTO if photo else None,
            media_ref="file-1" if photo else None,
            keep_if_shared=True,
            spheres=["youth"],
            now=h.clock.now(),
        )


async def status(h: Harness, update_id: int) -> UpdateStatus:
    async with h.store.transaction() as tx:
        item = await tx.updates.get(update_id)
    assert item is not None
    return item.status


async def test_skip_goes_through_urgent_then_routine_and_comes_back(harness: Harness) -> None:
    await person(harness, "1")
    coordinator = await person(harness, "2", Role.COORDINATOR)
    routine = await submit(harness, "Routine note", urgent=False, photo=True)
    first_urgent = await submit(harness, "Road closed", urgent=True)
    second_urgent = await submit(harness, "Clinic shut", urgent=True)
    seen = [(await coordinator.say("/moderate"))[0].text.split(" ·")[0]]
    for _ in range(3):
        [card] = await coordinator.tap("Skip")
        seen.append(card.text.split(" ·")[0])
    assert seen == [
        f"Update #{first_urgent}",
        f"Update #{second_urgent}",
        f"Update #{routine}",  # skipping the last urgent one reaches the routine ones
        f"Update #{first_urgent}",  # and then the queue starts again
    ]
    await coordinator.tap("Skip")
    await coordinator.tap("Skip")
    assert coordinator.last.text.startswith(f"Update #{routine}")
    [attachment] = await coordinator.tap("Open attachment")
    assert attachment.attachment is not None and attachment.attachment.ref == "file-1"
    [done, following] = await coordinator.tap("Keep internal", on=2)
    assert done.text == "Kept internal." and following.text.startswith(f"Update #{first_urgent}")
    assert await status(harness, routine) is UpdateStatus.INTERNAL


async def test_an_old_card_decides_its_own_update_once(harness: Harness) -> None:
    await person(harness, "1")
    coordinator = await person(harness, "2", Role.COORDINATOR)
    first = await submit(harness, "First", urgent=False)
    second = await submit(harness, "Second", urgent=False)
    await coordinator.say("/moderate")
    await coordinator.tap("Reject")  # the first; the second's card follows
    [again, following] = await coordinator.tap("Approve for sharing", on=3)  # the first card
    assert again.text == "Already done by another coordinator."
    assert following.text.startswith(f"Update #{second}")
    assert await status(harness, first) is UpdateStatus.REJECTED
    [done, empty] = await coordinator.tap("Tip candidate")
    assert "tip draft" in done.text and empty.text == "No new updates to moderate. Thank you!"
    assert await status(harness, second) is UpdateStatus.TIP
    # "Open attachment" is offered only with one: forged for an update without, it is stale.
    [answer] = await coordinator.press(Moderate(Action.OPEN, second).pack())
    assert answer.text == "That button is from an earlier message and no longer works."
