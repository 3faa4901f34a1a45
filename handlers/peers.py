"""/peers: who does what where, and introductions between peers who both agreed.

Browsing is stateless typed buttons (`bot.core.peers`); what she types is read by three small
flows on the engine: her line for a sphere (`peerline`), the contact she shares when she asks
(`peerask`) and when she accepts (`peeraccept`). The operations are `bot.services.peers`'.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bot.core.context import Context
from bot.core.conversation import END, Conversation, Invalid, Kind, Option, Step, Turn
from bot.core.i18n import N_, Translator
from bot.core.messages import Button
from bot.core.models import Role
from bot.core.peers import (
    IntroAnswer,
    IntroWithdraw,
    PeerAsk,
    PeerLine,
    PeerMap,
    PeerOpen,
    PeerRemove,
    PeerRequests,
    PeerSphere,
    PeerSuggest,
)
from bot.core.router import NO_LONGER, Router
from bot.core.spheres import SPHERE_BY_CODE, SPHERES
from bot.services import peers
from bot.services.peers import (
    INTRODUCED,
    MAX_LINE,
    MAX_OPEN,
    MAX_PER_WEEK,
    PeerRefused,
    Refusal,
    place,
    sphere_name,
)
from bot.services.reports import OTHER
from handlers.common import command_text

REFUSALS = {
    Refusal.NOT_HER_SPHERE: N_("That is not one of your spheres."),
    Refusal.NO_LINE: N_("Add your own line for this sphere first: the peer will see it."),
    Refusal.SELF: N_("You cannot ask to meet yourself."),
    Refusal.GONE: NO_LONGER,
    Refusal.ALREADY: N_("You already have a request or an introduction with this peer."),
    Refusal.DECLINED: N_("This peer declined an earlier request."),
    Refusal.ENDED: N_("This request has ended: declined, withdrawn or expired."),
    Refusal.ANSWERED: N_("You have accepted already. Waiting for the other person."),
    Refusal.CONTACT_IN_LINE: N_(
        "Please leave contacts out of your line: they are shared only when both accept."
    ),
}
HANDLE_ASK = N_(
    "Which contact may she receive? Type your Telegram username (@name) or a WhatsApp link "
    "(wa.me/…). It is shared only if you both accept."
)
BAD_HANDLE = N_("Please type a username like @name or a link like wa.me/9647…")
OTHERS_HIDDEN = N_("Countries not listed: fewer than {k}, or none.")


def refusal_text(_: Translator, refused: PeerRefused) -> str:
    if refused.reason is Refusal.TOO_MANY_OPEN:
        return _(
            "You have {n} requests waiting. Withdraw one or wait for answers.",
            n=_.number(MAX_OPEN),
        )
    if refused.reason is Refusal.TOO_MANY_THIS_WEEK:
        return _(
            "You have made {n} requests this week. Please try again next week.",
            n=_.number(MAX_PER_WEEK),
        )
    if refused.reason is Refusal.TOO_LONG:
        return _("Please keep it to one line of {max} characters.", max=_.number(MAX_LINE))
    if refused.reason is Refusal.BAD_HANDLE:
        return _(BAD_HANDLE)
    return _(REFUSALS[refused.reason])


def _refused(ctx: Context, refused: PeerRefused) -> None:
    ctx.say(refusal_text(ctx._, refused))


# -- the view of a sphere -----------------------------------------------------------------------


async def _counts(ctx: Context, sphere: str) -> str:
    """Members by country in her sphere: the published figures, "<k" ones said together."""
    k = ctx.config.min_cell
    found = await peers.countries_in_sphere(
        ctx.tx, ctx.actor, sphere, ctx.now, k, ctx.config.countries
    )
    shown = [
        ctx._(
            "{country}: {n}",
            country=ctx._("Other countries or not given")
            if c.country == OTHER
            else ctx._.country_name(c.country),
            n=ctx._.number(c.figure),
        )
        for c in found
        if c.figure is not None
    ]
    lines = [ctx._("Members working on this, by country:")]
    if shown:
        lines.append(ctx._(", ").join(shown))
    if len(shown) < len(found):
        lines.append(ctx._(OTHERS_HIDDEN, k=ctx._.number(k)))
    return "\n".join(lines)


async def show_sphere(ctx: Context, sphere: str, *, replace: bool) -> None:
    """Her sphere: counts by country, the peers open to requests, her own line and buttons."""
    assert ctx.member is not None
    if sphere not in ctx.member.spheres:
        await show_spheres(ctx, replace=replace, intro=ctx._(REFUSALS[Refusal.NOT_HER_SPHERE]))
        return
    listed = await peers.listing(ctx.tx, ctx.actor, sphere, ctx.config.secret_key)
    # The order is the tokens': stable for her, different for each viewer (nobody is always
    # first), and only the first page is shown.
    listed = sorted(listed, key=lambda p: p.token)[: peers.LISTED]
    mine = await peers.profile(ctx.tx, ctx.actor)
    parts = [f"{sphere_name(ctx._, sphere)}", await _counts(ctx, sphere)]
    if listed:
        rows = [ctx._("Peers open to introductions:")]
        rows += [
            f"{index}. {place(ctx._, p.country)} — “{p.line}”"
            for index, p in enumerate(listed, start=1)
        ]
        parts.append("\n".join(rows))
    else:
        parts.append(ctx._("No peer in this sphere is open to introductions yet."))
    line = mine.lines.get(sphere) if mine else None
    if mine is not None and line is not None:
        parts.append(
            ctx._("Your line: “{line}”", line=line)
            + "\n"
            + (
                ctx._("Peers may ask to be introduced to you.")
                if mine.open
                else ctx._("Peers cannot ask to be introduced to you.")
            )
        )
    else:
        parts.append(
            ctx._(
                "You are not listed. Add a line about your work to be found and to ask for "
                "introductions."
            )
        )
    buttons = [Button(f"🤝 {i}", PeerAsk(sphere, p.token).pack()) for i, p in enumerate(listed, 1)]
    buttons.append(Button(ctx._("✏️ My line"), PeerLine(sphere).pack()))
    if mine is not None and line is not None:
        buttons.append(Button(ctx._("Remove my line"), PeerRemove(sphere).pack()))
        buttons.append(
            Button(ctx._("Stop requests"), PeerOpen(sphere, False).pack())
            if mine.open
            else Button(ctx._("Allow requests"), PeerOpen(sphere, True).pack())
        )
    buttons += _common_buttons(ctx)
    ctx.say("\n\n".join(parts), buttons, columns=2, replace=replace)


def _common_buttons(ctx: Context) -> list[Button]:
    assert ctx.member is not None
    buttons = [Button(ctx._("Requests"), PeerRequests().pack())]
    if len(ctx.member.spheres) > 1:
        buttons.append(Button(ctx._("Spheres"), PeerSphere("").pack()))
    if ctx.member.role.allows(Role.COORDINATOR) or ctx.member.role.allows(Role.SECRETARIAT):
        buttons.append(Button(ctx._("Who works where"), PeerMap().pack()))
    if ctx.member.role.allows(Role.COORDINATOR):
        buttons.append(Button(ctx._("Suggest a meeting"), PeerSuggest().pack()))
    return buttons


async def show_spheres(ctx: Context, *, replace: bool, intro: str | None = None) -> None:
    assert ctx.member is not None
    mine = [s for s in SPHERES if s.code in ctx.member.spheres]
    if not mine:
        ctx.say(
            ctx._("Choose your spheres of work first: peers are found by sphere."),
            _common_buttons(ctx),
        )
        return
    if len(mine) == 1 and intro is None:
        await show_sphere(ctx, mine[0].code, replace=replace)
        return
    text = intro or ctx._("Peers in which of your spheres?")
    buttons = [Button(ctx._(s.label), PeerSphere(s.code).pack()) for s in mine]
    buttons.append(Button(ctx._("Requests"), PeerRequests().pack()))
    ctx.say(text, buttons, columns=2, replace=replace)


# -- her line -----------------------------------------------------------------------------------


class Writing(BaseModel):
    sphere: str
    line: str = ""
    open: bool = False


def _line_ask(turn: Turn[Writing]) -> str:
    return turn._(
        "In one line (up to {max} characters), what do you do in {sphere}? Peers see it with "
        "your country, never your name. Do not write names or places that identify you.",
        max=turn._.number(MAX_LINE),
        sphere=sphere_name(turn._, turn.state.sphere),
    )


def _line_parse(turn: Turn[Writing], text: str) -> str:
    try:
        return peers.check_line(text)
    except PeerRefused as refused:
        raise Invalid(refusal_text(turn._, refused)) from refused


def _line_given(turn: Turn[Writing], line: str) -> None:
    turn.state.line = line


def _open_given(turn: Turn[Writing], yes: bool) -> str:
    turn.state.open = yes
    return END


async def _line_done(turn: Turn[Writing]) -> None:
    ctx = turn.ctx
    try:
        await peers.save_line(
            ctx.tx, ctx.actor, turn.state.sphere, turn.state.line, turn.state.open, ctx.now
        )
    except PeerRefused as refused:
        _refused(ctx, refused)
        return
    ctx.say(
        ctx._(
            "Saved. You can change or remove it at any time with {peers}.",
            peers=command_text(ctx, "peers"),
        )
    )
    await show_sphere(ctx, turn.state.sphere, replace=False)


LINE: Conversation[Writing] = Conversation(
    "peerline",
    Writing,
    [
        Step(
            name="line",
            kind=Kind.TEXT,
            ask=_line_ask,
            parse=_line_parse,
            answer=_line_given,
            cancel=True,
        ),
        Step(
            name="open",
            kind=Kind.CONFIRM,
            ask=lambda t: t._(
                "May peers ask to be introduced to you? You decide on each request."
            ),
            answer=_open_given,
            cancel=True,
        ),
    ],
    finish=_line_done,
)


# -- asking -------------------------------------------------------------------------------------


class Asking(BaseModel):
    sphere: str
    token: str
    handle: str = ""
    send: bool = False


def _handle_parse(turn: Turn[Any], text: str) -> str:
    handle = peers.parse_handle(text)
    if handle is None:
        raise Invalid(turn._(BAD_HANDLE))
    return handle


def _ask_handle_given(turn: Turn[Asking], handle: str) -> None:
    turn.state.handle = handle


def _send_given(turn: Turn[Asking], yes: bool) -> str:
    turn.state.send = yes
    return END


async def _ask_done(turn: Turn[Asking]) -> None:
    ctx, state = turn.ctx, turn.state
    if not state.send:
        ctx.say(ctx._("Not sent."))
        return
    try:
        await peers.request(
            ctx.tx,
            ctx.actor,
            ctx.catalogs,
            state.sphere,
            state.token,
            state.handle,
            ctx.config.secret_key,
            ctx.now,
        )
    except PeerRefused as refused:
        _refused(ctx, refused)
        return
    ctx.say(
        ctx._(
            "Request sent. You will get her contact if she accepts. It stays open for "
            "{days} days.",
            days=ctx._.number(peers.EXPIRY.days),
        )
    )


def _handle_step(answer: Any) -> Step[Any]:
    """Where she types the contact she chooses to share (asking, or accepting)."""
    return Step(
        name="handle",
        kind=Kind.TEXT,
        ask=lambda t: t._(HANDLE_ASK),
        parse=_handle_parse,
        answer=answer,
        cancel=True,
    )


ASK: Conversation[Asking] = Conversation(
    "peerask",
    Asking,
    [
        _handle_step(_ask_handle_given),
        Step(
            name="send",
            kind=Kind.CONFIRM,
            ask=lambda t: t._(
                "Send the request? She will see your sphere, country and line, not your contact."
            ),
            options=lambda t: (Option("yes", t._("Send")), Option("no", t._("Cancel"))),
            answer=_send_given,
        ),
    ],
    finish=_ask_done,
)


# -- accepting ----------------------------------------------------------------------------------


class Accepting(BaseModel):
    intro: int
    handle: str = ""


def _accept_handle_given(turn: Turn[Accepting], handle: str) -> str:
    turn.state.handle = handle
    return END


async def _accept_done(turn: Turn[Accepting]) -> None:
    ctx = turn.ctx
    try:
        done = await peers.accept(
            ctx.tx, ctx.actor, ctx.catalogs, turn.state.intro, turn.state.handle, ctx.now
        )
    except PeerRefused as refused:
        _refused(ctx, refused)
        return
    if not done.introduced:
        ctx.say(ctx._("Accepted. When she accepts too, you each get the other's contact."))
        return
    ctx.say(
        ctx._(
            INTRODUCED,
            sphere=sphere_name(ctx._, done.intro.sphere),
            country=place(ctx._, done.other_country),
            line=done.other_line,
            handle=done.other_handle,
        )
    )


ACCEPTING: Conversation[Accepting] = Conversation(
    "peeraccept",
    Accepting,
    [_handle_step(_accept_handle_given)],
    finish=_accept_done,
)


# -- a coordinator's suggestion ------------------------------------------------------------------


class Suggesting(BaseModel):
    sphere: str = ""
    listed: list[tuple[str, str | None, str]] = []  # (token, country, line), numbered from 1
    first: str = ""
    second: str = ""
    go: bool = False


def _listed_text(turn: Turn[Suggesting], question: str, leave: str = "") -> str:
    rows = [
        f"{i}. {place(turn._, country)} — “{line}”"
        for i, (token, country, line) in enumerate(turn.state.listed, start=1)
        if token != leave
    ]
    return "\n".join([sphere_name(turn._, turn.state.sphere), *rows, "", question])


def _numbers(turn: Turn[Suggesting], leave: str = "") -> list[Option]:
    return [
        Option(token, str(i))
        for i, (token, _c, _l) in enumerate(turn.state.listed, start=1)
        if token != leave
    ]


async def _suggest_sphere(turn: Turn[Suggesting], sphere: str) -> None:
    ctx = turn.ctx
    listed = await peers.listing_for_coordinator(ctx.tx, ctx.actor, sphere, ctx.config.secret_key)
    if len(listed) < 2:
        ctx.state.clear()
        ctx.say(ctx._("Fewer than two peers are open to introductions in this sphere."))
        return
    turn.state.sphere = sphere
    turn.state.listed = [(p.token, p.country, p.line) for p in listed[: peers.LISTED]]


def _suggest_first(turn: Turn[Suggesting], token: str) -> None:
    turn.state.first = token


def _suggest_second(turn: Turn[Suggesting], token: str) -> None:
    turn.state.second = token


def _suggest_go(turn: Turn[Suggesting], yes: bool) -> str:
    turn.state.go = yes
    return END


def _number_of(turn: Turn[Suggesting], token: str) -> str:
    tokens = [t for t, _c, _l in turn.state.listed]
    return str(tokens.index(token) + 1) if token in tokens else "?"


async def _suggest_done(turn: Turn[Suggesting]) -> None:
    ctx, state = turn.ctx, turn.state
    if not state.go:
        ctx.say(ctx._("Not sent."))
        return
    try:
        await peers.suggest_listed(
            ctx.tx,
            ctx.actor,
            ctx.catalogs,
            state.sphere,
            (state.first, state.second),
            ctx.config.secret_key,
            ctx.now,
        )
    except PeerRefused as refused:
        _refused(ctx, refused)
        return
    ctx.say(ctx._("Suggested. Both are asked."))


SUGGEST: Conversation[Suggesting] = Conversation(
    "peersuggest",
    Suggesting,
    [
        Step(
            name="sphere",
            kind=Kind.CHOICE,
            ask=lambda t: t._("Suggest a meeting in which sphere?"),
            options=lambda t: [Option(s.code, t._(s.label)) for s in SPHERES],
            answer=_suggest_sphere,
            columns=2,
            cancel=True,
        ),
        Step(
            name="first",
            kind=Kind.CHOICE,
            ask=lambda t: _listed_text(t, t._("Who should meet? Choose the first:")),
            options=lambda t: _numbers(t),
            answer=_suggest_first,
            columns=4,
            cancel=True,
        ),
        Step(
            name="second",
            kind=Kind.CHOICE,
            ask=lambda t: _listed_text(t, t._("And the second:"), leave=t.state.first),
            options=lambda t: _numbers(t, leave=t.state.first),
            answer=_suggest_second,
            columns=4,
            cancel=True,
        ),
        Step(
            name="go",
            kind=Kind.CONFIRM,
            ask=lambda t: t._(
                "Suggest that {first} and {second} meet? Each is asked; contacts are shared "
                "only if both accept.",
                first=_number_of(t, t.state.first),
                second=_number_of(t, t.state.second),
            ),
            answer=_suggest_go,
        ),
    ],
    finish=_suggest_done,
)


# -- her requests -------------------------------------------------------------------------------


async def show_requests(ctx: Context, *, replace: bool) -> None:
    waiting = await peers.pending(ctx.tx, ctx.actor, ctx.now)
    if not waiting:
        ctx.say(ctx._("You have no introductions waiting."), _common_buttons(ctx), replace=replace)
        return
    lines = [ctx._("Introductions waiting:")]
    buttons: list[Button] = []
    for index, item in enumerate(waiting, start=1):
        if item.mine:
            state = ctx._("you asked")
            buttons.append(Button(f"↩️ {index}", IntroWithdraw(item.intro.id).pack()))
        elif item.answered:
            state = ctx._("you accepted")
        else:
            state = ctx._("suggested") if item.intro.suggested else ctx._("asks you")
            buttons.append(Button(f"✅ {index}", IntroAnswer(item.intro.id, True).pack()))
            buttons.append(Button(f"❌ {index}", IntroAnswer(item.intro.id, False).pack()))
        lines.append(
            f"{index}. {sphere_name(ctx._, item.intro.sphere)} · {place(ctx._, item.country)}"
            f" — “{item.line}” ({state})"
        )
    lines.append(ctx._("✅ accept · ❌ decline · ↩️ withdraw"))
    ctx.say("\n".join(lines), buttons, columns=3, replace=replace)


def _map_text(ctx: Context, report: Any) -> str:
    section = report.sections[0]
    table = section.table
    lines = [report.title, report.period]
    for c, column in enumerate(table.columns):
        if not column:
            continue  # "no sphere": not a sphere anyone works in
        shown = [
            f"{section.row_labels[r]} {table.cells[r][c]}"
            for r in range(len(table.rows))
            if table.cells[r][c] is not None
        ]
        lines.append(
            f"• {section.column_labels[c]}: "
            + (ctx._(", ").join(shown) if shown else f"<{table.k}")
        )
    lines.append(ctx._(OTHERS_HIDDEN, k=ctx._.number(table.k)))
    lines += list(report.notes)
    return "\n".join(lines)


def register(router: Router) -> None:
    router.flow(LINE, role=Role.MEMBER)
    router.flow(ASK, role=Role.MEMBER)
    router.flow(ACCEPTING, role=Role.MEMBER)
    router.flow(SUGGEST, role=Role.COORDINATOR)

    @router.command("peers", N_("Find peers in your sphere, get introduced"))
    async def cmd_peers(ctx: Context, arg: str) -> None:
        ctx.state.clear()
        word = arg.strip().lower()
        if word in SPHERE_BY_CODE and ctx.member and word in ctx.member.spheres:
            await show_sphere(ctx, word, replace=False)
        else:
            await show_spheres(ctx, replace=False)

    @router.button(PeerSphere)
    async def on_sphere(ctx: Context, value: PeerSphere) -> None:
        if value.sphere:
            await show_sphere(ctx, value.sphere, replace=True)
        else:
            await show_spheres(ctx, replace=True, intro=ctx._("Peers in which of your spheres?"))

    @router.button(PeerLine)
    async def on_line(ctx: Context, value: PeerLine) -> None:
        assert ctx.member is not None
        if value.sphere not in ctx.member.spheres:
            _refused(ctx, PeerRefused(Refusal.NOT_HER_SPHERE))
            return
        await LINE.start(ctx, Writing(sphere=value.sphere))

    @router.button(PeerRemove)
    async def on_remove(ctx: Context, value: PeerRemove) -> None:
        if await peers.remove_line(ctx.tx, ctx.actor, value.sphere):
            ctx.say(ctx._("Removed. Peers no longer see your line for this sphere."))
        await show_sphere(ctx, value.sphere, replace=False)

    @router.button(PeerOpen)
    async def on_open(ctx: Context, value: PeerOpen) -> None:
        if not await peers.set_open(ctx.tx, ctx.actor, value.open):
            ctx.say(ctx._(NO_LONGER))
        await show_sphere(ctx, value.sphere, replace=True)

    @router.button(PeerAsk)
    async def on_ask(ctx: Context, value: PeerAsk) -> None:
        try:
            await peers.can_request(
                ctx.tx, ctx.actor, value.sphere, value.token, ctx.config.secret_key, ctx.now
            )
        except PeerRefused as refused:
            _refused(ctx, refused)
            return
        await ASK.start(ctx, Asking(sphere=value.sphere, token=value.token))

    @router.button(PeerRequests)
    async def on_requests(ctx: Context, value: PeerRequests) -> None:
        await show_requests(ctx, replace=False)

    @router.button(PeerMap)
    async def on_map(ctx: Context, value: PeerMap) -> None:
        report = await peers.who_works_where(
            ctx.tx, ctx.actor, ctx._, ctx.now, ctx.config.min_cell, ctx.config.countries
        )
        ctx.say(_map_text(ctx, report))

    @router.button(IntroAnswer)
    async def on_answer(ctx: Context, value: IntroAnswer) -> None:
        try:
            if value.accept:
                await peers.check_answer(ctx.tx, ctx.actor, value.intro, ctx.now)
                await ACCEPTING.start(ctx, Accepting(intro=value.intro))
                return
            await peers.decline(ctx.tx, ctx.actor, ctx.catalogs, value.intro, ctx.now)
        except PeerRefused as refused:
            _refused(ctx, refused)
            return
        ctx.say(ctx._("Declined. The other person is told only that it was not accepted."))

    @router.button(PeerSuggest, role=Role.COORDINATOR)
    async def on_suggest(ctx: Context, value: PeerSuggest) -> None:
        await SUGGEST.start(ctx, Suggesting())

    @router.button(IntroWithdraw)
    async def on_withdraw(ctx: Context, value: IntroWithdraw) -> None:
        try:
            await peers.withdraw(ctx.tx, ctx.actor, value.intro, ctx.now)
        except PeerRefused as refused:
            _refused(ctx, refused)
            return
        ctx.say(ctx._("Withdrawn."))
