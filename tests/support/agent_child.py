"""A real agent in its own process, for faults a test process cannot suffer itself:
being killed with SIGKILL mid-batch, or running on a disk that is full.

    python tests/support/agent_child.py --origins FILE [--p12 FILE]... [--pin PIN]
        [--origin-answer always|once|deny] [--allow-origin URL]...
        [--fsize-limit BYTES]

It prints ``PORT <n>`` once listening.  The consent UI is the scripted user of the test
suite (tests/support/consent.py): the person at the desk is what cannot exist here.
``--fsize-limit`` sets RLIMIT_FSIZE for this process, so any write past that many bytes
fails with EFBIG, the way a full disk fails with ENOSPC — without root or a mount.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.consent import ScriptedConsent  # noqa: E402
from tanba.agent.consent.base import OriginDecision  # noqa: E402
from tanba.agent.services import Services  # noqa: E402
from tanba.agent.setup.config import Settings  # noqa: E402
from tanba.agent.state.approvals import OriginStore  # noqa: E402
from tanba.agent.transport.server import AgentServer
from tanba.agent.transport.tracker import Tracker  # noqa: E402
from tanba.providers.pkcs12 import Pkcs12Store  # noqa: E402
from tanba.providers.registry import Stores  # noqa: E402

TOKEN = "t" * 43


async def main(args: argparse.Namespace) -> None:
    consent = ScriptedConsent(origin_answer=OriginDecision(args.origin_answer), pin=args.pin)
    stores = Stores([Pkcs12Store([Path(p) for p in args.p12])] if args.p12 else [])
    settings = Settings(port=0, allow_origin=tuple(args.allow_origin), autodetect=False)
    services = Services(
        settings=settings, consent=consent, origins=OriginStore(Path(args.origins)),
        client_token=TOKEN, version="9.9.9-child", stores=stores,
    )
    server = AgentServer(services, Tracker())
    await server.start()
    print(f"PORT {server.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.close()
    await stores.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--origins", required=True)
    parser.add_argument("--p12", action="append", default=[])
    parser.add_argument("--pin", default="123456")
    parser.add_argument("--origin-answer", default="deny")
    parser.add_argument("--allow-origin", action="append", default=[])
    parser.add_argument("--fsize-limit", type=int, default=None)
    ns = parser.parse_args()
    if ns.fsize_limit is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
        resource.setrlimit(resource.RLIMIT_FSIZE, (ns.fsize_limit, resource.RLIM_INFINITY))
    asyncio.run(main(ns))
