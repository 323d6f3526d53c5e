"""Debian's Chromium, headless, with its own HOME (so its NSS database is HOME/.pki/nssdb).

Driven over the DevTools protocol with ``websockets``: no ignore-certificate flag, no
browser download.  Each :class:`Chromium` is a fresh browser with a fresh profile.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class Chromium:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self._ws.send(json.dumps(message))
        while True:  # events are not needed here: skip them to the answer
            reply = json.loads(await self._ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def new_page(self) -> str:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        session: str = attached["sessionId"]
        await self.send("Page.enable", session=session)
        return session

    async def navigate(self, session: str, url: str) -> str | None:
        """Open ``url``; the network error text (e.g. net::ERR_CERT_AUTHORITY_INVALID) or None."""
        result = await self.send("Page.navigate", {"url": url}, session=session)
        error: str | None = result.get("errorText")
        return error

    async def title_when(self, session: str, waiting: str, timeout: float = 15.0) -> str:
        """The page's title once it is no longer ``waiting``."""
        async with asyncio.timeout(timeout):
            while True:
                result = await self.send("Runtime.evaluate", {"expression": "document.title"}, session=session)
                title: str = result["result"].get("value", "")
                if title and title != waiting:
                    return title
                await asyncio.sleep(0.1)


@asynccontextmanager
async def chromium(home: Path) -> AsyncIterator[Chromium]:
    """A headless Chromium whose HOME (and so NSS database) is ``home``."""
    profile = home / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank",
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        async with asyncio.timeout(30):
            while not active.exists() or len(active.read_text().splitlines()) < 2:
                if proc.returncode is not None:
                    raise RuntimeError(f"chromium exited with {proc.returncode} before DevTools was up")
                await asyncio.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=None) as ws:
            yield Chromium(ws)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the browser we started, with its helpers
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
