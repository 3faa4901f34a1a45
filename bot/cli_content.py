"""`wasl content load|export|status|stamp`: tips and surveys as YAML files.

A content file is a mapping whose top-level keys are sections (`tips:`, `surveys:`), plus
`default_locale` shared by every section. Each section has a parser that validates its part of
the file and names the line of every problem, and a writer. Nothing is written unless the whole
file is valid, and loading the same file twice changes nothing.

Translations into more languages live beside the content file, in `translations/LL.yaml`
(bot/content_translations.py): `load` overlays them on the file's items, `status` prints
which item is translated, missing or outdated in which language, and `stamp` records the
source text each translation was made from. `status` and `stamp` read files only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import content_translations as translations
from bot.core.actors import CLI
from bot.core.clock import SystemClock
from bot.core.i18n import SUPPORTED_LOCALES
from bot.core.ports import Store, Transaction
from bot.core.spheres import SPHERE_BY_CODE
from bot.core.surveys import SurveyDefinition, SurveyError
from bot.core.surveys import parse_definition as parse_survey
from bot.core.tips import MAX_BODY, MAX_TITLE, SLUG, TipDefinition, TipText
from bot.services import tips as tip_service

if TYPE_CHECKING:
    from bot.app import App

EXIT_INVALID = 2
MAX_SOURCE = 300  # the tip.source column
TIP_KEYS = frozenset({"slug", "spheres", "source", "published", "default_locale", "text"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a content file, at a line."""

    line: int
    message: str


@dataclass
class Content:
    """A parsed, validated content file: what each section will write."""

    default_locale: str = "en"
    tips: list[TipDefinition] = field(default_factory=list)
    surveys: list[tuple[SurveyDefinition, datetime | None, datetime | None]] = field(
        default_factory=list
    )
    problems: list[Problem] = field(default_factory=list)

    def problem(self, node: Node | None, message: str) -> None:
        self.problems.append(Problem(_line(node), message))


class ContentError(ValueError):
    """A content file that cannot be loaded; `problems` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content file")
        self.problems = problems


# -- parsing and validation -------------------------------------------------------------------


def _line(node: Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _entry(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    """The (key node, value node) pair for `key` in a YAML mapping node."""
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _value_node(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        found = _entry(node, key)
        return found[1] if found else None
    return None


def _key_node(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        found = _entry(node, key)
        return found[0] if found else None
    return None


def parse_content(text: str) -> Content:
    """Validate a content file; raise ContentError naming every problem's line."""
    content = Content()
    try:
        root, data = translations.parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ContentError([Problem(line, f"not valid YAML: {error}")]) from None
    if root is None or not isinstance(data, dict) or not isinstance(root, MappingNode):
        raise ContentError([Problem(_line(root), "expected a mapping with a `tips:` list")])
    duplicates = [
        Problem(_line(at), f"{key!r} is given twice")
        for at, key in translations.repeated_keys(root)
    ]
    if duplicates:
        raise ContentError(sorted(duplicates, key=lambda p: p.line))
    default = data.get("default_locale", "en")
    if default not in SUPPORTED_LOCALES:
        content.problem(
            _value_node(root, "default_locale"),
            f"default_locale {default!r} is not a supported language "
            f"({', '.join(SUPPORTED_LOCALES)})",
        )
    else:
        content.default_locale = default
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if key == "default_locale":
            continue
        section = SECTIONS.get(key or "")
        if section is None:
            known = ", ".join(["default_locale", *SECTIONS])
            content.problem(key_node, f"unknown section {key!r} (known: {known})")
            continue
        section.parse(content, data[key], value_node)
    if not any(key in data for key in SECTIONS):
        content.problem(root, f"nothing to load: no {' or '.join(SECTIONS)} section")
    if content.problems:
        raise ContentError(sorted(content.problems, key=lambda p: p.line))
    return content


def _parse_tips(content: Content, data: Any, node: Node) -> None:
    if not isinstance(data, list) or not isinstance(node, SequenceNode):
        content.problem(node, "`tips` must be a list")
        return
    first_line: dict[str, int] = {}
    for item, item_node in zip(data, node.value, strict=True):
        definition = _parse_tip(content, item, item_node)
        if definition is None:
            continue
        if definition.slug in first_line:
            content.problem(
                _value_node(item_node, "slug"),
                f'tip "{definition.slug}": duplicate slug, '
                f"first used on line {first_line[definition.slug]}",
            )
            continue
        first_line[definition.slug] = _line(item_node)
        content.tips.append(definition)


def _parse_tip(content: Content, item: Any, node: Node) -> TipDefinition | None:
    """One tip, or None after recording its problems."""
    if not isinstance(item, dict) or not isinstance(node, MappingNode):
        content.problem(node, "each tip must be a mapping with slug, spheres and text")
        return None
    before = len(content.problems)
    slug = item.get("slug")
    name = f'tip "{slug}"' if isinstance(slug, str) and slug else f"tip on line {_line(node)}"

    def problem(key: str | None, message: str) -> None:
        where = _key_node(node, key) if key else None
        content.problem(where or node, f"{name}: {message}")

    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value not in TIP_KEYS:
            content.problem(
                key_node,
                f"{name}: unknown field {key_node.value!r} (known: {', '.join(sorted(TIP_KEYS))})",
            )
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        problem("slug", "slug must be 1-64 characters of a-z, 0-9 and -")
    spheres = _parse_spheres(content, item.get("spheres"), _value_node(node, "spheres"), name)
    if "spheres" not in item:
        problem(None, "no spheres")
    default = item.get("default_locale", content.default_locale)
    if default not in SUPPORTED_LOCALES:
        problem("default_locale", f"default_locale {default!r} is not a supported language")
    texts = _parse_texts(content, item.get("text"), _value_node(node, "text"), name)
    if "text" not in item:
        problem(None, "no text")
    elif texts is not None and default in SUPPORTED_LOCALES and default not in texts:
        problem("text", f"no text in the default language ({default})")
    source = item.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > MAX_SOURCE):
        problem("source", f"source must be text of at most {MAX_SOURCE} characters")
    published = item.get("published", True)
    if not isinstance(published, bool):
        problem("published", "published must be true or false")
    if len(content.problems) > before or texts is None:
        return None
    return TipDefinition(
        slug=str(slug),
        default_locale=str(default),
        spheres=tuple(spheres),
        texts=texts,
        source=source.strip() if isinstance(source, str) and source.strip() else None,
        published=bool(published),
    ).normalised()


def _parse_spheres(content: Content, data: Any, node: Node | None, name: str) -> list[str]:
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(node, SequenceNode) or not data:
        content.problem(node, f"{name}: spheres must be a non-empty list of sphere codes")
        return []
    known = ", ".join(SPHERE_BY_CODE)
    for code, code_node in zip(data, node.value, strict=True):
        if code not in SPHERE_BY_CODE:
            content.problem(code_node, f"{name}: unknown sphere {code!r} (known: {known})")
    return [code for code in data if code in SPHERE_BY_CODE]


def _parse_texts(
    content: Content, data: Any, node: Node | None, name: str
) -> dict[str, TipText] | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(node, MappingNode) or not data:
        content.problem(node, f"{name}: text must map languages to a title and a body")
        return None
    texts: dict[str, TipText] = {}
    for key_node, value_node in node.value:
        locale = key_node.value if isinstance(key_node, ScalarNode) else None
        if locale not in SUPPORTED_LOCALES:
            content.problem(
                key_node,
                f"{name}: language {locale!r} is not supported ({', '.join(SUPPORTED_LOCALES)})",
            )
            continue
        value = data[locale]
        title, body = (
            (value.get("title"), value.get("body"))
            if isinstance(value, dict)
            else (
                None,
                None,
            )
        )
        where = f"{name} [{locale}]"
        for field_name, text, limit in (("title", title, MAX_TITLE), ("body", body, MAX_BODY)):
            field_node = _value_node(value_node, field_name) or value_node
            if not isinstance(text, str) or not text.strip():
                content.problem(field_node, f"{where}: no {field_name}")
            elif len(text.strip()) > limit:
                content.problem(
                    field_node,
                    f"{where}: {field_name} is {len(text.strip())} characters; at most {limit}",
                )
        if isinstance(title, str) and isinstance(body, str):
            texts[locale] = TipText(title=title.strip(), body=body.strip())
    return texts


# -- writing ----------------------------------------------------------------------------------


async def _write_tips(tx: Transaction, content: Content, now: datetime) -> Counter[str]:
    return await tip_service.load(tx, CLI, content.tips, now)


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level key of a content file: how to validate it and how to write it."""

    parse: Callable[[Content, Any, Node], None]
    write: Callable[[Transaction, Content, datetime], Awaitable[Counter[str]]]


def _parse_surveys(content: Content, data: Any, node: Node) -> None:
    if not isinstance(data, list) or not isinstance(node, SequenceNode):
        content.problem(node, "`surveys` must be a list")
        return
    seen: dict[str, int] = {}
    for item, item_node in zip(data, node.value, strict=True):
        if not isinstance(item, dict):
            content.problem(item_node, "each survey must be a mapping")
            continue
        try:
            definition = parse_survey(item, SUPPORTED_LOCALES)
        except (SurveyError, ValueError) as error:
            content.problem(item_node, str(error))
            continue
        if definition.slug in seen:
            content.problem(
                _value_node(item_node, "slug"),
                f'survey "{definition.slug}": duplicate slug, first used on line '
                f"{seen[definition.slug]}",
            )
            continue
        if (
            definition.opens_at
            and definition.closes_at
            and definition.closes_at <= definition.opens_at
        ):
            content.problem(item_node, f'survey "{definition.slug}": closes before it opens')
            continue
        seen[definition.slug] = _line(item_node)
        content.surveys.append((definition, definition.opens_at, definition.closes_at))


async def _write_surveys(tx: Transaction, content: Content, now: datetime) -> Counter[str]:
    """A survey without times opens when first loaded and runs for two weeks."""
    counts: Counter[str] = Counter({"created": 0, "updated": 0, "unchanged": 0})
    for definition, opens_at, closes_at in content.surveys:
        existing = await tx.surveys.by_slug(definition.slug)
        opens = opens_at or (existing.opens_at if existing else now)
        closes = closes_at or (existing.closes_at if existing else opens + SURVEY_DEFAULT_LENGTH)
        _, outcome = await tx.surveys.upsert(definition, opens, closes, now)
        counts[outcome] += 1
    return counts


SURVEY_DEFAULT_LENGTH = timedelta(days=14)
SECTIONS: dict[str, Section] = {
    "tips": Section(_parse_tips, _write_tips),
    "surveys": Section(_parse_surveys, _write_surveys),
}


async def load_content(store: Store, content: Content, now: datetime) -> dict[str, Counter[str]]:
    """Write every section in one transaction; counts of created/updated/unchanged by section."""
    report: dict[str, Counter[str]] = {}
    async with store.transaction() as tx:
        for name, section in SECTIONS.items():
            report[name] = await section.write(tx, content, now)
    return report


async def small_groups(store: Store, content: Content, k: int) -> list[str]:
    """Members' surveys whose declared breakdown would leave every respondent in a group of
    fewer than k (judged by the audience: every value has fewer than k members), so nothing
    could ever be shown by it; each with the reason."""
    problems = []
    async with store.transaction() as tx:
        for definition, _opens, _closes in content.surveys:
            if definition.mode.value != "members":
                continue  # anyone may answer a public survey: its audience is unknown
            for dimension in definition.breakdowns:
                sizes = await tx.surveys.audience_sizes(definition.audience, dimension)
                if sizes and max(sizes.values()) < k:
                    largest = max(sizes.values())
                    problems.append(
                        f'survey "{definition.slug}": breakdown by {dimension} would put every '
                        f"respondent in a group of fewer than {k} (the largest {dimension} in "
                        f"its audience has {largest} members); remove it from `breakdowns`"
                    )
    return problems


def sections_of(content: Content) -> list[str]:
    """The sections a parsed content file holds items of."""
    return [name for name, held in (("tips", content.tips), ("surveys", content.surveys)) if held]


def with_translations(
    content: Content, found: list[translations.Translation]
) -> tuple[Content, translations.Checked]:
    """The content with every translation's languages added to its items, and what comparing
    them found (problems stop a load; then the content is returned unchanged)."""
    surveys = [definition for definition, _opens, _closes in content.surveys]
    checked = translations.check(found, content.tips, surveys, sections_of(content))
    if checked.problems:
        return content, checked
    overlaid = Content(
        default_locale=content.default_locale,
        tips=translations.overlay_tips(content.tips, found),
        surveys=[
            (translations.overlay_survey(definition, found), opens, closes)
            for definition, opens, closes in content.surveys
        ],
    )
    return overlaid, checked


async def load_file(
    store: Store,
    path: Path,
    now: datetime,
    out: TextIO | None = None,
    *,
    k: int = 5,
    folder: Path | None = None,
    use_translations: bool = True,
    supported: tuple[str, ...] = SUPPORTED_LOCALES,
) -> int:
    """`wasl content load`: 0 when loaded, 2 (nothing written) when the file or one of its
    translations has problems. Translations come from `folder`, by default `translations/`
    beside the file (none when it does not exist); `use_translations=False` loads the file
    alone."""
    try:
        content = parse_content(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror or error}", file=sys.stderr)
        return EXIT_INVALID
    except ContentError as error:
        for problem in error.problems:
            print(f"{path}:{problem.line}: {problem.message}", file=sys.stderr)
        print(f"{path}: nothing was loaded.", file=sys.stderr)
        return EXIT_INVALID
    found: list[translations.Translation] = []
    if use_translations:
        where = folder or translations.folder_beside(path)
        if folder is not None and not await asyncio.to_thread(folder.is_dir):
            print(f"{folder}: no such folder of translations", file=sys.stderr)
            return EXIT_INVALID
        try:
            found = await asyncio.to_thread(translations.read_folder, where, supported)
        except translations.TranslationError as error:
            return _refuse(path, [str(p) for p in error.problems])
        content, checked = with_translations(content, found)
        if checked.problems:
            return _refuse(path, [str(p) for p in checked.problems])
        for warning in checked.warnings + checked.outdated:
            print(f"warning: {warning}", file=sys.stderr)
    refused = await small_groups(store, content, k)
    if refused:
        for message in refused:
            print(f"{path}: {message}", file=sys.stderr)
        print(f"{path}: nothing was loaded.", file=sys.stderr)
        return EXIT_INVALID
    report = await load_content(store, content, now)
    for name, counts in report.items():
        print(
            f"{name}: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged",
            file=out or sys.stdout,
        )
    if found:
        languages = ", ".join(t.locale for t in found)
        print(f"translations: {languages} (from {found[0].path.parent})", file=out or sys.stdout)
    return 0


def _refuse(path: Path, problems: list[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{path}: nothing was loaded.", file=sys.stderr)
    return EXIT_INVALID


# -- status and stamp: files only ---------------------------------------------------------------

FILE_ACTIONS = ("status", "stamp")
EXIT_STRICT = 1  # `status --strict`: something is missing
DEFAULT_FOLDER = Path("content")


@dataclass
class Sources:
    """The content files at hand, parsed, and their translations."""

    tips: list[TipDefinition]
    surveys: list[SurveyDefinition]
    sections: list[str]
    found: list[translations.Translation]

    @property
    def items(self) -> list[translations.Item]:
        return translations.items(self.tips, self.surveys)


def read_sources(
    files: list[Path], folder: Path | None, supported: tuple[str, ...]
) -> Sources | list[str]:
    """Parse the content files and the translations beside the first (or in `folder`);
    the problems, as lines to print, when something is wrong."""
    if not files:
        return [f"no content files given, and none in {DEFAULT_FOLDER}/"]
    problems: list[str] = []
    tips: list[TipDefinition] = []
    surveys: list[SurveyDefinition] = []
    sections: set[str] = set()
    for path in files:
        try:
            content = parse_content(path.read_text(encoding="utf-8"))
        except OSError as error:
            problems.append(f"{path}: cannot read: {error.strerror or error}")
            continue
        except ContentError as error:
            problems += [f"{path}:{p.line}: {p.message}" for p in error.problems]
            continue
        tips += content.tips
        surveys += [definition for definition, _opens, _closes in content.surveys]
        sections.update(sections_of(content))
    where = folder or translations.folder_beside(files[0])
    if folder is not None and not folder.is_dir():
        problems.append(f"{folder}: no such folder of translations")
    try:
        found = translations.read_folder(where, supported)
    except translations.TranslationError as error:
        return problems + [str(p) for p in error.problems]
    checked = translations.check(found, tips, surveys, sections)
    problems += [str(p) for p in checked.problems]
    for warning in checked.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    ordered = [name for name in translations.SECTIONS if name in sections]
    return problems or Sources(tips, surveys, ordered, found)


def status_files(
    files: list[Path],
    *,
    folder: Path | None = None,
    strict: bool = False,
    supported: tuple[str, ...] = SUPPORTED_LOCALES,
    out: TextIO | None = None,
) -> int:
    """`wasl content status`: the table of items × languages. 0, or 1 with `strict` when a
    translation is missing; 2 when a file has problems."""
    sources = read_sources(files, folder, supported)
    if isinstance(sources, list):
        for line in sources:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    table = translations.states(sources.items, sources.found, supported)
    print(translations.render_status(table, supported), file=out or sys.stdout)
    missing = any(
        state is translations.State.MISSING for row in table.values() for state in row.values()
    )
    return EXIT_STRICT if strict and missing else 0


def stamp_files(
    files: list[Path],
    *,
    folder: Path | None = None,
    languages: list[str] | None = None,
    only: list[str] | None = None,
    supported: tuple[str, ...] = SUPPORTED_LOCALES,
    out: TextIO | None = None,
) -> int:
    """`wasl content stamp`: record, in each translation file, the source text its items were
    made from. New translations are stamped; an outdated one only when named (`only`: its
    translation was brought up to date). 0, or 2 when a file has problems."""
    sources = read_sources(files, folder, supported)
    if isinstance(sources, list):
        for line in sources:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    slugs = {item.slug for item in sources.items}
    unknown = [slug for slug in only or [] if slug not in slugs]
    locales = {t.locale for t in sources.found}
    unknown += [code for code in languages or [] if code not in locales]
    if unknown:
        print(f"no such item or translation: {', '.join(unknown)}", file=sys.stderr)
        return EXIT_INVALID
    for found in sources.found:
        if languages and found.locale not in languages:
            continue
        done = translations.restamp(found, sources.items, sources.sections, only or ())
        if done.stamps != found.stamps:
            text = found.path.read_text(encoding="utf-8")
            found.path.write_text(translations.write_stamps(text, done.stamps), encoding="utf-8")
        print(
            f"{found.path}: {done.stamped} stamped, {done.left_outdated} left outdated",
            file=out or sys.stdout,
        )
    return 0


def content_files(given: list[Path]) -> list[Path]:
    """The files named, or every content file in ./content."""
    return given or sorted(DEFAULT_FOLDER.glob("*.yaml"))


def run_files(args: argparse.Namespace) -> int:
    """`wasl content status|stamp`: no database, no settings."""
    files = content_files(args.files)
    if args.action == "status":
        return status_files(files, folder=args.translations, strict=args.strict)
    return stamp_files(files, folder=args.translations, languages=args.lang, only=args.item)


# -- export -----------------------------------------------------------------------------------


def export_document(tips: list[TipDefinition]) -> dict[str, Any]:
    """The YAML structure `load` reads, from stored tips."""
    defaults = Counter(tip.default_locale for tip in tips)
    default = max(defaults, key=lambda code: (defaults[code], code == "en")) if tips else "en"
    entries: list[dict[str, Any]] = []
    for tip in tips:
        entry: dict[str, Any] = {"slug": tip.slug, "spheres": _FlowList(tip.spheres)}
        if tip.source:
            entry["source"] = tip.source
        entry["published"] = tip.published
        if tip.default_locale != default:
            entry["default_locale"] = tip.default_locale
        order = sorted(tip.texts, key=lambda c: (c != tip.default_locale, _locale_rank(c)))
        entry["text"] = {
            code: {"title": tip.texts[code].title, "body": tip.texts[code].body} for code in order
        }
        entries.append(entry)
    return {"default_locale": default, "tips": entries}


class _FlowList(list[str]):
    """A list written on one line (`spheres: [youth, vaw]`), as content files are written."""


class _ContentDumper(yaml.SafeDumper):
    pass


_ContentDumper.add_representer(
    _FlowList,
    lambda dumper, data: dumper.represent_sequence(
        "tag:yaml.org,2002:seq", list(data), flow_style=True
    ),
)


def _locale_rank(code: str) -> int:
    return SUPPORTED_LOCALES.index(code) if code in SUPPORTED_LOCALES else len(SUPPORTED_LOCALES)


async def export_text(store: Store) -> str:
    async with store.transaction() as tx:
        stored = await tip_service.export(tx, CLI)
    document = export_document(stored)
    return yaml.dump(
        document, Dumper=_ContentDumper, allow_unicode=True, sort_keys=False, width=99
    )


# -- command line -----------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    content = sub.add_parser("content", help="tips and surveys from and to YAML files")
    actions = content.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "load", help="load or update content from a YAML file and its translations"
    )
    load.add_argument("file", type=Path)
    which = load.add_mutually_exclusive_group()
    which.add_argument(
        "--translations",
        type=Path,
        metavar="FOLDER",
        help="where the LL.yaml translations are (default: translations/ beside the file)",
    )
    which.add_argument(
        "--no-translations", action="store_true", help="load the file alone, no translations"
    )
    export = actions.add_parser("export", help="write the tips back as YAML")
    export.add_argument("--out", type=Path, help="a file to write (default: standard output)")
    status = actions.add_parser(
        "status", help="which item is translated, missing or outdated in which language"
    )
    stamp = actions.add_parser(
        "stamp", help="record the source text each translation was made from"
    )
    for action in (status, stamp):
        action.add_argument(
            "files", nargs="*", type=Path, help="content files (default: content/*.yaml)"
        )
        action.add_argument(
            "--translations",
            type=Path,
            metavar="FOLDER",
            help="where the LL.yaml translations are (default: translations/ beside the files)",
        )
    status.add_argument(
        "--strict", action="store_true", help="exit 1 when any translation is missing (for CI)"
    )
    stamp.add_argument(
        "--lang", action="append", metavar="LL", help="only this language's file (repeatable)"
    )
    stamp.add_argument(
        "--item",
        action="append",
        metavar="SLUG",
        help="stamp this item again: its translation was updated to the current source "
        "(repeatable; without it only new translations are stamped)",
    )


async def run(app: App, args: argparse.Namespace) -> int:
    if args.action == "load":
        return await load_file(
            app.store,
            args.file,
            SystemClock().now(),
            k=app.settings.wasl.min_cell,
            folder=args.translations,
            use_translations=not args.no_translations,
        )
    text = await export_text(app.store)
    if args.out is None:
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(args.out.write_text, text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0
