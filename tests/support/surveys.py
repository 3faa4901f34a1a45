"""A small survey definition for tests, in the content-file shape."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Catalogs
from bot.delivery.limiter import RateLimiter
from bot.delivery.worker import DeliveryWorker
from storage.outbox import OutboxStore
from tests.support.harness import Harness, Person

CATALOGS = Catalogs()


async def deliver(h: Harness) -> dict[str, list[str]]:
    """Run the delivery worker until the outbox is drained (invitations, reminders): what
    each chat received. Their buttons are then hers to tap."""
    before = len(h.channel.sent)
    worker = DeliveryWorker(
        OutboxStore(h.store),
        {h.channel.name: h.channel},
        {h.channel.name: RateLimiter(1000, per_chat=1000)},
        h.clock,
    )
    while await worker.drain_once():
        pass
    received: dict[str, list[str]] = {}
    for sent in h.channel.sent[before:]:
        received.setdefault(sent.chat_id, []).append(sent.message.text or "")
    return received


async def answer_briefly(
    she: Person, safe: str = "3", work: str = "4", slug: str = "pulse-test"
) -> list[object]:
    """The shortest way through `pulse`, by the labels she sees: a scale point, "No" to the
    threat (which jumps over "who"), a number of days, and the optional note skipped.
    Returns the last replies (the thanks, and for a member the results question)."""
    _ = CATALOGS.get(she.language or "en")
    await she.say(f"/survey {slug}")
    await she.tap(safe)
    await she.tap(_("No"))
    await she.say(work)
    return list(await she.tap(_("Skip")))


def pulse(slug: str = "pulse-test", mode: str = "members") -> dict[str, Any]:
    return {
        "slug": slug,
        "mode": mode,
        "default_locale": "en",
        "text": {
            "en": {"title": "Pulse: safety", "intro": "Four short questions."},
            "ar": {"title": "نبض: الأمان", "intro": "أربعة أسئلة قصيرة."},
            "fr": {"title": "Pouls : sécurité", "intro": "Quatre questions courtes."},
        },
        "questions": [
            {
                "key": "safe",
                "type": "scale",
                "text": {
                    "en": {
                        "prompt": "How safe did you feel this month?",
                        "low": "Not at all",
                        "high": "Completely",
                    },
                    "ar": {
                        "prompt": "ما مدى شعورك بالأمان هذا الشهر؟",
                        "low": "إطلاقاً",
                        "high": "تماماً",
                    },
                    "fr": {
                        "prompt": "À quel point vous êtes-vous sentie en sécurité ?",
                        "low": "Pas du tout",
                        "high": "Tout à fait",
                    },
                },
            },
            {
                "key": "threat",
                "type": "yesno",
                "jumps": {"no": "work"},
                "text": {
                    "en": {"prompt": "Were you threatened?"},
                    "ar": {"prompt": "هل تعرضتِ للتهديد؟"},
                    "fr": {"prompt": "Avez-vous été menacée ?"},
                },
            },
            {
                "key": "who",
                "type": "multiple",
                "max_choices": 2,
                "options": ["armed", "family", "online"],
                "text": {
                    "en": {"prompt": "By whom?", "options": ["Armed group", "Family", "Online"]},
                    "ar": {
                        "prompt": "من قِبل من؟",
                        "options": ["جماعة مسلحة", "العائلة", "عبر الإنترنت"],
                    },
                    "fr": {
                        "prompt": "Par qui ?",
                        "options": ["Groupe armé", "Famille", "En ligne"],
                    },
                },
            },
            {
                "key": "work",
                "type": "number",
                "min": 0,
                "max": 31,
                "text": {
                    "en": {"prompt": "How many days did you do community work?"},
                    "ar": {"prompt": "كم يوماً عملتِ في المجتمع؟"},
                    "fr": {"prompt": "Combien de jours de travail communautaire ?"},
                },
            },
            {
                "key": "note",
                "type": "text",
                "required": False,
                "text": {
                    "en": {"prompt": "Anything else?"},
                    "ar": {"prompt": "هل من شيء آخر؟"},
                    "fr": {"prompt": "Autre chose ?"},
                },
            },
        ],
    }


def pulse_ten(slug: str = "pulse-ten") -> dict[str, Any]:
    """`pulse` with ten questions: one of each kind and a skip, for tests at scale."""
    data = pulse(slug)
    *first, note = data["questions"]

    def texts(prompt: str, **extra: Any) -> dict[str, dict[str, Any]]:
        return {
            locale: {"prompt": f"{prompt} ({locale})", **extra} for locale in ("en", "ar", "fr")
        }

    scale = {"low": "Low", "high": "High"}
    data["questions"] = [
        *first,  # safe (scale), threat (yes/no, "no" skips who), who (multiple), work (number)
        {
            "key": "support",
            "type": "single",
            "options": ["peers", "ngo", "none"],
            "text": texts("Who supported you?", options=["Peers", "An NGO", "No one"]),
        },
        {"key": "trust", "type": "scale", "text": texts("How much do you trust them?", **scale)},
        {"key": "online", "type": "yesno", "text": texts("Did you work online?")},
        {
            "key": "needs",
            "type": "multiple",
            "max_choices": 2,
            "options": ["legal", "health", "money"],
            "text": texts("What do you need most?", options=["Legal aid", "Health", "Money"]),
        },
        {"key": "hope", "type": "scale", "text": texts("How hopeful are you?", **scale)},
        note,  # text, optional
    ]
    intros = {
        "en": "Ten short questions.",
        "ar": "عشرة أسئلة قصيرة.",
        "fr": "Dix questions courtes.",
    }
    data["text"] = {
        locale: {**text, "intro": intros[locale]} for locale, text in data["text"].items()
    }
    return data


def option_label(
    key: str, option: str, locale: str = "en", data: dict[str, Any] | None = None
) -> str:
    """The label she sees for `option` of question `key` (of `pulse` by default)."""
    question = next(q for q in (data or pulse())["questions"] if q["key"] == key)
    return str(question["text"][locale]["options"][question["options"].index(option)])
