"""Routing: an Inbound becomes a handler call inside one transaction, then replies go out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol, TypeVar

from bot.core.actors import NotAllowed, audit
from bot.core.callbacks import Callback
from bot.core.clock import Clock
from bot.core.context import Context, CoreConfig
from bot.core.flood import FloodLimit, Verdict
from bot.core.i18n import N_, Catalogs, fold, resolve
from bot.core.ids import clean_text, plain
from bot.core.messages import (
    ChannelName,
    Inbound,
    InboundEvent,
    Outbound,
    Reply,
    ReplyAttempt,
    SendStatus,
)
from bot.core.models import ConversationState, Member, MemberStatus, Role, StaleState
from bot.core.ports import Channel, Store, Transaction

log = logging.getLogger(__name__)

Handler = Callable[[Context], Awaitable[None]]
B = TypeVar("B", bound=Callback)
CommandHandler = Callable[[Context, str], Awaitable[None]]

COMMAND_PAYLOAD = "cmd:"
SORRY = N_("Sorry, something went wrong on our side. Please try again in a moment.")
NO_LONGER = N_("This is no longer available to you.")
SLOW_DOWN = N_("You are sending messages very fast. Please wait a minute.")
STALE_BUTTON = N_("That button is from an earlier message and no longer works.")
# Runs of one update against a conversation state another worker keeps saving first; past
# this she is told something went wrong (each conflict means another update of hers was saved).
STATE_ATTEMPTS = 5
# "Last seen" is kept to the quarter hour: finer adds a write to every update and tells no one
# anything useful.
LAST_SEEN_RESOLUTION = timedelta(minutes=15)  # a button whose payload is "cmd:help" runs /help


class Flow(Protocol):
    """A multi-step conversation. Its button payloads start with `name` + ":"."""

    name: str

    async def on_input(self, ctx: Context) -> None:
        """Handle text, media or one of this flow's buttons at the current step."""

    async def reprompt(self, ctx: Context) -> None:
        """Ask the current step's question again (after a stray input)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command (also reachable by its bare word and by a `cmd:` button)."""

    name: str
    handler: CommandHandler
    role: Role | None  # None: anyone, even someone who has not joined
    description: str  # a msgid, translated when the menu is shown
    in_menu: bool = True


class Router:
    """Knows every command and flow; picks the handler for an inbound."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.flows: dict[str, Flow] = {}
        self.actions: dict[str, Handler] = {}
        # The role each flow's steps and each button prefix need, checked on every update
        # against her role as loaded in this transaction (None: anyone).
        self.flow_roles: dict[str, Role | None] = {}
        self.action_roles: dict[str, Role | None] = {}
        self.fallback: Handler | None = None
        self.not_joined: Handler | None = None
        # The words typed for each command, as msgids (`set_words`); a command without any
        # is typed as its name, translated.
        self.words: Mapping[str, Sequence[str]] = {}
        self.everywhere: frozenset[str] = frozenset()
        self._index: tuple[Catalogs, dict[str, list[tuple[str, str]]]] | None = None

    def set_words(self, words: Mapping[str, Sequence[str]], everywhere: Collection[str]) -> None:
        """The command words typed without a slash (WhatsApp has no slash menu): `words` maps
        a command to msgids, one word each once translated. She may type a command's name
        (English), its words in her language or in her phone's, and, before she has joined
        (no language chosen yet), in any supported language; the words of the commands in
        `everywhere` (start, the STOP words) work in every supported language for everyone."""
        self.words, self.everywhere, self._index = words, frozenset(everywhere), None

    def command(
        self, name: str, description: str, *, role: Role | None = Role.MEMBER, in_menu: bool = True
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(handler: CommandHandler) -> CommandHandler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = Command(name, handler, role, description, in_menu)
            return handler

        return register

    def action(
        self, prefix: str, *, role: Role | None = Role.MEMBER
    ) -> Callable[[Handler], Handler]:
        """Register a handler for buttons whose payload starts with `prefix` + ":", whatever
        the conversation state (paging through tips, rating one): stateless buttons.

        `role`: who may press them, checked at every press (an old message keeps its buttons
        after she loses the role)."""

        def register(handler: Handler) -> Handler:
            if prefix in self.actions or prefix in self.flows:
                raise ValueError(f"button prefix {prefix} registered twice")
            self.actions[prefix] = handler
            self.action_roles[prefix] = role
            return handler

        return register

    def button(
        self, kind: type[B], *, role: Role | None = Role.MEMBER
    ) -> Callable[
        [Callable[[Context, B], Awaitable[None]]], Callable[[Context, B], Awaitable[None]]
    ]:
        """Register a handler for a typed stateless button (`bot.core.callbacks.Callback`):
        it gets the unpacked value. An older version's button, or a forged or damaged
        payload, is answered once as stale and never reaches the handler."""

        def register(
            handler: Callable[[Context, B], Awaitable[None]],
        ) -> Callable[[Context, B], Awaitable[None]]:
            async def unpacked(ctx: Context) -> None:
                value = kind.unpack(ctx.inbound.payload)
                if value is None:
                    ctx.say(ctx._(STALE_BUTTON))
                    return
                await handler(ctx, value)

            self.action(kind.prefix, role=role)(unpacked)
            return handler

        return register

    def flow(self, flow: Flow, *, role: Role | None = None) -> Flow:
        """Register a flow. `role`: who may take each of its steps, checked at every step, so
        a role taken away mid-way stops the flow at her next input."""
        if flow.name in self.flows:
            raise ValueError(f"flow {flow.name} registered twice")
        self.flows[flow.name] = flow
        self.flow_roles[flow.name] = role
        return flow

    async def current_flow(self, ctx: Context) -> Flow | None:
        """The flow she is in, if she may still use it. If her role no longer allows it, the
        flow is ended, she is told, the refusal is audited, and None is returned."""
        name = ctx.state.flow
        flow = self.flows.get(name) if name else None
        if flow is None:
            return None
        if _allows(ctx, self.flow_roles.get(flow.name)):
            return flow
        ctx.state.clear()
        await refuse(ctx, "flow", flow.name)
        return None

    def menu(self, role: Role | None) -> list[Command]:
        """The commands a person with `role` may use, in registration order."""
        return [
            c
            for c in self.commands.values()
            if c.in_menu and (c.role is None or (role is not None and role.allows(c.role)))
        ]

    def _find_command(self, ctx: Context) -> tuple[str, str] | None:
        inbound = ctx.inbound
        if inbound.payload and inbound.payload.startswith(COMMAND_PAYLOAD):
            name, _, arg = inbound.payload.removeprefix(COMMAND_PAYLOAD).partition(" ")
            return name, arg
        slash = inbound.command
        if slash is not None and slash[0] in self.commands:
            return slash
        text = plain(inbound.text)
        if not text or inbound.event is not InboundEvent.MESSAGE:
            return slash
        # A command word in her language, with or without a slash ("aide", "/مساعدة", "start
        # CODE"): WhatsApp has no slash menu. Bare words count only outside a conversation,
        # and only in short messages, so a sentence that starts with "stop" stays a sentence.
        words = text.split(maxsplit=1)
        if not text.startswith("/") and (ctx.state.flow is not None or len(text.split()) > 3):
            return slash
        found = self._word(ctx, fold(words[0].removeprefix("/")))
        if found is None:
            return slash
        return found, words[1].strip() if len(words) > 1 else ""

    def _word(self, ctx: Context, wanted: str) -> str | None:
        """The command whose word she typed (folded), in a language she may type it in."""
        meant = self._word_index(ctx.catalogs).get(wanted)
        if not meant:
            return None
        catalogs, hint = ctx.catalogs, ctx.inbound.language_hint
        joined = ctx.member is not None
        hers = {"", "en", ctx.locale, resolve(hint, catalogs.supported)}
        allowed = [
            (name, locale)
            for name, locale in meant
            if locale in hers or not joined or name in self.everywhere
        ]
        if not allowed:
            return None
        name = next((n for n, locale in allowed if locale == ctx.locale), allowed[0][0])
        spoken = {locale for n, locale in allowed if n == name and locale}
        # Someone not yet known, on a channel that tells no language (WhatsApp), typed a
        # word of one language only ("mulai KODE"): speak it to her, and offer it first.
        unknown = not joined and hint is None and ctx.state.flow is None
        if unknown and len(spoken) == 1 and ctx.locale not in spoken:
            ctx.set_locale(spoken.pop())
        return name

    def _word_index(self, catalogs: Catalogs) -> dict[str, list[tuple[str, str]]]:
        """Every command word (folded) → the (command, locale) pairs it is in; "" for a
        command's own name. Built once for a set of catalogs."""
        if self._index is not None and self._index[0] is catalogs:
            return self._index[1]
        index: dict[str, list[tuple[str, str]]] = {}
        for name in self.commands:
            index.setdefault(fold(name), []).append((name, ""))
            for msgid in self.words.get(name, (name,)):
                for locale in catalogs.supported:
                    word = fold(catalogs.get(locale)(msgid))
                    if word and (name, locale) not in index.get(word, []):
                        index.setdefault(word, []).append((name, locale))
        self._index = (catalogs, index)
        return index

    async def dispatch(self, ctx: Context) -> None:
        """Run the handler for this inbound. Every branch answers her. A service refusing
        for her role (NotAllowed) is answered and audited here, once for every handler."""
        try:
            await self._dispatch(ctx)
        except NotAllowed as refused:
            await refuse(ctx, "service", refused.action)

    async def _dispatch(self, ctx: Context) -> None:
        inbound, state = ctx.inbound, ctx.state
        if inbound.event is InboundEvent.EDITED:
            ctx.say(ctx._("I only read new messages, not edits. Please send it again."))
            return
        found = self._find_command(ctx)
        if found is not None:
            await self._run_command(ctx, *found)
            return
        prefix = inbound.payload.partition(":")[0] if inbound.payload else None
        action = self.actions.get(prefix) if prefix else None
        if prefix is not None and action is not None:
            if ctx.member is None and self.not_joined is not None:
                await self.not_joined(ctx)
            elif _allows(ctx, self.action_roles.get(prefix)):
                await action(ctx)
            else:
                await refuse(ctx, "button", prefix)
            return
        name = state.flow
        flow = await self.current_flow(ctx)
        if name in self.flows and flow is None:
            return  # refused: her role no longer allows this flow
        if inbound.payload is not None:
            if flow is not None and inbound.payload.startswith(f"{flow.name}:"):
                await flow.on_input(ctx)
                return
            ctx.say(ctx._(STALE_BUTTON))
            if flow is not None:
                await flow.reprompt(ctx)
            elif ctx.member is not None and self.fallback is not None:
                # The members' menu is for members: someone who left (/forget) and presses a
                # button from before gets the one line.
                await self.fallback(ctx)
            return
        if flow is not None:
            await flow.on_input(ctx)
        elif ctx.member is None and self.not_joined is not None:
            await self.not_joined(ctx)
        elif self.fallback is not None:
            await self.fallback(ctx)

    async def _run_command(self, ctx: Context, name: str, arg: str) -> None:
        command = self.commands.get(name)
        if command is None:
            # Where there is no slash menu (WhatsApp) the word is typed in her language.
            word = ctx._("help") if ctx.inbound.channel is ChannelName.WHATSAPP else "/help"
            ctx.say(
                ctx._("I don't know that command. Send {help} to see what I can do.", help=word)
            )
            return
        if command.role is not None:
            if ctx.member is None:
                flow = await self.current_flow(ctx)
                if flow is not None:
                    ctx.say(ctx._("Let's finish joining first."))
                    await flow.reprompt(ctx)
                elif self.not_joined is not None:
                    await self.not_joined(ctx)
                return
            if not ctx.member.role.allows(command.role):
                # Asking for a role's command is a coordinator/secretariat action too: logged.
                await audit(
                    ctx.tx,
                    ctx.actor,
                    "command.refused",
                    ctx.now,
                    command=name,
                    role=ctx.member.role.value,
                )
                ctx.say(ctx._("This command is not available to you."))
                return
        await command.handler(ctx, arg)


def _allows(ctx: Context, role: Role | None) -> bool:
    """True when `role` is needed by nothing, or her current role includes it."""
    return role is None or (ctx.member is not None and ctx.member.role.allows(role))


async def refuse(ctx: Context, kind: str, name: str) -> None:
    """Her role no longer allows this step or button: say so briefly and audit it (who, what
    kind, which flow or button; never her text). The caller ends the flow if it is hers."""
    if ctx.member is not None:
        actor = ctx.actor
        await ctx.tx.audit_log.append(
            actor=actor.label,
            action=f"{kind}.refused",
            now=ctx.now,
            actor_member_id=actor.member_id,
            details={kind: name, "role": actor.role.value},
        )
    ctx.say(ctx._(NO_LONGER))


class Core:
    """Handles one inbound end to end: dedupe, load, dispatch, commit, then answer."""

    def __init__(
        self,
        store: Store,
        router: Router,
        catalogs: Catalogs,
        clock: Clock,
        config: CoreConfig,
    ) -> None:
        self.store = store
        self.router = router
        self.catalogs = catalogs
        self.clock = clock
        self.config = config
        self.flood = FloodLimit(config.flood_per_minute)

    async def handle(self, inbound: Inbound, channel: Channel) -> None:
        """Process `inbound` and send the answers through `channel`. Never raises."""
        inbound = clean_inbound(inbound)
        # The terminal is the operator's own (piped input may be fast); only the networks flood.
        if inbound.event in _FROM_HER and inbound.channel is not ChannelName.CONSOLE:
            verdict = self.flood.check((inbound.channel, inbound.sender_id), self.clock.now())
            if verdict is not Verdict.HANDLE:
                # Over the limit: acknowledged and dropped, by design; she is told once.
                log.info("event=update_flood channel=%s verdict=%s", inbound.channel, verdict)
                if verdict is Verdict.WARN:
                    await self._slow_down(inbound, channel)
                return
        try:
            processed = await self._process(inbound, channel.choice_limit)
        except Exception:
            log.exception(
                "event=update_failed channel=%s update_id=%s", inbound.channel, inbound.update_id
            )
            sorry = self.catalogs.get(inbound.language_hint)(SORRY)
            await self._send(inbound, channel, Reply([Outbound(sorry)]), remember=False)
            return
        if processed is not None:
            ctx, queued = processed
            if ctx.erased:
                await self._scrub()
            remember = ctx.member is not None and not ctx.erased
            await self._send(inbound, channel, ctx.reply, remember=remember, queued=queued)

    async def _scrub(self) -> None:
        """After /forget committed: the deleted rows leave the database files too."""
        try:
            await self.store.scrub()
        except Exception:
            log.exception("event=scrub_failed")

    async def _slow_down(self, inbound: Inbound, channel: Channel) -> None:
        """The one "please wait" of a window, in her language (one read, once a minute)."""
        try:
            async with self.store.transaction() as tx:
                member = await tx.members.get(inbound.channel, inbound.sender_id)
            locale = member.locale if member else inbound.language_hint
            text = self.catalogs.get(locale)(SLOW_DOWN)
            await channel.send(inbound.chat_id, Outbound(text))
        except Exception:
            log.exception("event=flood_notice_failed channel=%s", inbound.channel)

    async def _process(
        self, inbound: Inbound, choice_limit: int | None
    ) -> tuple[Context, list[int | None]] | None:
        """`_process_once`, run again on the fresh state when her conversation state was saved
        by someone else meanwhile (a tap of hers taken by another worker at the same moment):
        that transaction rolled back whole, so nothing of the first run remains."""
        for attempt in range(1, STATE_ATTEMPTS + 1):
            try:
                return await self._process_once(inbound, choice_limit)
            except StaleState:
                log.info(
                    "event=state_conflict channel=%s update_id=%s attempt=%s",
                    *_ids(inbound),
                    attempt,
                )
                if attempt == STATE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _process_once(
        self, inbound: Inbound, choice_limit: int | None
    ) -> tuple[Context, list[int | None]] | None:
        """Dedupe, load, dispatch and save in one transaction, with the replies as outbox rows
        (their ids, None for a message sent without the outbox)."""
        async with self.store.transaction() as tx:
            if inbound.update_id is not None and not await tx.processed.claim(
                inbound.channel, inbound.update_id, self.clock.now()
            ):
                log.info("event=update_duplicate channel=%s update_id=%s", *_ids(inbound))
                return None
            if inbound.event in (InboundEvent.BLOCKED, InboundEvent.UNBLOCKED):
                status = (
                    MemberStatus.UNREACHABLE
                    if inbound.event is InboundEvent.BLOCKED
                    else MemberStatus.ACTIVE
                )
                await tx.members.set_status(inbound.channel, inbound.sender_id, status)
                return None
            member = await tx.members.get(inbound.channel, inbound.sender_id)
            loaded = replace(member, spheres=list(member.spheres)) if member else None
            state = await tx.conversations.load(inbound.channel, inbound.chat_id)
            before = state.snapshot()
            if member is not None and inbound.message_id and inbound.payload is None:
                # Her own messages can be wiped too (a phone may be inspected).
                await tx.chat_log.record(
                    inbound.channel, inbound.chat_id, [inbound.message_id], self.clock.now()
                )
            if inbound.event is InboundEvent.MESSAGE and (
                picked := state.numbered_choice(inbound.text)
            ):
                # Her "3" is the menu's third button; there is no message of ours to edit.
                inbound = replace(
                    inbound, event=InboundEvent.BUTTON, payload=picked, text=None, message_id=None
                )
            locale = member.locale if member else state.data.get("locale", inbound.language_hint)
            ctx = Context(
                inbound=inbound,
                member=member,
                state=state,
                tx=tx,
                translator=self.catalogs.get(locale),
                catalogs=self.catalogs,
                clock=self.clock,
                config=self.config,
            )
            await self.router.dispatch(ctx)
            if ctx.erased:
                # Nothing about her is written after /forget, not even her chat id in the
                # outbox: the farewell goes out directly.
                return ctx, [None] * len(ctx.reply.messages)
            _remember_menu(state, ctx.reply, choice_limit)
            if ctx.member is not None:
                await self._save_member(tx, ctx.member, loaded)
            if state.snapshot() != before:
                await tx.conversations.save(
                    inbound.channel, inbound.chat_id, state, self.clock.now()
                )
            return ctx, await self._enqueue(tx, ctx)

    async def _enqueue(self, tx: Transaction, ctx: Context) -> list[int | None]:
        """Write the replies as outbox rows (one INSERT), so none is lost if a send fails or
        the process dies before it: the delivery worker sends what this process could not."""
        inbound, messages = ctx.inbound, ctx.reply.messages
        queued = [(m, _edited(inbound, m)) for m in messages if _queueable(m)]
        if not queued:
            return [None] * len(messages)
        member_id = ctx.member.id if ctx.member is not None else None
        ids = iter(
            await tx.replies.enqueue(
                inbound.channel, inbound.chat_id, member_id, queued, self.clock.now()
            )
        )
        return [next(ids) if _queueable(m) else None for m in messages]

    async def _save_member(self, tx: Transaction, member: Member, loaded: Member | None) -> None:
        """Write her row back only when something changed (most updates change nothing)."""
        now = self.clock.now()
        if member.status is MemberStatus.UNREACHABLE:
            member.status = MemberStatus.ACTIVE  # she wrote again: she can be reached
        if now - member.last_seen_at > LAST_SEEN_RESOLUTION:
            member.last_seen_at = now
        if member != loaded:
            spheres_changed = loaded is None or member.spheres != loaded.spheres
            await tx.members.save(member, spheres_changed=spheres_changed)

    async def _send(
        self,
        inbound: Inbound,
        channel: Channel,
        reply: Reply,
        remember: bool,
        queued: Sequence[int | None] = (),
    ) -> None:
        """Send the replies at once, in order. A queued reply that fails with a retryable
        error stops the sending: it and the ones after it are left, in order, to the delivery
        worker. Then one transaction records how every queued send ended."""
        for produce in reply.later:
            try:
                reply.messages.extend(await produce())
            except Exception:
                log.exception("event=later_failed channel=%s update_id=%s", *_ids(inbound))
                reply.messages.append(Outbound(self.catalogs.get(inbound.language_hint)(SORRY)))
        sent: list[str] = []  # direct sends; queued ones are recorded with their rows
        attempts: list[ReplyAttempt] = []
        unreachable = stopped = False
        for index, message in enumerate(reply.messages):
            row_id = queued[index] if index < len(queued) else None
            edit = _edited(inbound, message)
            if unreachable or (stopped and row_id is not None):
                if row_id is not None:
                    attempts.append(ReplyAttempt(row_id, None, edit))
                continue
            result = await channel.send(inbound.chat_id, message, edit_message_id=edit)
            if row_id is not None:
                attempts.append(ReplyAttempt(row_id, result, edit))
            if result.status is SendStatus.SENT:
                if row_id is None:
                    sent.extend(m for m in result.all_ids if m != edit)
                continue
            if result.status is SendStatus.UNREACHABLE:
                unreachable = True
                continue
            log.warning(
                "event=reply_failed channel=%s update_id=%s status=%s reason=%s queued=%s",
                *_ids(inbound),
                result.status,
                result.reason,
                row_id is not None,
            )
            stopped = stopped or (row_id is not None and result.status is SendStatus.RETRY)
        if reply.delete_message_ids and not unreachable:
            await channel.delete(inbound.chat_id, reply.delete_message_ids)
        if not (attempts or unreachable or (remember and sent)):
            return

        async def record(tx: Transaction) -> None:
            if attempts:
                await tx.replies.finish(
                    inbound.channel, inbound.chat_id, attempts, self.clock.now(), remember=remember
                )
            if unreachable:
                await tx.members.set_status(
                    inbound.channel, inbound.sender_id, MemberStatus.UNREACHABLE
                )
            if remember and sent:
                await tx.chat_log.record(inbound.channel, inbound.chat_id, sent, self.clock.now())

        # Shared with the other updates finishing now: one commit for all of them.
        await self.store.batched(record)


def clean_inbound(inbound: Inbound) -> Inbound:
    """Her text and button payload without control characters, once, as they enter the core:
    every channel, handler and table gets clean text (PostgreSQL refuses NUL)."""
    text, payload = clean_text(inbound.text), clean_text(inbound.payload)
    if text == inbound.text and payload == inbound.payload:
        return inbound
    return replace(inbound, text=text, payload=payload)


def _queueable(message: Outbound) -> bool:
    """Whether a reply goes through the outbox: all but those carrying a file (a report's
    spreadsheet or chart), which the outbox does not hold."""
    return message.file is None and message.template is None


def _edited(inbound: Inbound, message: Outbound) -> str | None:
    """The message a reply replaces: the one whose button she pressed."""
    return inbound.message_id if message.replace and inbound.payload else None


def _remember_menu(state: ConversationState, reply: Reply, choice_limit: int | None) -> None:
    """Keep the payloads of a menu her channel will show as numbered text.

    The newest message with choices decides: too many for buttons, and her next number picks
    one. Any other answer means numbers mean numbers again (a survey may ask for one next).
    """
    offered = [m for m in reply.messages if m.buttons]
    last = offered[-1].buttons if offered and not offered[-1].typed else ()
    if choice_limit is not None and len(last) > choice_limit:
        state.menu = [b.payload for b in last]
    elif reply.messages:
        state.menu = []


_FROM_HER = (InboundEvent.MESSAGE, InboundEvent.BUTTON, InboundEvent.EDITED)


def _ids(inbound: Inbound) -> tuple[str, str | None]:
    return inbound.channel.value, inbound.update_id
