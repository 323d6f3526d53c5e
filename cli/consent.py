"""The consent UI of one-shot commands (`tanba sign`): the person at the terminal.

Running the command on named files is the user's confirmation; the PIN comes from the
terminal (hidden) or a ``--pin-file``.  A final PIN try is spent only after an explicit
"yes" on the terminal, never from a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tanba.agent.consent.base import (
    CertificateChoice,
    Confirmation,
    ConsentUI,
    KeyAnswer,
    KeyChoice,
    KeyFile,
    OriginDecision,
    PinRequest,
)
from tanba.agent.consent.terminal import describe, describe_file
from tanba.agent.state.secretfile import read_secret_file
from tanba.cli.prompt import confirm, prompt
from tanba.providers.base import Identity


class CliConsent(ConsentUI):
    name = "command line"

    def __init__(self, wanted_id: str | None = None, pin_file: Path | None = None, *, announce: bool = True) -> None:
        self.wanted_id = wanted_id
        self.pin_file = pin_file
        #: say on stderr what is being signed (`tanba sign`); `tanba test-sign` prints its own line
        self.announce = announce

    async def ask_origin(self, origin: str, locale: str) -> OriginDecision:
        return OriginDecision.DENY

    async def choose_certificate(self, choice: CertificateChoice) -> Identity | None:
        if self.wanted_id is not None:
            return next((i for i in choice.candidates if i.id == self.wanted_id), None)
        if not sys.stdin.isatty():
            return choice.candidates[0] if choice.candidates else None
        for number, identity in enumerate(choice.candidates, 1):
            click.echo(f"{number}. {describe(identity)}  [{identity.id}]", err=True)
        pick: int = prompt("Certificate", type=click.IntRange(1, len(choice.candidates)), default=1)
        return choice.candidates[pick - 1]

    async def choose_key(self, choice: KeyChoice) -> KeyFile | Identity | KeyAnswer | None:
        """With ``--id`` or no terminal: the unattended choice (the wanted certificate once
        visible, else the next file not tried).  On a terminal: the files and certificates
        are listed and the person picks one (a wrong password is said first)."""
        if self.wanted_id is not None or not sys.stdin.isatty() or choice.several:
            return await super().choose_key(choice)
        last = choice.last
        if last is not None and last.problem is not None:
            click.echo(f"{last.name}: " + {"wrong_pin": "wrong password", "no_match": "no certificate for this"}.get(
                last.problem, last.problem.replace("_", " ")) + (f"; next try in {last.retry_after} s" if last.retry_after else ""), err=True)
        options: list[KeyFile | Identity] = [*choice.files, *choice.identities]
        for number, option in enumerate(options, 1):
            shown = describe_file(option, "en") if isinstance(option, KeyFile) else f"{describe(option)}  [{option.id}]"
            click.echo(f"{number}. {shown}", err=True)
        try:
            pick: int = prompt("Key", type=click.IntRange(1, len(options)), default=1)
        except click.Abort:
            return None
        return options[pick - 1]

    async def get_pin(self, request: PinRequest) -> bytearray | None:
        what = describe(request.identity) if request.identity is not None else request.location
        if request.status.final_try:
            if self.pin_file is not None or not sys.stdin.isatty():
                click.echo(f"{what}: one more wrong PIN locks the key; not spending it unattended.", err=True)
                return None
            if not confirm(f"{what}: one more wrong PIN locks the key. Continue?"):
                return None
        if request.status.pinpad:
            click.echo(f"Enter the PIN for {what} on the reader's keypad.", err=True)
        if self.pin_file is not None:
            return read_secret_file(self.pin_file)
        try:  # a terminal, or a PIN piped in; nothing to read (EOF) cancels
            # a key file has a password, a token a PIN: the same words as `certs list`
            secret = "PIN" if request.identity is not None and request.identity.storage != "PKCS12" else "Password"
            typed: str = prompt(f"{secret} for {what}", hide_input=True)
        except click.Abort:
            return None
        return bytearray(typed.encode("utf-8"))

    async def confirm(self, confirmation: Confirmation) -> bool:
        if self.announce:
            who = ", ".join(describe(i) for i in confirmation.identities)
            click.echo(f"Signing {len(confirmation.documents)} file(s) with {who}", err=True)
        return True
