"""`wasl campaign …` and `wasl demo seed`: campaigns from the terminal or a YAML file."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.cli_args import bounded, record_id
from bot.core.actors import CLI
from bot.core.campaigns import Audience, CampaignKind, CampaignStatus, Progress, check_texts
from bot.core.clock import SystemClock
from bot.core.i18n import SUPPORTED_LOCALES
from bot.core.messages import ChannelName
from bot.core.models import NewMember, Role
from bot.core.outbox import WAITING_FOR_CHANNEL
from bot.core.schedule import Schedule, ScheduleError
from bot.core.spheres import SPHERES
from bot.services import campaigns as service
from bot.services.campaigns import Draft, progress_text

if TYPE_CHECKING:
    from bot.app import App
    from storage.store import SqlStore


class CampaignInputError(ValueError):
    """A campaign definition that cannot be created (said plainly, nothing written)."""


def add_parsers(sub: Any) -> None:
    campaign = sub.add_parser("campaign", help="campaigns and alerts").add_subparsers(
        dest="action", required=True
    )
    create = campaign.add_parser("create", help="create (and maybe send) a campaign")
    create.add_argument("--file", type=Path, help="a YAML campaign definition")
    create.add_argument(
        "--kind",
        choices=[CampaignKind.CAMPAIGN, CampaignKind.ALERT],
        default=CampaignKind.CAMPAIGN,
    )
    create.add_argument("--title")
    create.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="LANG=TEXT",
        help="the message in one language; repeat for more (en=Hello)",
    )
    create.add_argument("--default-language", default="en")
    create.add_argument("--country", action="append", default=[])
    create.add_argument("--sphere", action="append", default=[])
    create.add_argument("--language", action="append", default=[])
    create.add_argument("--role", action="append", default=[])
    when = create.add_mutually_exclusive_group()
    when.add_argument("--at", help="ISO time with offset, e.g. 2026-12-01T09:00+03:00")
    when.add_argument("--cron", help='recurring, e.g. "0 9 * * mon" (Mondays 09:00)')
    create.add_argument("--timezone", default="UTC")
    create.add_argument("--template", help="WhatsApp template for members outside 24 hours")
    create.add_argument("--template-language", help="the template's language code (ar, fr, en_US)")
    create.add_argument(
        "--yes", "-y", action="store_true", help="create it without asking to confirm the preview"
    )
    campaign.add_parser("list", help="recent campaigns")
    show = campaign.add_parser("show", help="progress and failure reasons")
    show.add_argument("id", type=record_id)
    show.add_argument("--follow", action="store_true", help="refresh until finished")
    for name in ("cancel", "approve"):
        campaign.add_parser(name).add_argument("id", type=record_id)

    demo = sub.add_parser("demo", help="demo data").add_subparsers(dest="action", required=True)
    seed = demo.add_parser("seed", help="create demo members")
    seed.add_argument("--members", type=bounded(1, 100_000), default=50)
    seed.add_argument("--channel", choices=[c.value for c in ChannelName], default="telegram")


def definition_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The same shape as a YAML file, built from flags."""
    if args.file:
        data = yaml.safe_load(args.file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise CampaignInputError(f"{args.file}: expected a mapping at the top level")
        return data
    texts = {}
    for item in args.text:
        lang, sep, text = item.partition("=")
        if not sep:
            raise CampaignInputError(f"--text needs LANG=TEXT, got {item!r}")
        texts[lang.strip()] = text
    schedule: dict[str, Any] | str = "now"
    if args.at:
        schedule = {"at": args.at}
    elif args.cron:
        schedule = {"cron": args.cron, "timezone": args.timezone}
    return {
        "kind": args.kind,
        "title": args.title,
        "default_locale": args.default_language,
        "texts": texts,
        "audience": {
            "countries": [c.upper() for c in args.country],
            "spheres": args.sphere,
            "locales": args.language,
            "roles": args.role,
        },
        "schedule": schedule,
        "template": {"name": args.template, "language": args.template_language or "en"}
        if args.template
        else None,
    }


def parse_definition(data: dict[str, Any], now: datetime) -> Draft:
    """Validate a campaign definition; raise CampaignInputError naming what is wrong."""
    texts = {str(k): str(v) for k, v in (data.get("texts") or {}).items()}
    problem = check_texts(texts, SUPPORTED_LOCALES)
    if problem:
        raise CampaignInputError(problem)
    audience_data = data.get("audience") or {}
    unknown = set(audience_data.get("spheres") or ()) - {s.code for s in SPHERES}
    if unknown:
        raise CampaignInputError(f"unknown sphere(s): {', '.join(sorted(unknown))}")
    roles = set(audience_data.get("roles") or ()) - {r.value for r in Role}
    if roles:
        raise CampaignInputError(f"unknown role(s): {', '.join(sorted(roles))}")
    raw = data.get("schedule") or "now"
    try:
        if raw == "now":
            schedule = Schedule("now")
        elif isinstance(raw, dict) and "at" in raw:
            at = (
                raw["at"] if isinstance(raw["at"], datetime) else datetime.fromisoformat(raw["at"])
            )
            schedule = Schedule("at", run_at=at, timezone=str(raw.get("timezone", "UTC")))
        elif isinstance(raw, dict) and "cron" in raw:
            schedule = Schedule(
                "cron", cron=str(raw["cron"]), timezone=str(raw.get("timezone", "UTC"))
            )
        else:
            raise CampaignInputError(f"schedule must be now, {{at: …}} or {{cron: …}}: {raw!r}")
        schedule.validate(now)
    except ScheduleError as error:
        raise CampaignInputError(str(error)) from error
    except ValueError as error:
        raise CampaignInputError(f"time does not parse: {error}") from error
    template = data.get("template") or {}
    if not isinstance(template, dict) or (template and not template.get("name")):
        raise CampaignInputError("template needs a name (and a language): {name: …, language: …}")
    default = str(data.get("default_locale") or next(iter(texts)))
    if default not in texts:
        raise CampaignInputError(f"no text in the default language {default!r}")
    return Draft(
        kind=CampaignKind(data.get("kind") or "campaign"),
        title=data.get("title"),
        texts=texts,
        default_locale=default,
        audience=Audience.from_json(audience_data),
        schedule=schedule,
        template_name=template.get("name"),
        template_language=template.get("language"),
    )


def print_preview(draft: Draft, counts: dict[str, int], threshold: int, now: datetime) -> None:
    """What the bot shows a coordinator before she confirms: the texts, who gets which one,
    when, and whether a second approval is needed."""
    total = sum(counts.values())
    print(f"{draft.kind.value} to {total} people")
    for locale, n in counts.items():
        version = locale if locale in draft.texts else draft.default_locale
        print(f"  {locale}: {n} (get the {version} text)")
    following = draft.schedule.next_time(now) if draft.schedule.kind != "now" else None
    print(f"when: {following.isoformat() if following else 'now'}")
    for locale, text in draft.texts.items():
        print(f"--- {locale}{' (default)' if locale == draft.default_locale else ''} ---")
        print(text)
    print("---")
    if service.needs_approval(CLI, draft.kind, total, threshold):
        print(
            f"more than {threshold} people: it will wait for a coordinator's or an admin's "
            "approval (in the bot, or `wasl campaign approve N`)"
        )


def confirmed(question: str) -> bool:
    """Her answer on the terminal; anything but yes (or no terminal at all) is no."""
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def run(app: App, args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await seed(app, args.members, ChannelName(args.channel))
    now = SystemClock().now()
    if args.action == "create":
        return await create(app, args, now)
    if args.action == "list":
        async with app.store.transaction() as tx:
            for c in await service.recent(tx, CLI, limit=30, notices=True):
                print(f"#{c.id:<5} {c.kind.value:<9} {c.status.value:<17} {c.title}")
        return 0
    if args.action == "show":
        return await show(app, args.id, follow=args.follow)
    async with app.store.transaction() as tx:
        if args.action == "cancel":
            cancelled = await service.cancel(tx, CLI, args.id, now)
            if cancelled is None:
                print(f"no campaign #{args.id} to cancel", file=sys.stderr)
                return 1
            print(f"cancelled #{args.id}: {cancelled.stopped} messages not sent")
            return 0
        outcome = await service.approve(tx, CLI, args.id, now, catalogs=app.catalogs)
    if outcome is service.Approval.NOT_WAITING:
        print(f"#{args.id} is not waiting for approval", file=sys.stderr)
        return 1
    print(f"approved #{args.id}")
    return 0


async def create(app: App, args: argparse.Namespace, now: datetime) -> int:
    """Preview, confirm (unless --yes), then create: the bot's rules, approval included."""
    try:
        draft = parse_definition(definition_from_args(args), now)
    except (CampaignInputError, OSError, yaml.YAMLError) as error:
        print(f"not created: {error}", file=sys.stderr)
        return 2
    threshold = app.settings.wasl.approval_threshold
    async with app.store.transaction() as tx:
        counts = await service.audience(tx, CLI, draft.audience)
    if not counts:
        print("not created: nobody matches this audience", file=sys.stderr)
        return 2
    print_preview(draft, counts, threshold, now)
    if not args.yes and not confirmed("create it? [y/N] "):
        print("not created", file=sys.stderr)
        return 1
    try:
        async with app.store.transaction() as tx:
            result = await service.submit(
                tx, CLI, draft, now, threshold=threshold, catalogs=app.catalogs
            )
    except (service.NobodyMatches, ScheduleError) as error:
        print(f"not created: {error}", file=sys.stderr)
        return 2
    per_language = ", ".join(f"{k}: {v}" for k, v in counts.items())
    state = "being sent" if result.fired else result.campaign.status.value
    print(
        f"campaign #{result.campaign.id} ({state}) to {result.recipients} people ({per_language})"
    )
    if result.pending:
        print(f"approve it with: wasl campaign approve {result.campaign.id}")
    elif not result.fired:
        following = draft.schedule.next_time(now)
        print(f"next time: {following.isoformat() if following else '—'}")
    return 0


def progress_bar(progress: Progress, width: int = 30) -> str:
    done = progress.total - progress.remaining
    filled = round(width * done / progress.total) if progress.total else width
    share = 100 * done // progress.total if progress.total else 100
    return f"[{'█' * filled}{'░' * (width - filled)}] {share:3d}%"


async def show(app: App, campaign_id: int, *, follow: bool) -> int:
    _ = app.catalogs.get("en")
    # Redrawn in place on a terminal; in a log or a pipe, a plain line each time it changes.
    terminal = sys.stdout.isatty()
    shown_line = ""
    while True:
        async with app.store.transaction() as tx:
            shown = await service.show(tx, CLI, campaign_id)
        if shown is None:
            print(f"no campaign #{campaign_id}", file=sys.stderr)
            return 1
        campaign, progress, reasons = shown.campaign, shown.progress, shown.reasons
        now = SystemClock().now()
        text = progress_text(_, campaign, progress, now)
        # Nothing written yet (scheduled, or waiting for approval): no bar to fill.
        line = f"{progress_bar(progress)} {text}" if progress.total else text
        unserved = await waiting_for_channel(app.store, campaign.id)
        if not follow or progress.finished or campaign.status is CampaignStatus.CANCELLED:
            print(f"#{campaign.id} {campaign.kind.value} · {campaign.status.value}")
            print(line)
            for channel, n in unserved.items():
                print(f"  {n:>6}  {WAITING_FOR_CHANNEL}: {channel} ({NOBODY})")
            if progress.uncertain:
                print(f"uncertain: {progress.uncertain} (timed out, may have arrived; not resent)")
            for reason, n in reasons.items():
                print(f"  {n:>6}  {reason}")
            return 0
        line = line.replace("\n", " · ")
        if unserved:  # said while following, so nobody waits for what will not come
            line += f" · {WAITING_FOR_CHANNEL}: {', '.join(unserved)} ({NOBODY})"
        if terminal:
            print("\r" + line, end="", flush=True)
        elif line != shown_line:
            print(line, flush=True)
        shown_line = line
        await asyncio.sleep(1)


NOBODY = "no running process delivers it: start `wasl run` with its settings"


async def waiting_for_channel(store: SqlStore, campaign_id: int) -> dict[str, int]:
    """The campaign's unfinished rows of each channel no running process delivers."""
    from storage.leader import someone_leads
    from storage.outbox import OutboxStore

    unfinished = await OutboxStore(store).unfinished_by_channel(campaign_id)
    return {c: n for c, n in unfinished.items() if not await someone_leads(store, c)}


SEED_CHUNK = 1000  # members written per batch of statements


async def seed(app: App, members: int, channel: ChannelName) -> int:
    """N demo members across the alliance's countries, languages and spheres."""
    rng = random.Random(20261125)  # noqa: S311 - demo data, the same every time
    now = SystemClock().now()
    countries = app.settings.wasl.countries
    async with app.store.transaction() as tx:
        for start in range(0, members, SEED_CHUNK):
            pids = [
                str(9_000_000_000 + i) if channel is ChannelName.TELEGRAM else f"demo-{i}"
                for i in range(start, min(start + SEED_CHUNK, members))
            ]
            taken = await tx.members.taken(channel, pids)
            news = []
            for pid in pids:
                if pid in taken:
                    continue
                spheres = rng.sample([s.code for s in SPHERES], k=rng.randint(1, 3))
                news.append(
                    NewMember(
                        channel=channel,
                        platform_id=pid,
                        chat_id=pid,
                        locale=rng.choice(SUPPORTED_LOCALES),
                        country=rng.choice(countries),
                        spheres=spheres,
                        role=Role.MEMBER,
                        consent_version="demo",
                        consented_at=now,
                    )
                )
            await tx.members.create_many(news, now)
        await tx.audit_log.append(
            actor="cli", action="demo.seeded", now=now, details={"members": members}
        )
    print(f"{members} demo members on {channel.value}")
    return 0
