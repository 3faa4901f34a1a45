"""Pulse surveys (members) and public country surveys (anyone with the link), as
conversations on the engine.

A survey stays data (its YAML definition); its questions become the steps of the "srv" flow,
built for each input from the survey named in her state (`SurveyFlow.prepare`): one question
per message, buttons wherever possible, Back, Skip (an optional question) and Stop for now
(she resumes with /survey), and the definition's jumps. While she answers, her answers live
only in her conversation state; when she finishes the engine clears that state (nothing of
the path she took stays) and the service sets her answers aside until they are counted with
at least k others' (bot/services/surveys.py). Unfinished answers are dropped at the close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

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
)
from bot.core.i18n import N_, Translator
from bot.core.messages import Button
from bot.core.models import Role
from bot.core.router import Router
from bot.core.surveys import (
    AGE_LABELS,
    GENDER_LABELS,
    GENDERS,
    MAX_FREE_TEXT,
    Dimensions,
    Question,
    QuestionType,
    Survey,
    SurveyAction,
    SurveyButton,
    check_answer,
)
from bot.services import surveys as service
from bot.services.surveys import Chat, Entry
from handlers.common import (
    LANGUAGES_SHOWN,
    MORE_LANGUAGES,
    command_text,
    language_options,
    not_in_her_language,
)

FLOW = "srv"  # answering (members and public); storage finds in-progress answers by it
PUBLIC = "pub"  # the public survey's opening steps

SKIP = "~skip"
STOP = "~stop"

PROBLEMS = {
    "not_a_number": N_("Please type a number."),
    "out_of_range": N_("Please type a number from {min} to {max}."),
    "empty": N_("Please type your answer, or skip this question."),
    "too_long": N_("That is too long. Please write up to {max} characters."),
    "use_buttons": N_("Please choose one of the buttons."),
}
CLOSED = N_("This survey has closed. Thank you for your interest.")
NOT_FOUND = N_("I can't find this survey. Please check the link.")
ANSWERED = N_("You have already answered this survey. Thank you!")

Answer = int | float | str | list[str] | None
OptionsOf = Callable[[Turn["Answering"]], Sequence[Option]]


def shown_in(ctx: Context, survey: Survey) -> str:
    """The language she reads a survey in: hers, else her second language, else its default
    (she is told which when it is not hers)."""
    return survey.definition.locale_for(ctx.locale, ctx.second_locale)


def not_for_you(ctx: Context) -> str:
    return ctx._("This survey is for other members. Thank you for your interest.")


def _fmt(_: Translator, value: float | None) -> str:
    """A bound of a number question as her language writes numbers (CLDR)."""
    if value is None:
        return ""
    return _.number(int(value) if float(value).is_integer() else value)


def step_name(survey_id: int, key: str) -> str:
    """A question's step: its key and its survey's id, so a button of another survey's
    question with the same key is answered as stale, never counted here."""
    return f"{key}.{survey_id}"


class Answering(BaseModel):
    """Her state while she answers: the survey, her answers so far (by question key) and,
    for a public survey, what she said in its opening steps. Storage reads `sid`, `answers`
    and `locale` to drop unfinished answers at the close."""

    sid: int
    locale: str
    answers: dict[str, Answer] = {}
    public: bool = False
    country: str | None = None
    age: str | None = None
    gender: str | None = None


class SurveyFlow(Conversation[Answering]):
    """Answering a survey: the steps are the survey's questions, loaded for every input."""

    def __init__(self) -> None:
        super().__init__(FLOW, Answering, [], finish=self._hand_in)

    async def begin(self, ctx: Context, survey: Survey, state: Answering) -> None:
        definition = survey.definition
        shown = shown_in(ctx, survey)
        title, intro = definition.title(shown), definition.intro(shown)
        text = f"{title}\n\n{intro}".strip()
        if shown != ctx.locale:
            text += "\n\n" + not_in_her_language(ctx, shown)
        ctx.say(text)
        await self.start(ctx, state)

    async def prepare(self, turn: Turn[Answering]) -> bool:
        ctx = turn.ctx
        survey = await service.current(ctx.tx, turn.state.sid, ctx.now)
        if survey is None:
            ctx.state.clear()
            ctx.say(ctx._(CLOSED))
            return False
        turn.loaded = survey
        return True

    # -- the survey's questions as steps ------------------------------------------------------

    def steps(self, turn: Turn[Answering]) -> Sequence[str]:
        survey: Survey = turn.loaded
        return [step_name(survey.id, q.key) for q in survey.definition.questions]

    def step(self, turn: Turn[Answering], name: str) -> Step[Answering] | None:
        survey: Survey = turn.loaded
        key, _, sid = name.partition(".")
        if sid != str(survey.id):
            return None
        try:
            question = survey.definition.question(key)
        except KeyError:
            return None
        kind = question.type
        options = None
        columns = 1
        if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
            options = self._labelled(survey, question)
        elif kind is QuestionType.SCALE:
            options = _constant([Option(str(n), str(n)) for n in range(1, 6)])
            columns = 5
        elif kind is QuestionType.YES_NO:
            options = _yes_no
            columns = 2
        accepted = {STOP} if question.required else {STOP, SKIP}
        return Step(
            name=name,
            kind=_KINDS[kind],
            ask=lambda turn: self._ask_text(turn, question),
            answer=lambda turn, value: self._answer(turn, question, value),
            options=options,
            parse=lambda turn, text: self._parse(turn, question, text),
            chosen=lambda turn: _ticked(turn, question),
            tick=lambda turn, value: self._tick(turn, question, value),
            accepts=lambda turn, value: value in accepted,
            columns=columns,
            more=lambda turn: self._nav(turn, question),
        )

    @staticmethod
    def _labelled(survey: Survey, question: Question) -> OptionsOf:
        def options(turn: Turn[Answering]) -> list[Option]:
            text = question.text(shown_in(turn.ctx, survey), survey.definition.default_locale)
            return [
                Option(key, str(label))
                for key, label in zip(question.options, text["options"], strict=True)
            ]

        return options

    def _ask_text(self, turn: Turn[Answering], question: Question) -> str:
        ctx, survey = turn.ctx, turn.loaded
        definition = survey.definition
        text = question.text(shown_in(ctx, survey), definition.default_locale)
        lines = [
            ctx._(
                "Question {n} of {total}",
                n=definition.position(question.key),
                total=len(definition.questions),
            ),
            str(text["prompt"]),
        ]
        if question.type is QuestionType.MULTIPLE and question.max_choices:
            lines.append(ctx._("Choose up to {n}.", n=question.max_choices))
        elif question.type is QuestionType.SCALE:
            lines.append(ctx._("1 = {low} · 5 = {high}", low=text["low"], high=text["high"]))
        elif question.type is QuestionType.NUMBER:
            lines.append(
                ctx._(
                    "Type a number from {min} to {max}.",
                    min=_fmt(ctx._, question.minimum),
                    max=_fmt(ctx._, question.maximum),
                )
            )
        elif question.type is QuestionType.TEXT:
            lines.append(
                ctx._(
                    "Type your answer (up to {max} characters).", max=ctx._.number(MAX_FREE_TEXT)
                )
            )
        return "\n".join(lines)

    def _nav(self, turn: Turn[Answering], question: Question) -> list[Button]:
        _ = turn._
        buttons = [] if question.required else [self.button(turn, _("Skip"), SKIP)]
        return [*buttons, self.button(turn, _("Stop for now"), STOP)]

    @staticmethod
    def _parse(turn: Turn[Answering], question: Question, text: str) -> Answer:
        value, problem = check_answer(question, text)
        if problem is not None:
            _ = turn._
            limit = (
                _fmt(_, question.maximum) if problem == "out_of_range" else _.number(MAX_FREE_TEXT)
            )
            message = _(PROBLEMS[problem], min=_fmt(_, question.minimum), max=limit)
            raise Invalid(message, reask=problem == "use_buttons")
        answer: Answer = value
        return answer

    @staticmethod
    def _tick(turn: Turn[Answering], question: Question, value: str) -> None:
        picked = _ticked(turn, question)
        if value in picked:
            picked.remove(value)
        elif question.max_choices and len(picked) >= question.max_choices:
            n = question.max_choices
            turn.ctx.say(turn._("You can choose up to {n}. Untick one first.", n=n))
        else:
            picked.append(value)
        turn.state.answers[question.key] = picked

    def _answer(self, turn: Turn[Answering], question: Question, value: Any) -> str:
        ctx, survey = turn.ctx, turn.loaded
        if value == STOP:
            ctx.say(
                ctx._(
                    "Paused. Your answers so far are kept until you finish; send {survey} "
                    "to continue.",
                    survey=command_text(ctx, "survey"),
                )
            )
            return STAY
        answer: Answer
        if value == SKIP:
            answer = None
        elif question.type is QuestionType.SCALE:
            answer = int(value)
        elif question.type is QuestionType.MULTIPLE:
            answer = [str(v) for v in value]
            if question.required and not answer:
                ctx.say(ctx._("Please choose at least one."))
                return STAY
        else:
            answer = value
        answers = turn.state.answers
        answers[question.key] = answer
        # Questions after this one are answered again from here (she may have come back).
        keys = [q.key for q in survey.definition.questions]
        for later in keys[keys.index(question.key) + 1 :]:
            answers.pop(later, None)
        following = survey.definition.next_key(question.key, answer)
        return END if following is None else step_name(survey.id, following)

    # -- handing in ----------------------------------------------------------------------------

    async def _hand_in(self, turn: Turn[Answering]) -> None:
        """Her answers are complete. The engine has already cleared her state: nothing of
        the way she answered stays with her chat but the answers set aside for the fold."""
        ctx, state, survey = turn.ctx, turn.state, turn.loaded
        member = None if state.public else ctx.member
        dimensions = Dimensions(
            locale=ctx.locale,
            channel=ctx.inbound.channel.value,
            country=state.country if state.public else (member.country if member else None),
            spheres=() if member is None else tuple(member.spheres),
            age_band=state.age if state.public else None,
            gender=state.gender if state.public else None,
        )
        digest = (
            await service.respondent_digest(
                ctx.tx, survey.id, ctx.config.secret_key, _respondent(ctx)
            )
            if state.public
            else None
        )
        await service.hand_in(
            ctx.tx,
            survey,
            dict(state.answers),
            dimensions,
            Chat(ctx.inbound.channel.value, ctx.inbound.chat_id),
            member_id=member.id if member else None,
            digest=digest,
            now=ctx.now,
        )
        if member is None:
            ctx.say(ctx._("Thank you! Your answers were saved without your name or number."))
            return
        ctx.say(
            ctx._(
                "Thank you! Your answers were saved without your name. Would you like "
                "the results for your country and the alliance when the survey closes?"
            ),
            [
                Button(
                    ctx._("Yes, send results"),
                    SurveyButton(survey.id, SurveyAction.RESULTS).pack(),
                ),
                Button(
                    ctx._("No, thanks"), SurveyButton(survey.id, SurveyAction.NO_RESULTS).pack()
                ),
            ],
        )


_KINDS = {
    QuestionType.SINGLE: Kind.CHOICE,
    QuestionType.MULTIPLE: Kind.CHECKLIST,
    QuestionType.SCALE: Kind.CHOICE,
    QuestionType.YES_NO: Kind.CHOICE,
    # Typed and read by the survey's own rules (decimals allowed, its own range line).
    QuestionType.NUMBER: Kind.TEXT,
    QuestionType.TEXT: Kind.TEXT,
}


def _constant(options: list[Option]) -> OptionsOf:
    return lambda turn: options


def _yes_no(turn: Turn[Answering]) -> list[Option]:
    return [Option("yes", turn._("Yes")), Option("no", turn._("No"))]


def _ticked(turn: Turn[Answering], question: Question) -> list[str]:
    value = turn.state.answers.get(question.key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _respondent(ctx: Context) -> str:
    return f"{ctx.inbound.channel.value}:{ctx.inbound.sender_id}"


# -- the public survey's opening ---------------------------------------------------------------


class Opening(BaseModel):
    """A public survey's opening steps: the language, then who she is, coarsely."""

    sid: int
    locale: str
    country: str | None = None
    age: str | None = None
    gender: str | None = None


def _languages(turn: Turn[Opening]) -> list[Option]:
    return language_options(turn.ctx)


def _language(turn: Turn[Opening], code: str) -> None:
    turn.ctx.set_locale(code)
    turn.state.locale = turn.ctx.locale


def _consent_text(turn: Turn[Opening]) -> str:
    return turn._(
        "This short survey is anonymous: we keep your answers without your "
        "name or number, and only publish totals for groups of at least {k} "
        "people. Do you agree to take part?",
        k=turn.ctx.config.min_cell,
    )


def _consent(turn: Turn[Opening], value: str) -> None:
    if value != "yes":
        turn.ctx.state.clear()
        turn.ctx.say(turn._("Understood. Nothing was kept. Thank you."))


def _countries(turn: Turn[Opening]) -> list[Option]:
    _ = turn._
    found = [Option(c, _.country_name(c)) for c in turn.ctx.config.countries]
    return [*found, Option("none", _("Prefer not to say"))]


async def _country(turn: Turn[Opening], value: str) -> None:
    ctx = turn.ctx
    country = None if value == "none" else value
    if await service.public_country(ctx.tx, turn.state.sid, country) is Entry.NOT_FOR_YOU:
        ctx.state.clear()
        ctx.say(not_for_you(ctx))
        return
    turn.state.country = country


def _age(turn: Turn[Opening], value: str) -> None:
    if value == "under15":
        turn.ctx.state.clear()
        turn.ctx.say(turn._("Thank you! This survey is for people aged 15 and older."))
        return
    turn.state.age = value


class PublicOpening(Conversation[Opening]):
    """Language, consent, country (optional), age band, gender; then the survey itself."""

    def __init__(self, answering: SurveyFlow) -> None:
        self.answering = answering
        super().__init__(
            PUBLIC,
            Opening,
            [
                Step(
                    name="lang",
                    kind=Kind.CHOICE,
                    # Translators: a public survey is answered by anyone, women and men:
                    # address the reader without marking gender where the language allows.
                    ask=lambda t: t._("Which language would you like to answer in?"),
                    options=_languages,
                    answer=_language,
                    shown=LANGUAGES_SHOWN,
                    rest=MORE_LANGUAGES,
                ),
                Step(
                    name="consent",
                    kind=Kind.CHOICE,
                    ask=_consent_text,
                    options=lambda t: [
                        Option("yes", t._("Yes, start")),
                        Option("no", t._("No")),
                    ],
                    answer=_consent,
                ),
                Step(
                    name="country",
                    kind=Kind.CHOICE,
                    ask=lambda t: t._("Which country do you live in?"),
                    options=_countries,
                    answer=_country,
                    columns=2,
                ),
                Step(
                    name="age",
                    kind=Kind.CHOICE,
                    # Translators: asked in a public survey, to women and men alike.
                    ask=lambda t: t._("How old are you?"),
                    options=lambda t: [Option(k, t._(v)) for k, v in AGE_LABELS.items()],
                    answer=_age,
                    columns=2,
                ),
                Step(
                    name="gender",
                    kind=Kind.CHOICE,
                    ask=lambda t: t._("You are…"),
                    options=lambda t: [Option(g, t._(GENDER_LABELS[g])) for g in GENDERS],
                    answer=_gender,
                    columns=2,
                ),
            ],
            finish=self._begin,
        )

    async def open(self, ctx: Context, slug: str) -> None:
        entry, survey = await service.open_public(
            ctx.tx,
            slug,
            ctx.member,
            secret=ctx.config.secret_key,
            respondent=_respondent(ctx),
            now=ctx.now,
        )
        if entry is Entry.OPEN and survey is not None:
            await self.start(ctx, Opening(sid=survey.id, locale=ctx.locale))
        else:
            _say_entry(ctx, entry)

    async def _begin(self, turn: Turn[Opening]) -> None:
        ctx, state = turn.ctx, turn.state
        survey = await service.current(ctx.tx, state.sid, ctx.now)
        if survey is None:
            ctx.say(ctx._(CLOSED))
            return
        await self.answering.begin(
            ctx,
            survey,
            Answering(
                sid=survey.id,
                locale=state.locale,
                public=True,
                country=state.country,
                age=state.age,
                gender=state.gender,
            ),
        )


def _gender(turn: Turn[Opening], value: str) -> str:
    turn.state.gender = value
    return END


def _say_entry(ctx: Context, entry: Entry) -> None:
    """Why she may not answer (any way in)."""
    if entry is Entry.ANSWERED:
        ctx.say(ctx._(ANSWERED))
    elif entry is Entry.CLOSED:
        ctx.say(ctx._(CLOSED))
    elif entry is Entry.NOT_FOR_YOU:
        ctx.say(not_for_you(ctx))
    else:
        ctx.say(ctx._(NOT_FOUND))


ANSWERING = SurveyFlow()
OPENING = PublicOpening(ANSWERING)


async def start_public(ctx: Context, slug: str) -> None:
    """/start s_<slug>: a public survey for anyone with the link (no membership needed)."""
    await OPENING.open(ctx, slug)


async def start_member_survey(ctx: Context, survey: Survey) -> None:
    assert ctx.member is not None
    entry = await service.start(ctx.tx, ctx.actor, survey, ctx.now)
    if entry is not Entry.OPEN:
        _say_entry(ctx, entry)
        return
    await ANSWERING.begin(ctx, survey, Answering(sid=survey.id, locale=ctx.locale))


async def survey_status(ctx: Context, slug: str) -> None:
    """Started and completed counts only: no answers while it is open."""
    found = await service.status(ctx.tx, ctx.actor, slug, ctx.now)
    if found is None:
        ctx.say(ctx._("There is no survey called {slug}.", slug=slug[:48]))
        return
    ctx.say(
        ctx._(
            "{title} ({state}, closes {closes}): {started} started, {completed} "
            "completed. Results are shown only after it closes.",
            title=found.survey.definition.title(shown_in(ctx, found.survey)),
            state=ctx._("open") if found.open else ctx._("closed"),
            closes=ctx._.date(found.survey.closes_at),
            started=ctx._.number(found.started),
            completed=ctx._.number(found.completed),
        )
    )


def register(router: Router) -> None:
    router.flow(ANSWERING)
    router.flow(OPENING)

    @router.command("survey", N_("Answer a survey"))
    async def cmd_survey(ctx: Context, arg: str) -> None:
        assert ctx.member is not None
        words = arg.split()
        if words[:1] == ["status"]:
            if not ctx.member.role.allows(Role.COORDINATOR):
                ctx.say(ctx._("This command is not available to you."))
            elif len(words) < 2:
                ctx.say(
                    ctx._(
                        "Please add the survey name, for example: {example}",
                        example=f"{command_text(ctx, 'survey')} status pulse-2026-12",
                    )
                )
            else:
                await survey_status(ctx, words[1])
            return
        if ctx.state.flow == FLOW:
            ctx.say(ctx._("Let's continue where you stopped."))
            await ANSWERING.reprompt(ctx)
            return
        if words:
            survey = await service.find_members_survey(ctx.tx, words[0])
            if survey is None:
                ctx.say(ctx._("There is no survey called {slug}.", slug=words[0][:48]))
                return
            await start_member_survey(ctx, survey)
            return
        open_surveys = await service.open_for(ctx.tx, ctx.actor, ctx.now)
        if not open_surveys:
            ctx.say(ctx._("There is no open survey for you right now. Thank you!"))
            return
        ctx.say(
            ctx._("Open surveys:"),
            [
                Button(
                    s.definition.title(shown_in(ctx, s))[:60],
                    SurveyButton(s.id, SurveyAction.START).pack(),
                )
                for s in open_surveys
            ],
        )

    @router.button(SurveyButton)
    async def on_button(ctx: Context, pressed: SurveyButton) -> None:
        survey = await service.find(ctx.tx, pressed.survey_id)
        if survey is None:
            ctx.say(ctx._(NOT_FOUND))
            return
        if pressed.action is SurveyAction.START:
            await start_member_survey(ctx, survey)
        elif pressed.action is SurveyAction.LATER:
            ctx.say(
                ctx._(
                    "All right. You can answer later with {survey}.",
                    survey=command_text(ctx, "survey"),
                )
            )
        elif pressed.action is SurveyAction.RESULTS and await service.want_results(
            ctx.tx, ctx.actor, survey.id
        ):
            ctx.say(ctx._("I will send you the results when the survey closes."))
        else:
            ctx.say(ctx._("All right. Thank you for taking part."))
