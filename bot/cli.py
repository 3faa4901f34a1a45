"""The `wasl` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from bot import cli_campaign, cli_content, cli_report
from bot.cli_args import country_code, invite_lifetime, invite_uses, record_id
from bot.core import keys
from bot.core.actors import CLI
from bot.core.clock import SystemClock
from bot.core.invites import DEFAULT_LIFETIME
from bot.core.models import Role

# What only a command that opens the database needs is imported there, not here: `wasl --help`
# and `wasl secret generate` load no database driver, migrations, services or channels.
if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wasl", description="Wasl, the alliance's messaging bot.")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="run the bot: Telegram when a token is set, else the terminal")
    chat = sub.add_parser("chat", help="the bot in the terminal (no network)")
    chat.add_argument("--language", help="language hint, as a phone would send it (ar, fr…)")
    serve = sub.add_parser("serve", help="webhooks, the dashboard and /healthz")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="change nothing: exit 0 when the schema is up to date, 1 when it is not",
    )
    migrate.add_argument(
        "--to",
        metavar="REVISION",
        help="bring the schema to this revision, up or down (a rollback: docs/deployment.md)",
    )

    invite = sub.add_parser("invite", help="invitations").add_subparsers(
        dest="action", required=True
    )
    create = invite.add_parser("create", help="create an invitation and print its link")
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    create.add_argument("--country", type=country_code, help="ISO 3166 code, e.g. IQ")
    create.add_argument("--uses", type=invite_uses, default=1, help="1 to 1000")
    create.add_argument(
        "--expires", type=invite_lifetime, default=DEFAULT_LIFETIME, help="1h to 90d (7d)"
    )
    invite.add_parser("list", help="invitations, newest first, with their status")
    revoke = invite.add_parser("revoke", help="revoke an invitation: no one can join with it")
    revoke.add_argument("code", help="the invitation's code, as `wasl invite list` prints it")

    role = sub.add_parser("role", help="roles").add_subparsers(dest="action", required=True)
    grant = role.add_parser("grant", help="give a member a role")
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", type=record_id, help="member id (see `wasl member list`)")
    who.add_argument("--telegram-id", help="Telegram user id")
    grant.add_argument("--role", choices=[r.value for r in Role], required=True)
    revoke_role = role.add_parser("revoke", help="take a member's role away: a member again")
    who = revoke_role.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", type=record_id, help="member id (see `wasl member list`)")
    who.add_argument("--telegram-id", help="Telegram user id")
    member = sub.add_parser("member", help="members").add_subparsers(dest="action", required=True)
    listing = member.add_parser(
        "list", help="members by id: role, country, language, status (no numbers)"
    )
    listing.add_argument("--role", choices=[r.value for r in Role])
    listing.add_argument("--country", type=country_code, help="ISO 3166 code, e.g. IQ")
    secret = sub.add_parser("secret", help="the secret key (WASL_SECRET_KEY)").add_subparsers(
        dest="action", required=True
    )
    secret.add_parser("generate", help="print a fresh secret key")
    peers = sub.add_parser("peers", help="introductions between peers").add_subparsers(
        dest="action", required=True
    )
    suggest = peers.add_parser(
        "suggest", help="suggest that two members listed in a sphere meet (both must accept)"
    )
    suggest.add_argument("first", type=record_id, help="a member id (wasl member list)")
    suggest.add_argument("second", type=record_id, help="another member id")
    suggest.add_argument("--sphere", required=True, help="a sphere code, e.g. vaw")
    cli_campaign.add_parsers(sub)
    cli_content.add_parsers(sub)
    cli_report.add_parsers(sub)
    cli_report.add_brief_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "secret":
        print(keys.generate())
        return 0
    if args.command == "content" and args.action in cli_content.FILE_ACTIONS:
        return cli_content.run_files(args)  # files only: no database, no settings
    from pydantic import ValidationError

    from bot.config import SecretFileError, Settings, invalid_settings

    try:
        settings = Settings()
    except SecretFileError as error:  # a *_FILE variable naming a file that cannot be read
        print(f"wasl: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a setting of the wrong kind (WASL_PORT=abc)
        for line in invalid_settings(error):
            print(f"wasl: {line}", file=sys.stderr)
        return 2
    refusal = (
        secret_key_refusal(settings, args.command)
        or no_channel_refusal(settings, args.command)
        or channel_secrets_refusal(settings, args.command)
    )
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    from bot.app import setup_logging

    # The terminal bot shares the screen with the conversation: only warnings and worse there.
    quiet = args.command == "chat" or (args.command == "run" and not settings.telegram.enabled)
    setup_logging("WARNING" if quiet else settings.wasl.log_level, settings)
    try:
        if args.command == "migrate" and args.check:
            return run_async(check_schema(settings))
        if args.command == "migrate" and args.to:
            return run_async(migrate_to(settings, args.to))
        if args.command == "run":
            return run(settings)
        return run_async(_async_main(args, settings))
    except KeyboardInterrupt:  # Ctrl-C: everything was closed on the way out
        print("wasl: stopped", file=sys.stderr)
        return 130


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run `main` on uvloop where it is installed (less CPU on the event loop: with uvicorn's
    httptools parser, about a tenth less per webhook update in bench/inbound.py), on asyncio's
    own loop otherwise."""
    try:
        import uvloop
    except ImportError:  # not on this platform (Windows): the standard loop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def secret_key_refusal(settings: Settings, command: str) -> str | None:
    """Why `command` must not start with this secret key, or None. A bad key always stops it;
    a missing one stops `run` and `serve` facing people (Telegram, WhatsApp or the dashboard),
    where an ephemeral key would forget public-survey respondents and dashboard links at every
    restart and differ between workers."""
    try:
        key = settings.wasl.master_key()
    except keys.InvalidKey as error:
        return f"wasl: the secret key is not usable: {error}"
    facing_people = (
        settings.telegram.enabled or settings.whatsapp.enabled or bool(settings.wasl.public_url)
    )
    if key is None and command in ("run", "serve") and facing_people:
        return (
            "wasl: WASL_SECRET_KEY (or WASL_SECRET_KEY_FILE) is not set. Make one with "
            "`wasl secret generate`, keep it outside the database and back it up apart from it."
        )
    return None


def no_channel_refusal(settings: Settings, command: str) -> str | None:
    """Why `run` must not start, or None. With no channel set, `run` opens the terminal bot,
    which is only of use to someone at a terminal: a deployment that forgot its token (a
    service, a container: standard input is not a terminal) stops at once and says so."""
    if command != "run" or settings.telegram.enabled or settings.whatsapp.enabled:
        return None
    if sys.stdin is not None and sys.stdin.isatty():
        return None
    return (
        "wasl: no channel is set: set TELEGRAM_BOT_TOKEN (or WHATSAPP_ACCESS_TOKEN and "
        "WHATSAPP_PHONE_NUMBER_ID); standard input is not a terminal, so the terminal bot "
        "(`wasl chat`) does not start."
    )


def channel_secrets_refusal(settings: Settings, command: str) -> str | None:
    """Why the web server must not start, or None: a channel it would serve lacks its secrets
    (an empty WhatsApp app secret would let anyone sign a webhook). Said before anything is
    imported or migrated, so a misconfigured deployment stops at once."""
    from bot.config import missing_secrets

    if command == "serve":
        missing = missing_secrets(settings, telegram_webhook=True)
    elif command == "run" and (settings.telegram.enabled or settings.whatsapp.enabled):
        missing = missing_secrets(settings, telegram_webhook=bool(settings.telegram.webhook_url))
    else:
        return None
    if not missing:
        return None
    return f"wasl: {', '.join(missing)} must be set: refusing to start without it"


async def migrate_to(settings: Settings, revision: str) -> int:
    """`wasl migrate --to REVISION`: up or down to it (stop every worker before going down:
    the code of the release before runs on that schema, this release's does not)."""
    from storage import engine as schema

    if not schema.known_revision(revision) or not revision.isdigit():
        print(f"wasl: no migration {revision!r}; the newest is {schema.HEAD}", file=sys.stderr)
        return 2
    engine = schema.make_engine(settings.database.database_url)
    try:
        before = await schema.current_revision(engine)
        done = await schema.migrate_to(engine, revision)
    finally:
        await engine.dispose()
    print(f"database {done}: revision {before or 'none'} → {revision}")
    return 0


async def check_schema(settings: Settings) -> int:
    """`wasl migrate --check`: 0 when the schema is at head, else 1 and one line saying
    where it is and where it should be. Changes nothing."""
    from storage.engine import current_revision, head_revision, make_engine

    engine = make_engine(settings.database.database_url)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    if current == head:
        print(f"database is up to date (revision {head})")
        return 0
    print(
        f"wasl: the database is at revision {current or 'none (empty)'}, the code needs "
        f"{head}: run `wasl migrate`",
        file=sys.stderr,
    )
    return 1


def run(settings: Settings) -> int:
    """The bot on its channels (Telegram by long polling or its webhook, WhatsApp by its
    webhook), always with the web server: /healthz, /readyz and /metrics answer on WASL_PORT
    in every mode. Without a channel: the terminal bot."""
    if settings.telegram.enabled or settings.whatsapp.enabled:
        return run_async(_run_web(settings))
    print("No TELEGRAM_BOT_TOKEN set: starting the terminal bot (wasl chat).", file=sys.stderr)
    return run_async(_async_main(argparse.Namespace(command="chat", language=None), settings))


async def _run_web(settings: Settings) -> int:
    """The web server with the runtime; Telegram takes its webhook or long-polls."""
    from bot.app import build_app
    from bot.bootstrap import serve

    app = build_app(settings)
    try:
        await app.migrate()
        telegram = settings.telegram
        await serve(
            app,
            settings.wasl.host,
            settings.wasl.port,
            runtime=True,
            register=bool(telegram.enabled and telegram.webhook_url),
            poll=bool(telegram.enabled and not telegram.webhook_url),
        )
    finally:
        await app.close()
    return 0


async def _async_main(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_app

    app = build_app(settings)
    try:
        await app.migrate()
        if args.command == "chat":
            from bot.bootstrap import chat

            await chat(app, args.language)
        elif args.command == "serve":
            from bot.bootstrap import serve

            await serve(app, args.host or settings.wasl.host, args.port or settings.wasl.port)
        elif args.command == "migrate":
            print("database is up to date")
        elif args.command == "invite" and args.action == "list":
            await list_invites(app)
        elif args.command == "invite" and args.action == "revoke":
            return await revoke_invite(app, args.code)
        elif args.command == "invite":
            await create_invite(app, args)
        elif args.command == "role":
            return await change_role(app, args)
        elif args.command == "member":
            await list_members(app, args)
        elif args.command == "peers":
            return await suggest_introduction(app, args)
        elif args.command in ("campaign", "demo"):
            return await cli_campaign.run(app, args)
        elif args.command == "content":
            return await cli_content.run(app, args)
        elif args.command == "report":
            return await cli_report.run(app, args)
        elif args.command == "brief":
            return await cli_report.run_brief(app, args)
    finally:
        await app.close()
    return 0


async def suggest_introduction(app: App, args: argparse.Namespace) -> int:
    """`wasl peers suggest A B --sphere S`: each is asked, with the other's country and line."""
    from bot.services import peers

    async with app.store.transaction() as tx:
        try:
            intro = await peers.suggest(
                tx, CLI, app.catalogs, args.first, args.second, args.sphere, SystemClock().now()
            )
        except peers.PeerRefused as refused:
            print(f"not suggested: {refused.reason.value}", file=sys.stderr)
            return 2
    print(f"introduction {intro.id} suggested: both are asked, until {intro.expires_at:%Y-%m-%d}")
    return 0


async def create_invite(app: App, args: argparse.Namespace) -> None:
    from bot.services import invitations

    now = SystemClock().now()
    async with app.store.transaction() as tx:
        invite = await invitations.create(
            tx,
            CLI,
            role=Role(args.role),
            country=args.country,
            uses=args.uses,
            now=now,
            lifetime=args.expires,
        )
    code = invite.code
    print(
        f"invite code: {code}  role: {args.role}  uses: {args.uses}  expires: {invite.expires_at}"
    )
    for link in app.core.config.invite_links.links(code):
        print(link)
    print(f"or send the bot: /start {code}")


async def list_invites(app: App) -> None:
    """Every invitation, newest first: the full code (the operator revokes with it)."""
    from bot.services import invitations

    now = SystemClock().now()
    async with app.store.transaction() as tx:
        found = await invitations.every(tx, CLI)
    if not found:
        print("no invitations")
        return
    print(f"{'code':<18} {'role':<12} {'country':<8} {'uses left':>9}  {'expires':<17} status")
    for invite in found:
        expires = f"{invite.expires_at:%Y-%m-%d %H:%M}" if invite.expires_at else "never"
        print(
            f"{invite.code:<18} {invite.role.value:<12} {invite.country or 'any':<8} "
            f"{invite.uses_left:>9}  {expires:<17} {invite.status(now).value}"
        )


async def revoke_invite(app: App, code: str) -> int:
    from bot.services import invitations

    now = SystemClock().now()
    async with app.store.transaction() as tx:
        done = await invitations.revoke(tx, CLI, now, code=code)
    if done.invite is None:
        print("no such invitation", file=sys.stderr)
        return 1
    if done.outcome is not invitations.Revoked.REVOKED:
        print("this invitation was already revoked", file=sys.stderr)
        return 1
    print(f"revoked {done.invite.code}: no one can join with it any more")
    return 0


async def change_role(app: App, args: argparse.Namespace) -> int:
    """`wasl role grant|revoke`: through the members service (checked and audited there)."""
    from bot.services import members

    now = SystemClock().now()
    async with app.store.transaction() as tx:
        try:
            member = await members.find_member(
                tx, member_id=args.member, telegram_id=args.telegram_id
            )
        except members.NoSuchMember:
            print("no such member", file=sys.stderr)
            return 1
        if args.action == "grant":
            change = await members.grant_role(tx, CLI, member, Role(args.role), now)
        else:
            change = await members.revoke_role(tx, CLI, member, now)
    print(f"member {change.member_id}: {change.before.value} → {change.after.value}")
    return 0


async def list_members(app: App, args: argparse.Namespace) -> None:
    """Members by id, so that `wasl role grant --member ID` can be used: role, country,
    language, status and channel; never a platform id or a phone number."""
    from bot.services import members

    async with app.store.transaction() as tx:
        found = await members.list_members(
            tx, CLI, role=Role(args.role) if args.role else None, country=args.country
        )
    if not found:
        print("no members")
        return
    print(f"{'id':>6}  {'role':<12} {'country':<8} {'language':<9} {'status':<12} channel")
    for m in found:
        print(
            f"{m.id:>6}  {m.role.value:<12} {m.country or '-':<8} {m.locale:<9} "
            f"{m.status.value:<12} {m.channel.value}"
        )
