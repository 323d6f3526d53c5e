"""Serve one HTML page on http://localhost:PORT (any path but those in ``files``) from the
test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Page:
    """The page served; set ``html`` once the agent's port is known."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.html = ""
        #: other paths served: path -> (content type, body)
        self.files: dict[str, tuple[str, bytes]] = {}

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"


@asynccontextmanager
async def page_server() -> AsyncIterator[Page]:
    page = Page(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).split()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = request_line[1].decode("ascii", "replace") if len(request_line) > 1 else "/"
            ctype, body = page.files.get(path, ("text/html; charset=utf-8", page.html.encode()))
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype.encode() + b"\r\nCache-Control: no-store\r\n"
                b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        page.port = server.sockets[0].getsockname()[1]
        yield page
    finally:
        server.close()
        await server.wait_closed()


def wss_probe_page(urls: list[str]) -> str:
    """A page that opens each wss URL, asks agent.hello, and writes the outcome into its title."""
    targets = ", ".join(f'"{u}"' for u in urls)
    return f"""<!doctype html><title>pending</title><script>
const results = [];
function report() {{ if (results.length === {len(urls)}) document.title = results.join(" "); }}
for (const url of [{targets}]) {{
  const ws = new WebSocket(url);
  let done = false;
  const finish = (what) => {{ if (!done) {{ done = true; results.push(what); report(); }} }};
  ws.onopen = () => ws.send(JSON.stringify({{jsonrpc: "2.0", id: 1, method: "agent.hello"}}));
  ws.onmessage = (e) => {{ finish("hello:" + JSON.parse(e.data).result.name); ws.close(); }};
  ws.onerror = () => finish("error");
  ws.onclose = () => finish("closed");
}}
</script>"""
