"""The terminal channel reads what she types: a number, a label, its first words, or text."""

from __future__ import annotations

import io

from bot.channels.console import ConsoleChannel
from bot.core.messages import Button, InboundEvent, Outbound


async def shown(*labels: str, typed: bool = False) -> tuple[ConsoleChannel, str]:
    out = io.StringIO()
    console = ConsoleChannel(out)
    buttons = tuple(Button(label, f"p:{n}") for n, label in enumerate(labels, start=1))
    await console.send("console", Outbound("Question?", buttons, typed=typed))
    return console, out.getvalue()


async def test_a_choice_by_number_label_or_first_words() -> None:
    console, screen = await shown("Yes, keep it", "No", "Ne pas l’écrire")
    assert "  1. Yes, keep it" in screen
    picks = {
        "2": "p:2",
        "no": "p:2",
        "YES, keep it": "p:1",
        "Yes": "p:1",  # the first words of exactly one label
        "ne pas l'ecrire": "p:3",  # no accent, a plain apostrophe
    }
    for typed, payload in picks.items():
        inbound = console.to_inbound(typed)
        assert (inbound.event, inbound.payload) == (InboundEvent.BUTTON, payload), typed
    for text in ("Ye", "4", "Yes please keep it", "keep"):
        inbound = console.to_inbound(text)
        assert inbound.event is InboundEvent.MESSAGE and inbound.text == text


async def test_first_words_shared_by_two_labels_choose_nothing() -> None:
    console, _ = await shown("Yes, keep it", "Yes, share it")
    assert console.to_inbound("Yes").event is InboundEvent.MESSAGE


async def test_where_she_types_her_answer_numbers_are_hers() -> None:
    console, screen = await shown("◀ Back", "Skip", "Stop for now", typed=True)
    assert "  [Skip]" in screen and "1." not in screen
    two = console.to_inbound("2")
    assert (two.event, two.text) == (InboundEvent.MESSAGE, "2")
    assert console.to_inbound("Stop").event is InboundEvent.MESSAGE, "a word she may mean"
    for label in ("[Skip]", "skip", "Stop for now"):
        assert console.to_inbound(label).event is InboundEvent.BUTTON, label
    media = console.to_inbound("[photo]")
    assert media.event is InboundEvent.MESSAGE and media.media is not None


async def test_invisible_marks_and_odd_digits_in_a_typed_choice() -> None:
    """A right-to-left mark or a BOM around a number or a label is not part of it (the core's
    one normaliser, `plain`); a superscript digit is no number and no crash."""
    console, _ = await shown("Yes, keep it", "No", "Maybe")
    for typed, payload in {"\u200f2": "p:2", "\ufeff3\u200e": "p:3", "\u200fNo": "p:2"}.items():
        inbound = console.to_inbound(typed)
        assert (inbound.event, inbound.payload) == (InboundEvent.BUTTON, payload), typed
    for text in ("²", "٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢٢"):
        assert console.to_inbound(text).event is InboundEvent.MESSAGE
