"""Typed button payloads: packed and unpacked alike, versioned, short, forgery-proof."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pytest

from bot.core.callbacks import Callback, PayloadTooLong
from bot.core.conversation import StepPayload, step_payload


class Verdict(StrEnum):
    APPROVE = "ok"
    REJECT = "no"


@dataclass(frozen=True, slots=True)
class Review(Callback, prefix="rv", version=2):
    update_id: int
    verdict: Verdict
    urgent: bool = False
    note: str | None = None


def test_a_payload_round_trips_with_its_types() -> None:
    value = Review(42, Verdict.REJECT, True, "a:b")
    packed = value.pack()
    assert packed == "rv:2:42:no:1:a:b"
    assert Review.unpack(packed) == value
    assert Review.unpack(Review(7, Verdict.APPROVE).pack()) == Review(7, Verdict.APPROVE)


@pytest.mark.parametrize(
    "payload",
    [
        "rv:2:x:ok:0:",
        "rv:2:42:maybe:0:",
        "rv:2:42:ok:2:",
        "rv:2:42",
        "zz:2:42:ok:0:",
        "",
        "rv",
        "rv:2:²:ok:0:",
        "rv:2:99999999999999999999:ok:0:",
    ],
)
def test_a_forged_or_damaged_payload_is_refused(payload: str) -> None:
    assert Review.unpack(payload) is None


def test_an_older_versions_button_is_recognised_as_old() -> None:
    assert Review.unpack("rv:1:42:ok:0:") is None
    assert Review.is_old("rv:1:42:ok:0:")
    assert not Review.is_old("rv:2:42:ok:0:")
    assert not Review.is_old("other:1:42")


def test_a_payload_never_exceeds_telegrams_64_bytes() -> None:
    with pytest.raises(PayloadTooLong):
        Review(1, Verdict.APPROVE, False, "x" * 60).pack()
    with pytest.raises(PayloadTooLong):
        step_payload("flow", 1, "step", "é" * 40)


def test_a_step_payload_round_trips() -> None:
    packed = step_payload("camp", 3, "countries", "SD")
    assert packed == "camp:3:countries:SD"
    assert StepPayload.unpack(packed) == StepPayload("camp", 3, "countries", "SD")
    assert StepPayload.unpack("camp:x:countries:SD") is None
