"""Pulse surveys: definitions (validated), questions, answers — as the core sees them.

Answers are stored apart from people (storage/surveys.py): this module only knows shapes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.core.callbacks import Callback
from bot.core.campaigns import Audience
from bot.core.i18n import N_
from bot.core.ids import plain

MAX_QUESTIONS = 15
MAX_FREE_TEXT = 280
END = "end"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
KEY = re.compile(r"^[a-z0-9_]{1,16}$")
AGE_BANDS = ("15-19", "20-24", "25-30", "31-34", "35+")  # U-Report's; under 15 not surveyed
GENDERS = ("woman", "man", "another", "undisclosed")
AGE_LABELS = {
    "under15": N_("Under 15"),
    "15-19": N_("15–19"),
    "20-24": N_("20–24"),
    "25-30": N_("25–30"),
    "31-34": N_("31–34"),
    "35+": N_("35 or older"),
}
GENDER_LABELS = {
    "woman": N_("Woman"),
    "man": N_("Man"),
    "another": N_("Another gender"),
    "undisclosed": N_("Prefer not to say"),
}
CROSSTAB = "x:"  # a crosstab's dimension: "x:q1:q2", its values q1's answers
NUMBER_BUCKETS = 5  # a number answer is counted in one of these ranges, never as itself

# The breakdowns a survey's answers can be counted by ("none", the overall count, always is).
# A survey declares its own (`breakdowns: [country, language]`); these are the defaults.
MEMBER_BREAKDOWNS = ("country", "sphere", "language")
PUBLIC_BREAKDOWNS = ("country", "language", "age", "gender")
ALLOWED_BREAKDOWNS = {
    "members": ("country", "sphere", "language", "channel"),
    "public": ("country", "language", "channel", "age", "gender"),
}


class QuestionType(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    SCALE = "scale"  # 1–5 with labelled ends
    YES_NO = "yesno"
    NUMBER = "number"
    TEXT = "text"  # short free text, up to 280 characters


class SurveyMode(StrEnum):
    MEMBERS = "members"
    PUBLIC = "public"


class SurveyError(ValueError):
    """A survey definition that cannot be used; the message names the question."""


@dataclass(frozen=True, slots=True)
class Question:
    """One question. Texts per language: prompt, option labels, scale end labels."""

    key: str
    type: QuestionType
    texts: dict[str, dict[str, Any]]  # locale → {"prompt", "options": [...], "low", "high"}
    options: tuple[str, ...] = ()  # option keys (choice questions)
    required: bool = True
    max_choices: int | None = None  # multiple choice
    minimum: float | None = None  # number
    maximum: float | None = None
    jumps: dict[str, str] = field(default_factory=dict)  # option key → question key or "end"

    def text(self, locale: str, default: str) -> dict[str, Any]:
        return self.texts.get(locale) or self.texts.get(default) or next(iter(self.texts.values()))

    def choices(self) -> tuple[str, ...]:
        """The answer keys a button may carry, for every button-answered type."""
        if self.type is QuestionType.SCALE:
            return ("1", "2", "3", "4", "5")
        if self.type is QuestionType.YES_NO:
            return ("yes", "no")
        return self.options


@dataclass(frozen=True, slots=True)
class SurveyDefinition:
    """What a content file says about a survey."""

    slug: str
    default_locale: str
    texts: dict[str, dict[str, str]]  # locale → {"title", "intro"}
    questions: tuple[Question, ...]
    mode: SurveyMode = SurveyMode.MEMBERS
    audience: Audience = field(default_factory=Audience)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    reminders: int = 1
    keep_partial: bool = False  # no longer used: unfinished answers are dropped at close
    breakdowns: tuple[str, ...] = MEMBER_BREAKDOWNS  # counted by these, besides "none"
    crosstabs: tuple[tuple[str, str], ...] = ()  # (q1, q2): q2's answers counted per q1 answer
    public_results: bool = False  # its results on a public web page once closed (/results/…)

    def locale_for(self, locale: str, second: str | None = None) -> str:
        """The language to show it in: hers when it has a text in it, else her second
        language's, else its default."""
        for candidate in (locale, second):
            if candidate is not None and candidate in self.texts:
                return candidate
        return self.default_locale

    def title(self, locale: str) -> str:
        return (self.texts.get(locale) or self.texts[self.default_locale])["title"]

    def intro(self, locale: str) -> str:
        return (self.texts.get(locale) or self.texts[self.default_locale]).get("intro", "")

    def question(self, key: str) -> Question:
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)

    def position(self, key: str) -> int:
        return [q.key for q in self.questions].index(key) + 1

    def next_key(self, key: str, answer: Any) -> str | None:
        """The question after `key` given its answer (skip logic); None at the end."""
        question = self.question(key)
        target = question.jumps.get(str(answer)) if isinstance(answer, str) else None
        if target == END:
            return None
        if target:
            return target
        keys = [q.key for q in self.questions]
        index = keys.index(key)
        return keys[index + 1] if index + 1 < len(keys) else None


@dataclass(slots=True)
class Survey:
    """A stored survey: its definition and where it stands."""

    id: int
    definition: SurveyDefinition
    opens_at: datetime
    closes_at: datetime
    closed: bool

    @property
    def slug(self) -> str:
        return self.definition.slug

    def open_at(self, now: datetime) -> bool:
        return not self.closed and self.opens_at <= now < self.closes_at


def check_answer(question: Question, raw: str) -> tuple[Any, str | None]:
    """Parse a typed answer: (value, None) or (None, an English reason msgid key)."""
    text = raw.strip()
    if question.type is QuestionType.NUMBER:
        try:
            # "\u200f25" from a right-to-left keyboard is 25; "nan" and "inf" are no numbers
            value = float(plain(text).replace(",", "."))
        except ValueError:
            return None, "not_a_number"
        if not math.isfinite(value):
            return None, "not_a_number"
        if (question.minimum is not None and value < question.minimum) or (
            question.maximum is not None and value > question.maximum
        ):
            return None, "out_of_range"
        return (int(value) if value.is_integer() else value), None
    if question.type is QuestionType.TEXT:
        if not text:
            return None, "empty"
        if len(text) > MAX_FREE_TEXT:
            return None, "too_long"
        return text, None
    return None, "use_buttons"


def parse_definition(data: dict[str, Any], supported: tuple[str, ...]) -> SurveyDefinition:
    """Build and validate a survey from its content-file form; SurveyError names the problem."""
    slug = str(data.get("slug", ""))
    where = f"survey {slug or '?'}"
    if not SLUG.match(slug):
        raise SurveyError(f"{where}: slug must be lower-case letters, digits and hyphens")
    default = str(data.get("default_locale", "en"))
    texts = data.get("text") or {}
    if default not in texts or not texts[default].get("title"):
        raise SurveyError(f"{where}: needs a title in its default language {default!r}")
    _check_locales(where, texts, supported)
    raw_questions = data.get("questions") or []
    if not 1 <= len(raw_questions) <= MAX_QUESTIONS:
        raise SurveyError(f"{where}: needs 1 to {MAX_QUESTIONS} questions")
    questions = tuple(_question(where, q, default, supported) for q in raw_questions)
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise SurveyError(f"{where}: two questions share a key")
    for index, q in enumerate(questions):
        for option, target in q.jumps.items():
            if option not in q.choices():
                raise SurveyError(
                    f"{where}, question {q.key}: jump from unknown answer {option!r}"
                )
            if target == END:
                continue
            if target not in keys:
                raise SurveyError(
                    f"{where}, question {q.key}: jump to missing question {target!r}"
                )
            if keys.index(target) <= index:
                raise SurveyError(
                    f"{where}, question {q.key}: jump back to {target!r} would make a cycle"
                )
    mode = SurveyMode(data.get("mode", "members"))
    declared = data.get("breakdowns")
    breakdowns: tuple[str, ...]
    if declared is None:
        breakdowns = MEMBER_BREAKDOWNS if mode is SurveyMode.MEMBERS else PUBLIC_BREAKDOWNS
    else:
        breakdowns = tuple(dict.fromkeys(str(b) for b in declared if str(b) != "none"))
        allowed = ALLOWED_BREAKDOWNS[mode.value]
        unknown = [b for b in breakdowns if b not in allowed]
        if unknown:
            raise SurveyError(
                f"{where}: cannot count answers by {', '.join(unknown)} "
                f"(a {mode.value} survey can use: {', '.join(allowed)})"
            )
    crosstabs = _crosstabs(where, data.get("crosstabs"), questions)
    public_results = data.get("public_results", False)
    if not isinstance(public_results, bool):
        raise SurveyError(f"{where}: public_results must be true or false")
    return SurveyDefinition(
        slug=slug,
        default_locale=default,
        texts={
            k: {"title": str(v["title"]), "intro": str(v.get("intro", ""))}
            for k, v in texts.items()
        },
        questions=questions,
        mode=mode,
        audience=Audience.from_json(data.get("audience") or {}),
        opens_at=_when(data.get("opens_at")),
        closes_at=_when(data.get("closes_at")),
        reminders=int(data.get("reminders", 1)),
        keep_partial=bool(data.get("keep_partial", False)),
        breakdowns=breakdowns,
        crosstabs=crosstabs,
        public_results=public_results,
    )


def _crosstabs(
    where: str, data: Any, questions: tuple[Question, ...]
) -> tuple[tuple[str, str], ...]:
    """Declared pairs of questions to cross (`crosstabs: [[q1, q2]]`), checked."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise SurveyError(f"{where}: crosstabs must be a list of pairs of question keys")
    kinds = {q.key: q.type for q in questions}
    pairs = []
    for pair in data:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or pair[0] == pair[1]:
            raise SurveyError(f"{where}: each crosstab is a pair of two different question keys")
        first, second = str(pair[0]), str(pair[1])
        for key in (first, second):
            if key not in kinds:
                raise SurveyError(f"{where}: crosstab of unknown question {key!r}")
            if kinds[key] is QuestionType.TEXT:
                raise SurveyError(f"{where}: crosstab of free-text question {key!r}")
        pairs.append((first, second))
    return tuple(dict.fromkeys(pairs))


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise SurveyError(f"time {value!r} needs a time zone offset")
    return moment


def _check_locales(where: str, texts: dict[str, Any], supported: tuple[str, ...]) -> None:
    unknown = sorted(set(texts) - set(supported))
    if unknown:
        raise SurveyError(f"{where}: unsupported language(s) {', '.join(unknown)}")


def _question(
    where: str, data: dict[str, Any], default: str, supported: tuple[str, ...]
) -> Question:
    key = str(data.get("key", ""))
    here = f"{where}, question {key or '?'}"
    if not KEY.match(key):
        raise SurveyError(f"{here}: key must be 1-16 of a-z, 0-9, _")
    try:
        qtype = QuestionType(str(data.get("type")))
    except ValueError as error:
        raise SurveyError(f"{here}: unknown type {data.get('type')!r}") from error
    texts = data.get("text") or {}
    if default not in texts or not texts[default].get("prompt"):
        raise SurveyError(f"{here}: needs a prompt in {default!r}")
    _check_locales(here, texts, supported)
    options = tuple(str(o) for o in data.get("options") or ())
    if qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        if not 2 <= len(options) <= 10 or any(not KEY.match(o) for o in options):
            raise SurveyError(f"{here}: needs 2-10 option keys of a-z, 0-9, _")
        for locale, text in texts.items():
            labels = text.get("options") or []
            if len(labels) != len(options):
                raise SurveyError(
                    f"{here}: {locale} has {len(labels)} option labels, expected {len(options)}"
                )
    if qtype is QuestionType.SCALE:
        for locale, text in texts.items():
            if not text.get("low") or not text.get("high"):
                raise SurveyError(f"{here}: {locale} needs labels for both ends (low, high)")
    minimum = data.get("min")
    maximum = data.get("max")
    if qtype is QuestionType.NUMBER and (minimum is None or maximum is None or minimum > maximum):
        raise SurveyError(f"{here}: a number question needs min ≤ max")
    max_choices = data.get("max_choices")
    if (
        qtype is QuestionType.MULTIPLE
        and max_choices is not None
        and not (1 <= int(max_choices) <= len(options))
    ):
        raise SurveyError(f"{here}: max_choices must be between 1 and the number of options")
    return Question(
        key=key,
        type=qtype,
        texts={k: dict(v) for k, v in texts.items()},
        options=options,
        required=bool(data.get("required", qtype is not QuestionType.TEXT)),
        max_choices=int(max_choices) if max_choices is not None else None,
        minimum=float(minimum) if minimum is not None else None,
        maximum=float(maximum) if maximum is not None else None,
        jumps={str(k): str(v) for k, v in (data.get("jumps") or {}).items()},
    )


def definition_to_json(definition: SurveyDefinition) -> dict[str, Any]:
    """The stored form (the same shape as the content file)."""
    return {
        "slug": definition.slug,
        "default_locale": definition.default_locale,
        "mode": definition.mode.value,
        "text": definition.texts,
        "audience": definition.audience.to_json(),
        "reminders": definition.reminders,
        "keep_partial": definition.keep_partial,
        "breakdowns": list(definition.breakdowns),
        "crosstabs": [list(pair) for pair in definition.crosstabs],
        # Written only when set: a survey stored before the key existed stays unchanged.
        **({"public_results": True} if definition.public_results else {}),
        "questions": [
            {
                "key": q.key,
                "type": q.type.value,
                "text": q.texts,
                "options": list(q.options),
                "required": q.required,
                "max_choices": q.max_choices,
                "min": q.minimum,
                "max": q.maximum,
                "jumps": q.jumps,
            }
            for q in definition.questions
        ],
    }


Groups = dict[str, list[str]]  # dimension → values her answers are counted under


@dataclass(frozen=True, slots=True)
class Dimensions:
    """The coarse facts a respondent's answers may be counted under: never who, never when."""

    locale: str
    channel: str
    country: str | None = None
    spheres: tuple[str, ...] = ()
    age_band: str | None = None
    gender: str | None = None

    def groups(self, breakdowns: tuple[str, ...]) -> Groups:
        """(dimension → values) her answers are to be counted under: "none" always, then each
        declared breakdown ("" when she did not say; one value per sphere of hers)."""
        values: dict[str, list[str]] = {
            "country": [self.country or ""],
            "language": [self.locale],
            "channel": [self.channel],
            "age": [self.age_band or ""],
            "gender": [self.gender or ""],
            "sphere": sorted(set(self.spheres)),
        }
        found: Groups = {"none": [""]}
        for name in breakdowns:
            if values.get(name):
                found[name] = list(values[name])
        return found


def crosstab_groups(definition: SurveyDefinition, answers: dict[str, Any]) -> Groups:
    """The groups a questionnaire is counted in for the declared crosstabs: for (q1, q2),
    dimension "x:q1:q2" with her answer(s) to q1 as values (none if she skipped q1)."""
    found: Groups = {}
    for first, second in definition.crosstabs:
        values = [answer for _key, answer in tallies(definition, {first: answers.get(first)})]
        if values and answers.get(second) is not None:
            found[f"{CROSSTAB}{first}:{second}"] = values
    return found


def number_bucket(question: Question, value: float) -> tuple[int, float]:
    """The range a number answer is counted in: its index and its middle (the same ranges a
    report shows; the number itself is never stored)."""
    low = question.minimum if question.minimum is not None else 0.0
    high = question.maximum if question.maximum is not None else low
    if float(low).is_integer() and float(high).is_integer():
        width = float(max(1, -(-(high - low + 1) // NUMBER_BUCKETS)))
        count = int(-(-(high - low + 1) // width))
    else:
        width = (high - low) / NUMBER_BUCKETS or 1.0
        count = NUMBER_BUCKETS
    index = max(0, min(count - 1, int((value - low) // width)))
    return index, low + (index + 0.5) * width


def tallies(definition: SurveyDefinition, answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(question, answer) pairs to count for one questionnaire: an option, "yes"/"no", a scale
    point, a number's range ("#2"), or "" for a free-text answer (its text is kept apart)."""
    found: list[tuple[str, str]] = []
    for key, value in answers.items():
        if value is None:
            continue  # skipped
        try:
            question = definition.question(key)
        except KeyError:
            continue
        if question.type is QuestionType.MULTIPLE and isinstance(value, list):
            found += [(key, str(option)) for option in dict.fromkeys(value)]
        elif question.type is QuestionType.NUMBER and isinstance(value, int | float):
            found.append((key, f"#{number_bucket(question, float(value))[0]}"))
        elif question.type is QuestionType.TEXT:
            found.append((key, ""))
        elif isinstance(value, bool):
            found.append((key, "yes" if value else "no"))
        else:
            found.append((key, str(value)))
    return found


class SurveyAction(StrEnum):
    """What a survey's stateless button does."""

    START = "s"  # an invitation's Start, or a survey in the /survey list
    LATER = "n"  # an invitation's Not now
    RESULTS = "r"  # after answering: send me the results when it closes
    NO_RESULTS = "x"


@dataclass(frozen=True, slots=True)
class SurveyButton(Callback, prefix="svy", version=1):
    """A survey's stateless button: "svy:1:<survey id>:<action>"."""

    survey_id: int
    action: SurveyAction


@dataclass(frozen=True, slots=True)
class Folded:
    """What one fold did: respondents added to the overall counts, states it changed."""

    overall: int
    states: tuple[tuple[str, str], ...]  # (channel, chat id)


@dataclass(frozen=True, slots=True)
class Remindable:
    """A member who has not finished a survey yet, with what is needed to remind her."""

    member_id: int
    channel: str
    locale: str
    country: str | None
    timezone: str | None
    second_locale: str | None = None  # the survey's title falls back to it


@dataclass(frozen=True, slots=True)
class InProgress:
    """Someone half-way through a survey: her chat, her unsent answers, her member id."""

    channel: str
    chat_id: str
    answers: dict[str, Any]
    member_id: int | None
    locale: str


class Surveys(Protocol):
    """Survey reads and writes (storage.surveys.SurveyRepository)."""

    async def upsert(
        self,
        definition: SurveyDefinition,
        opens_at: datetime,
        closes_at: datetime,
        now: datetime,
    ) -> tuple[int, str]:
        """Create or update by slug: (id, "created" | "updated" | "unchanged")."""

    async def get(self, survey_id: int) -> Survey | None: ...

    async def by_slug(self, slug: str) -> Survey | None: ...

    async def open_for(self, member_id: int, now: datetime) -> list[Survey]:
        """Open members' surveys whose audience includes her and that she has not finished."""

    async def participation(self, survey_id: int, member_id: int) -> str | None: ...

    async def set_participation(self, survey_id: int, member_id: int, status: str) -> None: ...

    async def admits(self, survey: Survey, member_id: int) -> bool:
        """Whether she is in the survey's audience (country, language, sphere, role)."""

    async def hold(
        self,
        channel: str,
        chat_id: str,
        survey_id: int,
        answers: dict[str, Any],
        groups: Groups,
        now: datetime | None = None,
    ) -> None:
        """Set her finished answers aside in her conversation state (not in any survey table)
        until `fold` counts them with at least k others; `groups` says what to count them
        under (Dimensions.groups)."""

    async def fold(self, survey: Survey, k: int, *, final: bool = False) -> Folded:
        """Count waiting answers into the survey's counters, in one transaction that writes no
        participation: each (dimension, value) only with at least k respondents sharing it in
        the batch (2k while open, k kept back at random; k at the final fold, when smaller
        groups are dropped). Folded answers are erased from the states."""

    async def retouch(self, states: tuple[tuple[str, str], ...]) -> None:
        """Rewrite the states a fold changed, unchanged, in a later transaction."""

    async def waiting(self) -> list[int]:
        """Surveys with answers waiting in someone's state."""

    async def set_results_opt_in(self, survey_id: int, member_id: int) -> None: ...

    async def seen_public(self, survey_id: int, digest: str) -> bool: ...

    async def mark_public(self, survey_id: int, digest: str) -> None: ...

    async def counts(self, survey_id: int) -> tuple[int, int]:
        """(started, completed): members who started, and questionnaires finished."""

    async def due_to_close(self, now: datetime) -> list[Survey]: ...

    async def close(self, survey_id: int, now: datetime) -> None:
        """Mark closed, forget every public respondent's hash and the salt they were made with,
        and keep of each participation only that she took part (not whether she finished)."""

    async def remindable(self, survey: Survey, limit: int) -> list[Remindable]:
        """Members in the audience who have not completed it and got fewer than `limit`."""

    async def mark_reminded(self, survey_id: int, member_ids: list[int]) -> None: ...

    async def respondent_salt(self, survey_id: int) -> str | None:
        """The open survey's random salt for public respondents' hashes, made at first use;
        None once the survey is closed (the close destroys it)."""

    async def to_push(self, now: datetime) -> list[Survey]:
        """Open members' surveys whose invitation has not gone out yet."""

    async def mark_pushed(self, survey_id: int, now: datetime) -> None: ...

    async def open_surveys(self, now: datetime) -> list[Survey]: ...

    async def in_progress(self, survey_id: int) -> list[InProgress]:
        """Conversations answering this survey right now (for close)."""

    async def forget_in_progress(self, items: list[InProgress]) -> None:
        """End these conversations (their unfinished answers go with them)."""

    async def audience_sizes(self, audience: Audience, dimension: str) -> dict[str, int]:
        """Members of the audience per value of `dimension` (for checks at load)."""
