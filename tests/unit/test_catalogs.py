"""Every catalog is complete and safe to format: nothing untranslated or fuzzy, nothing
missing from the template, the same {placeholders} as the English, button labels that fit
WhatsApp, and command words she can type."""

from __future__ import annotations

import ast
import io
import string
import unicodedata
from functools import cache
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.core.i18n import SUPPORTED_LOCALES, fold
from handlers.common import COMMAND_WORDS

LOCALES = Path(__file__).resolve().parents[2] / "locales"
TEMPLATE = LOCALES / "messages.pot"
PO_FILES = sorted(LOCALES.glob("*/LC_MESSAGES/messages.po"))
REQUIRED = ("ar", "fr", "en")

# WhatsApp cuts reply-button titles at 20 characters and list-row titles at 24.
BUTTON_LIMIT = 20
ROW_LIMIT = 24
BUTTON_LABELS = (
    # joining, the main menu, her account
    "I accept",
    "No, thank you",
    "Another country",
    "Done",
    "Share an update",
    "Good practices",
    "My data",
    "Language",
    "Pause messages",
    "Resume messages",
    "Help",
    "Yes, delete all",
    "No, keep it",
    # updates and moderation
    "Routine",
    "Urgent",
    "Yes, keep it",
    "Send",
    "Cancel",
    "Open the queue",
    "Approve for sharing",
    "Keep internal",
    "Reject",
    "Tip candidate",
    "Open attachment",
    "Skip",
    # tips
    "◀ Previous",
    "Next ▶",
    "👍 Helpful",
    "👎 Not helpful",
    "Spheres",
    "Publish",
    # campaigns
    "Continue",
    "Now",
    "At a set time",
    "Every week",
    "Schedule",
    # invitations
    "My invitations",
    "New invitation",
    # surveys
    "Yes",
    "No",
    "◀ Back",
    "Stop for now",
    "Yes, send results",
    "No, thanks",
    "Yes, start",
    "Start",
    "Not now",
    "Prefer not to say",
    "Under 15",
    "35 or older",
    "Woman",
    "Man",
    "Another gender",
    # reports
    "Survey results",
    "Field updates",
    "Membership",
    "Last full week",
    "Last full month",
    "Last full quarter",
    "Every country",
    "Every sphere",
    "All time",
    "No breakdown",
    "By country",
    "By sphere",
    "By language",
    "By channel",
    "By age",
    "By gender",
    "By week",
    "By month",
)
ROW_LABELS = (
    "Youth deradicalisation",
    "Peace and pluralism",
    "Religious texts",
    "Women's rights",
    "Violence against women",
    "Rights narratives",
    "Women in media",
    "Advocacy",
    "All spheres",
)


def locale_of(path: Path) -> str:
    return path.parts[-3]


@cache
def load(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=None if path == TEMPLATE else locale_of(path))


def forms(message: Message) -> tuple[str, ...]:
    """Every msgstr of a message: one, or one per plural form."""
    if isinstance(message.string, (tuple, list)):
        return tuple(message.string)
    return (message.string,)


def key(message: Message) -> tuple[str, str | None]:
    singular = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
    return singular, message.context


def placeholders(text: str) -> set[str]:
    """The `{names}` that str.format fills in `text`."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


catalogs = pytest.mark.parametrize("path", PO_FILES, ids=locale_of)


@pytest.mark.parametrize("code", sorted({*REQUIRED, *SUPPORTED_LOCALES}))
def test_catalog_exists(code: str) -> None:
    assert (LOCALES / code / "LC_MESSAGES" / "messages.po").is_file(), (
        f"no catalog for {code}: pybabel init -i locales/messages.pot -d locales "
        f"-D messages -l {code}"
    )


@catalogs
def test_everything_is_translated_and_nothing_is_fuzzy(path: Path) -> None:
    catalog = load(path)
    problems = []
    if catalog.fuzzy:
        problems.append("the header is marked fuzzy (pybabel compile skips the catalog)")
    for message in entries(catalog):
        strings = forms(message)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(
                f"{len(strings)} plural forms, {catalog.num_plurals} needed: {message.id!r}"
            )
        if not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, "\n".join(problems)


@catalogs
def test_catalog_has_every_message_of_the_template(path: Path) -> None:
    have = {key(m) for m in entries(load(path))}
    missing = [k for k in (key(m) for m in entries(load(TEMPLATE))) if k not in have]
    assert not missing, (
        "not updated (pybabel update -i locales/messages.pot -d locales -D messages "
        "--ignore-obsolete --no-fuzzy-matching): " + "\n".join(map(repr, missing))
    )


@catalogs
def test_placeholders_match_the_english(path: Path) -> None:
    problems = []
    for message in entries(load(path)):
        ids = message.id if isinstance(message.id, (tuple, list)) else (message.id,)
        try:
            wanted = set().union(*(placeholders(i) for i in ids))
        except ValueError as error:
            problems.append(f"msgid {message.id!r} does not parse: {error}")
            continue
        for n, text in enumerate(forms(message)):
            try:
                found = placeholders(text)
            except ValueError as error:
                problems.append(f"msgstr[{n}] of {message.id!r} does not parse: {error}")
                continue
            if found != wanted:
                problems.append(
                    f"msgstr[{n}] of {message.id!r}: has {sorted(found)}, "
                    f"needs {sorted(wanted)}: {text!r}"
                )
    assert not problems, "\n".join(problems)


@catalogs
def test_labels_fit_whatsapp(path: Path) -> None:
    catalog = load(path)
    problems = []
    for labels, limit in ((BUTTON_LABELS, BUTTON_LIMIT), (ROW_LABELS, ROW_LIMIT)):
        for label in labels:
            message = catalog.get(label)
            if message is None:
                problems.append(
                    f"{label!r} is not in the catalog: not updated, or the English changed "
                    "(then update the list in this test)"
                )
            elif len(message.string) > limit:
                problems.append(
                    f"{message.string!r} ({label!r}) has {len(message.string)} characters, "
                    f"WhatsApp shows {limit}"
                )
    assert not problems, "\n".join(problems)


def command_words(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(command, msgid, word) for every command word in `catalog` ("" when untranslated)."""
    found = []
    for name, msgids in COMMAND_WORDS.items():
        for msgid in msgids:
            message = catalog.get(msgid)
            found.append((name, msgid, message.string if message is not None else ""))
    return found


@catalogs
def test_command_words_are_single_lower_case_words(path: Path) -> None:
    problems = []
    seen: dict[str, str] = {}
    for name, msgid, word in command_words(load(path)):
        if not word:
            problems.append(f"no word for {msgid!r} (the command {name!r})")
            continue
        if word != word.lower() or not all(unicodedata.category(ch)[0] in "LM" for ch in word):
            problems.append(f"{msgid!r} → {word!r}: one lower-case word, no spaces or signs")
        folded = fold(word)
        if folded in seen:
            problems.append(f"{msgid!r} and {seen[folded]!r} both → {word!r}")
        seen[folded] = msgid
        if folded in COMMAND_WORDS and folded != name:
            problems.append(f"{msgid!r} → {word!r}, which is the command {folded!r}")
    assert not problems, "\n".join(problems)


def test_no_command_word_means_two_commands_in_two_languages() -> None:
    """Words are read in her language, her phone's and English, and the words for joining
    and stopping in every language: so a word must mean the same command in every catalog
    (and as a command's own name) that has it."""
    meaning: dict[str, dict[str, set[str]]] = {}
    for name in COMMAND_WORDS:
        meaning.setdefault(fold(name), {}).setdefault(name, set()).add("the command's name")
    for path in PO_FILES:
        for name, _msgid, word in command_words(load(path)):
            if word:
                meaning.setdefault(fold(word), {}).setdefault(name, set()).add(locale_of(path))
    clashes = [
        f"{word!r}: "
        + "; ".join(f"{name} in {', '.join(sorted(where))}" for name, where in by.items())
        for word, by in sorted(meaning.items())
        if len(by) > 1
    ]
    assert len(PO_FILES) >= 3
    assert not clashes, "the same word for different commands:\n" + "\n".join(clashes)


@catalogs
def test_catalog_compiles(path: Path) -> None:
    """What the bot does when no .mo was built: compile in memory, then look up."""
    catalog = load(path)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = Translations(buffer, "messages")
    help_label = catalog.get("Help")
    assert help_label is not None
    assert translations.gettext("Help") == help_label.string


def _literal_translations_in_fstrings(tree: ast.AST) -> list[int]:
    """Lines where `_("…")` (or `ctx._("…")`) is called inside an f-string."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        for inner in ast.walk(node):
            if not isinstance(inner, ast.Call) or not inner.args:
                continue
            func = inner.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("_", "N_") and isinstance(inner.args[0], ast.Constant):
                lines.append(inner.lineno)
    return lines


def test_no_message_hides_inside_an_f_string() -> None:
    """pybabel's extractor does not look inside f-strings: a message there is never
    translated. It must be taken out (`label = _("…")`, then `f"{label}"`)."""
    root = LOCALES.parent
    found = [
        f"{path.relative_to(root)}:{line}"
        for folder in ("bot", "handlers", "storage")
        for path in sorted((root / folder).rglob("*.py"))
        for line in _literal_translations_in_fstrings(ast.parse(path.read_text("utf-8")))
    ]
    assert not found, "translations pybabel cannot see: " + ", ".join(found)


@pytest.mark.parametrize(
    "locale", [loc for loc in REQUIRED if Locale.parse(loc).text_direction == "rtl"]
)
def test_arrows_point_the_way_she_reads(locale: str) -> None:
    """In a right-to-left language "next" lies to the left: ◀, and "back" to the right: ▶
    (these triangles are not mirrored by the Unicode bidi algorithm)."""
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    strings = {m.id: m.string for m in entries(load(path))}
    assert "◀" in strings["Next ▶"] and "▶" not in strings["Next ▶"]
    for backwards in ("◀ Previous", "◀ Back"):
        assert "▶" in strings[backwards] and "◀" not in strings[backwards]
