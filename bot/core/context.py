"""What a handler gets for one update: who, where in the conversation, and how to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core import keys
from bot.core.actors import Actor, NotAllowed
from bot.core.clock import Clock
from bot.core.i18n import Catalogs, Translator
from bot.core.invites import InviteLinks
from bot.core.messages import Button, Inbound, MediaRef, Outbound, OutboundFile, Reply
from bot.core.models import ConversationState, Member, Role
from bot.core.ports import Transaction


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Settings the core and handlers need (a plain copy of the relevant configuration)."""

    open_join: bool = False
    admin_ids: frozenset[tuple[str, str]] = frozenset()  # (channel, platform id)
    countries: tuple[str, ...] = ("IQ", "SY", "LB", "JO", "YE", "LY", "NG", "PK")
    consent_version: str = "2026-11"
    wipe_window_hours: int = 47  # Telegram lets bots delete their messages for 48 h
    approval_threshold: int = 200  # campaigns to more people need a second coordinator
    update_retention_days: int = 180  # raw update text is deleted after this
    min_cell: int = 5  # reports hide groups of fewer people than this (WASL_MIN_CELL)
    invite_links: InviteLinks = field(default_factory=InviteLinks)  # where invitations point
    public_url: str | None = None  # where `wasl serve` is reached (the web dashboard)
    # Updates a minute per person before she is asked to wait; 0: no limit. The app sets it
    # from WASL_FLOOD_PER_MINUTE (20 unless set).
    flood_per_minute: int = 0
    # WASL_SECRET_KEY: every keyed hash derives from it (bot.core.keys); never in the database.
    secret_key: bytes = field(default_factory=keys.ephemeral, repr=False)


@dataclass(slots=True)
class Context:
    """One update being handled. Handlers read and write through `tx` and answer with `say`."""

    inbound: Inbound
    member: Member | None
    state: ConversationState
    tx: Transaction
    translator: Translator
    catalogs: Catalogs
    clock: Clock
    config: CoreConfig
    reply: Reply = field(default_factory=Reply)
    erased: bool = False  # set by /forget: nothing about her may be written after it

    @property
    def _(self) -> Translator:
        return self.translator

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def locale(self) -> str:
        return self.translator.locale

    @property
    def second_locale(self) -> str | None:
        """The language she also reads (tips and surveys missing in hers), if she chose one."""
        return self.member.second_locale if self.member else None

    @property
    def actor(self) -> Actor:
        """Her, as services see who acts (and the audit log names her: "member:ID")."""
        if self.member is None:
            raise NotAllowed(Role.MEMBER, "member action")
        return Actor.of(self.member)

    @property
    def role(self) -> Role | None:
        return self.member.role if self.member else None

    def say(
        self,
        text: str,
        buttons: tuple[Button, ...] | list[Button] = (),
        *,
        columns: int = 1,
        replace: bool = False,
        file: OutboundFile | None = None,
        attachment: MediaRef | None = None,
        typed: bool = False,
        ack: str | None = None,
    ) -> None:
        """Queue a message to her; it is sent after the update's transaction commits.

        `typed`: the answer is to be typed, the buttons are only ways out (back, skip, stop).
        `ack`: with `replace`, the one line a channel that cannot edit in place may print
        instead of the whole message (the terminal).
        """
        self.reply.messages.append(
            Outbound(
                text=text,
                buttons=tuple(buttons),
                columns=columns,
                replace=replace,
                file=file,
                attachment=attachment,
                typed=typed,
                ack=ack,
            )
        )

    def set_locale(self, code: str) -> None:
        """Speak `code` from now on (in this update and, for a member, in every later one)."""
        self.translator = self.catalogs.get(code)
        if self.member is not None:
            self.member.locale = self.translator.locale
