"""The conversation engine, through the real core and router on SQLite: a toy flow declared
as a table shows what every flow gets — wrong input, typed labels, Back, Cancel, stale and
old buttons, skipped steps, checklists edited in place, and resuming after a restart."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pydantic import BaseModel

from bot.core.actors import Actor, require
from bot.core.callbacks import Callback
from bot.core.context import Context
from bot.core.conversation import (
    END,
    STAY,
    Conversation,
    Invalid,
    Kind,
    Option,
    Step,
    Turn,
    step_payload,
)
from bot.core.messages import MediaKind
from bot.core.models import NewMember, Role
from bot.core.router import Router
from storage.store import SqlStore
from tests.support.harness import Harness, Person


class Toy(BaseModel):
    name: str = ""
    colour: str = ""
    extras: list[str] = []
    age: int | None = None


def _name(turn: Turn[Toy], text: str) -> str:
    if len(text) > 10:
        raise Invalid(turn._("Too long."))
    return text


def _set(field: str):  # type: ignore[no-untyped-def]
    def answer(turn: Turn[Toy], value: object) -> None:
        setattr(turn.state, field, value)

    return answer


def _tick(turn: Turn[Toy], value: str) -> None:
    extras = turn.state.extras
    extras.remove(value) if value in extras else extras.append(value)


def _confirm(turn: Turn[Toy], yes: bool) -> str | None:
    if not yes:
        turn.ctx.say("Not saved.")
        turn.ctx.state.clear()
        return None
    return END


async def _finish(turn: Turn[Toy]) -> None:
    s = turn.state
    turn.ctx.say(f"Saved {s.name} {s.colour} {','.join(s.extras)} {s.age}")


TOY = Conversation(
    "toy",
    Toy,
    [
        Step(
            name="name",
            kind=Kind.TEXT,
            ask=lambda t: "Your name?",
            parse=_name,
            answer=_set("name"),
        ),
        Step(
            name="colour",
            kind=Kind.CHOICE,
            ask=lambda t: "Colour?",
            options=lambda t: [Option("red", "Red"), Option("blue", "Blue")],
            answer=_set("colour"),
        ),
        Step(
            name="extras",
            kind=Kind.CHECKLIST,
            ask=lambda t: "Extras?",
            options=lambda t: [Option("a", "Apple"), Option("b", "Banana")],
            chosen=lambda t: t.state.extras,
            tick=_tick,
            answer=lambda t, v: None,
        ),
        Step(
            name="age",
            kind=Kind.NUMBER,
            ask=lambda t: "Age?",
            low=1,
            high=120,
            skip=lambda t: t.state.colour == "blue",
            answer=_set("age"),
        ),
        Step(name="sure", kind=Kind.CONFIRM, ask=lambda t: "Sure?", answer=_confirm, cancel=True),
    ],
    finish=_finish,
)


def _router() -> Router:
    router = Router()
    router.flow(TOY)

    @router.command("toy", "toy", role=None)
    async def toy(ctx: Context, arg: str) -> None:
        await TOY.start(ctx, Toy())

    return router


def _tap(person: Person, label: str) -> str:
    for button in person.last.buttons:
        if button.label.removeprefix("✅ ").removeprefix("▫️ ") == label:
            return button.payload
    raise AssertionError(f"no {label!r} in {[b.label for b in person.last.buttons]}")


async def test_a_flow_runs_through_its_table(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    assert [m.text for m in await p.say("/toy")] == ["Your name?"]
    await p.say("Amal")
    assert p.last.text == "Colour?"
    assert [b.label for b in p.last.buttons] == ["Red", "Blue", "◀ Back"]
    await p.press(_tap(p, "Red"))
    assert p.last.text == "Extras?"
    ticked = await p.press(_tap(p, "Banana"))
    # A tick edits the checklist in place, ticked.
    assert ticked[-1].replace and ticked[-1].buttons[1].label == "✅ Banana"
    await p.press(_tap(p, "Done"))
    assert p.last.text == "Age?"
    await p.say("٣٤")  # Arabic-Indic digits are a number too
    assert p.last.text == "Sure?"
    out = await p.press(_tap(p, "Yes"))
    assert out[-1].text == "Saved Amal red b 34"
    async with db.transaction() as tx:
        assert (await tx.conversations.load(p.h.channel.name, p.user_id)).flow is None


async def test_wrong_kind_of_input_gets_one_line_then_the_question(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    name_prompt = p.last
    out = await p.press(step_payload("toy", 1, "name", "x"))
    assert out[0].text in (
        "Please type it as a message.",
        "That button is from an earlier message and no longer works.",
    )
    assert out[-1].text == "Your name?"
    out = await p.send_media(MediaKind.PHOTO)
    assert [m.text for m in out] == ["I can't use a photo or file here.", "Your name?"]
    out = await p.say("A name far too long")
    assert [m.text for m in out] == ["Too long.", "Your name?"]
    await p.say("Amal")
    out = await p.say("green")
    assert [m.text for m in out] == ["Please choose one of the buttons.", "Colour?"]
    # Typing a button's label counts as pressing it, folded (case).
    out = await p.say("blue")
    assert out[-1].text == "Extras?"
    assert name_prompt.text == "Your name?"


async def test_back_skip_and_cancel(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    await p.say("Amal")
    await p.press(_tap(p, "Blue"))
    await p.press(_tap(p, "◀ Back"))
    assert p.last.text == "Colour?"
    await p.press(_tap(p, "Blue"))
    await p.press(_tap(p, "Done"))
    # Blue skips the age.
    assert p.last.text == "Sure?"
    out = await p.press(_tap(p, "✖ Cancel"))
    assert out[-1].text == "Stopped. Nothing was sent."
    out = await p.say("hello")  # no flow any more: the router's fallback (none here)
    async with db.transaction() as tx:
        assert (await tx.conversations.load(p.h.channel.name, p.user_id)).flow is None


async def test_number_out_of_range(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    await p.say("Amal")
    await p.press(_tap(p, "Red"))
    await p.press(_tap(p, "Done"))
    out = await p.say("500")
    assert [m.text for m in out] == ["Please type a number from 1 to 120.", "Age?"]
    out = await p.say("abc")
    assert out[0].text == "Please type a number from 1 to 120."


async def test_stale_and_old_buttons_are_answered_once(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    await p.say("Amal")
    red = _tap(p, "Red")
    await p.press(red)
    out = await p.press(red)  # the colour was answered: an earlier message's button
    assert [m.text for m in out] == [
        "That button is from an earlier message and no longer works.",
        "Extras?",
    ]
    out = await p.press(step_payload("toy", 0, "extras", "a"))  # from an older release
    assert out[0].text.startswith("That button is from an older version of Wasl")
    assert out[-1].text == "Extras?"
    out = await p.press("toy:1:extras:zzz")  # forged: not an option
    assert out[0].text == "That button is from an earlier message and no longer works."


async def test_she_resumes_after_a_restart(db: SqlStore) -> None:
    p = Harness(db, _router()).person()
    await p.say("/toy")
    await p.say("Amal")
    # A new process: new core, new router, same database.
    restarted = Harness(db, _router())
    restarted._update_ids = itertools.count(100)  # the platform's ids go on
    again = restarted.person()
    await again.say("red")
    assert again.last.text == "Extras?"
    await again.say("Done")
    await again.say("40")
    out = await again.say("Yes")
    assert out[-1].text == "Saved Amal red  40"


async def test_a_state_saved_by_an_older_release_is_not_guessed(db: SqlStore) -> None:
    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    async with db.transaction() as tx:
        state = await tx.conversations.load(h.channel.name, p.user_id)
        state.data["age"] = "not a number"
        await tx.conversations.save(h.channel.name, p.user_id, state, h.clock.now())
    out = await p.say("Amal")
    assert "could not be resumed" in out[-1].text
    async with db.transaction() as tx:
        assert (await tx.conversations.load(h.channel.name, p.user_id)).flow is None


@dataclass(frozen=True, slots=True)
class Page(Callback, prefix="pg", version=2):
    number: int


def _buttons_router(seen: list[int]) -> Router:
    router = Router()

    @router.button(Page, role=None)
    async def page(ctx: Context, value: Page) -> None:
        seen.append(value.number)
        ctx.say(f"page {value.number}")

    @router.command("admin", "admin only", role=None)
    async def admin_only(ctx: Context, arg: str) -> None:
        require(
            Actor(name="someone", member=None) if ctx.member is None else ctx.actor,
            Role.SECRETARIAT,
            "report.export",
        )
        ctx.say("exported")

    return router


async def test_typed_buttons_reach_the_handler_unpacked_and_old_ones_never(
    db: SqlStore,
) -> None:
    seen: list[int] = []
    p = Harness(db, _buttons_router(seen)).person()
    assert [m.text for m in await p.press(Page(3).pack(), message_id="1")] == ["page 3"]
    out = await p.press("pg:1:4", message_id="1")  # a button from an older release
    assert [m.text for m in out] == ["That button is from an earlier message and no longer works."]
    out = await p.press("pg:2:four", message_id="1")  # forged
    assert len(out) == 1 and seen == [3]


async def test_a_service_refusal_is_answered_and_audited_once(db: SqlStore) -> None:
    h = Harness(db, _buttons_router([]))
    p = h.person()
    out = await p.say("/admin")
    # The operator-less, member-less "someone" acts as an admin would: allowed.
    assert [m.text for m in out] == ["exported"]
    async with db.transaction() as tx:
        member = await tx.members.create(
            NewMember(
                h.channel.name,
                p.user_id,
                p.user_id,
                "en",
                "IQ",
                [],
                Role.MEMBER,
                "2026-11",
                h.clock.now(),
            ),
            h.clock.now(),
        )
    out = await p.say("/admin")
    assert [m.text for m in out] == ["This is no longer available to you."]
    async with db.transaction() as tx:
        entries = await tx.audit_log.entries(5)  # type: ignore[attr-defined]
    assert entries[0]["action"] == "service.refused"
    assert entries[0]["actor_member_id"] == member.id
    assert entries[0]["details"] == {"service": "report.export", "role": "member"}


async def test_a_tick_carries_a_one_line_acknowledgement_the_terminal_prints(
    db: SqlStore,
) -> None:
    import io

    from bot.channels.console import ConsoleChannel

    h = Harness(db, _router())
    p = h.person()
    await p.say("/toy")
    await p.say("Amal")
    await p.press(_tap(p, "Red"))
    ticked = await p.press(_tap(p, "Banana"))
    assert (ticked[-1].replace, ticked[-1].ack) == (True, "✓ Banana")
    unticked = await p.press(_tap(p, "Banana"))
    assert unticked[-1].ack == "✗ Banana" and unticked[-1].buttons[1].label == "▫️ Banana"

    out = io.StringIO()
    console = ConsoleChannel(out)
    for line in ("/toy", "Amal", "Red"):
        await h.core.handle(console.to_inbound(line), console)
    before = out.getvalue()
    assert before.count("Extras?") == 1
    await h.core.handle(console.to_inbound("2"), console)  # Banana, by its number
    await h.core.handle(console.to_inbound("apple"), console)  # Apple, by its label
    after = out.getvalue().removeprefix(before)
    assert after == "✓ Banana\n\n✓ Apple\n\n", "one line a tick, not the whole menu"
    await h.core.handle(console.to_inbound("2"), console)  # the numbers are as shown
    assert out.getvalue().endswith("✗ Banana\n\n")
    await h.core.handle(console.to_inbound("Done"), console)
    assert out.getvalue().endswith("Age?\n  [◀ Back]\n\n")


class Search(BaseModel):
    picked: str = ""


async def _search_answer(turn: Turn[Search], value: str) -> str | None:
    if value == "other":
        turn.ctx.say("Type it.")
        return STAY
    turn.state.picked = value
    return END


async def _search_typed(turn: Turn[Search], text: str) -> bool:
    turn.ctx.say("Found:", [SEARCH.button(turn, text.title(), text.lower())])
    return True


async def _search_finish(turn: Turn[Search]) -> None:
    turn.ctx.say(f"Picked {turn.state.picked}")


SEARCH = Conversation(
    "srch",
    Search,
    [
        Step(
            name="pick",
            kind=Kind.CHOICE,
            ask=lambda t: "Which?",
            options=lambda t: [Option("a", "A"), Option("other", "Other")],
            accepts=lambda t, v: v.isalpha(),
            typed=_search_typed,
            answer=_search_answer,
        )
    ],
    finish=_search_finish,
)


async def test_an_answer_may_stay_at_its_step_without_asking_again(db: SqlStore) -> None:
    router = Router()
    router.flow(SEARCH)

    @router.command("srch", "srch", role=None)
    async def srch(ctx: Context, arg: str) -> None:
        await SEARCH.start(ctx, Search())

    p = Harness(db, router).person()
    await p.say("/srch")
    out = await p.tap("Other")
    assert [m.text for m in out] == ["Type it."], "no question again"
    out = await p.say("zed")
    assert out[0].text == "Found:"
    out = await p.tap("Zed")
    assert out[-1].text == "Picked zed"


class Note(BaseModel):
    text: str = ""


NOTE = Conversation(
    "note",
    Note,
    [
        Step(
            name="text",
            kind=Kind.MEDIA,
            ask=lambda t: "Your note?",
            parse=lambda t, text: text,
            empty="Please write a few words.",
            answer=_set("text"),
        ),
    ],
    finish=lambda turn: _said(turn, f"Noted {turn.state.text}"),
)


async def _said(turn: Turn[Note], text: str) -> None:
    turn.ctx.say(text)


async def test_a_step_says_its_own_line_to_an_empty_message(db: SqlStore) -> None:
    router = Router()
    router.flow(NOTE)

    @router.command("note", "note", role=None)
    async def note(ctx: Context, arg: str) -> None:
        await NOTE.start(ctx, Note())

    p = Harness(db, router).person()
    await p.say("/note")
    out = await p.say("   ")
    assert [m.text for m in out] == ["Please write a few words.", "Your note?"]
    out = await p.say("milk")
    assert [m.text for m in out] == ["Noted milk"]


async def test_invisible_marks_around_a_label_a_number_or_a_command_are_ignored(
    db: SqlStore,
) -> None:
    """A right-to-left keyboard adds U+200F, copy-paste a BOM: the label, the number and the
    command are still what she meant (one normaliser, `bot.core.ids.plain`)."""
    h = Harness(db, _router())
    p = h.person()
    await p.say("\u200f/toy")
    assert p.last.text == "Your name?"
    await p.say("Amal")
    await p.say("Red\u200f")
    assert p.last.text == "Extras?"
    await p.say("\u2067Apple\u2069")
    assert "✅ Apple" in p.labels()
    await p.say("\u200eDone")
    out = await p.say("\ufeff40\u200f")
    assert [m.text for m in out] == ["Sure?"]
    out = await p.say("\u061cYes")
    assert out[-1].text == "Saved Amal red a 40"
    await p.say("/toy")
    out = await p.say("\u200f\u200e")  # only marks: the same as an empty message
    assert [m.text for m in out] == [
        "That message is empty. Please type your answer.",
        "Your name?",
    ]


async def test_a_stranger_pressing_an_old_button_is_answered_once(db: SqlStore) -> None:
    """No member, no flow (after /forget, say): one line, not the members' menu too."""
    router = _router()

    async def menu(ctx: Context) -> None:
        ctx.say("members' menu")

    router.fallback = menu
    p = Harness(db, router).person()
    out = await p.press(step_payload("toy", 1, "colour", "red"), message_id="1")
    assert [m.text for m in out] == ["That button is from an earlier message and no longer works."]


class Quiz(BaseModel):
    quiz: str = ""
    answers: dict[str, str] = {}


QUIZZES = {"short": ("q1", "q2"), "long": ("q1", "q2", "q3")}


class DataFlow(Conversation[Quiz]):
    """A flow whose steps are built from data loaded by `prepare`: one TEXT step per question
    of the quiz named in her state, each with a Skip button (an `accepts` value) and a Pause
    button (the answer says so and STAYs)."""

    def __init__(self) -> None:
        super().__init__("quiz", Quiz, [], finish=self._done)

    async def prepare(self, turn: Turn[Quiz]) -> bool:
        questions = QUIZZES.get(turn.state.quiz)
        if questions is None:
            turn.ctx.state.clear()
            turn.ctx.say("That quiz is gone.")
            return False
        turn.loaded = questions
        return True

    def steps(self, turn: Turn[Quiz]) -> tuple[str, ...]:
        return tuple(turn.loaded)

    def step(self, turn: Turn[Quiz], name: str) -> Step[Quiz] | None:
        if name not in turn.loaded:
            return None

        def answer(t: Turn[Quiz], value: str) -> str | None:
            if value == "~pause":
                t.ctx.say("Paused.")
                return STAY
            if value != "~skip":
                t.state.answers[name] = value
            return None

        return Step(
            name=name,
            kind=Kind.TEXT,
            ask=lambda t: f"{name}?",
            answer=answer,
            accepts=lambda t, value: value in ("~skip", "~pause"),
            more=lambda t: [
                self.button(t, "Skip", "~skip"),
                self.button(t, "Pause", "~pause"),
            ],
        )

    async def _done(self, turn: Turn[Quiz]) -> None:
        turn.ctx.say(f"Done {sorted(turn.state.answers.items())}")


async def test_a_flow_built_from_data_with_extra_buttons_and_a_pause(db: SqlStore) -> None:
    flow = DataFlow()
    router = Router()
    router.flow(flow)

    @router.command("quiz", "quiz", role=None)
    async def quiz(ctx: Context, arg: str) -> None:
        await flow.start(ctx, Quiz(quiz=arg))

    p = Harness(db, router).person()
    assert [m.text for m in await p.say("/quiz nope")] == ["That quiz is gone."]
    assert [m.text for m in await p.say("/quiz long")] == ["q1?"]
    assert [b.label for b in p.last.buttons] == ["Skip", "Pause"]
    await p.tap("Skip")  # accepted on a TEXT step: answered with its value
    assert p.last.text == "q2?"
    assert [m.text for m in await p.tap("Pause")] == ["Paused."], "stays, not asked again"
    await p.say("blue")
    assert p.last.text == "q3?"
    assert [m.text for m in await p.tap("◀ Back")] == ["q2?"]
    await p.say("green")
    out = await p.press(step_payload("quiz", 1, "q3", "~other"))  # not accepted: refused
    assert out[-1].text == "q3?"
    out = await p.say("red")
    assert out[-1].text == "Done [('q2', 'green'), ('q3', 'red')]"
    async with db.transaction() as tx:
        assert (await tx.conversations.load(p.h.channel.name, p.user_id)).flow is None


async def test_cancel_says_the_flows_own_line_or_the_callers(db: SqlStore) -> None:
    """`cancel` (a Cancel button, /cancel) runs the flow's `cancelled`; a flow without one says
    the line the caller gives, or "Stopped"."""
    said: list[str] = []

    async def cancelled(turn: Turn[Toy]) -> None:
        said.append(turn.state.name)
        turn.ctx.say("Toy cancelled.")

    steps = list(TOY.table.values())
    own = Conversation("own", Toy, steps, finish=_finish, cancelled=cancelled)
    plain_flow = Conversation("bare", Toy, steps, finish=_finish)
    router = Router()
    router.flow(own)
    router.flow(plain_flow)

    @router.command("own", "own", role=None)
    async def start_own(ctx: Context, arg: str) -> None:
        await own.start(ctx, Toy())

    @router.command("bare", "bare", role=None)
    async def start_bare(ctx: Context, arg: str) -> None:
        await plain_flow.start(ctx, Toy())

    @router.command("cancel", "cancel", role=None)
    async def cancel(ctx: Context, arg: str) -> None:
        flow = router.flows[ctx.state.flow] if ctx.state.flow else None
        assert isinstance(flow, Conversation)
        await flow.cancel(ctx, otherwise="Cancelled by the caller.")

    p = Harness(db, router).person()
    await p.say("/own")
    await p.say("Amal")
    assert [m.text for m in await p.say("/cancel")] == ["Toy cancelled."] and said == ["Amal"]
    await p.say("/bare")
    assert [m.text for m in await p.say("/cancel")] == ["Cancelled by the caller."]
