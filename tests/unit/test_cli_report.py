"""`wasl report …` end to end: a seeded SQLite file, `bot.cli.main`, the four formats."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.cli_report import Progress
from storage.store import SqlStore
from tests.support.cli import database_for_cli, seeded_file
from tests.support.harness import visible
from tests.support.reports import FREE_TEXT, seed_members, seed_survey, seed_updates

NOW = datetime.now(UTC)


async def _seed(store: SqlStore) -> None:
    await seed_survey(store, NOW, {"IQ": 30, "SY": 20, "YE": 2}, slug="pulse-cli")
    await seed_survey(store, NOW, {"IQ": 9}, slug="open-cli", close=False)
    # Two weeks ago: in a complete week, which counts over time are released for.
    ids = await seed_members(store, NOW - timedelta(days=14), {"IQ": 12, "SY": 9})
    await seed_updates(store, NOW - timedelta(days=14), ids[0], {"IQ": 30, "SY": 30})


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated and seeded database, built once for this module; each test gets a copy."""
    return seeded_file(tmp_path_factory, _seed)


@pytest.fixture
def database(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return database_for_cli(seeded, tmp_path, monkeypatch)


def test_a_survey_report_in_all_four_formats(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "survey", "pulse-cli", "--by", "country"]
    for fmt in ("csv", "xlsx", "png", "md"):
        out = tmp_path / f"report.{fmt}"
        assert main([*base, "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 0
    printed = capsys.readouterr().out
    assert "Wrote" in printed and "5 tables, by country" in printed
    assert "smallest group shown: 5" in printed

    raw = (tmp_path / "report.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {r["group"] for r in rows} >= {"Iraq", "Syria", "Yemen"}
    yemen = [r for r in rows if r["group"] == "Yemen" and r["answer"] != "Total"]
    assert all(r["count"] in ("<5", "x", "0") for r in yemen), "Yemen's 2 people stay hidden"
    assert all(FREE_TEXT not in value for r in rows for value in r.values())

    book = load_workbook(io.BytesIO((tmp_path / "report.xlsx").read_bytes()))
    assert book.sheetnames[-1] == "notes"
    notes = [str(v) for row in book["notes"].iter_rows(values_only=True) for v in row if v]
    assert "pulse-cli" in notes and "5" in notes

    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Pulse: safety") and "| Iraq |" in markdown
    assert "## Notes" in markdown


def test_updates_and_membership_reports_and_the_format_from_the_name(
    database: Path, tmp_path: Path
) -> None:
    updates = tmp_path / "updates.md"
    args = ["report", "updates", "--by", "week", "--period", "all", "--out", str(updates)]
    assert main(args) == 0
    markdown = updates.read_text(encoding="utf-8")
    assert "Field updates" in markdown and "Figures perturbed by at most:** ±2" in markdown
    assert "changed by at most ±2" in markdown, "said in the notes at the end too"
    members = tmp_path / "members.xlsx"
    args = ["report", "membership", "--by", "sphere", "--period", "all", "--out", str(members)]
    assert main(args) == 0
    text = [
        str(v)
        for sheet in load_workbook(io.BytesIO(members.read_bytes())).worksheets
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]
    assert "Youth deradicalisation" in text
    assert not any(v.startswith("5000") for v in text), "no platform or chat ids"
    french = tmp_path / "membres.csv"
    args = ["report", "membership", "--period", "all", "--out", str(french), "--language", "fr"]
    assert main(args) == 0
    assert "±2" in french.read_text(encoding="utf-8-sig"), "the CSV carries the notes too"
    delivery = tmp_path / "delivery.csv"
    assert main(["report", "delivery", "--out", str(delivery)]) == 2, "no campaign yet"


def test_what_cannot_be_reported_is_said_plainly(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.csv")
    assert main(["report", "survey", "nope", "--out", out]) == 2
    assert "There is no survey called nope." in capsys.readouterr().err
    assert main(["report", "survey", "open-cli", "--out", out]) == 2
    assert "still open" in capsys.readouterr().err
    # Survey results are released once, for the whole survey: no period, no split by time.
    for asked in (["--by", "week"], ["--since", "2001-01-01", "--until", "2001-02-01"]):
        with pytest.raises(SystemExit) as refused:
            main(["report", "survey", "pulse-cli", *asked, "--out", out])
        assert refused.value.code == 2
    assert "unrecognized arguments: --since" in capsys.readouterr().err
    assert main(["report", "survey", "pulse-cli", "--by", "age", "--out", out]) == 2
    assert "cannot be split that way" in capsys.readouterr().err, "age: not declared"
    assert main(["report", "survey", "pulse-cli", "--format", "xlsx", "--out", "-"]) == 2
    assert not Path(out).with_suffix(".xlsx").exists()


def test_counts_over_time_come_for_whole_calendar_periods_only(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.csv")
    for subject in ("updates", "membership", "delivery"):
        assert main(["report", subject, "--since", "2026-01-01", "--out", out]) == 2
        error = capsys.readouterr().err
        assert "--since/--until are not offered" in error and "--period" in error
    assert main(["report", "updates", "--period", "month", "--at", "2026-13", "--out", out]) == 2
    assert "not a month label" in capsys.readouterr().err
    assert main(["report", "updates", "--period", "week", "--at", "2999-W01", "--out", out]) == 2
    assert "not over yet" in capsys.readouterr().err
    two_weeks_ago = (NOW - timedelta(days=14)).isocalendar()
    week = f"{two_weeks_ago.year}-W{two_weeks_ago.week:02d}"
    args = ["report", "updates", "--period", "week", "--at", week, "--by", "country"]
    assert main([*args, "--out", out]) == 0
    assert "Iraq" in Path(out).read_text(encoding="utf-8-sig")


class Terminal(io.StringIO):
    """Standard error when it is a terminal."""

    def isatty(self) -> bool:
        return True


async def test_progress_shows_only_after_a_second() -> None:
    ticks = iter([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    quiet = io.StringIO()
    async with Progress(("a", "b"), quiet, clock=lambda: next(ticks)) as progress:
        progress.step()
        progress.step()
    assert quiet.getvalue() == ""
    slow = Terminal()
    times = iter([0.0, 1.5, 2.0, 2.5, 3.0])
    async with Progress(("counting", "writing"), slow, clock=lambda: next(times)) as progress:
        progress.step()
    shown = slow.getvalue()
    assert "1/2 writing" in shown and "2/2 done" in shown and shown.endswith("\n")
    assert "█" in shown


async def test_progress_off_a_terminal_is_plain_lines_one_per_stage() -> None:
    """In a log or a pipe a redrawn bar is a heap of carriage returns: plain lines instead,
    one per stage however often the ticker fires."""
    times = iter([0.0, 1.5, 1.6, 1.7, 2.0, 2.5, 3.0, 3.5])
    log = io.StringIO()
    async with Progress(("counting", "writing"), log, clock=lambda: next(times)) as progress:
        progress.step()
        progress._draw_if_due()  # the ticker, again in the same stage
        progress._draw_if_due()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "█" not in log.getvalue()
    assert lines == ["report: 1/2 writing 1.6s", "report: 2/2 done 2.5s"], lines


def test_an_out_file_whose_extension_is_not_the_format_is_refused(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "survey", "pulse-cli"]
    pdf = tmp_path / "x.pdf"
    assert main([*base, "--out", str(pdf)]) == 2
    said = capsys.readouterr().err
    assert ".pdf is not a format" in said and "csv" in said
    assert not pdf.exists()
    mixed = tmp_path / "x.csv"
    assert main([*base, "--format", "xlsx", "--out", str(mixed)]) == 2
    assert "--format is xlsx" in capsys.readouterr().err
    assert not mixed.exists()
    upper = tmp_path / "X.XLSX"  # the format from the name, whatever its case
    assert main([*base, "--out", str(upper)]) == 0
    assert upper.read_bytes()[:2] == b"PK"
    bare = tmp_path / "results"  # no extension: --format, else csv
    assert main([*base, "--format", "md", "--out", str(bare)]) == 0
    assert bare.read_text(encoding="utf-8").startswith("#")


def test_the_summary_is_in_the_report_language_from_end_to_end(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.csv"
    args = ["report", "survey", "pulse-cli", "--by", "country", "--language", "ar"]
    assert main([*args, "--out", str(out)]) == 0
    printed = visible(capsys.readouterr().out.strip())
    said = printed.replace(str(out), "")
    assert said.startswith("كُتب الملف") and "جداول" in said and "أصغر مجموعة معروضة: 5" in said
    assert not re.search("[A-Za-z]", said), f"nothing left in English: {said!r}"
    assert main(["report", "survey", "nope", "--out", str(out), "--language", "ar"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("لا تقرير:") and not re.search(
        "[A-Za-z]", refused.replace("nope", "")
    )


def test_who_works_where_is_the_membership_table_by_country(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, membership = tmp_path / "whowhere.csv", tmp_path / "membership.csv"
    assert main(["report", "whowhere", "--out", str(table)]) == 0
    assert "Who works where" in capsys.readouterr().out
    args = ["report", "membership", "--by", "country", "--period", "all"]
    assert main([*args, "--out", str(membership)]) == 0

    def cells(path: Path) -> list[tuple[str, ...]]:
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        return [(r["group"], r["answer"], r["count"]) for r in rows if r["section"]]

    figures = cells(table)
    [iraq] = [n for *cell, n in figures if cell == ["Iraq", "Youth deradicalisation"]]
    assert 10 <= int(iraq) <= 14, "12 women, changed by at most ±2"
    assert figures == cells(membership), "the same figures as the membership report"
    assert ("Iraq", "Peace and pluralism", "<5") in figures, "where nobody works: <5"


def test_the_operator_suggests_an_introduction(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["peers", "suggest", "1", "2", "--sphere", "vaw"]) == 2
    assert "not suggested: gone" in capsys.readouterr().err, "neither is listed in vaw"
    with pytest.raises(SystemExit):
        main(["peers", "suggest", "1", "x", "--sphere", "vaw"])
