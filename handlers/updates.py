"""/update: a short report from the ground, confirmed, stored, and passed on to coordinators.

Steps: text (or a photo / voice note with its words) → spheres → routine or urgent → may the
text outlive retention if shared → confirm (or say it concerns another country) → "received",
sent only after the update is committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.campaigns import Audience, CampaignButton, CampaignKind, CampaignStatus, NewCampaign
from bot.core.context import Context
from bot.core.countries import find_countries
from bot.core.i18n import N_
from bot.core.messages import Button, MediaKind
from bot.core.models import Role
from bot.core.router import Router
from bot.core.spheres import SPHERE_BY_CODE, SPHERES
from bot.core.updates import MAX_UPDATE
from bot.delivery.schedule import ONCE
from handlers.common import checklist, choice, command_text, sphere_labels, sphere_options, toggle

FLOW = "upd"
# Steps that wait for a button: a sentence typed there rewrites her update instead of being lost.
REVISABLE = ("spheres", "urgency", "keep", "confirm")
ABANDONED_AFTER = timedelta(hours=24)
ATTACHABLE = frozenset(
    {MediaKind.PHOTO, MediaKind.VOICE, MediaKind.AUDIO, MediaKind.VIDEO, MediaKind.DOCUMENT}
)
EXCERPT = 300


def meaningful(text: str) -> bool:
    """At least a few letters or digits: not empty, not only emoji or punctuation."""
    return sum(ch.isalnum() for ch in text) >= 3


class UpdateFlow:
    """The /update conversation. State data: text, media, spheres, urgent, keep, country."""

    name = FLOW

    async def start(self, ctx: Context) -> None:
        assert ctx.member is not None
        ctx.state.clear()
        ctx.state.go(
            FLOW,
            "text",
            started=ctx.now.isoformat(),
            spheres=list(ctx.member.spheres),
            country=ctx.member.country,
        )
        await self.reprompt(ctx)

    def abandoned(self, ctx: Context) -> bool:
        started = ctx.state.data.get("started")
        return started is None or ctx.now - datetime.fromisoformat(started) > ABANDONED_AFTER

    async def reprompt(self, ctx: Context) -> None:
        step = ctx.state.step
        if step == "text":
            ctx.say(
                ctx._(
                    "What is happening? Write a short update (up to {max} characters). You may "
                    "send a photo or voice note instead, but they use more data on a slow "
                    "connection. Send {cancel} to stop.",
                    max=ctx._.number(MAX_UPDATE),
                    cancel=command_text(ctx, "cancel"),
                )
            )
        elif step == "caption":
            ctx.say(ctx._("Got it. Add a few words about it, so coordinators know what it shows."))
        elif step == "spheres":
            self._ask_spheres(ctx, replace=False)
        elif step == "urgency":
            ctx.say(
                ctx._("Is it urgent? Urgent updates reach your country's coordinators at once."),
                [
                    Button(ctx._("Routine"), f"{FLOW}:urg:no"),
                    Button(ctx._("Urgent"), f"{FLOW}:urg:yes"),
                ],
            )
        elif step == "keep":
            ctx.say(
                ctx._(
                    "If a coordinator shares it with practitioners in other countries (never with "
                    "your name), may the alliance keep the text after {days} days?",
                    days=ctx._.number(ctx.config.update_retention_days),
                ),
                [
                    Button(ctx._("Yes, keep it"), f"{FLOW}:keep:yes"),
                    Button(ctx._("No"), f"{FLOW}:keep:no"),
                ],
            )
        elif step == "confirm":
            self._summary(ctx)
        elif step == "country":
            ctx.say(ctx._("Type the name of the country it concerns."))

    def _ask_spheres(self, ctx: Context, *, replace: bool) -> None:
        chosen = ctx.state.data.get("spheres", [])
        ctx.say(
            ctx._("Which spheres does it concern? Yours are already ticked."),
            checklist(ctx, f"{FLOW}:sph:", sphere_options(ctx), chosen),
            columns=2,
            replace=replace,
        )

    def _summary(self, ctx: Context) -> None:
        data = ctx.state.data
        text = data.get("text") or ""
        excerpt = text if len(text) <= EXCERPT else text[:EXCERPT] + "…"
        parts = [ctx._("Your update:"), f"“{excerpt}”" if excerpt else ""]
        if data.get("media"):
            parts.append(ctx._("With an attachment (kept on the app's servers, not downloaded)."))
        parts.append(
            ctx._(
                "Country: {country} · Spheres: {spheres} · {urgency}",
                country=ctx._.country_name(data["country"]),
                spheres=sphere_labels(ctx, data["spheres"]),
                urgency=ctx._("Urgent") if data.get("urgent") else ctx._("Routine"),
            )
        )
        ctx.say(
            "\n".join(p for p in parts if p),
            [
                Button(ctx._("Send"), f"{FLOW}:go:send"),
                Button(ctx._("Another country"), f"{FLOW}:go:country"),
                Button(ctx._("Cancel"), f"{FLOW}:go:cancel"),
            ],
        )

    async def on_input(self, ctx: Context) -> None:
        step, inbound = ctx.state.step, ctx.inbound
        if self.abandoned(ctx):
            ctx.state.clear()
            ctx.say(
                ctx._(
                    "Your unfinished update was set aside after 24 hours. Send {update} to "
                    "start a new one.",
                    update=command_text(ctx, "update"),
                )
            )
            return
        if step in ("text", "caption", "country") and inbound.payload is None:
            await {
                "text": self._got_text,
                "caption": self._got_caption,
                "country": self._got_country,
            }[step](ctx)
            return
        if step in REVISABLE and inbound.payload is None and _sentence(inbound.text):
            await self._revise(ctx, (inbound.text or "").strip())
            return
        tags = {
            "spheres": "sph",
            "urgency": "urg",
            "keep": "keep",
            "confirm": "go",
            "country": "cty",
        }
        value = choice(ctx, f"{FLOW}:{tags.get(step or '', '?')}:")
        if value is None:
            ctx.say(ctx._("Please choose one of the buttons."))
            await self.reprompt(ctx)
        elif step == "spheres":
            await self._sphere(ctx, value)
        elif step == "urgency":
            ctx.state.go(FLOW, "keep", urgent=value == "yes")
            await self.reprompt(ctx)
        elif step == "keep":
            ctx.state.go(FLOW, "confirm", keep=value == "yes")
            await self.reprompt(ctx)
        elif step == "confirm":
            await self._confirm(ctx, value)
        elif step == "country":
            if value in ctx._.countries():
                ctx.state.go(FLOW, "confirm", country=value)
            await self.reprompt(ctx)

    async def _got_text(self, ctx: Context) -> None:
        inbound = ctx.inbound
        if inbound.media is not None:
            if inbound.media not in ATTACHABLE or not inbound.media_ref:
                ctx.say(
                    ctx._(
                        "I can't use that for an update. Please write it, or send a photo "
                        "or a voice note."
                    )
                )
                return
            ctx.state.data.update(media=inbound.media.value, media_ref=inbound.media_ref)
            caption = (inbound.text or "").strip()
            if not caption:
                ctx.state.go(FLOW, "caption")
                await self.reprompt(ctx)
                return
            await self._accept_text(ctx, caption)
            return
        await self._accept_text(ctx, (inbound.text or "").strip())

    async def _got_caption(self, ctx: Context) -> None:
        if ctx.inbound.media is not None:
            ctx.say(ctx._("One attachment per update. Please add a few words as a message."))
            return
        await self._accept_text(ctx, (ctx.inbound.text or "").strip())

    async def _revise(self, ctx: Context, text: str) -> None:
        """A sentence typed where a button was expected is her update, rewritten: keep it."""
        if not self._fits(ctx, text):
            return
        ctx.state.data["text"] = text
        ctx.say(ctx._("I have replaced the text of your update with this one."))
        await self.reprompt(ctx)

    def _fits(self, ctx: Context, text: str) -> bool:
        """Within the limit; if not, say so and give her text back to shorten."""
        if len(text) <= MAX_UPDATE:
            return True
        ctx.say(
            ctx._(
                "Your update has {n} characters; the limit is {max}. Here it is, so "
                "you can shorten it and send it again:",
                n=ctx._.number(len(text)),
                max=ctx._.number(MAX_UPDATE),
            )
        )
        ctx.say(text)
        return False

    async def _accept_text(self, ctx: Context, text: str) -> None:
        if not self._fits(ctx, text):
            return
        if not meaningful(text):
            ctx.say(ctx._("Please write a few words about what happened."))
            return
        ctx.state.go(FLOW, "spheres", text=text)
        await self.reprompt(ctx)

    async def _got_country(self, ctx: Context) -> None:
        matches = find_countries(ctx.catalogs, ctx._, ctx.inbound.text or "")
        if not matches:
            ctx.say(ctx._("I could not find that country. Please type its name again."))
            return
        ctx.say(
            ctx._("Is it one of these?"),
            [Button(name, f"{FLOW}:cty:{code}") for code, name in matches],
        )

    async def _sphere(self, ctx: Context, value: str) -> None:
        pressed = toggle(ctx, "spheres", value, SPHERE_BY_CODE)
        if pressed == "done" and not ctx.state.data.get("spheres"):
            ctx.say(ctx._("Please choose at least one sphere."))
        elif pressed == "done":
            ctx.state.go(FLOW, "urgency")
            await self.reprompt(ctx)
        elif pressed == "invalid":
            await self.reprompt(ctx)
        else:
            self._ask_spheres(ctx, replace=True)

    async def _confirm(self, ctx: Context, value: str) -> None:
        if value == "country":
            ctx.state.go(FLOW, "country")
            await self.reprompt(ctx)
            return
        if value != "send":
            ctx.state.clear()
            ctx.say(ctx._("Cancelled. Nothing was sent or saved."))
            return
        assert ctx.member is not None
        data = ctx.state.data
        update_id = await ctx.tx.updates.submit(
            author_id=ctx.member.id,
            country=data["country"],
            locale=ctx.locale,
            urgent=bool(data.get("urgent")),
            text=data.get("text"),
            media_kind=MediaKind(data["media"]) if data.get("media") else None,
            media_ref=data.get("media_ref"),
            keep_if_shared=bool(data.get("keep")),
            spheres=data["spheres"],
            now=ctx.now,
        )
        ctx.state.clear()
        country = ctx._.country_name(data["country"])
        if data.get("urgent"):
            await notify_urgent(ctx, update_id, data)
            ctx.say(
                ctx._(
                    "Received, thank you. The coordinators for {country} have been alerted.",
                    country=country,
                )
            )
        else:
            ctx.say(
                ctx._(
                    "Received, thank you. The coordinators for {country} will read it.",
                    country=country,
                )
            )


async def notify_urgent(ctx: Context, update_id: int, data: dict[str, object]) -> None:
    """Tell the country's coordinators at once, through the outbox (admins if there are none)."""
    assert ctx.member is not None
    country = str(data["country"])
    text = str(data.get("text") or "")
    excerpt = text if len(text) <= EXCERPT else text[:EXCERPT] + "…"
    spheres = [str(s) for s in data.get("spheres", [])]  # type: ignore[attr-defined]
    texts, labels = {}, {}
    for locale in ctx.catalogs.supported:
        _ = ctx.catalogs.get(locale)
        names = _(", ").join(_(s.label) for s in SPHERES if s.code in spheres)
        texts[locale] = _(
            "Urgent update #{id} from {country} ({spheres}):\n“{excerpt}”",
            id=update_id,
            country=_.country_name(country),
            spheres=names,
            excerpt=excerpt,
        )
        labels[locale] = _("Open the queue")
    audience = Audience(
        countries=(country,), roles=(Role.COORDINATOR.value,), exclude=(ctx.member.id,)
    )
    if not await ctx.tx.campaigns.audience_by_locale(audience):
        audience = Audience(roles=(Role.ADMIN.value,), exclude=(ctx.member.id,))
    notice = await ctx.tx.campaigns.create(
        NewCampaign(
            kind=CampaignKind.NOTICE,
            status=CampaignStatus.SCHEDULED,
            title=f"urgent update #{update_id}",
            texts=texts,
            default_locale="en",
            audience=audience,
            schedule="now",
            buttons=[CampaignButton(labels, "cmd:moderate")],
            source_update_id=update_id,
        ),
        ctx.now,
    )
    await ctx.tx.campaigns.fire(notice, ONCE, ctx.now)


def register(router: Router) -> None:
    flow = UpdateFlow()
    router.flow(flow)

    @router.command("update", N_("Share an update from the ground"))
    async def cmd_update(ctx: Context, arg: str) -> None:
        if ctx.state.flow == FLOW and not flow.abandoned(ctx):
            ctx.say(
                ctx._(
                    "You have an unfinished update; let's continue. Send {cancel} to start again.",
                    cancel=command_text(ctx, "cancel"),
                )
            )
            await flow.reprompt(ctx)
            return
        await flow.start(ctx)


def _sentence(text: str | None) -> bool:
    """More than a few words: her words about what happened, not a mistyped button."""
    return text is not None and len(text.split()) > 3
