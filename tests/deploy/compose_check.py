"""The compose deployment (deploy/compose.yaml) brought up for real, with the fake Bot API.

`make deploy-check` runs this (`python -m tests.deploy.compose_check`), and so does
tests/deploy/test_compose.py where a Docker daemon answers. On top of compose.yaml it uses
deploy/compose.local.yaml: images built here from Debian's packages (no registry needed), the
host's network and the host's PostgreSQL (a fresh database `wasl_deploy`). Then, through Caddy
and its TLS: a Telegram update POSTed to the webhook reaches a worker and her reply reaches the
fake Bot API; a wrong secret is refused; the access log holds neither the webhook secret nor
a dashboard token; both workers are healthy (the image's health check). Then the image alone,
as the README's `docker run` (polling, SQLite): healthy, and it answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bot.core import keys
from storage.engine import HEAD
from tests.fakes.telegram_api import FakeBotApi, callback_update, text_update

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROJECT = "wasl-check"
DATABASE = "wasl_deploy"
ADMIN_URL = os.environ.get("WASL_DEPLOY_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "123:fake"
IMAGE = "wasl:local"
BASE_IMAGES = ("wasl-base:local", "wasl-caddy:local")
WORKERS = ("worker-1", "worker-2")
START_WITHIN = 240.0  # s for the workers to become healthy (the machine may be busy)


class Unavailable(Exception):
    """What this machine lacks to run the check (no daemon, no compose, no PostgreSQL)."""


@dataclass
class Outcome:
    """What the check saw, printed by main()."""

    webhook_url: str = ""
    replies: dict[int, str] = field(default_factory=dict)
    reply_seconds: list[float] = field(default_factory=list)
    wrong_secret_status: int = 0
    dashboard_status: int = 0
    health: dict[str, str] = field(default_factory=dict)
    access_lines: int = 0
    leaks: list[str] = field(default_factory=list)
    revision: str | None = None  # the schema's, in PostgreSQL
    kept_updates: int = 0  # Telegram updates PostgreSQL records as processed
    polling_health: str = ""  # the image alone, polling Telegram (SQLite in a volume)
    polling_reply: str = ""
    build_seconds: float = 0.0
    # A button press: the webhook's answer through the proxy, naming the spinner's method.
    press_answer: dict[str, str] = field(default_factory=dict)
    healthy_seconds: float = 0.0  # from `up` until both workers are healthy


def compose_command() -> list[str]:
    """`docker compose` (v2) when the plugin is there, else `docker-compose` (v1)."""
    if shutil.which("docker") is None:
        raise Unavailable("no docker command on this machine")
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    raise Unavailable("neither `docker compose` nor `docker-compose` is installed")


def daemon_unavailable() -> str | None:
    """Why the check cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if info.returncode != 0:
        said = info.stderr.strip().splitlines()
        return f"no Docker daemon reachable ({said[-1] if said else 'docker info failed'})"
    try:
        compose_command()
    except Unavailable as error:
        return str(error)
    return None


def _run(args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), text=True, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def build_images() -> None:
    """The Debian base and Caddy images (once), then Wasl's image on that base (cached)."""
    missing = [
        image
        for image in BASE_IMAGES
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
    ]
    if missing:
        _run([str(DEPLOY / "local" / "build-images.sh")])
    _run(
        [
            "docker",
            "build",
            "--quiet",
            "--network",
            "host",
            "--build-arg",
            "PYTHON_IMAGE=wasl-base:local",
            "-t",
            IMAGE,
            str(ROOT),
        ],
        capture_output=True,
    )


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


async def _fresh_database() -> None:
    try:
        admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        raise Unavailable(f"PostgreSQL unreachable at {ADMIN_URL}: {error!r}") from error
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()


async def _kept_in_postgres() -> tuple[str | None, int]:
    """The schema's revision and the Telegram updates processed, as the database both workers
    were given records them (not a SQLite file of each worker's own)."""
    admin = await asyncpg.connect(ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}", timeout=5)
    try:
        revision = await admin.fetchval("SELECT version_num FROM alembic_version")
        kept = await admin.fetchval(
            "SELECT count(*) FROM processed_update WHERE channel = 'telegram'"
        )
    finally:
        await admin.close()
    return revision, int(kept)


async def _drop_database() -> None:
    admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    finally:
        await admin.close()


class Deployment:
    """The compose project in a folder of its own (its secrets/ never touch deploy/)."""

    def __init__(self, folder: Path, api: FakeBotApi, webhook_secret: str) -> None:
        self.folder = folder
        self.compose = compose_command()
        self.https, self.http, self.port_1, self.port_2 = free_ports(4)
        for name in ("compose.yaml", "compose.local.yaml", "Caddyfile"):
            shutil.copy(DEPLOY / name, folder / name)
        secret_dir = folder / "secrets"
        secret_dir.mkdir(mode=0o700)
        user = ADMIN_URL.rsplit("/", 1)[0]
        for name, value in {
            "postgres_password": "unused: the host's PostgreSQL stands in",
            "database_url": f"{user}/{DATABASE}",
            "wasl_secret_key": keys.generate(),
            "telegram_bot_token": TOKEN,
            "telegram_webhook_secret": webhook_secret,
        }.items():
            path = secret_dir / name
            path.write_text(value + "\n", "utf-8")  # a line break, as `echo` leaves
            path.chmod(0o644)  # the containers' user reads it
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "WASL_DOMAIN": "localhost",
            "WASL_IMAGE": IMAGE,
            "WASL_CHECK_API": api.base,
            "WASL_CHECK_PORT_1": str(self.port_1),
            "WASL_CHECK_PORT_2": str(self.port_2),
            "WASL_HTTPS_PORT": str(self.https),
            "WASL_HTTP_PORT": str(self.http),
        }

    @property
    def base(self) -> str:
        return f"https://localhost:{self.https}"

    def run(self, *args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self.compose, "-f", "compose.yaml", "-f", "compose.local.yaml", *args]
        return subprocess.run(
            command,
            cwd=self.folder,
            env=self.env,
            text=True,
            capture_output=capture,
            check=False,
        )

    def up(self) -> None:
        done = self.run("up", "-d", "--no-build")
        if done.returncode != 0:
            raise RuntimeError(f"compose up failed:\n{done.stdout}\n{done.stderr}")

    def down(self) -> None:
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "20")

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.strip()

    def health(self, service: str) -> str:
        found = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", self.container(service)],
            capture_output=True,
            text=True,
            check=False,
        )
        return found.stdout.strip() or found.stderr.strip()

    def running(self, service: str) -> bool:
        found = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Running}}", self.container(service)],
            capture_output=True,
            text=True,
            check=False,
        )
        return found.stdout.strip() == "true"

    def logs(self, service: str) -> str:
        done = self.run("logs", "--no-color", service)
        return done.stdout + done.stderr

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_WITHIN
        while time.monotonic() < deadline:
            states = {w: self.health(w) for w in WORKERS}
            if all(s == "healthy" for s in states.values()) and self.running("caddy"):
                return
            if any(s == "unhealthy" for s in states.values()):
                break
            time.sleep(2)
        logs = "\n".join(self.logs(s)[-3000:] for s in (*WORKERS, "caddy"))
        raise RuntimeError(f"the deployment did not come up: {states}\n{logs}")

    def root_certificate(self) -> str:
        """Caddy's local authority (it signed the certificate for localhost)."""
        deadline = time.monotonic() + 60
        while True:
            done = self.run(
                "exec", "-T", "caddy", "cat", "/data/caddy/pki/authorities/local/root.crt"
            )
            if done.returncode == 0 and "BEGIN CERTIFICATE" in done.stdout:
                return done.stdout
            if time.monotonic() > deadline:
                raise RuntimeError(f"Caddy made no local certificate: {done.stderr}")
            time.sleep(1)


@contextmanager
def deployment(api: FakeBotApi, webhook_secret: str) -> Iterator[Deployment]:
    with tempfile.TemporaryDirectory(prefix="wasl-deploy-") as folder:
        asyncio.run(_fresh_database())
        up = Deployment(Path(folder), api, webhook_secret)
        try:
            up.up()
            yield up
        finally:
            up.down()
            asyncio.run(_drop_database())


async def _through_the_proxy(
    up: Deployment, api: FakeBotApi, webhook_secret: str, outcome: Outcome
) -> None:
    context = ssl.create_default_context(cadata=up.root_certificate())
    async with httpx.AsyncClient(base_url=up.base, verify=context, timeout=30) as client:
        # Wrong secret: refused by the worker, through the proxy.
        refused = await client.post(
            "/webhook/telegram",
            json=text_update(7001, "/start"),
            headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"},
        )
        outcome.wrong_secret_status = refused.status_code
        # Six people write: round robin gives each worker some of them.
        for user in range(7101, 7107):
            sent = time.monotonic()
            answer = await client.post(
                "/webhook/telegram",
                json=text_update(user, "/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret},
            )
            if answer.status_code != 200:
                raise AssertionError(f"the webhook answered {answer.status_code} for {user}")
            replies = await api.wait_replies(user, 1, within=60)
            outcome.reply_seconds.append(time.monotonic() - sent)
            outcome.replies[user] = str(replies[0].params.get("text", ""))[:60]
        # The last one presses Help under the welcome: the webhook answers the spinner in
        # its response body, which the proxy must pass on.
        press = callback_update(user, "cmd:help", replies[0].message_id)
        pressed = await client.post(
            "/webhook/telegram",
            json=press,
            headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret},
        )
        outcome.press_answer = pressed.json() if pressed.content else {}
        if outcome.press_answer != {
            "method": "answerCallbackQuery",
            "callback_query_id": press["callback_query"]["id"],
        }:
            raise AssertionError(f"the press was answered {pressed.status_code} {pressed.text}")
        await api.wait_replies(user, 2, within=60)
        # A dashboard link with a (wrong) token: refused, and the token is never logged.
        marker = secrets.token_urlsafe(16)
        page = await client.get("/dashboard", params={"t": marker})
        outcome.dashboard_status = page.status_code
        outcome.leaks = [marker]


def polling_container(api: FakeBotApi, outcome: Outcome) -> None:
    """The image alone as the README runs it (`docker run`, SQLite in /data), polling the fake
    Bot API: healthy by the image's own health check, and it answers an update."""
    (port,) = free_ports(1)
    name = f"{PROJECT}-polling"
    environment = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": api.base,
        "WASL_SECRET_KEY": keys.generate(),
        "WASL_HOST": "127.0.0.1",
        "WASL_PORT": str(port),
    }
    options = [f"--env={key}" for key in environment]  # values from the environment, not argv
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
    _run(
        [
            "docker",
            "run",
            "-d",
            f"--name={name}",
            "--network=host",
            "--health-interval=3s",
            *options,
            IMAGE,
        ],
        capture_output=True,
        env={**os.environ, **environment},
    )
    try:
        deadline = time.monotonic() + START_WITHIN
        status = ""
        while time.monotonic() < deadline:
            status = subprocess.run(
                ["docker", "inspect", "--format", "{{.State.Health.Status}}", name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(1)
        outcome.polling_health = status
        api.push_update(text_update(7201, "/start"))
        replies = asyncio.run(api.wait_replies(7201, 1, within=60))
        outcome.polling_reply = str(replies[0].params.get("text", ""))[:60]
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)


def check() -> Outcome:
    """Build, bring up, send, look; raise AssertionError (or RuntimeError) when it fails."""
    reason = daemon_unavailable()
    if reason is not None:
        raise Unavailable(reason)
    outcome = Outcome()
    started = time.monotonic()
    build_images()
    outcome.build_seconds = time.monotonic() - started
    webhook_secret = secrets.token_urlsafe(24)
    with FakeBotApi(TOKEN) as api, deployment(api, webhook_secret) as up:
        started = time.monotonic()
        up.wait_healthy()
        outcome.healthy_seconds = time.monotonic() - started
        outcome.health = {w: up.health(w) for w in WORKERS}
        asyncio.run(_through_the_proxy(up, api, webhook_secret, outcome))
        outcome.webhook_url = (api.webhook or {}).get("url") or ""
        outcome.revision, outcome.kept_updates = asyncio.run(_kept_in_postgres())
        time.sleep(1)  # Caddy writes its access log line as the response ends
        log = up.logs("caddy")
        secrets_seen = [s for s in (*outcome.leaks, webhook_secret, TOKEN) if s in log]
        outcome.leaks = secrets_seen
        outcome.access_lines = sum(
            1 for line in log.splitlines() if '"uri":"/webhook/telegram"' in line
        )
        dashboard_lines = [line for line in log.splitlines() if '"uri":"/dashboard' in line]
        if not dashboard_lines or any("?redacted" not in line for line in dashboard_lines):
            raise AssertionError(f"the dashboard request is not logged without its query: {log}")
    with FakeBotApi(TOKEN) as api:
        polling_container(api, outcome)
    if outcome.polling_health != "healthy" or not outcome.polling_reply:
        raise AssertionError(f"polling: health {outcome.polling_health!r}, no reply")
    if outcome.revision != HEAD or outcome.kept_updates < 6:
        raise AssertionError(
            f"PostgreSQL holds revision {outcome.revision} and {outcome.kept_updates} updates: "
            "the workers did not use the database they were given"
        )
    if outcome.wrong_secret_status != 401:
        raise AssertionError(f"a wrong secret got {outcome.wrong_secret_status}, not 401")
    if outcome.dashboard_status != 403:
        raise AssertionError(f"an unknown dashboard token got {outcome.dashboard_status}")
    if outcome.leaks:
        raise AssertionError(f"Caddy's log holds a secret ({len(outcome.leaks)} found)")
    if outcome.access_lines < 8:
        raise AssertionError(f"{outcome.access_lines} webhook requests logged, 8 were sent")
    return outcome


def main() -> int:
    try:
        outcome = check()
    except Unavailable as error:
        print(f"deploy-check skipped: {error}")
        return 0
    print(
        json.dumps(
            {
                "image build, s": round(outcome.build_seconds, 1),
                "up until both workers are healthy, s": round(outcome.healthy_seconds, 1),
                "webhook registered at": outcome.webhook_url,
                "PostgreSQL: schema revision, Telegram updates processed": [
                    outcome.revision,
                    outcome.kept_updates,
                ],
                "replies (first line)": outcome.replies,
                "POST to reply, s": [round(s, 2) for s in outcome.reply_seconds],
                "wrong secret": outcome.wrong_secret_status,
                "unknown dashboard token": outcome.dashboard_status,
                "health (webhook mode, compose)": outcome.health,
                "health (polling mode, docker run)": outcome.polling_health,
                "reply in polling mode (first line)": outcome.polling_reply,
                "a press answered in the webhook's response": outcome.press_answer.get("method"),
                "webhook requests in Caddy's access log": outcome.access_lines,
                "secrets in Caddy's log": len(outcome.leaks),
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print("deploy-check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
