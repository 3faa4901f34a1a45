"""Every catalog under locales/ is complete and safe to format: nothing untranslated or fuzzy,
nothing missing from the template, the same {placeholders} (names and count) as the English,
CLDR's plural forms, no English left untranslated unless marked, nothing much longer than the
English unless marked, its review status stated, button labels that fit WhatsApp, and command
words she can type. A catalog added under locales/ is checked without touching this file.

The markers are translator comments on an entry (locales/README.md):
`# same: <why>` when the translation is rightly identical to the English,
`# long: <why>` when it is rightly more than 2.5 times as long.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
import string
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.support import Translations

from bot.core.i18n import SUPPORTED_LOCALES, Catalogs, fold
from handlers.common import COMMAND_WORDS
from tests.support.catalogs import LOCALES, PO_FILES, TEMPLATE, load, locale_of
from tests.support.harness import visible

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("ar", "fr", "en")
SOURCE = "en"  # the msgids are English: its catalog repeats them, and is not compared with them

# Members pay for every byte: a translation this many times longer than its English is a
# mistake unless someone looked and marked it `# long: <why>`. A failing check rather than a
# printed report, because pytest shows nothing of a passing test and a report nobody reads
# changes nothing; the marker keeps the decision, and its reason, in the catalog.
MAX_RATIO = 2.5
SAME, LONG = "same:", "long:"
# The header comment of every catalog says who reviewed it (locales/README.md).
REVIEW = re.compile(
    r"^# Review status: (awaits review by a native speaker|reviewed by \S.*|source text\b.*?)\.?$",
    re.MULTILINE,
)
# gettext numbers plural forms in CLDR's order of categories.
PLURAL_TAGS = ("zero", "one", "two", "few", "many", "other")
PLURAL_SAMPLES = (*range(0, 1001), 1_000_000, 2_000_000, 1_000_001, 10**9)

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
    # peers and introductions
    "✏️ My line",
    "Remove my line",
    "Allow requests",
    "Stop requests",
    "Requests",
    "Who works where",
    "Accept",
    "Decline",
    "Suggest a meeting",
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


def forms(message: Message) -> tuple[str, ...]:
    """Every msgstr of a message: one, or one per plural form."""
    if isinstance(message.string, (tuple, list)):
        return tuple(message.string)
    return (message.string,)


def key(message: Message) -> tuple[str, str | None]:
    singular = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
    return singular, message.context


def ids_of(message: Message) -> tuple[str, ...]:
    """The English: the msgid, and the msgid_plural of a plural message."""
    return tuple(message.id) if isinstance(message.id, (tuple, list)) else (message.id,)


def placeholders(text: str) -> Counter[str]:
    """The `{names}` that str.format fills in `text`, each with how often it appears."""
    return Counter(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def words(text: str) -> str:
    """`text` without its placeholders: what a translator translates."""
    return re.sub(r"\{[^{}]*\}", "", text)


def marker(message: Message, kind: str) -> str | None:
    """The reason given by a `# same: …` or `# long: …` translator comment, if any."""
    for comment in message.user_comments:
        if comment.startswith(kind):
            return comment[len(kind) :].strip()
    return None


def entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


catalogs = pytest.mark.parametrize("path", PO_FILES, ids=locale_of)
translations = pytest.mark.parametrize(
    "path", [p for p in PO_FILES if locale_of(p) != SOURCE], ids=locale_of
)


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
    """The same `{names}`, each as many times as in the English (a plural form may follow
    the msgid or the msgid_plural, whichever has the placeholders it uses)."""
    problems = []
    for message in entries(load(path)):
        try:
            wanted = [placeholders(i) for i in ids_of(message)]
        except ValueError as error:
            problems.append(f"msgid {message.id!r} does not parse: {error}")
            continue
        for n, text in enumerate(forms(message)):
            try:
                found = placeholders(text)
            except ValueError as error:
                problems.append(f"msgstr[{n}] of {message.id!r} does not parse: {error}")
                continue
            if found not in wanted:
                problems.append(
                    f"msgstr[{n}] of {message.id!r}: has {dict(found)}, "
                    f"needs {' or '.join(str(dict(w)) for w in wanted)}: {text!r}"
                )
    assert not problems, "\n".join(problems)


def cldr_plural_index(locale: Locale) -> tuple[int, dict[int, int]]:
    """How many plural forms CLDR gives the language, and the form of each sample number."""
    rule = locale.plural_form
    tags = [t for t in PLURAL_TAGS if t in rule.tags or t == "other"]
    return len(tags), {n: tags.index(rule(n)) for n in PLURAL_SAMPLES}


@catalogs
def test_plural_forms_follow_cldr(path: Path) -> None:
    """The header's Plural-Forms picks, for every number, the form CLDR's rule for the
    language picks (Babel's data): a hand-written or stale header puts "11 people" in the
    form written for "100 people"."""
    catalog = load(path)
    count, wanted = cldr_plural_index(Locale.parse(locale_of(path)))
    assert catalog.num_plurals == count, (
        f"{catalog.num_plurals} plural forms, CLDR has {count}: the header should say "
        f"Plural-Forms: {get_plural(locale_of(path)).plural_forms}"
    )
    header = gettext.c2py(catalog.plural_expr)
    wrong = {n: (header(n), form) for n, form in wanted.items() if header(n) != form}
    assert not wrong, "number: (form the header picks, form CLDR picks) " + str(
        dict(list(wrong.items())[:10])
    )


@translations
def test_no_translation_is_the_english_unless_marked(path: Path) -> None:
    """English left in a catalog is usually a message nobody translated. Words that are
    rightly the same (a brand, a word both languages share) carry `# same: <why>`; a message
    with no words (placeholders, numbers, signs) needs nothing."""
    problems = []
    for message in entries(load(path)):
        english = ids_of(message)
        if not any(ch.isalpha() for i in english for ch in words(i)):
            continue
        same = [text for text in forms(message) if text in english]
        if same and marker(message, SAME) is None:
            problems.append(f"{message.id!r} is left in English (or mark it `# {SAME} <why>`)")
        elif not same and marker(message, SAME) is not None:
            problems.append(f"{message.id!r} is marked `{SAME}` but is translated: drop it")
    assert not problems, "\n".join(problems)


@translations
def test_no_translation_is_much_longer_than_the_english(path: Path) -> None:
    problems = []
    for message in entries(load(path)):
        source = max(len(i) for i in ids_of(message))
        longest = max(len(text) for text in forms(message))
        too_long = longest > MAX_RATIO * source
        if too_long and marker(message, LONG) is None:
            problems.append(
                f"{message.id!r}: {longest} characters, {longest / source:.1f}× the English "
                f"(shorten it, or mark it `# {LONG} <why>` once reviewed)"
            )
        elif not too_long and marker(message, LONG) is not None:
            problems.append(f"{message.id!r} is marked `{LONG}` but is not that long: drop it")
    assert not problems, "\n".join(problems)


@catalogs
def test_markers_give_a_reason(path: Path) -> None:
    bare = [
        message.id
        for message in entries(load(path))
        for kind in (SAME, LONG)
        if marker(message, kind) == ""
    ]
    assert not bare, f"say why after `# {SAME}` or `# {LONG}`: {bare}"


# A number written with a thousands separator: "1,000", "1.000", "1 000", "١٬٠٠٠".
GROUPED_NUMBER = re.compile(r"(?<!\d)\d{1,3}(?:[,.\u066c\u00a0\u202f' ]\d{3})+(?!\d)")


@catalogs
def test_no_translation_writes_a_large_number_itself(path: Path) -> None:
    """Counts and limits arrive formatted by CLDR for the language (`Translator.number`:
    its digits, its separators). A translation that types one of its own ("1,000" in an Arabic
    sentence) writes it one way whatever the language's way is. A time or an example the
    translator adds ("09:00", "saa 24") is no count and is left alone."""

    def grouped(text: str) -> set[str]:
        digits = "".join(str(unicodedata.decimal(ch, ch)) for ch in words(text))
        return set(GROUPED_NUMBER.findall(digits))

    problems = []
    for message in entries(load(path)):
        english = grouped(" ".join(ids_of(message)))
        for n, text in enumerate(forms(message)):
            if typed := grouped(text) - english:
                problems.append(f"msgstr[{n}] of {message.id!r} types {sorted(typed)}: {text!r}")
    assert not problems, "\n".join(problems)


def review_status(path: Path) -> str:
    found = REVIEW.search(load(path).header_comment)
    return found.group(1).rstrip(".") if found else ""


@catalogs
def test_the_header_says_who_reviewed_the_catalog(path: Path) -> None:
    assert review_status(path), (
        "the header comment needs a line `# Review status: awaits review by a native "
        "speaker.` or `# Review status: reviewed by <who> (<when>).`, got:\n"
        + load(path).header_comment
    )


def readme_languages() -> dict[str, str]:
    """The README's table of languages: code → review status."""
    rows = re.findall(
        r"^\| `([a-z]{2,3}(?:_[A-Za-z]+)?)` \| [^|]+ \| ([^|]+?) \|$",
        (ROOT / "README.md").read_text("utf-8"),
        re.MULTILINE,
    )
    return dict(rows)


@catalogs
def test_the_readme_lists_the_language_with_its_review_status(path: Path) -> None:
    listed = readme_languages()
    code = locale_of(path)
    assert code in listed, f"README.md's table of languages has no row for `{code}`"
    assert listed[code].rstrip(".") == review_status(path), (
        f"README.md says {listed[code]!r} for `{code}`, its catalog {review_status(path)!r}"
    )


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
    "path",
    [p for p in PO_FILES if Locale.parse(locale_of(p)).text_direction == "rtl"],
    ids=locale_of,
)
def test_arrows_point_the_way_she_reads(path: Path) -> None:
    """In a right-to-left language "next" lies to the left: ◀, and "back" to the right: ▶
    (these triangles are not mirrored by the Unicode bidi algorithm)."""
    strings = {m.id: m.string for m in entries(load(path))}
    assert "◀" in strings["Next ▶"] and "▶" not in strings["Next ▶"]
    for backwards in ("◀ Previous", "◀ Back"):
        assert "▶" in strings[backwards] and "◀" not in strings[backwards]


def test_arabic_counts_take_the_form_cldr_gives_them() -> None:
    """11–99 take the accusative singular (ردًا), 100–102 the genitive (رد): the catalog's
    old Plural-Forms header had these two forms the other way round."""
    _ = Catalogs().get("ar")
    say = lambda n: visible(_.plural("{n} response.", "{n} responses.", n))  # noqa: E731
    assert [say(n) for n in (1, 2, 3, 11, 99, 100, 101, 111)] == [
        "رد واحد (1).",
        "ردّان (2).",
        "3 ردود.",
        "11 ردًا.",
        "99 ردًا.",
        "100 رد.",
        "101 رد.",
        "111 ردًا.",
    ]
    waiting = lambda n: visible(_.plural("{n} update waiting.", "{n} updates waiting.", n))  # noqa: E731
    assert waiting(12).startswith("12 تحديثًا") and waiting(200).startswith("200 تحديث ")
