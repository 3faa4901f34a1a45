"""Headless Chromium for page tests, driven over the DevTools protocol.

Debian's `chromium` package (`apt-get install -y chromium`); the tests that need it skip when
it is absent. The protocol runs over a WebSocket: a minimal client is written here (RFC 6455,
text frames, masked as a client must) rather than adding a package for it. The page under
test runs no script of its own; the test asks the browser about its layout with
Runtime.evaluate, which DevTools runs outside the page's Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")


def available() -> bool:
    return Path(CHROMIUM).exists()


class Socket:
    """A WebSocket client connection: send text, receive whole messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str) -> Socket:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        return cls(reader, writer)

    async def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def receive(self) -> str:
        message = b""
        while True:
            first, second = await self.reader.readexactly(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if second & 0x80 else b""
            payload = await self.reader.readexactly(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the browser")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class Page:
    """One browser tab, spoken to over its DevTools socket."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ask = self.next_id
        await self.socket.send(json.dumps({"id": ask, "method": method, "params": params}))
        while True:
            answer = json.loads(await self.socket.receive())
            if answer.get("id") == ask:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    async def open(self, url: str, width: int, height: int) -> None:
        """Load `url` in a viewport of `width` × `height` CSS pixels (a phone's below 600),
        and wait until it and its fonts are loaded."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        await self.call("Page.navigate", url=url)
        for _ in range(200):
            await asyncio.sleep(0.05)
            ready = await self.evaluate(
                f"location.href === {json.dumps(url)} && document.readyState === 'complete' "
                "&& document.fonts.status === 'loaded'"
            )
            if ready:
                return
        raise TimeoutError(url)

    async def screenshot(self, path: Path) -> None:
        """The whole page, top to bottom, as a PNG."""
        size = await self.evaluate(
            "[document.documentElement.clientWidth, document.documentElement.scrollHeight]"
        )
        shot = await self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
        )
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    """A headless Chromium with a fresh profile, and its first tab; stopped afterwards."""
    profile = tempfile.mkdtemp(prefix="wasl-chromium-")
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "--window-size=390,844",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    socket = None
    drain: asyncio.Task[None] | None = None
    try:
        assert process.stderr is not None
        browser = None
        while browser is None:
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            if not line:
                raise RuntimeError("chromium exited before it listened")
            found = LISTENING.search(line)
            browser = found.group(1).decode() if found else None
        drain = asyncio.create_task(_drain(process.stderr))  # a full pipe would stall it
        port = urlsplit(browser).port
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        [tab] = [t for t in targets if t["type"] == "page"]
        socket = await Socket.connect(tab["webSocketDebuggerUrl"])
        page = Page(socket)
        await page.call("Page.enable")
        yield page
    finally:
        if socket is not None:
            await socket.close()
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()
                await process.wait()
        if drain is not None:
            drain.cancel()
        shutil.rmtree(profile, ignore_errors=True)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
