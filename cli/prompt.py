"""Terminal prompts of the one-shot commands that one Ctrl-C aborts.

The commands run their work under :func:`asyncio.run`, whose SIGINT handler only cancels
the main task at the first Ctrl-C and raises :class:`KeyboardInterrupt` at the second.
A prompt blocks the event loop in a read that the signal does not end (the read is
resumed after the handler), so the first Ctrl-C was lost there.  While a prompt is open
SIGINT raises at once; click turns that into :class:`click.Abort`, which is turned back
into :class:`KeyboardInterrupt` here so the whole command stops (an EOF stays an Abort:
the callers read it as "no answer").
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

log = logging.getLogger(__name__)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, Ctrl-C raises :class:`KeyboardInterrupt` (out of a click prompt
    too) at the first press."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only; nothing to change here
        return
    pressed = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        pressed.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    except click.Abort:
        if pressed.is_set():
            log.debug("Ctrl-C at a prompt")
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def prompt(text: str, **options: Any) -> Any:
    """:func:`click.prompt` on stderr that one Ctrl-C aborts."""
    with interruptible():
        return click.prompt(text, err=True, **options)


def confirm(text: str, *, default: bool = False) -> bool:
    """:func:`click.confirm` on stderr that one Ctrl-C aborts."""
    with interruptible():
        return click.confirm(text, default=default, err=True)
