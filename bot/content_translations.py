"""Translations of tips and surveys: one file per language beside the content files.

A content file (`content/tips.yaml`, `content/surveys.yaml`) holds each item in its default
language, and may hold other languages inline (`text: {en, ar, fr}`). More languages come from
`translations/LL.yaml` in the same folder, one file per language, keyed by slug:

    locale: ur
    tips:
      <slug>: {title: "...", body: "..."}
    surveys:
      <slug>:
        title: "..."
        intro: "..."
        questions:
          <key>: {prompt: "...", options: ["...", ...], low: "...", high: "..."}
    sources:                      # written by `wasl content stamp`, not by hand
      tips: {<slug>: 1a2b3c4d}
      surveys: {<slug>: 5e6f7a8b}

`sources` records, per item, a digest of the default-language text the translation was made
from (`digest`). When that text changes, the digest no longer matches and the translation is
*outdated* (`wasl content status`) until someone updates it and stamps it again.

Everything here works on files and on the core's definitions; nothing touches the database.
The languages accepted are passed in (`supported`), so the same code serves three or thirteen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.surveys import QuestionType, SurveyDefinition
from bot.core.tips import MAX_BODY, MAX_TITLE, TipDefinition, TipText

TIPS, SURVEYS = "tips", "surveys"
_TIP_FIELDS = frozenset({"title", "body"})
_SURVEY_FIELDS = frozenset({"title", "intro", "questions"})
SECTIONS = (TIPS, SURVEYS)
TOP_KEYS = ("locale", TIPS, SURVEYS, "sources")
SOURCES = "sources"
DIGEST_LENGTH = 8  # hex digits: enough to notice an edit, short enough to read
FOLDER = "translations"  # beside the content file
STAMP_COMMENT = (
    "# Written by `wasl content stamp`: a digest of the source text each translation above was",
    "# made from. When the source changes, `wasl content status` shows the translation outdated.",
)

Key = tuple[str, str]  # (section, slug)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a translation file, at a line."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class TranslationError(ValueError):
    """Translation files that cannot be used; `problems` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the translations")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SurveyTexts:
    """One survey in one language: title, intro, and each question's texts (the same fields
    as the source question's: prompt, options, low, high)."""

    title: str
    intro: str
    questions: Mapping[str, Mapping[str, Any]]


@dataclass
class Translation:
    """One language's file: its texts by slug, its stamps, and where each item is."""

    path: Path
    locale: str
    tips: dict[str, TipText] = field(default_factory=dict)
    surveys: dict[str, SurveyTexts] = field(default_factory=dict)
    stamps: dict[Key, str] = field(default_factory=dict)
    lines: dict[Key, int] = field(default_factory=dict)

    def has(self, key: Key) -> bool:
        section, slug = key
        return slug in (self.tips if section == TIPS else self.surveys)


@dataclass(frozen=True, slots=True)
class Item:
    """A source item as translations see it: which languages it has inline, and the digest
    of its default-language text."""

    section: str
    slug: str
    default_locale: str
    inline: frozenset[str]
    digest: str

    @property
    def key(self) -> Key:
        return (self.section, self.slug)


# -- digests ----------------------------------------------------------------------------------


def _digest(value: Any) -> str:
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def tip_digest(tip: TipDefinition) -> str:
    """A digest of the tip's title and body in its default language."""
    text = tip.texts[tip.default_locale]
    return _digest({"title": text.title, "body": text.body})


QUESTION_FIELDS = ("prompt", "options", "low", "high")


def survey_digest(survey: SurveyDefinition) -> str:
    """A digest of every text of the survey in its default language: title, intro, and each
    question's prompt, option labels and scale ends, in order."""
    default = survey.default_locale
    texts = survey.texts[default]
    return _digest(
        {
            "title": texts.get("title", ""),
            "intro": texts.get("intro", ""),
            "questions": [
                [q.key, {f: q.texts.get(default, {}).get(f) for f in QUESTION_FIELDS}]
                for q in survey.questions
            ],
        }
    )


def items(tips: Iterable[TipDefinition], surveys: Iterable[SurveyDefinition]) -> list[Item]:
    """The translatable items of parsed content files."""
    found = [Item(TIPS, t.slug, t.default_locale, frozenset(t.texts), tip_digest(t)) for t in tips]
    found += [
        Item(SURVEYS, s.slug, s.default_locale, frozenset(s.texts), survey_digest(s))
        for s in surveys
    ]
    return found


# -- reading a translation file -----------------------------------------------------------------


def _line(node: Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _child(node: Node | None, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == key:
                found: Node = value_node
                return found
    return None


def _key_nodes(node: Node | None) -> list[tuple[str, Node, Node]]:
    if not isinstance(node, MappingNode):
        return []
    return [(str(k.value), k, v) for k, v in node.value if isinstance(k, ScalarNode)]


def repeated_keys(node: Node | None) -> list[tuple[Node, str]]:
    """Keys given twice in one mapping, anywhere in a document, with their nodes (YAML itself
    would silently keep the last): for the content files and their translations alike."""
    found: list[tuple[Node, str]] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                if isinstance(key_node, ScalarNode):
                    if key_node.value in seen:
                        found.append((key_node, str(key_node.value)))
                    seen.add(key_node.value)
                stack.append(value_node)
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
    return found


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# libyaml's parser where PyYAML has it (its wheels do): content files are read several times
# faster, for `wasl content load`, `status` and `stamp` alike.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> tuple[Node | None, Any]:
    """A YAML document read once: its nodes (for the line of each problem) and its data."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def read_translation(path: Path, text: str, supported: Sequence[str]) -> Translation:
    """Parse one translation file (its shape only: `check` compares it with the source)."""
    try:
        root, data = parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise TranslationError([Problem(path, line, f"not valid YAML: {error}")]) from None
    if not isinstance(data, dict) or not isinstance(root, MappingNode):
        raise TranslationError([Problem(path, _line(root), "expected a mapping with `locale:`")])
    problems = [
        Problem(path, _line(at), f"{key!r} is given twice") for at, key in repeated_keys(root)
    ]
    if problems:
        raise TranslationError(sorted(problems, key=lambda p: p.line))
    locale = data.get("locale")
    if locale not in supported:
        problems.append(
            Problem(
                path,
                _line(_child(root, "locale") or root),
                f"locale {locale!r} is not a supported language ({', '.join(supported)})",
            )
        )
    elif path.stem != locale:
        problems.append(
            Problem(
                path,
                _line(_child(root, "locale")),
                f"locale {locale!r} in a file named {path.name}: name it {locale}.yaml",
            )
        )
    found = Translation(path, str(locale))
    for key, key_node, value_node in _key_nodes(root):
        if key not in TOP_KEYS:
            known = ", ".join(TOP_KEYS)
            problems.append(
                Problem(path, _line(key_node), f"unknown section {key!r} (known: {known})")
            )
        elif key == TIPS:
            _read_tips(found, data[key], value_node, problems)
        elif key == SURVEYS:
            _read_surveys(found, data[key], value_node, problems)
        elif key == SOURCES:
            _read_stamps(found, data[key], value_node, problems)
    if problems:
        raise TranslationError(sorted(problems, key=lambda p: p.line))
    return found


def _items(
    found: Translation,
    section: str,
    data: Any,
    node: Node,
    problems: list[Problem],
    *,
    fields: frozenset[str],
    needs: str,
) -> Iterator[tuple[str, dict[str, Any], Node, str]]:
    """Each item of a `tips:` or `surveys:` section that is a mapping: its slug, fields, node
    and how problems name it. Where it sits is kept; a section or item of the wrong shape and
    fields that are not `fields` are problems."""
    path, kind = found.path, section.removesuffix("s")
    if not isinstance(data, dict):
        shape = f"`{section}` must map each {kind}'s slug to its texts"
        problems.append(Problem(path, _line(node), shape))
        return
    for slug, key_node, value_node in _key_nodes(node):
        value = data[slug]
        where = f'{kind} "{slug}"'
        found.lines[(section, slug)] = _line(key_node)
        if not isinstance(value, dict):
            problems.append(Problem(path, _line(value_node), f"{where}: needs {needs}"))
            continue
        unknown = sorted(set(value) - fields)
        if unknown:
            problems.append(
                Problem(path, _line(value_node), f"{where}: unknown field(s) {', '.join(unknown)}")
            )
        yield slug, value, value_node, where


def _read_tips(found: Translation, data: Any, node: Node, problems: list[Problem]) -> None:
    path = found.path
    for slug, value, value_node, where in _items(
        found, TIPS, data, node, problems, fields=_TIP_FIELDS, needs="a title and a body"
    ):
        texts: dict[str, str] = {}
        for name, limit in (("title", MAX_TITLE), ("body", MAX_BODY)):
            text = _text(value.get(name))
            at = _line(_child(value_node, name) or value_node)
            if text is None:
                problems.append(Problem(path, at, f"{where}: no {name}"))
            elif len(text) > limit:
                size = len(text)
                problems.append(
                    Problem(path, at, f"{where}: {name} is {size} characters; at most {limit}")
                )
            else:
                texts[name] = text
        if len(texts) == 2:
            found.tips[str(slug)] = TipText(title=texts["title"], body=texts["body"])


def _read_surveys(found: Translation, data: Any, node: Node, problems: list[Problem]) -> None:
    path = found.path
    for slug, value, value_node, where in _items(
        found, SURVEYS, data, node, problems, fields=_SURVEY_FIELDS, needs="a title"
    ):
        title = _text(value.get("title"))
        if title is None:
            problems.append(Problem(path, _line(value_node), f"{where}: no title"))
        intro = value.get("intro", "")
        if not isinstance(intro, str):
            problems.append(
                Problem(path, _line(_child(value_node, "intro")), f"{where}: intro must be text")
            )
            intro = ""
        questions = value.get("questions") or {}
        questions_node = _child(value_node, "questions")
        if not isinstance(questions, dict):
            problems.append(
                Problem(path, _line(questions_node), f"{where}: questions must map keys to texts")
            )
            continue
        for key, _q_key_node, q_node in _key_nodes(questions_node):
            if not isinstance(questions[key], dict):
                problems.append(
                    Problem(path, _line(q_node), f"{where}, question {key}: needs a prompt")
                )
        if title is not None:
            found.surveys[str(slug)] = SurveyTexts(
                title=title,
                intro=intro.strip(),
                questions={str(k): dict(v) for k, v in questions.items() if isinstance(v, dict)},
            )


def _read_stamps(found: Translation, data: Any, node: Node, problems: list[Problem]) -> None:
    if not isinstance(data, dict):
        problems.append(Problem(found.path, _line(node), "`sources` must map sections to slugs"))
        return
    for section, value in data.items():
        if section not in SECTIONS or not isinstance(value, dict):
            problems.append(
                Problem(
                    found.path,
                    _line(_child(node, str(section))),
                    f"`sources`: {section!r} is not a section of slugs (rewrite it with "
                    "`wasl content stamp`)",
                )
            )
            continue
        for slug, digest in value.items():
            found.stamps[(str(section), str(slug))] = str(digest)


def folder_beside(content_file: Path) -> Path:
    """Where a content file's translations are: `translations/` in its folder."""
    return content_file.parent / FOLDER


def read_folder(folder: Path, supported: Sequence[str]) -> list[Translation]:
    """Every `LL.yaml` in `folder` (none when it does not exist), each parsed; the problems of
    all files at once."""
    if not folder.is_dir():
        return []
    found, problems = [], []
    for path in sorted(folder.glob("*.yaml")):
        try:
            found.append(read_translation(path, path.read_text(encoding="utf-8"), supported))
        except TranslationError as error:
            problems += error.problems
        except OSError as error:
            problems.append(Problem(path, 1, f"cannot read: {error.strerror or error}"))
    if problems:
        raise TranslationError(problems)
    return found


# -- checking against the source and overlaying -------------------------------------------------


@dataclass
class Checked:
    """What comparing translations with the source found: problems stop a load; warnings (an
    item the source does not have) and outdated translations do not."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)


def check(
    translations: Sequence[Translation],
    tips: Sequence[TipDefinition],
    surveys: Sequence[SurveyDefinition],
    sections: Iterable[str] = SECTIONS,
) -> Checked:
    """Compare each translation with the source items of `sections` (the sections the content
    files at hand hold): shapes must match, a language must not be given both inline and in a
    file; unknown slugs and outdated translations are warned about."""
    checked = Checked()
    sections = set(sections)
    by_tip = {t.slug: t for t in tips}
    by_survey = {s.slug: s for s in surveys}
    digests = {i.key: i.digest for i in items(tips, surveys)}
    for translation in translations:
        path, locale = translation.path, translation.locale

        def problem(key: Key, message: str, found: Translation = translation) -> None:
            checked.problems.append(Problem(found.path, found.lines.get(key, 1), message))

        for section, given, known in (
            (TIPS, translation.tips, by_tip),
            (SURVEYS, translation.surveys, by_survey),
        ):
            if section not in sections:
                continue
            for slug in given:
                key = (section, slug)
                source = known.get(slug)
                kind = section[:-1]
                if source is None:
                    checked.warnings.append(
                        f"{path}:{translation.lines.get(key, 1)}: {kind} {slug!r} is not in the "
                        "content; its translation is not used"
                    )
                    continue
                if locale in source.texts:
                    problem(
                        key,
                        f'{kind} "{slug}": {locale} is also given inline in the content file; '
                        "keep one",
                    )
                    continue
                stamp = translation.stamps.get(key)
                if stamp is not None and stamp != digests[key]:
                    checked.outdated.append(
                        f"{path}: {kind} {slug!r} was translated from an older "
                        f"{source.default_locale} text (outdated)"
                    )
        for slug, texts in translation.surveys.items():
            if SURVEYS in sections and slug in by_survey and locale not in by_survey[slug].texts:
                for message in _survey_shape(by_survey[slug], texts):
                    problem((SURVEYS, slug), f'survey "{slug}" [{locale}]: {message}')
    checked.problems.sort(key=lambda p: (str(p.path), p.line))
    return checked


def _survey_shape(source: SurveyDefinition, texts: SurveyTexts) -> list[str]:
    """How a survey's translation differs in shape from its source (the messages)."""
    found = []
    default = source.texts[source.default_locale]
    if default.get("intro") and not texts.intro:
        found.append("no intro")
    if texts.intro and not default.get("intro"):
        found.append("an intro, but the source has none")
    keys = [q.key for q in source.questions]
    for key in texts.questions:
        if key not in keys:
            found.append(f"unknown question {key!r} (the survey has: {', '.join(keys)})")
    for question in source.questions:
        given = texts.questions.get(question.key)
        if given is None:
            found.append(f"question {question.key} is not translated")
            continue
        wanted = {"prompt"}
        if question.type in (QuestionType.SINGLE, QuestionType.MULTIPLE):
            wanted.add("options")
        if question.type is QuestionType.SCALE:
            wanted |= {"low", "high"}
        extra = sorted(set(given) - wanted)
        if extra:
            found.append(f"question {question.key}: unknown field(s) {', '.join(extra)}")
        for name in sorted(wanted - {"options"}):
            if _text(given.get(name)) is None:
                found.append(f"question {question.key}: no {name}")
        if "options" in wanted:
            labels = given.get("options")
            if (
                not isinstance(labels, list)
                or len(labels) != len(question.options)
                or any(_text(label) is None for label in labels)
            ):
                found.append(
                    f"question {question.key}: needs {len(question.options)} option labels, "
                    "in the source's order"
                )
    return found


def overlay_tips(
    tips: Sequence[TipDefinition], translations: Sequence[Translation]
) -> list[TipDefinition]:
    """The tips with every translated language added to their texts (after `check`)."""
    overlaid = []
    for tip in tips:
        texts = dict(tip.texts)
        for translation in translations:
            text = translation.tips.get(tip.slug)
            if text is not None and translation.locale not in texts:
                texts[translation.locale] = text
        overlaid.append(replace(tip, texts=dict(sorted(texts.items()))))
    return overlaid


def overlay_survey(
    survey: SurveyDefinition, translations: Sequence[Translation]
) -> SurveyDefinition:
    """The survey with every translated language added to its texts and its questions' (after
    `check`)."""
    texts = {locale: dict(value) for locale, value in survey.texts.items()}
    questions = {q.key: {loc: dict(v) for loc, v in q.texts.items()} for q in survey.questions}
    for translation in translations:
        given = translation.surveys.get(survey.slug)
        if given is None or translation.locale in texts:
            continue
        texts[translation.locale] = {"title": given.title, "intro": given.intro}
        for key, question_texts in given.questions.items():
            if key in questions:
                questions[key][translation.locale] = {
                    name: ([str(o).strip() for o in value] if name == "options" else str(value))
                    for name, value in question_texts.items()
                    if name in QUESTION_FIELDS
                }
    return replace(
        survey,
        texts=texts,
        questions=tuple(replace(q, texts=questions[q.key]) for q in survey.questions),
    )


# -- status -----------------------------------------------------------------------------------


class State(StrEnum):
    """Where one item stands in one language."""

    SOURCE = "="  # its default language: the text the others are made from
    TRANSLATED = "✓"  # inline in the content file, or stamped from the current source
    OUTDATED = "!"  # stamped from a source text that has changed since
    UNSTAMPED = "?"  # translated, but not stamped: whether it is current is unknown
    MISSING = "✗"


LEGEND = "= source  ✓ translated  ! outdated (source changed)  ? not stamped  ✗ missing"


def states(
    found: Sequence[Item], translations: Sequence[Translation], supported: Sequence[str]
) -> dict[Key, dict[str, State]]:
    """Each item's state in each supported language."""
    by_locale = {t.locale: t for t in translations}
    table: dict[Key, dict[str, State]] = {}
    for item in found:
        row: dict[str, State] = {}
        for locale in supported:
            translation = by_locale.get(locale)
            if locale == item.default_locale:
                row[locale] = State.SOURCE
            elif locale in item.inline:
                row[locale] = State.TRANSLATED  # edited together with the source
            elif translation is None or not translation.has(item.key):
                row[locale] = State.MISSING
            elif (stamp := translation.stamps.get(item.key)) is None:
                row[locale] = State.UNSTAMPED
            else:
                row[locale] = State.TRANSLATED if stamp == item.digest else State.OUTDATED
        table[item.key] = row
    return table


NAME_WIDTH = 44  # the item column, at most (a slug is cut with "…" beyond)


def render_status(table: Mapping[Key, Mapping[str, State]], supported: Sequence[str]) -> str:
    """Items down, languages across (short codes), one mark per cell; then how many of each
    language are missing or outdated, and the legend."""
    names = {key: f"{key[0][:-1]} {key[1]}" for key in table}
    width = min(NAME_WIDTH, max([len(n) for n in names.values()] + [len("outdated")]))
    columns = [max(2, len(code)) for code in supported]

    def row(name: str, cells: Sequence[str]) -> str:
        cut = name if len(name) <= width else name[: width - 1] + "…"
        return " ".join(
            [f"{cut:<{width}}", *(f"{c:>{w}}" for c, w in zip(cells, columns, strict=True))]
        )

    lines = [row("", list(supported))]
    for key, cells in table.items():
        lines.append(row(names[key], [cells[code].value for code in supported]))
    for label, state in (("missing", State.MISSING), ("outdated", State.OUTDATED)):
        counts = [sum(cells[code] is state for cells in table.values()) for code in supported]
        lines.append(row(label, [str(n) if n else "·" for n in counts]))
    totals = {s: sum(c is s for cells in table.values() for c in cells.values()) for s in State}
    lines.append(
        f"{len(table)} items × {len(supported)} languages: {totals[State.MISSING]} missing, "
        f"{totals[State.OUTDATED]} outdated, {totals[State.UNSTAMPED]} not stamped"
    )
    lines.append(LEGEND)
    return "\n".join(line.rstrip() for line in lines)


# -- stamping ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamped:
    """What stamping one file did."""

    stamps: dict[Key, str]
    stamped: int  # items given the current source's digest
    left_outdated: int  # stamped from an older source and not named: left as they were


def restamp(
    translation: Translation,
    found: Sequence[Item],
    sections: Iterable[str],
    only: Iterable[str] = (),
) -> Stamped:
    """New stamps for one file: each item of `sections` it translates that has no stamp yet is
    stamped with the current source's digest; an item named in `only` is stamped again (its
    translation was brought up to date). Stamps of items no longer translated or no longer in
    the source go; stamps of other sections stay."""
    sections, named = set(sections), set(only)
    current = {i.key: i for i in found if i.section in sections}
    stamps = {k: v for k, v in translation.stamps.items() if k[0] not in sections}
    stamped = left = 0
    for key, item in current.items():
        if not translation.has(key) or translation.locale in item.inline:
            continue
        before = translation.stamps.get(key)
        if before is None or item.slug in named:
            stamps[key] = item.digest
            stamped += before != item.digest
        else:
            stamps[key] = before
            left += before != item.digest
    return Stamped(dict(sorted(stamps.items())), stamped, left)


def write_stamps(text: str, stamps: Mapping[Key, str]) -> str:
    """The file's text with its `sources:` section (the last one, with its comment) replaced
    by `stamps`; everything above it is kept as written, comments included."""
    root = yaml.compose(text, Loader=_LOADER)
    keys = _key_nodes(root)
    lines = text.splitlines()
    cut = len(lines)
    for index, (key, key_node, _value) in enumerate(keys):
        if key == SOURCES:
            if index != len(keys) - 1:
                raise ValueError("`sources` must be the last section: it is rewritten")
            cut = key_node.start_mark.line
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1] in STAMP_COMMENT):
        kept.pop()
    if not stamps:
        return "\n".join(kept) + "\n"
    document: dict[str, dict[str, str]] = {}
    for (section, slug), digest in sorted(stamps.items()):
        document.setdefault(section, {})[slug] = digest
    block = yaml.safe_dump(
        {SOURCES: document}, allow_unicode=True, sort_keys=False, default_flow_style=False
    )
    return "\n".join([*kept, "", *STAMP_COMMENT, block.rstrip("\n")]) + "\n"
