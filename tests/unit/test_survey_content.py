"""Surveys in content files: the shipped example loads, bad ones are refused naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli_content import ContentError, parse_content
from bot.core.surveys import QuestionType
from tests.support.surveys import pulse

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_survey_is_valid_in_three_languages() -> None:
    content = parse_content((ROOT / "content" / "surveys.yaml").read_text(encoding="utf-8"))
    [(survey, _, _)] = content.surveys
    assert set(survey.texts) == {"en", "ar", "fr"}
    assert len(survey.questions) == 8
    assert {q.type for q in survey.questions} >= {
        QuestionType.SCALE,
        QuestionType.YES_NO,
        QuestionType.MULTIPLE,
        QuestionType.NUMBER,
        QuestionType.SINGLE,
        QuestionType.TEXT,
    }
    for question in survey.questions:
        assert set(question.texts) == {"en", "ar", "fr"}, question.key


def document(*surveys: dict[str, object]) -> str:
    return yaml.safe_dump({"default_locale": "en", "surveys": list(surveys)}, allow_unicode=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["questions"][1].update(jumps={"no": "missing"}), "missing question"),
        (lambda d: d["questions"][2].update(jumps={"armed": "safe"}), "cycle"),
        (lambda d: d["questions"][2]["text"]["ar"]["options"].pop(), "option labels"),
    ],
)
def test_a_bad_survey_is_refused_with_its_line(change, message) -> None:  # type: ignore[no-untyped-def]
    good, bad = pulse("good-one"), pulse("bad-one")
    change(bad)
    text = document(good, bad)
    with pytest.raises(ContentError) as refused:
        parse_content(text)
    [problem] = refused.value.problems
    assert message in problem.message
    lines = text.splitlines()
    good_line = next(n for n, line in enumerate(lines, 1) if "good-one" in line)
    bad_line = next(n for n, line in enumerate(lines, 1) if "bad-one" in line)
    # safe_dump sorts keys, so each survey's slug is its last line: the bad one starts after
    # the good one's slug and ends with its own.
    assert good_line < problem.line <= bad_line, "the line points into the bad survey"


def test_duplicate_survey_slugs_are_refused() -> None:
    with pytest.raises(ContentError, match="problem"):
        parse_content(document(pulse("same"), pulse("same")))
