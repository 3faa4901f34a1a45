"""/update: a short report from the ground, confirmed, stored, and passed on to coordinators.

Steps: text (or a photo / voice note with its words) → spheres → routine or urgent → may the
text outlive retention if shared → may it be quoted, without her name, in country briefs (no
unless she says yes) → confirm (or say it concerns another country) → "received",
sent only after the update is committed, saying truthfully who was alerted. Storing it and
alerting are `bot.services.updates.submit`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import END, Conversation, Invalid, Kind, Option, Step, Turn
from bot.core.countries import find_countries
from bot.core.i18n import N_
from bot.core.messages import MediaKind, MediaRef
from bot.core.models import Role
from bot.core.router import Router
from bot.core.spheres import SPHERES
from bot.core.updates import MAX_UPDATE
from bot.services import updates
from bot.services.updates import ATTACHABLE, Draft, excerpt
from handlers.common import QUOTABLE, command_text, sphere_labels

FLOW = "upd"
ABANDONED_AFTER = timedelta(hours=24)
FEW_WORDS = N_("Please write a few words about what happened.")


def meaningful(text: str) -> bool:
    """At least a few letters or digits: not empty, not only emoji or punctuation."""
    return sum(ch.isalnum() for ch in text) >= 3


class UpdateDraft(BaseModel):
    """What she has written so far (the field names are those an older release saved, so an
    update begun before an upgrade resumes)."""

    started: datetime
    country: str | None = None
    spheres: list[str] = []
    text: str = ""
    media: MediaKind | None = None
    media_ref: str | None = None
    urgent: bool = False
    keep: bool = False
    quotable: bool = False


T = Turn[UpdateDraft]


# -- reading her words ------------------------------------------------------------------------


def _fits(turn: T, text: str) -> bool:
    """Within the limit; if not, say so (her text comes back after, to shorten)."""
    if len(text) <= MAX_UPDATE:
        return True
    turn.ctx.say(
        turn._(
            "Your update has {n} characters; the limit is {max}. Here it is, so "
            "you can shorten it and send it again:",
            n=turn._.number(len(text)),
            max=turn._.number(MAX_UPDATE),
        )
    )
    return False


def _words(turn: T, text: str) -> str:
    """Her update's words, or Invalid: too long (given back to her) or too few."""
    if not _fits(turn, text):
        raise Invalid(text, reask=False)
    if not meaningful(text):
        raise Invalid(turn._(FEW_WORDS), reask=False)
    return text


def _ask_text(turn: T) -> str:
    return turn._(
        "What is happening? Write a short update (up to {max} characters). You may "
        "send a photo or voice note instead, but they use more data on a slow "
        "connection. Send {cancel} to stop.",
        max=turn._.number(MAX_UPDATE),
        cancel=command_text(turn.ctx, "cancel"),
    )


def _got_text(turn: T, value: str | MediaRef) -> str | None:
    if isinstance(value, str):
        turn.state.text = value
        return None
    if value.kind not in ATTACHABLE or not value.ref:
        turn.ctx.say(
            turn._(
                "I can't use that for an update. Please write it, or send a photo or a voice note."
            )
        )
        return "text"
    turn.state.media, turn.state.media_ref = value.kind, value.ref
    caption = (turn.ctx.inbound.text or "").strip()
    try:
        turn.state.text = _words(turn, caption) if caption else ""
    except Invalid as invalid:
        turn.ctx.say(invalid.message)
        turn.state.text = ""
    return None  # the caption step, unless her words came with it


def _got_caption(turn: T, value: str | MediaRef) -> str | None:
    if isinstance(value, MediaRef):
        turn.ctx.say(turn._("One attachment per update. Please add a few words as a message."))
        return "caption"
    turn.state.text = value
    return None


async def _revise(turn: T, text: str) -> bool:
    """A sentence typed where a button was expected is her update, rewritten: keep it."""
    if len(text.split()) <= 3 or not meaningful(text):
        return False  # a mistyped button (or only emoji), not her words
    if not _fits(turn, text):
        turn.ctx.say(text)
        return True
    turn.state.text = text
    turn.ctx.say(turn._("I have replaced the text of your update with this one."))
    UPDATE.ask_again(turn)
    return True


# -- spheres, urgency, keeping ----------------------------------------------------------------


def _tick(turn: T, code: str) -> None:
    spheres = turn.state.spheres
    spheres.remove(code) if code in spheres else spheres.append(code)


def _spheres_done(turn: T, chosen: list[str]) -> str | None:
    if not chosen:
        turn.ctx.say(turn._("Please choose at least one sphere."))
        return "spheres"
    return None


def _urgency(turn: T, value: str) -> None:
    turn.state.urgent = value == "yes"


def _keep(turn: T, yes: bool) -> None:
    turn.state.keep = yes


def _quotable(turn: T, yes: bool) -> None:
    turn.state.quotable = yes


# -- confirming -------------------------------------------------------------------------------


def _summary(turn: T) -> str:
    _, state = turn._, turn.state
    quoted = excerpt(state.text)
    parts = [_("Your update:"), f"“{quoted}”" if quoted else ""]
    if state.media is not None:
        parts.append(_("With an attachment (kept on the app's servers, not downloaded)."))
    parts.append(
        _(
            "Country: {country} · Spheres: {spheres} · {urgency}",
            country=_.country_name(state.country) if state.country else "—",
            spheres=sphere_labels(turn.ctx, state.spheres),
            urgency=_("Urgent") if state.urgent else _("Routine"),
        )
        + (" · " + _(QUOTABLE) if state.quotable else "")
    )
    return "\n".join(p for p in parts if p)


def _confirmed(turn: T, value: str) -> str:
    if value == "send" and turn.state.country is not None:
        return END
    return "country"


async def _search(turn: T, text: str) -> bool:
    """The countries matching what she typed, as buttons."""
    matches = find_countries(turn.ctx.catalogs, turn._, text)
    if not matches:
        turn.ctx.say(turn._("I could not find that country. Please type its name again."))
        return True
    turn.ctx.say(
        turn._("Is it one of these?"),
        [UPDATE.button(turn, name, code) for code, name in matches],
    )
    return True


def _country(turn: T, code: str) -> str:
    turn.state.country = code
    return "confirm"


async def _send(turn: T) -> None:
    ctx, state = turn.ctx, turn.state
    assert state.country is not None
    media = MediaRef(state.media, state.media_ref or "") if state.media is not None else None
    draft = Draft(
        country=state.country,
        locale=ctx.locale,
        spheres=state.spheres,
        urgent=state.urgent,
        keep_if_shared=state.keep,
        text=state.text or None,
        media=media,
        quotable=state.quotable,
    )
    submitted = await updates.submit(ctx.tx, ctx.catalogs, ctx.actor, draft, ctx.now)
    country = ctx._.country_name(state.country)
    alerted = submitted.alerted
    if alerted is None:
        ctx.say(
            ctx._(
                "Received, thank you. The coordinators for {country} will read it.",
                country=country,
            )
        )
    elif alerted.people and alerted.role is Role.COORDINATOR:
        ctx.say(
            ctx._(
                "Received, thank you. The coordinators for {country} have been alerted.",
                country=country,
            )
        )
    elif alerted.people:
        ctx.say(
            ctx._(
                "Received, thank you. No coordinator for {country} could be alerted, so the "
                "administrators have been.",
                country=country,
            )
        )
    else:
        ctx.say(
            ctx._(
                "Received, thank you. Nobody could be alerted right now; your update is saved "
                "and will be seen in moderation."
            )
        )


async def _cancelled(turn: T) -> None:
    turn.ctx.say(turn._("Cancelled. Nothing was sent or saved."))


class UpdateConversation(Conversation[UpdateDraft]):
    """The /update flow; an update left unfinished for a day is set aside."""

    def abandoned(self, ctx: Context) -> bool:
        started = ctx.state.data.get("started") if ctx.state.flow == self.name else None
        try:
            return started is None or ctx.now - datetime.fromisoformat(started) > ABANDONED_AFTER
        except (TypeError, ValueError):
            return True

    async def on_input(self, ctx: Context) -> None:
        if self.abandoned(ctx):
            ctx.state.clear()
            ctx.say(
                ctx._(
                    "Your unfinished update was set aside after 24 hours. Send {update} to "
                    "start a new one.",
                    update=command_text(ctx, "update"),
                )
            )
            return
        await super().on_input(ctx)

    def ask_again(self, turn: T) -> None:
        """The current step's question again (after her text was replaced)."""
        self._ask(turn, replace=False)


UPDATE = UpdateConversation(
    FLOW,
    UpdateDraft,
    [
        Step(
            name="text",
            kind=Kind.MEDIA,
            ask=_ask_text,
            parse=_words,
            empty=FEW_WORDS,
            answer=_got_text,
        ),
        Step(
            name="caption",
            kind=Kind.MEDIA,
            ask=lambda t: t._(
                "Got it. Add a few words about it, so coordinators know what it shows."
            ),
            parse=_words,
            empty=FEW_WORDS,
            skip=lambda t: t.state.media is None or bool(t.state.text),
            answer=_got_caption,
        ),
        Step(
            name="spheres",
            kind=Kind.CHECKLIST,
            ask=lambda t: t._("Which spheres does it concern? Yours are already ticked."),
            options=lambda t: [Option(s.code, t._(s.label)) for s in SPHERES],
            chosen=lambda t: t.state.spheres,
            tick=_tick,
            typed=_revise,
            answer=_spheres_done,
            columns=2,
        ),
        Step(
            name="urgency",
            kind=Kind.CHOICE,
            ask=lambda t: t._(
                "Is it urgent? Urgent updates reach your country's coordinators at once."
            ),
            options=lambda t: [Option("no", t._("Routine")), Option("yes", t._("Urgent"))],
            typed=_revise,
            answer=_urgency,
        ),
        Step(
            name="keep",
            kind=Kind.CONFIRM,
            ask=lambda t: t._(
                "Coordinators may share it with practitioners in other countries, never with "
                "your name. Its text is deleted after {days} days. If it was shared, may the "
                "alliance keep it longer?",
                days=t._.number(t.ctx.config.update_retention_days),
            ),
            options=lambda t: [Option("yes", t._("Yes, keep it")), Option("no", t._("No"))],
            typed=_revise,
            answer=_keep,
        ),
        Step(
            name="quote",
            kind=Kind.CONFIRM,
            ask=lambda t: t._(
                "May the alliance quote your words, without your name, in briefs for policy "
                "meetings?"
            ),
            skip=lambda t: not t.state.text,
            typed=_revise,
            answer=_quotable,
        ),
        Step(
            name="confirm",
            kind=Kind.CHOICE,
            ask=_summary,
            options=lambda t: [
                Option("send", t._("Send")),
                Option("country", t._("Another country")),
            ],
            typed=_revise,
            cancel=True,
            answer=_confirmed,
        ),
        Step(
            name="country",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Type the name of the country it concerns."),
            typed=_search,
            accepts=lambda t, code: code in t._.countries(),
            answer=_country,
        ),
    ],
    finish=_send,
    cancelled=_cancelled,
)


def register(router: Router) -> None:
    router.flow(UPDATE, role=Role.MEMBER)

    @router.command("update", N_("Share an update from the ground"))
    async def cmd_update(ctx: Context, arg: str) -> None:
        assert ctx.member is not None
        if ctx.state.flow == FLOW and not UPDATE.abandoned(ctx):
            ctx.say(
                ctx._(
                    "You have an unfinished update; let's continue. Send {cancel} to start again.",
                    cancel=command_text(ctx, "cancel"),
                )
            )
            await UPDATE.reprompt(ctx)
            return
        draft = UpdateDraft(
            started=ctx.now, country=ctx.member.country, spheres=list(ctx.member.spheres)
        )
        await UPDATE.start(ctx, draft)
