"""`tanba verify`: check a CMS or XML signature here, without the daemon.

Exit codes: 0 VALID, 1 INVALID, 2 the input could not be read as a signature (or a bad
option).  ``--json`` prints the same object the agent's ``verify`` method returns.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from cryptography import x509

from tanba.agent.verify.chain import ChainValidator
from tanba.agent.verify.cms import verify_cms
from tanba.agent.verify.xml import verify_xml
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import SignerResult, VerifyResult
from tanba.protocol.times import utc_z

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _looks_like_xml(blob: bytes) -> bool:
    head = blob.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


async def _run(
    signature: bytes, data: bytes | None, fmt: str, validator: ChainValidator
) -> VerifyResult:
    if fmt == "auto":
        fmt = "xml" if _looks_like_xml(signature) else "cms"
    try:
        if fmt == "xml":
            if data is not None:
                raise InvalidParams("--data is for detached CMS signatures; XML signatures are enveloped")
            return await verify_xml(signature, validator)
        return await verify_cms(signature, validator, data=data)
    finally:
        await validator.aclose()


def _subject(signer: SignerResult) -> str:
    if not signer.certificate:
        return "(signer certificate not found)"
    cert = x509.load_pem_x509_certificate(signer.certificate.encode("ascii"))
    return cert.subject.rfc4514_string()


def _print(result: VerifyResult) -> None:
    for number, signer in enumerate(result.signers, 1):
        click.echo(f"Signer {number}: {_subject(signer)}")
        click.echo(f"  signing time: {utc_z(signer.signing_time) if signer.signing_time else '-'}")
        click.echo(f"  timestamp:    {utc_z(signer.timestamp) if signer.timestamp else '-'}")
        click.echo(f"  signature:    {'valid' if signer.signature_valid else 'INVALID'}")
        click.echo(f"  chain valid:  {'yes' if signer.chain_valid else 'no'}")
        click.echo(f"  revocation:   {signer.revocation}")
        if signer.problems:
            click.echo(f"  problems:     {', '.join(signer.problems)}")
    click.echo("VALID" if result.valid else "INVALID")


@click.command()
@click.argument("signature", type=_FILE)
@click.option("--data", type=_FILE, help="The signed file, for a detached CMS signature.")
@click.option(
    "--format", "fmt", type=click.Choice(["cms", "xml", "auto"]), default="auto", show_default=True
)
@click.option("--trust-anchor", "anchors", type=_FILE, multiple=True, help="Trusted root CA (PEM/DER); repeatable.")
@click.option(
    "--intermediate", "intermediates", type=_FILE, multiple=True,
    help="Untrusted CA certificate for building the chain; repeatable.",
)
@click.option(
    "--revocation", type=click.Choice(["require", "soft", "off"]), default="soft", show_default=True,
    help="require: unknown status makes a signature invalid; off: no OCSP/CRL requests.",
)
@click.option("--strict", is_flag=True,
              help="What a portal accepting signatures wants: revocation must be known good "
                   "(the same as --revocation require). Without it, soft: VALID with revocation unknown.")
@click.option("--crl", "crls", type=_FILE, multiple=True,
              help="A CRL you already have (PEM/DER), checked like a fetched one; repeatable.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds allowed for all OCSP/CRL checks of the signature together.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(
    signature: Path,
    data: Path | None,
    fmt: str,
    anchors: tuple[Path, ...],
    intermediates: tuple[Path, ...],
    revocation: str,
    strict: bool,
    crls: tuple[Path, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Verify SIGNATURE (CMS in DER/PEM/base64, or an XML document with an enveloped signature).

    The default, --revocation soft, reports VALID when no OCSP responder or CRL answered
    (problem revocation_unknown): fine for a person looking at a file, not for a program
    deciding to accept it — use --strict (or --revocation require) there."""
    if strict:
        if revocation == "off":
            raise click.UsageError("--strict needs revocation checks: drop --revocation off")
        revocation = "require"
    try:
        validator = ChainValidator(
            list(anchors),
            revocation=revocation,  # type: ignore[arg-type]  # checked by click.Choice
            timeout=timeout,
            intermediates=list(intermediates),
            crls=list(crls),
        )
        result = asyncio.run(
            _run(signature.read_bytes(), data.read_bytes() if data else None, fmt, validator)
        )
    except InvalidParams as exc:
        click.echo(f"error: {exc.detail or exc.reason}", err=True)
        raise SystemExit(2) from exc
    if not anchors and not as_json:
        click.echo("note: no --trust-anchor given, so no chain can be valid", err=True)
    if as_json:
        click.echo(json.dumps(result.to_wire(), ensure_ascii=False, indent=2))
    else:
        _print(result)
    raise SystemExit(0 if result.valid else 1)
