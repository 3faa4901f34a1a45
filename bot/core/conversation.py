"""The conversation engine: a flow is a table of steps, declared once.

Each `Step` says what kind of answer it wants (a choice, a checklist, text, a number, a
yes/no confirmation, a photo or voice note), how to ask, how to read an answer and where it
leads. The engine does the rest the same way in every flow:

- the question with its buttons (or, past a channel's limit, a numbered menu: the core);
- an answer of the wrong kind (text where buttons are offered, a button where text is
  wanted, a photo where a number is) gets one short, localised line, then the question again;
- a typed answer matching a button's label counts as pressing it (on WhatsApp and in the
  terminal she may type "Iraq" or "نعم");
- a long choice shows its first options and a "More…" button that shows the rest;
- Back returns to the previous step, Cancel (a button, /cancel or "cancel" in her language)
  ends the flow;
- a button from an earlier message, from another step, or from a previous version of the
  flow is recognised as stale and answered once;
- the flow's state is a typed model (pydantic), saved with the conversation state after every
  update, so she resumes where she was after a restart or on another worker;
- a step may need a role, checked at every input (the router checks the flow's role).

Buttons carry typed payloads: `StepPayload` packs flow, version, step and value.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bot.core.callbacks import MAX_PAYLOAD_BYTES, PayloadTooLong
from bot.core.context import Context
from bot.core.i18n import N_, Translator, fold
from bot.core.ids import plain
from bot.core.messages import Button, InboundEvent, MediaKind, MediaRef
from bot.core.models import Role
from bot.core.router import refuse

# Short lines the engine says, the same in every flow.
CHOOSE_A_BUTTON = N_("Please choose one of the buttons.")
TYPE_IT = N_("Please type it as a message.")
NOT_A_NUMBER = N_("Please type a number.")
NUMBER_RANGE = N_("Please type a number from {low} to {high}.")
NO_MEDIA_HERE = N_("I can't use a photo or file here.")
SEND_MEDIA = N_("Please send a photo, a voice note or a file.")
STALE = N_("That button is from an earlier message and no longer works.")
OLD_VERSION = N_("That button is from an older version of Wasl; here is the question again.")
STOPPED = N_("Stopped. Nothing was sent.")
EMPTY = N_("That message is empty. Please type your answer.")
BACK = N_("◀ Back")
CANCEL = N_("✖ Cancel")
DONE = N_("Done")
MORE = N_("More…")
YES = N_("Yes")
NO = N_("No")

# Reserved step values: Back, Cancel, a checklist's Done and a long choice's More.
GO_BACK = "~b"
GO_CANCEL = "~x"
GO_DONE = "~d"
GO_MORE = "~m"

END = "~end"  # what an answer returns to end the flow (the flow's `finish` then runs)
# What an answer returns to stay at the step without asking again (it said what to do next,
# e.g. "type the name of the country"); her next input is read by the same step.
STAY = "~stay"
TICKED, UNTICKED = "✓", "✗"  # a checklist tick acknowledged in one line (the terminal)

S = TypeVar("S", bound=BaseModel)


class Kind(StrEnum):
    """What a step asks for."""

    CHOICE = "choice"  # one button
    CHECKLIST = "checklist"  # several buttons ticked, then Done
    TEXT = "text"  # typed text, read by the step's `parse`
    NUMBER = "number"  # a whole number between `low` and `high`
    CONFIRM = "confirm"  # Yes / No (or the step's own two options)
    MEDIA = "media"  # a photo, voice note or file (text too when `parse` is given)


class Invalid(Exception):
    """Raised by a step's `parse` with what to tell her (already translated): the engine says
    it and asks the step's question again."""

    def __init__(self, message: str, *, reask: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.reask = reask


@dataclass(frozen=True, slots=True)
class StepPayload:
    """A conversation button: "<flow>:<version>:<step>:<value>" (≤ 64 bytes, Telegram's
    limit). The version tells a button from before an upgrade from a current one."""

    flow: str
    version: int
    step: str
    value: str

    def pack(self) -> str:
        packed = f"{self.flow}:{self.version}:{self.step}:{self.value}"
        if len(packed.encode()) > MAX_PAYLOAD_BYTES or ":" in self.step:
            raise PayloadTooLong(packed)
        return packed

    @classmethod
    def unpack(cls, payload: str | None) -> StepPayload | None:
        parts = (payload or "").split(":", 3)
        if len(parts) != 4 or not parts[1].isascii() or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])


def step_payload(flow: str, version: int, step: str, value: str) -> str:
    """What a step's button carries."""
    return StepPayload(flow, version, step, value).pack()


def read_step_payload(payload: str | None) -> StepPayload | None:
    return StepPayload.unpack(payload)


@dataclass(frozen=True, slots=True)
class Option:
    """One button of a choice or checklist: the value the step gets, the label she sees."""

    value: str
    label: str


@dataclass(slots=True)
class Turn(Generic[S]):
    """One input to a flow: the update's context and the flow's typed state."""

    ctx: Context
    state: S
    step: str
    trail: list[str] = field(default_factory=list)
    # What the flow's `prepare` loaded for this input (a survey's questions, say): data its
    # steps are built from, not state (never saved).
    loaded: Any = None

    @property
    def _(self) -> Translator:
        return self.ctx.translator


Ask = Callable[[Turn[S]], str]
Options = Callable[[Turn[S]], Sequence[Option]]
Parse = Callable[[Turn[S], str], Any]
Answer = Callable[[Turn[S], Any], "str | Awaitable[str | None] | None"]
Check = Callable[[Turn[S]], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step(Generic[S]):
    """One row of a flow's table.

    `answer(turn, value)` stores the answer in `turn.state` and returns the next step's name,
    `END`, `STAY` (stay here without asking again), or None for the next row. Its value is:
    the option's value (CHOICE), the ticked values (CHECKLIST, a list), what `parse` returned
    (TEXT, NUMBER: an int), True/False (CONFIRM), the MediaRef or the parsed text (MEDIA).
    """

    name: str
    kind: Kind
    ask: Ask[S]
    answer: Answer[S]
    options: Options[S] | None = None  # CHOICE, CHECKLIST, CONFIRM (default Yes / No)
    parse: Parse[S] | None = None  # TEXT, MEDIA (a typed alternative)
    chosen: Callable[[Turn[S]], Collection[str]] | None = None  # CHECKLIST: ticked now
    tick: Callable[[Turn[S], str], None] | None = None  # CHECKLIST: toggle one value
    typed: Callable[[Turn[S], str], Awaitable[bool]] | None = None  # CHOICE: free text
    # Values accepted beyond the options shown, for any kind: a searched country's button on
    # a CHOICE, a Skip button under a TEXT or CHECKLIST step (the answer gets the value).
    accepts: Callable[[Turn[S], str], bool] | None = None
    skip: Check[S] | None = None  # True: pass this step by
    low: int | None = None  # NUMBER
    high: int | None = None
    role: Role | None = None
    columns: int = 1
    back: bool = True  # offer Back when there is a step to go back to
    cancel: bool = False  # offer a Cancel button (TEXT, NUMBER and MEDIA always say /cancel)
    empty: str | None = None  # TEXT, MEDIA: what to say to an empty message (a msgid)
    more: Callable[[Turn[S]], Sequence[Button]] | None = None  # more buttons (commands)
    # CHOICE: show only the first `shown` options (the likeliest) and a button labelled
    # `rest` (a msgid) that shows the others. Every option is accepted, shown or not.
    shown: int | None = None
    rest: str = MORE


class Conversation(Generic[S]):
    """A flow declared as a table of steps, run by the engine. Subclass, or instantiate with
    the table. The router sees the `Flow` protocol: `name`, `on_input`, `reprompt`."""

    def __init__(
        self,
        name: str,
        state: type[S],
        steps: Sequence[Step[S]],
        *,
        finish: Callable[[Turn[S]], Awaitable[None]],
        cancelled: Callable[[Turn[S]], Awaitable[None]] | None = None,
        version: int = 1,
    ) -> None:
        if ":" in name:
            raise ValueError(f"bad flow name {name!r}")
        self.name = name
        self.model = state
        self.version = version
        self.table = {s.name: s for s in steps}
        if len(self.table) != len(steps):
            raise ValueError(f"flow {name}: two steps share a name")
        self.order = [s.name for s in steps]
        self._finish = finish
        self._cancelled = cancelled

    # -- the graph ---------------------------------------------------------------------------

    def steps(self, turn: Turn[S]) -> Sequence[str]:
        """The step names in table order (a flow built from data overrides this)."""
        return self.order

    def step(self, turn: Turn[S], name: str) -> Step[S] | None:
        return self.table.get(name)

    def first(self, turn: Turn[S]) -> str:
        return self.steps(turn)[0]

    async def prepare(self, turn: Turn[S]) -> bool:
        """Before her input is read or a step asked: a flow built from data loads it here
        (into `turn.loaded`, for `steps` and `step`). False: the flow cannot go on (it has
        said why and cleared her state)."""
        return True

    # -- entry points ------------------------------------------------------------------------

    async def start(self, ctx: Context, state: S, *, at: str | None = None) -> None:
        """Begin the flow for her (any other flow she was in ends) and ask the first step
        that is not skipped."""
        ctx.state.clear()
        turn = Turn(ctx, state, at or "")
        if not await self.prepare(turn):
            return
        turn.step = at or self.first(turn)
        await self._arrive(turn, turn.step)

    async def reprompt(self, ctx: Context) -> None:
        turn = self._load(ctx)
        if turn is None:
            await self._restart_lost(ctx)
            return
        if not await self.prepare(turn):
            return
        self._ask(turn, replace=False)

    async def on_input(self, ctx: Context) -> None:
        turn = self._load(ctx)
        if turn is None:
            await self._restart_lost(ctx)
            return
        if not await self.prepare(turn):
            return
        step = self.step(turn, turn.step)
        if step is None:
            await self._restart_lost(ctx)
            return
        if step.role is not None and not (ctx.member and ctx.member.role.allows(step.role)):
            ctx.state.clear()
            await refuse(ctx, "step", f"{self.name}.{step.name}")
            return
        inbound = ctx.inbound
        if inbound.payload is not None:
            await self._pressed(turn, step, inbound.payload)
        elif inbound.media is not None:
            await self._media(turn, step)
        else:
            await self._typed(turn, step, inbound.text or "")

    # -- reading an input ----------------------------------------------------------------------

    async def _pressed(self, turn: Turn[S], step: Step[S], raw: str) -> None:
        ctx = turn.ctx
        pressed = read_step_payload(raw)
        if pressed is None or pressed.flow != self.name:
            self._stale(turn, STALE)
            return
        if pressed.version != self.version:
            self._stale(turn, OLD_VERSION)
            return
        if pressed.step != step.name:
            self._stale(turn, STALE)
            return
        value = pressed.value
        if value == GO_CANCEL:
            await self.cancel(ctx)
            return
        if value == GO_BACK:
            await self._back(turn)
            return
        if value == GO_MORE:
            self._ask(turn, replace=True, rest=True)
            self._save(turn)
            return
        if step.kind is not Kind.CHOICE and step.accepts is not None and step.accepts(turn, value):
            await self._answered(turn, step, value)
            return
        if step.kind is Kind.CHECKLIST:
            await self._ticked(turn, step, value)
            return
        if step.kind is Kind.CONFIRM:
            if value not in {o.value for o in self._options(turn, step)}:
                self._stale(turn, STALE)
                return
            await self._answered(turn, step, value == "yes")
            return
        if step.kind is Kind.CHOICE:
            shown = value in {o.value for o in self._options(turn, step)}
            if not shown and not (step.accepts is not None and step.accepts(turn, value)):
                self._stale(turn, STALE)
                return
            await self._answered(turn, step, value)
            return
        # A button where text, a number or a file is wanted (none but Back/Cancel is offered)
        self._wrong(turn, TYPE_IT if step.kind is not Kind.MEDIA else SEND_MEDIA)

    async def _typed(self, turn: Turn[S], step: Step[S], text: str) -> None:
        ctx = turn.ctx
        text = text.strip()
        if step.kind in (Kind.CHOICE, Kind.CHECKLIST, Kind.CONFIRM):
            text = plain(text)  # a label typed with a right-to-left mark is still the label
            option = self._match_label(turn, step, text)
            if option == GO_BACK:
                await self._back(turn)
            elif option == GO_MORE:
                self._ask(turn, replace=False, rest=True)
                self._save(turn)
            elif option is not None and step.kind is Kind.CHECKLIST:
                await self._ticked(turn, step, option)
            elif option is not None and step.kind is Kind.CONFIRM:
                await self._answered(turn, step, option == "yes")
            elif option is not None:
                await self._answered(turn, step, option)
            elif step.typed is not None and text and await step.typed(turn, text):
                self._save(turn)
            else:
                self._wrong(turn, CHOOSE_A_BUTTON)
            return
        if not plain(text):
            self._wrong(turn, step.empty or (EMPTY if step.kind is not Kind.MEDIA else SEND_MEDIA))
            return
        if step.kind is Kind.MEDIA and step.parse is None:
            self._wrong(turn, SEND_MEDIA)
            return
        try:
            if step.kind is Kind.NUMBER:
                value: Any = self._number(turn, step, text)
            else:
                value = step.parse(turn, text) if step.parse is not None else text
        except Invalid as invalid:
            ctx.say(invalid.message)
            if invalid.reask:
                self._ask(turn, replace=False)
            self._save(turn)
            return
        await self._answered(turn, step, value)

    async def _media(self, turn: Turn[S], step: Step[S]) -> None:
        inbound = turn.ctx.inbound
        if step.kind is not Kind.MEDIA:
            self._wrong(turn, NO_MEDIA_HERE)
            return
        ref = MediaRef(inbound.media or MediaKind.OTHER, inbound.media_ref or "")
        await self._answered(turn, step, ref)

    def _number(self, turn: Turn[S], step: Step[S], text: str) -> int:
        _ = turn._
        text = plain(text)  # "\ufeff3", "3\u200f": invisible marks are not part of it
        digits = text.removeprefix("-")
        # Eastern Arabic and Persian digits read as numbers too (int() knows them).
        if not digits.isdecimal() or len(digits) > 12:
            raise Invalid(self._range_text(turn, step) or _(NOT_A_NUMBER))
        value = int(text)
        if (step.low is not None and value < step.low) or (
            step.high is not None and value > step.high
        ):
            raise Invalid(self._range_text(turn, step) or _(NOT_A_NUMBER))
        return value

    def _range_text(self, turn: Turn[S], step: Step[S]) -> str | None:
        if step.low is None or step.high is None:
            return None
        _ = turn._
        return _(NUMBER_RANGE, low=_.number(step.low), high=_.number(step.high))

    def _match_label(self, turn: Turn[S], step: Step[S], text: str) -> str | None:
        """The option whose label she typed (folded: case, accents, Arabic forms, the
        checklist's ticks), or Back."""
        wanted = fold(_strip_ticks(plain(text)))
        if not wanted:
            return None
        for option in self._options(turn, step):
            if fold(_strip_ticks(option.label)) == wanted:
                return option.value
        if step.kind is Kind.CHECKLIST and wanted == fold(turn._(DONE)):
            return GO_DONE
        if self._folded(turn, step) and wanted == fold(turn._(step.rest)):
            return GO_MORE
        if step.back and turn.trail and wanted == fold(_strip_ticks(turn._(BACK))):
            return GO_BACK
        return None

    # -- moving ------------------------------------------------------------------------------

    async def _ticked(self, turn: Turn[S], step: Step[S], value: str) -> None:
        if value == GO_DONE:
            chosen = list(step.chosen(turn)) if step.chosen else []
            await self._answered(turn, step, chosen)
            return
        if value not in {o.value for o in self._options(turn, step)} or step.tick is None:
            self._stale(turn, STALE)
            return
        step.tick(turn, value)
        # On a channel that can edit, the checklist is edited in place; the terminal shows a
        # one-line acknowledgement of the change instead of the whole menu.
        label = next(o.label for o in self._options(turn, step) if o.value == value)
        mark = TICKED if step.chosen is not None and value in step.chosen(turn) else UNTICKED
        self._ask(turn, replace=True, ack=f"{mark} {label}")
        self._save(turn)

    async def _answered(self, turn: Turn[S], step: Step[S], value: Any) -> None:
        ctx = turn.ctx
        result = step.answer(turn, value)
        if inspect.isawaitable(result):
            result = await result
        if ctx.state.flow != self.name or ctx.erased:
            # The answer left the flow (cleared the state), started another one, or erased
            # her: the state is no longer this flow's to write.
            return
        if result == END:
            await self._end(turn)
            return
        if result == STAY:
            self._save(turn)
            return
        target = result if result is not None else self._after(turn, step.name)
        if target is None:
            await self._end(turn)
            return
        if target != step.name:
            turn.trail.append(step.name)
        await self._arrive(turn, target)

    async def _arrive(self, turn: Turn[S], name: str) -> None:
        """Go to step `name`, or past it (and the ones after) while they are skipped."""
        seen: set[str] = set()
        current: str | None = name
        while current is not None:
            if current == END:
                await self._end(turn)
                return
            step = self.step(turn, current)
            if step is None:
                raise LookupError(f"flow {self.name}: no step {current!r}")
            if current in seen:
                raise RuntimeError(f"flow {self.name}: skip loop at {current!r}")
            seen.add(current)
            if step.skip is None or not step.skip(turn):
                break
            current = self._after(turn, current)
        if current is None:
            await self._end(turn)
            return
        turn.step = current
        self._save(turn)
        self._ask(turn, replace=False)

    def _after(self, turn: Turn[S], name: str) -> str | None:
        order = list(self.steps(turn))
        index = order.index(name)
        return order[index + 1] if index + 1 < len(order) else None

    async def _back(self, turn: Turn[S]) -> None:
        if not turn.trail:
            self._ask(turn, replace=False)
            return
        turn.step = turn.trail.pop()
        self._save(turn)
        self._ask(turn, replace=False)

    async def _end(self, turn: Turn[S]) -> None:
        ctx = turn.ctx
        ctx.state.clear()
        await self._finish(turn)

    async def cancel(self, ctx: Context, *, otherwise: str = STOPPED) -> None:
        """End the flow at her wish (Cancel button, /cancel): nothing it gathered is kept.
        The flow's `cancelled` answers her; a flow without one says `otherwise` (a msgid)."""
        turn = self._load(ctx)
        ctx.state.clear()
        if turn is not None and self._cancelled is not None:
            await self._cancelled(turn)
        else:
            ctx.say(ctx._(otherwise))

    # -- saying ------------------------------------------------------------------------------

    def _ask(
        self, turn: Turn[S], *, replace: bool, ack: str | None = None, rest: bool = False
    ) -> None:
        """Ask the step's question. `rest`: a long choice's options after its first ones."""
        ctx = turn.ctx
        step = self.step(turn, turn.step)
        if step is None:
            return
        buttons: list[Button] = []
        if step.kind in (Kind.CHOICE, Kind.CHECKLIST, Kind.CONFIRM):
            chosen = (
                set(step.chosen(turn)) if step.chosen and step.kind is Kind.CHECKLIST else None
            )
            options = list(self._options(turn, step))
            folded = self._folded(turn, step)
            if folded and step.shown is not None:
                options = options[step.shown :] if rest else options[: step.shown]
            for option in options:
                label = option.label
                if chosen is not None:
                    label = f"{'✅' if option.value in chosen else '▫️'} {label}"
                buttons.append(Button(label, self._payload(step, option.value)))
            if folded and not rest:
                buttons.append(Button(ctx._(step.rest), self._payload(step, GO_MORE)))
            if step.kind is Kind.CHECKLIST:
                buttons.append(Button(ctx._(DONE), self._payload(step, GO_DONE)))
        if step.more is not None:
            buttons.extend(step.more(turn))
        if step.back and turn.trail:
            buttons.append(Button(ctx._(BACK), self._payload(step, GO_BACK)))
        if step.cancel:
            buttons.append(Button(ctx._(CANCEL), self._payload(step, GO_CANCEL)))
        typed = step.kind in (Kind.TEXT, Kind.NUMBER, Kind.MEDIA)
        ctx.say(
            step.ask(turn), buttons, columns=step.columns, replace=replace, typed=typed, ack=ack
        )

    def _options(self, turn: Turn[S], step: Step[S]) -> Sequence[Option]:
        if step.options is not None:
            return step.options(turn)
        if step.kind is Kind.CONFIRM:
            return (Option("yes", turn._(YES)), Option("no", turn._(NO)))
        return ()

    def _folded(self, turn: Turn[S], step: Step[S]) -> bool:
        """Whether a choice has more options than it shows at once (one more would take the
        place of the More button: then all are shown)."""
        return (
            step.kind is Kind.CHOICE
            and step.shown is not None
            and len(self._options(turn, step)) > step.shown + 1
        )

    def _payload(self, step: Step[S], value: str) -> str:
        return step_payload(self.name, self.version, step.name, value)

    def button(self, turn: Turn[S], label: str, value: str) -> Button:
        """A button answering the current step with `value` (a search result, say)."""
        return Button(label, step_payload(self.name, self.version, turn.step, value))

    def _wrong(self, turn: Turn[S], line: str) -> None:
        """An answer of the wrong kind: one short line, then the question again."""
        turn.ctx.say(turn._(line))
        self._ask(turn, replace=False)
        self._save(turn)

    def _stale(self, turn: Turn[S], line: str) -> None:
        turn.ctx.say(turn._(line))
        self._ask(turn, replace=False)
        self._save(turn)

    # -- state -------------------------------------------------------------------------------

    def _load(self, ctx: Context) -> Turn[S] | None:
        """Her typed state, or None when what was saved no longer fits this flow (saved by an
        older release, or damaged)."""
        if ctx.state.flow != self.name or ctx.state.step is None:
            return None
        data = dict(ctx.state.data)
        trail = data.pop("_trail", [])
        version = data.pop("_v", self.version)
        if version != self.version or not isinstance(trail, list):
            return None
        try:
            state = self.model.model_validate(data)
        except ValidationError:
            return None
        return Turn(ctx, state, ctx.state.step, [str(t) for t in trail])

    def _save(self, turn: Turn[S]) -> None:
        ctx = turn.ctx
        if ctx.erased or ctx.state.flow not in (None, self.name):
            return
        data = turn.state.model_dump(mode="json")
        data["_trail"] = list(turn.trail)
        data["_v"] = self.version
        ctx.state.flow, ctx.state.step, ctx.state.data = self.name, turn.step, data

    async def _restart_lost(self, ctx: Context) -> None:
        """What she was doing was saved by an older release (or is damaged): say so and let
        her start again, rather than guess."""
        ctx.state.clear()
        ctx.say(
            ctx._(
                "Wasl was updated while you were in the middle of something, and it could "
                "not be resumed. Please start it again."
            )
        )

    # -- for docs and checks -------------------------------------------------------------------

    def graph(self) -> dict[str, list[str]]:
        """Each step and the steps it may lead to by default (table order; answers may jump)."""
        return {
            name: [self.order[i + 1]] if i + 1 < len(self.order) else [END]
            for i, name in enumerate(self.order)
        }


def _strip_ticks(text: str) -> str:
    return text.removeprefix("✅").removeprefix("▫️").strip()


EVENTS_FROM_HER = (InboundEvent.MESSAGE, InboundEvent.BUTTON)
