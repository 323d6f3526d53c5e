"""`tanba verify-token`: check a Web eID ``auth`` token as a portal's back end does.

The back end's origin and the challenge it issued come from the command line, never from the
token; the checks are those of :mod:`tanba.verify` (signature over the origin and challenge,
login purpose, chain, revocation).  Exit codes: 0 accepted, 1 refused (the reason printed, or
``--json``'s ``problems`` / ``error``), 2 unreadable input or a bad option.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("token_file", metavar="TOKEN", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--origin", required=True, help="The origin the portal serves, e.g. https://portal.kz.")
@click.option("--challenge", required=True, help="The challenge the back end issued for this login.")
@click.option("--trust-anchor", "anchors", multiple=True, type=_FILE, required=True,
              help="Root certificate (PEM/DER) logins must chain to; repeatable.")
@click.option("--intermediate", "intermediates", multiple=True, type=_FILE,
              help="Issuing CA certificate offered for path building (tokens carry only the leaf); repeatable.")
@click.option("--crl", "crls", multiple=True, type=_FILE, help="A CRL you already have; repeatable.")
@click.option("--revocation", type=click.Choice(["require", "soft", "off"]), default="require", show_default=True,
              help="require: OCSP/CRL must say good; soft: unknown is accepted; off: not checked.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds allowed for the revocation checks.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(token_file: Path, origin: str, challenge: str, anchors: tuple[Path, ...], intermediates: tuple[Path, ...],
            crls: tuple[Path, ...], revocation: str, timeout: float, as_json: bool) -> None:
    """Check TOKEN (the JSON the page's auth call returned; - for stdin) for ORIGIN and CHALLENGE."""
    from tanba.verify import MemoryChallenges, TokenError, TokenVerifier

    try:
        if str(token_file) == "-":
            raw = sys.stdin.read()
        else:
            raw = token_file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read TOKEN: {exc}") from exc
    try:
        token: Any = json.loads(raw)
    except ValueError as exc:
        raise click.UsageError(f"TOKEN is not JSON: {exc}") from exc

    class _Given(MemoryChallenges):
        """The one challenge given on the command line."""

        def take(self, value: str) -> bool:
            return value == challenge

    try:
        verifier = TokenVerifier(origin, list(anchors), intermediates=list(intermediates), crls=list(crls),
                                 revocation=revocation,  # type: ignore[arg-type]  # click.Choice
                                 challenges=_Given(), timeout=timeout)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        result = asyncio.run(verifier.verify(token, challenge))
    except TokenError as exc:
        if as_json:
            click.echo(json.dumps({"accepted": False, "error": exc.code, "message": str(exc)}, ensure_ascii=False))
        else:
            click.echo(f"REFUSED [{exc.code}]: {exc}")
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        who = result.name + "".join(f", {label} {value}" for label, value in (
            ("IIN", result.iin), ("BIN", result.bin), ("personal number", result.personal_number),
            ("УНП", result.unp)) if value)
        click.echo(f"{'ACCEPTED' if result.accepted else 'REFUSED'}: {who}")
        click.echo(f"  algorithm:    {result.algorithm}")
        click.echo(f"  issuer:       {result.issuer}")
        click.echo(f"  chain valid:  {'yes' if result.chain_valid else 'no'}")
        click.echo(f"  revocation:   {result.revocation}")
        if result.problems:
            click.echo(f"  problems:     {', '.join(result.problems)}")
    raise SystemExit(0 if result.accepted else 1)
