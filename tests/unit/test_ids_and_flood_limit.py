"""The id check, the control-character cleaning, and the flood limit's memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.flood import FloodLimit, Verdict
from bot.core.ids import MAX_ID, clean_text, parse_id, plain

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("#12", 12),
        (" 7 ", 7),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("99999999999999999999999", None),
        ("0", None),
        ("-1", None),
        ("+1", None),
        ("²", None),
        ("١٢", None),  # Arabic-Indic digits are digits to Python, not to a database
        ("1e3", None),
        ("##1", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_id(text: str | None, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_clean_text_keeps_newlines_and_tabs_only() -> None:
    assert clean_text("a\x00b\tc\r\nd\re\x1f\x7f") == "ab\tc\nd\ne"
    assert clean_text("مرحبا\n👋") == "مرحبا\n👋"
    assert clean_text(None) is None


def test_the_limit_counts_per_key_and_window() -> None:
    limit = FloodLimit(3)
    verdicts = [limit.check("a", NOW) for _ in range(5)]
    assert verdicts == [Verdict.HANDLE] * 3 + [Verdict.WARN, Verdict.DROP]
    assert limit.check("b", NOW) is Verdict.HANDLE
    assert limit.check("a", NOW + timedelta(seconds=60)) is Verdict.HANDLE
    assert FloodLimit(0).check("a", NOW) is Verdict.HANDLE, "0: no limit"


def test_ended_windows_are_forgotten() -> None:
    limit = FloodLimit(5)
    for n in range(5000):
        limit.check(n, NOW + timedelta(seconds=n // 100))
    assert len(limit) <= 2 * 60 * 100, "only the last minute's senders are kept"
    later = NOW + timedelta(minutes=10)
    for n in range(4000):
        limit.check(("new", n), later)
    assert len(limit) == 4000, "memory grows to at most twice the senders still counted"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u200f/help", "/help"),
        ("\ufeff3", "3"),
        ("نعم\u200f", "نعم"),
        ("\u061c\u200e 12 \u2069", "12"),
        ("a\u200bb\u00adc", "abc"),
        ("  plain  ", "plain"),
        ("", ""),
        (None, ""),
    ],
)
def test_plain_drops_invisible_format_characters(text: str | None, expected: str) -> None:
    assert plain(text) == expected


def test_invisible_marks_do_not_hide_an_id_a_number_a_command_or_a_word() -> None:
    from bot.core.i18n import fold
    from bot.core.messages import ChannelName, Inbound
    from bot.core.models import ConversationState

    assert parse_id("\u200f12") == 12
    assert ConversationState(menu=["a", "b", "c"]).numbered_choice("\ufeff3") == "c"
    assert ConversationState(menu=["a"]).numbered_choice("³") is None
    assert ConversationState(menu=["a"]).numbered_choice("1" * 5000) is None
    inbound = Inbound(ChannelName.TELEGRAM, "1", "1", text="\u200f/start CODE\u200f")
    assert inbound.command == ("start", "CODE")
    assert fold("نعم\u200f") == fold("نعم")


def test_a_survey_number_is_read_through_the_normaliser() -> None:
    from bot.core.surveys import Question, QuestionType, check_answer

    age = Question("age", QuestionType.NUMBER, {"en": {"prompt": "Age?"}}, minimum=0)
    assert check_answer(age, "\u200f25") == (25, None)
    assert check_answer(age, "\ufeff2,5\u200e") == (2.5, None)
    for text in ("nan", "inf", "-inf", "²"):
        assert check_answer(age, text) == (None, "not_a_number"), text
