"""`wasl content load/export`: validation that names the line, idempotent loads, round trips."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cli
from bot.cli_content import ContentError, export_text, load_file, parse_content
from bot.core.clock import FixedClock
from bot.core.i18n import SUPPORTED_LOCALES
from bot.core.spheres import SPHERES
from bot.core.tips import MAX_BODY, MAX_TITLE
from storage.store import SqlStore
from storage.tables import tip_t

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
default_locale: en
tips:
  - slug: safe-dialogue-mothers-of-returnees
    spheres: [youth, pluralism]
    source: "Alliance field manual"
    published: true
    text:
      en: {title: "Safe dialogue with mothers", body: "Meet where the mothers choose."}
      ar: {title: "حوار آمن مع الأمهات", body: "التقي حيث تختار الأمهات."}
      fr: {title: "Dialogue sûr avec les mères", body: "Se réunir où les mères choisissent."}
  - slug: documenting-vaw-safely
    spheres: [vaw]
    text:
      en:
        title: "Document violence safely"
        body: "Ask for consent first; store nothing on your phone."
      ar:
        title: "التوثيق الآمن للعنف"
        body: "اطلبي الموافقة أولاً، ولا تحفظي شيئاً على هاتفك."
"""


async def tip_count(store: SqlStore) -> int:
    async with store.transaction() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(tip_t))).scalar_one())


def write(tmp_path: Path, text: str, name: str = "tips.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ContentError) as caught:
        parse_content(text)
    return [(p.line, p.message) for p in caught.value.problems]


async def test_load_then_load_again_changes_nothing(
    sqlite_store: SqlStore, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID)
    assert await load_file(sqlite_store, path, clock.now()) == 0
    assert "tips: 2 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    async with sqlite_store.transaction() as tx:
        [first, second] = await tx.tips.export()
    assert first.source == "Alliance field manual" and first.published
    assert second.published  # published unless the file says otherwise
    assert set(second.texts) == {"en", "ar"}

    assert await load_file(sqlite_store, path, clock.now()) == 0
    assert "tips: 0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
    async with sqlite_store.transaction() as tx:
        assert await tx.tips.export() == [first, second]

    write(tmp_path, VALID.replace("Meet where", "Always meet where"))
    assert await load_file(sqlite_store, path, clock.now()) == 0
    assert "tips: 0 created, 1 updated, 1 unchanged" in capsys.readouterr().out
    assert await tip_count(sqlite_store) == 2


async def test_export_loads_back_unchanged(
    sqlite_store: SqlStore, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await load_file(sqlite_store, write(tmp_path, VALID), clock.now())
    exported = await export_text(sqlite_store)
    assert "حوار آمن مع الأمهات" in exported  # real characters, not escapes
    assert parse_content(exported).tips == parse_content(VALID).tips
    capsys.readouterr()
    assert await load_file(sqlite_store, write(tmp_path, exported, "back.yaml"), clock.now()) == 0
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_missing_text_in_the_default_language_names_the_line() -> None:
    english = VALID.splitlines(keepends=True)[7]
    assert english.startswith("      en:")
    text = VALID.replace(english, "")
    assert problems(text) == [
        (
            7,
            'tip "safe-dialogue-mothers-of-returnees": no text in the default language (en)',
        )
    ]


def test_a_tip_may_have_its_own_default_language() -> None:
    text = VALID.replace("    spheres: [vaw]\n", "    spheres: [vaw]\n    default_locale: ar\n")
    [_, own] = parse_content(text).tips
    assert own.default_locale == "ar"
    without_arabic = text.replace("      ar:\n        title", "      fr:\n        title")
    assert "no text in the default language (ar)" in problems(without_arabic)[0][1]


def test_unknown_sphere_names_the_line() -> None:
    text = VALID.replace("spheres: [vaw]", "spheres: [vaw, weather]")
    [(line, message)] = problems(text)
    assert line == 12
    assert message.startswith("tip \"documenting-vaw-safely\": unknown sphere 'weather'")


def test_a_key_given_twice_names_its_line() -> None:
    text = VALID.replace(
        '        title: "Document violence safely"\n',
        '        title: "Document violence safely"\n        title: "Twice"\n',
    )
    assert (16, "'title' is given twice") in problems(text)


def test_duplicate_slug_names_both_lines() -> None:
    text = VALID.replace(
        "slug: documenting-vaw-safely", "slug: safe-dialogue-mothers-of-returnees"
    )
    assert problems(text) == [
        (
            11,
            'tip "safe-dialogue-mothers-of-returnees": duplicate slug, first used on line 3',
        )
    ]


def test_unsupported_language_names_the_line() -> None:
    text = VALID.replace("      ar:\n        title", "      de:\n        title")
    assert problems(text) == [
        (
            17,
            "tip \"documenting-vaw-safely\": language 'de' is not supported "
            f"({', '.join(SUPPORTED_LOCALES)})",
        )
    ]


@pytest.mark.parametrize(
    ("change", "line", "expected"),
    [
        (("slug: documenting-vaw-safely", "slug: Documenting VAW"), 11, "slug must be"),
        (("spheres: [vaw]", "spheres: []"), 12, "spheres must be a non-empty list"),
        (("    spheres: [vaw]\n", ""), 11, "no spheres"),
        (('title: "Document violence safely"', 'title: ""'), 15, "[en]: no title"),
        (
            ('title: "Document violence safely"', f'title: "{"x" * (MAX_TITLE + 1)}"'),
            15,
            f"title is {MAX_TITLE + 1} characters; at most {MAX_TITLE}",
        ),
        (
            ('body: "Ask for consent first', f'body: "{"x" * MAX_BODY}'),
            16,
            "body is",
        ),
        (("published: true", "published: maybe"), 6, "published must be true or false"),
        (("    source:", "    sauce:"), 5, "unknown field 'sauce'"),
        (("default_locale: en", "default_locale: de"), 1, "default_locale 'de'"),
        (("tips:", "tipps:"), 2, "unknown section 'tipps'"),
        (("    spheres: [vaw]\n", "    spheres: [vaw]\n    spheres: [vaw]\n"), 13, "twice"),
    ],
)
def test_every_problem_names_its_line(change: tuple[str, str], line: int, expected: str) -> None:
    found = problems(VALID.replace(*change))
    assert any(at == line and expected in message for at, message in found), found


def test_not_yaml_at_all() -> None:
    [(line, message)] = problems("tips:\n  - slug: [unclosed\n")
    assert line == 3 and message.startswith("not valid YAML")
    assert problems("just a string")[0][1].startswith("expected a mapping")


async def test_nothing_is_written_when_one_tip_is_wrong(
    sqlite_store: SqlStore, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID.replace("spheres: [vaw]", "spheres: [weather]"))
    assert await load_file(sqlite_store, path, clock.now()) == 2
    err = capsys.readouterr().err
    assert f"{path}:12: tip \"documenting-vaw-safely\": unknown sphere 'weather'" in err
    assert "nothing was loaded" in err
    assert await tip_count(sqlite_store) == 0
    assert await load_file(sqlite_store, tmp_path / "missing.yaml", clock.now()) == 2


def test_the_command_line_loads_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    path = write(tmp_path, VALID)
    assert cli.main(["content", "load", str(path)]) == 0
    assert cli.main(["content", "load", str(path)]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    assert cli.main(["content", "export", "--out", str(tmp_path / "out.yaml")]) == 0
    assert len(parse_content((tmp_path / "out.yaml").read_text(encoding="utf-8")).tips) == 2
    bad = write(tmp_path, VALID.replace("[vaw]", "[nope]"), "bad.yaml")
    assert cli.main(["content", "load", str(bad)]) == 2


def test_the_starter_tips_load_and_cover_every_sphere_twice() -> None:
    content = parse_content((ROOT / "content" / "tips.yaml").read_text(encoding="utf-8"))
    assert len(content.tips) >= 12
    per_sphere = Counter(sphere for tip in content.tips for sphere in tip.spheres)
    assert {s.code: per_sphere[s.code] >= 2 for s in SPHERES} == {s.code: True for s in SPHERES}
    for tip in content.tips:
        assert set(tip.texts) == {"en", "ar", "fr"}, tip.slug  # the others: translations/
        assert tip.published, tip.slug
