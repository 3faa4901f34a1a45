"""French and Arabic typography, the same in the catalogs and in the starter content: French
« guillemets » with no-break spaces, the apostrophe ’ and a no-break space before : ; ? !;
Arabic «…», Arabic punctuation and the tanween fatha before a final alif (locales/README.md).
French wordings a reader found wrong or calqued must not come back either."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.catalogs import PO_FILES, load

ROOT = Path(__file__).resolve().parents[2]
CONTENT = sorted((ROOT / "content").glob("*.yaml"))
NBSP = "\u00a0"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def language(path: Path) -> str:
    return path.parts[-3].split("_")[0]


@cache
def catalog_texts(path: Path) -> tuple[tuple[str, str], ...]:
    """(msgid, msgstr) for every form of every message of a catalog."""
    pairs = []
    for message in load(path):
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
        strings = message.string if isinstance(message.string, (tuple, list)) else [message.string]
        pairs += [(msgid, text) for text in strings]
    return tuple(pairs)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _in_language(node: Any, code: str) -> Iterator[str]:
    """Every string under a `<code>:` key of the content file (its texts in that language)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == code:
                yield from _strings(value)
            else:
                yield from _in_language(value, code)
    elif isinstance(node, list):
        for value in node:
            yield from _in_language(value, code)


@cache
def content_texts(path: Path, code: str) -> tuple[tuple[str, str], ...]:
    data = yaml.safe_load(path.read_text("utf-8"))
    return tuple((path.name, text) for text in _in_language(data, code))


def _french_typography(text: str) -> list[str]:
    words = PLACEHOLDER.sub("x", text)
    problems = []
    if "'" in words:
        problems.append("' instead of the apostrophe ’")
    if re.search('[“”"]', words):
        problems.append('“…” or "…" instead of « … »')
    if re.search(f"«(?!{NBSP})", words) or re.search(f"(?<!{NBSP})»", words):
        problems.append("« » without a no-break space inside")
    if re.search(r"[ \u202f][:;?!]", words):
        problems.append("a plain space before : ; ? or ! (a no-break space, U+00A0)")
    if re.search(r"[^\W\d_][;?!]|[^\W\d_]:(?=\s|$)", words):
        problems.append("no space before : ; ? or ! (a no-break space, U+00A0)")
    return problems


# Wordings a reader of the French catalog found vague, wrong or calqued from English, and what
# replaced them: they must not come back.
FRENCH_AVOID = {
    r"\binfos?\b": "« info » for a field update is vague and colloquial: « nouvelle »",
    r"\b(peut|peuvent|pour) rejoindre\b(?! Wasl| l’alliance)": "« rejoindre » needs an object",
    r"\bPouls\b": "« Pouls » is a calque: « Baromètre »",
    r"\bPas sûr de\b": "« Pas sûr de signaler » is a calque",
    r"numéro terminal": "« votre numéro terminal » says nothing",
    r"Déradicaliser": "a verb among the spheres' nouns",
}


def french_problems(text: str) -> list[str]:
    problems = _french_typography(text)
    problems += [why for wording, why in FRENCH_AVOID.items() if re.search(wording, text)]
    return problems


def arabic_problems(text: str) -> list[str]:
    words = PLACEHOLDER.sub("x", text)
    problems = []
    if re.search("[“”\"']", words):
        problems.append("“…”, \"…\" or '…' instead of «…»")
    if re.search(r"«\s|\s»", words):
        problems.append("a space inside «…»")
    if re.search("[,;?]", words):
        problems.append("a Latin , ; or ? instead of the Arabic ، ؛ ؟")
    if "اً" in words:
        problems.append("tanween on the alif (اً): on the letter before it (ًا)")
    return problems


RULES = {"fr": french_problems, "ar": arabic_problems}


def _catalog_cases() -> list[Any]:
    return [
        pytest.param(path, id=f"catalog-{path.parts[-3]}")
        for path in PO_FILES
        if language(path) in RULES
    ]


@pytest.mark.parametrize("path", _catalog_cases())
def test_catalog_typography(path: Path) -> None:
    check = RULES[language(path)]
    found = [
        f"{msgid!r}: {', '.join(problems)}\n    {text!r}"
        for msgid, text in catalog_texts(path)
        if (problems := check(text))
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("code", sorted(RULES))
@pytest.mark.parametrize("path", CONTENT, ids=lambda p: p.name)
def test_content_typography(path: Path, code: str) -> None:
    check = RULES[code]
    texts = content_texts(path, code)
    found = [f"{name}: {', '.join(p)}\n    {t!r}" for name, t in texts if (p := check(t))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("check", "text"),
    [
        (french_problems, "C'est fait."),
        (french_problems, "Pays : {country}"),
        (french_problems, "Pays: {country}"),
        (french_problems, "Merci !"),
        (french_problems, "« Terminé »"),
        (french_problems, "“Terminé”"),
        (french_problems, "Partager une info"),
        (french_problems, "Combien de personnes peuvent rejoindre avec ce lien"),
        (arabic_problems, "شكراً"),
        (arabic_problems, "“وصل”"),
        (arabic_problems, "« وصل »"),
        (arabic_problems, "هل أنتِ متأكدة?"),
    ],
)
def test_the_rules_catch_what_they_name(check: Any, text: str) -> None:
    assert check(text)


@pytest.mark.parametrize(
    ("check", "text"),
    [
        (french_problems, f"C’est fait. Pays{NBSP}: {{country}}. Tapez HH:MM, 09:00."),
        (french_problems, f"Merci{NBSP}! «{NBSP}Terminé{NBSP}» (Coran 5:32)"),
        (arabic_problems, "شكرًا لكِ! «وصل» جاهز، أليس كذلك؟ الساعة 09:00."),
    ],
)
def test_the_rules_let_good_text_through(check: Any, text: str) -> None:
    assert not check(text)
