"""`wasl brief …` end to end: a seeded SQLite file, `bot.cli.main`, PDF and Markdown, and every
kind of wrong argument answered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.reports import CalendarPeriod, PeriodKind
from storage.store import SqlStore
from tests.reports.test_brief_pdf import arabic_checks, page_count
from tests.support.briefs import seed_quarter
from tests.support.cli import database_for_cli, seeded_file

TODAY = datetime.now(UTC).date()
LATEST = CalendarPeriod.recent(PeriodKind.QUARTER, TODAY)[0]  # the CLI's default period


async def _seed(store: SqlStore) -> None:
    await seed_quarter(store, LATEST)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_file(tmp_path_factory, _seed)


@pytest.fixture
def database(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return database_for_cli(seeded, tmp_path, monkeypatch)


def test_an_arabic_pdf_brief_draws_arabic_as_it_is_read(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "iq.pdf"
    assert main(["brief", "IQ", "--format", "pdf", "--language", "ar", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and page_count(data) <= 2
    assert arabic_checks(data) == []
    printed = capsys.readouterr().out
    assert "العراق" in printed and str(out) in printed


def test_markdown_to_standard_output_and_a_default_file_name(
    database: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["brief", "iq", "--period", LATEST.label, "--out", "-"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Country brief: Iraq")
    assert "Smallest group shown (k):** 5" in text and "<5" in text
    monkeypatch.chdir(tmp_path)
    assert main(["brief", "SY"]) == 0
    written = list(tmp_path.glob(f"wasl-brief-SY-{LATEST.label}-*.pdf"))
    assert len(written) == 1 and page_count(written[0].read_bytes()) <= 2


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["brief", "IQ", "--period", "2026"], "not a quarter or a month"),
        (["brief", "IQ", "--period", "2999-Q1"], "not over yet"),
        (["brief", "IQ", "--out", "brief.txt"], "a brief is written as .pdf or .md"),
        (["brief", "IQ", "--format", "md", "--out", "x.pdf"], "ends in .pdf but --format is md"),
        (["brief", "IQ", "--format", "pdf", "--out", "-"], "pdf is a binary format"),
        (["brief", "FR", "--out", "-"], "one of the alliance's countries"),
    ],
)
def test_wrong_arguments_are_answered(
    database: Path, args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert said in capsys.readouterr().err
