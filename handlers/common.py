"""What several conversations share: the main menu, command buttons and words, sphere labels."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.conversation import Option
from bot.core.i18n import N_, native_language_name
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


def second_language_options(ctx: Context, none: str) -> list[Option]:
    """Every supported language but hers, named in itself, then `none` (already translated)."""
    return [
        *(
            Option(code, native_language_name(code))
            for code in ctx.catalogs.supported
            if code != ctx.locale
        ),
        Option(NO_SECOND, none),
    ]


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


def typed_id(ctx: Context, text: str) -> int | None:
    """The number she typed after a command ("12" or "#12"), or None after telling her, in a
    short line, that it is not one (letters, "²", a sign, or too large to be any record's)."""
    value = parse_id(text)
    if value is None:
        ctx.say(ctx._("“{value}” is not a valid number.", value=text[:20]))
    return value


# Command words typed without a slash, as WhatsApp has no slash menu. The router translates a
# command's name to find its word; these markers only put the names in the catalog.
# Translators: one lower-case word each, no spaces, e.g. "aide" for "help".
COMMAND_WORDS = (
    N_("start"),
    N_("help"),
    N_("language"),
    N_("pause"),
    N_("resume"),
    N_("mydata"),
    N_("forget"),
    N_("wipe"),
    N_("cancel"),
    N_("alert"),
    N_("campaign"),
    N_("tips"),
    N_("update"),
    N_("moderate"),
    N_("survey"),
    N_("stop"),
    N_("report"),
    N_("invite"),
    N_("dashboard"),
)
