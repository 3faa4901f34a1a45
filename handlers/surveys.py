"""Pulse surveys (members) and public country surveys (anyone with the link).

One question per message, buttons wherever possible; back, skip and "stop for now". While she
answers, and once she has finished until they are counted with at least k others' (the survey
job's fold), her answers live only in her conversation state; then they are only counters, with
no link to her (storage/surveys). Unfinished answers are dropped when the survey closes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

from bot.core import keys
from bot.core.campaigns import CampaignButton, CampaignKind, CampaignStatus, NewCampaign
from bot.core.context import Context
from bot.core.i18n import N_, Catalogs, native_language_name
from bot.core.ids import parse_id
from bot.core.messages import Button
from bot.core.models import Role
from bot.core.ports import Store
from bot.core.router import Router
from bot.core.schedule import ONCE
from bot.core.surveys import (
    AGE_LABELS,
    GENDER_LABELS,
    GENDERS,
    MAX_FREE_TEXT,
    Dimensions,
    Folded,
    Question,
    QuestionType,
    Survey,
    SurveyMode,
    check_answer,
    crosstab_groups,
)
from bot.reports.disclosure import min_cell
from bot.services.notices import send_each
from handlers.common import choice, command_text

FLOW = "srv"  # answering (members and public)
PUBLIC = "pub"  # the public survey's opening steps
ACTION = "svy"  # stateless: start / not now / results opt-in

USE_BUTTONS = N_("Please choose one of the buttons.")
PROBLEMS = {
    "not_a_number": N_("Please type a number."),
    "out_of_range": N_("Please type a number from {min} to {max}."),
    "empty": N_("Please type your answer, or skip this question."),
    "too_long": N_("Please keep it under {max} characters."),
    "use_buttons": USE_BUTTONS,
}


def not_for_you(ctx: Context) -> str:
    return ctx._("This survey is for other members. Thank you for your interest.")


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


class SurveyFlow:
    """Answering a survey. State data: sid, q (current key), answers, history, picked, public."""

    name = FLOW

    async def begin(self, ctx: Context, survey: Survey, **extra: Any) -> None:
        first = survey.definition.questions[0].key
        ctx.state.clear()
        ctx.state.go(
            FLOW, "question", sid=survey.id, q=first, answers={}, history=[], picked=[], **extra
        )
        definition = survey.definition
        intro = definition.intro(ctx.locale)
        title = definition.title(ctx.locale)
        ctx.say(f"{title}\n\n{intro}".strip())
        await self.reprompt(ctx)

    async def _survey(self, ctx: Context) -> Survey | None:
        survey = await ctx.tx.surveys.get(int(ctx.state.data["sid"]))
        if survey is None or not survey.open_at(ctx.now):
            ctx.state.clear()
            ctx.say(ctx._("This survey has closed. Thank you for your interest."))
            return None
        return survey

    async def reprompt(self, ctx: Context) -> None:
        if ctx.state.step == "optin":
            self._ask_optin(ctx)
            return
        survey = await self._survey(ctx)
        if survey is None:
            return
        question = survey.definition.question(ctx.state.data["q"])
        self._ask(ctx, survey, question, replace=False)

    def _ask(self, ctx: Context, survey: Survey, question: Question, *, replace: bool) -> None:
        definition = survey.definition
        text = question.text(ctx.locale, definition.default_locale)
        prefix = f"{FLOW}:{survey.id}:{question.key}:"
        lines = [
            ctx._(
                "Question {n} of {total}",
                n=definition.position(question.key),
                total=len(definition.questions),
            ),
            str(text["prompt"]),
        ]
        buttons: list[Button] = []
        columns = 1
        kind = question.type
        if kind is QuestionType.SINGLE:
            buttons = [
                Button(str(label), prefix + key)
                for key, label in zip(question.options, text["options"], strict=True)
            ]
        elif kind is QuestionType.MULTIPLE:
            picked = set(ctx.state.data.get("picked", []))
            buttons = [
                Button(f"{'✅' if key in picked else '▫️'} {label}", prefix + key)
                for key, label in zip(question.options, text["options"], strict=True)
            ]
            buttons.append(Button(ctx._("Done"), prefix + "~done"))
            if question.max_choices:
                lines.append(ctx._("Choose up to {n}.", n=question.max_choices))
        elif kind is QuestionType.SCALE:
            lines.append(ctx._("1 = {low} · 5 = {high}", low=text["low"], high=text["high"]))
            buttons = [Button(str(n), prefix + str(n)) for n in range(1, 6)]
            columns = 5
        elif kind is QuestionType.YES_NO:
            buttons = [Button(ctx._("Yes"), prefix + "yes"), Button(ctx._("No"), prefix + "no")]
            columns = 2
        elif kind is QuestionType.NUMBER:
            lines.append(
                ctx._(
                    "Type a number from {min} to {max}.",
                    min=_fmt(question.minimum),
                    max=_fmt(question.maximum),
                )
            )
        else:
            lines.append(ctx._("Type your answer (up to {max} characters).", max=MAX_FREE_TEXT))
        nav = []
        if ctx.state.data.get("history"):
            nav.append(Button(ctx._("◀ Back"), prefix + "~back"))
        if not question.required:
            nav.append(Button(ctx._("Skip"), prefix + "~skip"))
        nav.append(Button(ctx._("Stop for now"), prefix + "~stop"))
        typed = kind in (QuestionType.NUMBER, QuestionType.TEXT)
        ctx.say("\n".join(lines), [*buttons, *nav], columns=columns, replace=replace, typed=typed)

    async def on_input(self, ctx: Context) -> None:
        if ctx.state.step == "optin":
            await self._optin(ctx)
            return
        survey = await self._survey(ctx)
        if survey is None:
            return
        key = ctx.state.data["q"]
        question = survey.definition.question(key)
        payload = ctx.inbound.payload
        if payload is None:
            await self._typed(ctx, survey, question)
            return
        expected = f"{FLOW}:{survey.id}:{question.key}:"
        if not payload.startswith(expected):
            ctx.say(ctx._("That button is from an earlier question."))
            await self.reprompt(ctx)
            return
        value = payload.removeprefix(expected)
        if value == "~stop":
            ctx.say(
                ctx._(
                    "Paused. Your answers so far are kept until you finish; send {survey} "
                    "to continue.",
                    survey=command_text(ctx, "survey"),
                )
            )
            return
        if value == "~back":
            await self._back(ctx, survey)
            return
        if value == "~skip" and not question.required:
            await self._answered(ctx, survey, question, None)
            return
        if question.type is QuestionType.MULTIPLE:
            await self._multiple(ctx, survey, question, value)
            return
        if value not in question.choices():
            ctx.say(ctx._("Please choose one of the buttons."))
            await self.reprompt(ctx)
            return
        answer: Any = int(value) if question.type is QuestionType.SCALE else value
        await self._answered(ctx, survey, question, answer)

    async def _typed(self, ctx: Context, survey: Survey, question: Question) -> None:
        if ctx.inbound.media is not None or not ctx.inbound.text:
            ctx.say(
                ctx._(USE_BUTTONS)
                if question.choices()
                else ctx._("Please type your answer as a message.")
            )
            await self.reprompt(ctx)
            return
        value, problem = check_answer(question, ctx.inbound.text)
        if problem is not None:
            ctx.say(
                ctx._(
                    PROBLEMS[problem],
                    min=_fmt(question.minimum),
                    max=_fmt(question.maximum) if problem == "out_of_range" else MAX_FREE_TEXT,
                )
            )
            if problem == "use_buttons":
                await self.reprompt(ctx)
            return
        await self._answered(ctx, survey, question, value)

    async def _multiple(
        self, ctx: Context, survey: Survey, question: Question, value: str
    ) -> None:
        picked: list[str] = list(ctx.state.data.get("picked", []))
        if value == "~done":
            if question.required and not picked:
                ctx.say(ctx._("Please choose at least one."))
                return
            await self._answered(ctx, survey, question, picked)
            return
        if value not in question.options:
            await self.reprompt(ctx)
            return
        if value in picked:
            picked.remove(value)
        elif question.max_choices and len(picked) >= question.max_choices:
            ctx.say(ctx._("You can choose up to {n}. Untick one first.", n=question.max_choices))
            return
        else:
            picked.append(value)
        ctx.state.data["picked"] = picked
        self._ask(ctx, survey, question, replace=True)

    async def _back(self, ctx: Context, survey: Survey) -> None:
        history: list[str] = list(ctx.state.data.get("history", []))
        if not history:
            await self.reprompt(ctx)
            return
        previous = history.pop()
        answers = dict(ctx.state.data["answers"])
        old = answers.pop(previous, None)
        ctx.state.go(
            FLOW,
            "question",
            q=previous,
            history=history,
            answers=answers,
            picked=old if isinstance(old, list) else [],
        )
        await self.reprompt(ctx)

    async def _answered(
        self, ctx: Context, survey: Survey, question: Question, answer: Any
    ) -> None:
        answers = dict(ctx.state.data["answers"])
        answers[question.key] = answer
        history = [*ctx.state.data.get("history", []), question.key]
        following = survey.definition.next_key(question.key, answer)
        if following is None:
            await self._finish(ctx, survey, answers)
            return
        ctx.state.go(FLOW, "question", q=following, answers=answers, history=history, picked=[])
        await self.reprompt(ctx)

    async def _finish(self, ctx: Context, survey: Survey, answers: dict[str, Any]) -> None:
        data = ctx.state.data
        public = bool(data.get("public"))
        member = ctx.member
        dims = Dimensions(
            locale=ctx.locale,
            channel=ctx.inbound.channel.value,
            country=data.get("country") if public else (member.country if member else None),
            spheres=() if public or member is None else tuple(member.spheres),
            age_band=data.get("age") if public else None,
            gender=data.get("gender") if public else None,
        )
        # Kept in her state until counted with others' (flush_survey_pools): no survey table is
        # written in the transaction that records her participation.
        await ctx.tx.surveys.hold(
            ctx.inbound.channel.value,
            ctx.inbound.chat_id,
            survey.id,
            answers,
            {
                **dims.groups(survey.definition.breakdowns),
                **crosstab_groups(survey.definition, answers),
            },
            ctx.now,
        )
        if public:
            digest = await public_digest(ctx, survey.id)
            if digest is not None:
                await ctx.tx.surveys.mark_public(survey.id, digest)
            ctx.state.clear()
            ctx.say(ctx._("Thank you! Your answers were saved without your name or number."))
            return
        assert member is not None
        await ctx.tx.surveys.set_participation(survey.id, member.id, "completed")
        ctx.state.clear()
        ctx.state.go(FLOW, "optin", sid=survey.id)
        self._ask_optin(ctx)

    def _ask_optin(self, ctx: Context) -> None:
        sid = ctx.state.data["sid"]
        ctx.say(
            ctx._(
                "Thank you! Your answers were saved without your name. Would you like "
                "the results for your country and the alliance when the survey closes?"
            ),
            [
                Button(ctx._("Yes, send results"), f"{FLOW}:{sid}:optin:yes"),
                Button(ctx._("No, thanks"), f"{FLOW}:{sid}:optin:no"),
            ],
        )

    async def _optin(self, ctx: Context) -> None:
        sid = ctx.state.data["sid"]
        value = choice(ctx, f"{FLOW}:{sid}:optin:")
        if value is None:
            ctx.state.clear()
            return await _fallthrough(ctx)
        ctx.state.clear()
        if value == "yes" and ctx.member is not None:
            await ctx.tx.surveys.set_results_opt_in(int(sid), ctx.member.id)
            ctx.say(ctx._("I will send you the results when the survey closes."))
        else:
            ctx.say(ctx._("All right. Thank you for taking part."))


async def _fallthrough(ctx: Context) -> None:
    ctx.say(ctx._("Thank you for taking part."))


async def public_digest(ctx: Context, survey_id: int) -> str | None:
    """A keyed hash of who she is on her channel: enough to stop a second answer, nothing
    more. Its key derives from WASL_SECRET_KEY (never in the database) and the survey's own
    salt, which the close destroys with the hashes; None once the survey is closed."""
    salt = await ctx.tx.surveys.respondent_salt(survey_id)
    if salt is None:
        return None
    key = keys.derive(ctx.config.secret_key, "public-survey-respondent", salt)
    return keys.keyed_hash(key, f"{ctx.inbound.channel.value}:{ctx.inbound.sender_id}")


class PublicIntro:
    """A public survey's opening: language, consent, optional country, age band, gender."""

    name = PUBLIC

    def __init__(self, answering: SurveyFlow) -> None:
        self.answering = answering

    async def start(self, ctx: Context, slug: str) -> None:
        survey = await ctx.tx.surveys.by_slug(slug)
        if survey is None or survey.definition.mode is not SurveyMode.PUBLIC:
            ctx.say(ctx._("I can't find this survey. Please check the link."))
            return
        if not survey.open_at(ctx.now):
            ctx.say(ctx._("This survey has closed. Thank you for your interest."))
            return
        if ctx.member is not None and not await ctx.tx.surveys.admits(survey, ctx.member.id):
            ctx.say(not_for_you(ctx))
            return
        digest = await public_digest(ctx, survey.id)
        if digest is not None and await ctx.tx.surveys.seen_public(survey.id, digest):
            ctx.say(ctx._("You have already answered this survey. Thank you!"))
            return
        ctx.state.clear()
        ctx.state.go(PUBLIC, "lang", sid=survey.id, locale=ctx.locale)
        await self.reprompt(ctx)

    async def reprompt(self, ctx: Context) -> None:
        step, sid = ctx.state.step, ctx.state.data["sid"]
        p = f"{PUBLIC}:{sid}:{step}:"
        if step == "lang":
            ctx.say(
                ctx._("Which language do you prefer?"),
                [Button(native_language_name(code), p + code) for code in ctx.catalogs.supported],
            )
        elif step == "consent":
            ctx.say(
                ctx._(
                    "This short survey is anonymous: we keep your answers without your "
                    "name or number, and only publish totals for groups of at least {k} "
                    "people. Do you agree to take part?",
                    k=ctx.config.min_cell,
                ),
                [Button(ctx._("Yes, start"), p + "yes"), Button(ctx._("No"), p + "no")],
            )
        elif step == "country":
            buttons = [Button(ctx._.country_name(c), p + c) for c in ctx.config.countries]
            buttons.append(Button(ctx._("Prefer not to say"), p + "none"))
            ctx.say(ctx._("Which country do you live in?"), buttons, columns=2)
        elif step == "age":
            ctx.say(
                ctx._("How old are you?"),
                [Button(ctx._(label), p + key) for key, label in AGE_LABELS.items()],
                columns=2,
            )
        elif step == "gender":
            ctx.say(
                ctx._("You are…"),
                [Button(ctx._(GENDER_LABELS[g]), p + g) for g in GENDERS],
                columns=2,
            )

    async def on_input(self, ctx: Context) -> None:
        step, sid = ctx.state.step, ctx.state.data["sid"]
        value = choice(ctx, f"{PUBLIC}:{sid}:{step}:")
        if value is None:
            ctx.say(ctx._("Please choose one of the buttons."))
            await self.reprompt(ctx)
            return
        if step == "lang" and value in ctx.catalogs.supported:
            ctx.set_locale(value)
            ctx.state.go(PUBLIC, "consent", locale=value)
        elif step == "consent":
            if value != "yes":
                ctx.state.clear()
                ctx.say(ctx._("Understood. Nothing was kept. Thank you."))
                return
            ctx.state.go(PUBLIC, "country")
        elif step == "country" and (value == "none" or value in ctx.config.countries):
            survey = await ctx.tx.surveys.get(int(sid))
            wanted = survey.definition.audience.countries if survey else ()
            if wanted and value not in wanted:
                ctx.state.clear()
                ctx.say(not_for_you(ctx))
                return
            ctx.state.go(PUBLIC, "age", country=None if value == "none" else value)
        elif step == "age" and value in AGE_LABELS:
            if value == "under15":
                ctx.state.clear()
                ctx.say(ctx._("Thank you! This survey is for people aged 15 and older."))
                return
            ctx.state.go(PUBLIC, "gender", age=value)
        elif step == "gender" and value in GENDERS:
            survey = await ctx.tx.surveys.get(int(sid))
            if survey is None or not survey.open_at(ctx.now):
                ctx.state.clear()
                ctx.say(ctx._("This survey has closed. Thank you for your interest."))
                return
            data = ctx.state.data
            await self.answering.begin(
                ctx,
                survey,
                public=True,
                locale=data.get("locale"),
                country=data.get("country"),
                age=data.get("age"),
                gender=value,
            )
            return
        await self.reprompt(ctx)


async def survey_status(ctx: Context, slug: str) -> None:
    """Started and completed counts only: no answers while it is open."""
    survey = await ctx.tx.surveys.by_slug(slug)
    if survey is None:
        ctx.say(ctx._("There is no survey called {slug}.", slug=slug[:48]))
        return
    started, completed = await ctx.tx.surveys.counts(survey.id)
    state = ctx._("open") if survey.open_at(ctx.now) else ctx._("closed")
    ctx.say(
        ctx._(
            "{title} ({state}, closes {closes}): {started} started, {completed} "
            "completed. Results are shown only after it closes.",
            title=survey.definition.title(ctx.locale),
            state=state,
            closes=ctx._.date(survey.closes_at),
            started=ctx._.number(started),
            completed=ctx._.number(completed),
        )
    )


async def start_public(ctx: Context, slug: str) -> None:
    """/start s_<slug>: a public survey for anyone with the link (no membership needed)."""
    await PublicIntro(SurveyFlow()).start(ctx, slug)


def register(router: Router) -> None:
    answering = SurveyFlow()
    intro = PublicIntro(answering)
    router.flow(answering)
    router.flow(intro)

    async def start_member_survey(ctx: Context, survey: Survey) -> None:
        assert ctx.member is not None
        status = await ctx.tx.surveys.participation(survey.id, ctx.member.id)
        if status == "completed":
            ctx.say(ctx._("You have already answered this survey. Thank you!"))
            return
        if not survey.open_at(ctx.now):
            ctx.say(ctx._("This survey has closed. Thank you for your interest."))
            return
        if not await ctx.tx.surveys.admits(survey, ctx.member.id):
            ctx.say(not_for_you(ctx))
            return
        await ctx.tx.surveys.set_participation(survey.id, ctx.member.id, "started")
        await answering.begin(ctx, survey)

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
        if ctx.state.flow == FLOW and ctx.state.step == "question":
            ctx.say(ctx._("Let's continue where you stopped."))
            await answering.reprompt(ctx)
            return
        if words:
            survey = await ctx.tx.surveys.by_slug(words[0])
            if survey is None or survey.definition.mode is not SurveyMode.MEMBERS:
                ctx.say(ctx._("There is no survey called {slug}.", slug=words[0][:48]))
                return
            await start_member_survey(ctx, survey)
            return
        open_surveys = await ctx.tx.surveys.open_for(ctx.member.id, ctx.now)
        if not open_surveys:
            ctx.say(ctx._("There is no open survey for you right now. Thank you!"))
            return
        ctx.say(
            ctx._("Open surveys:"),
            [
                Button(s.definition.title(ctx.locale)[:60], f"{ACTION}:s:{s.id}")
                for s in open_surveys
            ],
        )

    @router.action(ACTION)
    async def on_action(ctx: Context) -> None:
        value = choice(ctx, f"{ACTION}:") or ""
        action, _, raw = value.partition(":")
        survey_id = parse_id(raw)
        survey = await ctx.tx.surveys.get(survey_id) if survey_id is not None else None
        if survey is None:
            ctx.say(ctx._("I can't find this survey. Please check the link."))
            return
        if action == "s":
            await start_member_survey(ctx, survey)
        else:
            ctx.say(
                ctx._(
                    "All right. You can answer later with {survey}.",
                    survey=command_text(ctx, "survey"),
                )
            )


QUIET_START, QUIET_END = 21, 8  # no reminders between 21:00 and 08:00 her time


def _zone(timezone: str | None, country: str | None) -> ZoneInfo:
    if timezone:
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    zones = get_global("territory_zones").get(country or "", [])
    return ZoneInfo(str(zones[0])) if zones else ZoneInfo("UTC")


def quiet(now: datetime, timezone: str | None, country: str | None) -> bool:
    """True during her quiet hours (21:00–08:00 where she is, as far as we know)."""
    hour = now.astimezone(_zone(timezone, country)).hour
    return hour >= QUIET_START or hour < QUIET_END


def reminders_due(survey: Survey, now: datetime) -> int:
    """How many reminders should have gone out by now: evenly spread over the open window."""
    wanted = survey.definition.reminders
    span = (survey.closes_at - survey.opens_at).total_seconds()
    if wanted <= 0 or span <= 0:
        return 0
    elapsed = (now - survey.opens_at).total_seconds()
    return max(0, min(wanted, int(elapsed / span * (wanted + 1))))


async def push_open_surveys(store: Store, catalogs: Catalogs, now: datetime) -> int:
    """Invite each newly open survey's audience through the outbox: start / not now."""
    pushed = 0
    async with store.transaction() as tx:
        for survey in await tx.surveys.to_push(now):
            texts, start, later = {}, {}, {}
            for locale in catalogs.supported:
                _ = catalogs.get(locale)
                texts[locale] = _(
                    "A 2-minute survey from the alliance: “{title}”. Your answers "
                    "are stored without your name.",
                    title=survey.definition.title(locale),
                )
                start[locale], later[locale] = _("Start"), _("Not now")
            campaign = await tx.campaigns.create(
                NewCampaign(
                    kind=CampaignKind.SURVEY,
                    status=CampaignStatus.SCHEDULED,
                    title=f"survey {survey.slug}",
                    texts=texts,
                    default_locale=survey.definition.default_locale,
                    audience=survey.definition.audience,
                    schedule="now",
                    buttons=[
                        CampaignButton(start, f"{ACTION}:s:{survey.id}"),
                        CampaignButton(later, f"{ACTION}:n:{survey.id}"),
                    ],
                ),
                now,
            )
            await tx.campaigns.fire(campaign, ONCE, now)
            await tx.surveys.mark_pushed(survey.id, now)
            pushed += 1
    return pushed


async def send_reminders(store: Store, catalogs: Catalogs, now: datetime) -> int:
    """Remind members who have not finished, at most the survey's number of times, never
    during their quiet hours."""
    sent = 0
    async with store.transaction() as tx:
        for survey in await tx.surveys.open_surveys(now):
            due = reminders_due(survey, now)
            if due == 0 or survey.definition.mode is not SurveyMode.MEMBERS:
                continue
            people = [
                p
                for p in await tx.surveys.remindable(survey, due)
                if not quiet(now, p.timezone, p.country)
            ]
            if not people:
                continue
            messages = []
            for person in people:
                _ = catalogs.get(person.locale)
                messages.append(
                    (
                        person.member_id,
                        person.channel,
                        _(
                            "A reminder: the survey “{title}” closes on {date}. It takes 2 "
                            "minutes: send {survey} to answer.",
                            title=survey.definition.title(person.locale),
                            date=_.date(survey.closes_at),
                            survey="/survey" if person.channel != "whatsapp" else "survey",
                        ),
                    )
                )
            await send_each(tx, CampaignKind.REMINDER, f"reminder {survey.slug}", messages, now)
            await tx.surveys.mark_reminded(survey.id, [p.member_id for p in people])
            sent += len(messages)
    return sent


async def flush_survey_pools(store: Store, k: int) -> int:
    """Count finished questionnaires waiting in their authors' states (the fold).

    One transaction per survey, writing counters and those states only, never a participation.
    While a survey is open, a group (everyone, or one value of a declared breakdown) is counted
    once 2k of its respondents wait, k of them chosen at random kept back for the next batch, so
    every batch of every group has at least k. A survey that has closed is folded one last time
    (`final`): groups of at least k are counted, smaller ones dropped. Returns how many
    questionnaires went into the overall counts.
    """
    folded = 0
    async with store.transaction() as tx:
        waiting = await tx.surveys.waiting()
    for survey_id in waiting:
        async with store.transaction() as tx:
            survey = await tx.surveys.get(survey_id)
            if survey is None:
                continue
            done = await tx.surveys.fold(survey, k, final=survey.closed)
        await _retouch(store, done)
        folded += done.overall
    return folded


async def _retouch(store: Store, done: Folded) -> None:
    """The fold's states, rewritten in a transaction of their own (see Surveys.retouch)."""
    if done.states:
        async with store.transaction() as tx:
            await tx.surveys.retouch(done.states)


async def close_due_surveys(store: Store, now: datetime, k: int | None = None) -> list[int]:
    """Close surveys past their time: end every conversation still answering one (unfinished
    answers are dropped), forget public respondents' hashes, keep of each participation only
    that she took part; then, in a transaction of its own, count what waits (the final fold:
    groups of fewer than k are left out, counted only in the overall results)."""
    k = min_cell() if k is None else k
    closed = []
    async with store.transaction() as tx:
        for survey in await tx.surveys.due_to_close(now):
            await tx.surveys.forget_in_progress(await tx.surveys.in_progress(survey.id))
            await tx.surveys.close(survey.id, now)
            closed.append(survey.id)
    for survey_id in closed:
        async with store.transaction() as tx:
            closing = await tx.surveys.get(survey_id)
            done = await tx.surveys.fold(closing, k, final=True) if closing else Folded(0, ())
        await _retouch(store, done)
    return closed
