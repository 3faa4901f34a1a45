"""What several conversations share: the main menu, command buttons and words, sphere labels."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.conversation import Option
from bot.core.i18n import N_, likely_languages, native_language_name, region_of, resolve
from bot.core.ids import parse_id
from bot.core.messages import Button, ChannelName
from bot.core.models import MemberStatus
from bot.core.router import COMMAND_PAYLOAD
from bot.core.spheres import SPHERES


def sphere_labels(ctx: Context, codes: list[str]) -> str:
    """Her spheres as a comma-separated list in her language, in the alliance's order (the
    order of the checklist she ticked them in)."""
    labels = [ctx._(s.label) for s in SPHERES if s.code in codes]
    return ctx._(", ").join(labels) if labels else ctx._("none")


def not_in_her_language(ctx: Context, shown: str) -> str:
    """The one line under a tip or survey shown in another language than hers: in which."""
    return ctx._(
        # Translators: under a tip or survey not translated yet, e.g. "Not yet in Urdu —
        # shown in English." Both are language names from CLDR, in her language.
        "Not yet in {language} — shown in {shown}.",
        language=ctx._.language_name(ctx.locale),
        shown=ctx._.language_name(shown),
    )


NO_SECOND = "none"  # the second-language step's answer for "none"


def second_language_question(ctx: Context) -> str:
    """Onboarding's and /language's question for a second language."""
    return ctx._(
        "Do you read another language too? Tips and surveys not yet in {language} will be "
        "shown in it.",
        language=ctx._.language_name(ctx.locale),
    )


def command_button(label: str, command: str) -> Button:
    """A button that runs a command, as if she had typed it."""
    return Button(label, f"{COMMAND_PAYLOAD}{command}")


def main_menu(ctx: Context) -> list[Button]:
    """The short menu under a welcome or a "didn't understand": buttons beat typing."""
    buttons = [
        command_button(ctx._("Share an update"), "update"),
        command_button(ctx._("Good practices"), "tips"),
        command_button(ctx._("My data"), "mydata"),
        command_button(ctx._("Language"), "language"),
    ]
    if ctx.member is not None and ctx.member.status is MemberStatus.PAUSED:
        buttons.append(command_button(ctx._("Resume messages"), "resume"))
    else:
        buttons.append(command_button(ctx._("Pause messages"), "pause"))
    buttons.append(command_button(ctx._("Help"), "help"))
    return buttons


def command_text(ctx: Context, name: str) -> str:
    """How she types a command on her channel: "/help" on Telegram; on WhatsApp, which has no
    slash menu, the command's word in her language ("aide", "مساعدة")."""
    return ctx._(name) if ctx.inbound.channel is ChannelName.WHATSAPP else f"/{name}"


# A language menu shows this many languages, the likeliest for her, then "More languages".
LANGUAGES_SHOWN = 5
MORE_LANGUAGES = N_("More languages")
# Her update may be quoted, without her name, in country briefs (/update summary, /mydata).
QUOTABLE = N_("may be quoted in briefs")


def language_options(ctx: Context, country: str | None = None) -> list[Option]:
    """Every supported language, named in itself, the likeliest for her first: her phone's
    language, the one she uses now, the languages of her country (`country`, else the one her
    phone's language names or is mostly spoken in), then the rest. A step shows the first
    `LANGUAGES_SHOWN` with `shown=LANGUAGES_SHOWN, rest=MORE_LANGUAGES`."""
    catalogs, hint = ctx.catalogs, ctx.inbound.language_hint
    codes = likely_languages(
        catalogs.supported,
        catalogs.default,
        first=(resolve(hint, catalogs.supported), ctx.locale),
        country=country or region_of(hint),
    )
    return [Option(code, native_language_name(code)) for code in codes]


def among_the_first(options: list[Option], extra: Option) -> list[Option]:
    """A language menu's options with `extra` (Skip, her second language…) among the ones
    shown first when the menu is folded behind "More languages", else last."""
    if len(options) + 1 > LANGUAGES_SHOWN + 1:  # folded: the first LANGUAGES_SHOWN are shown
        at = LANGUAGES_SHOWN - 1
        return [*options[:at], extra, *options[at:]]
    return [*options, extra]


def second_language_options(ctx: Context, none: str, country: str | None = None) -> list[Option]:
    """Every supported language but hers, the likeliest first, named in itself; and `none`
    (already translated: Skip, No second language) among the ones shown first."""
    others = [o for o in language_options(ctx, country) if o.value != ctx.locale]
    return among_the_first(others, Option(NO_SECOND, none))


def typed_id(ctx: Context, text: str) -> int | None:
    """The number she typed after a command ("12" or "#12"), or None after telling her, in a
    short line, that it is not one (letters, "²", a sign, or too large to be any record's)."""
    value = parse_id(text)
    if value is None:
        ctx.say(ctx._("“{value}” is not a valid number.", value=text[:20]))
    return value


# Command words typed without a slash, as WhatsApp has no slash menu: each command's words,
# as msgids (the router translates them). Every catalog gives each a different word, and no
# word means two commands in two languages (tests/unit/test_catalogs.py checks both).
# Translators: one lower-case word each, no spaces, e.g. "aide" for "help".
COMMAND_WORDS: dict[str, tuple[str, ...]] = {
    "start": (N_("start"),),
    "help": (N_("help"),),
    "language": (N_("language"),),
    "pause": (N_("pause"),),
    "resume": (N_("resume"),),
    "mydata": (N_("mydata"),),
    "forget": (N_("forget"),),
    "wipe": (N_("wipe"),),
    "cancel": (N_("cancel"),),
    "alert": (N_("alert"),),
    "campaign": (N_("campaign"),),
    "tips": (N_("tips"),),
    "update": (N_("update"),),
    "moderate": (N_("moderate"),),
    "survey": (N_("survey"),),
    "peers": (N_("peers"),),
    # The opt-out words people send to any bulk sender ("STOP", "توقف", "arrêt").
    # Translators: a second word for stopping messages, as in "unsubscribe"; one word.
    "stop": (N_("stop"), N_("unsubscribe")),
    "report": (N_("report"),),
    "invite": (N_("invite"),),
    "dashboard": (N_("dashboard"),),
    "brief": (N_("brief"),),
}
# Joining ("start CODE") and stopping messages work in every language, whichever she set:
# joining comes before she chose one, and stopping must never fail.
WORDS_EVERYWHERE = ("start", "stop")
